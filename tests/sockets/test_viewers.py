"""Who else is here: the agents in a ticket hear, live, which other agents have it open and
who is writing a reply or a note, so that two agents do not answer the same guest. Guests
hear none of it, and none of it reads the database."""

from __future__ import annotations

from tests.conftest import cookie_header, login, make_account


async def second_agent(live_server, http, connect):
    account = await make_account(live_server, role="agent", name="Bea Agent", email="bea@example.com")
    session = http()
    await login(session, account)
    return account, await connect(cookie_header(session))


def names(event: dict) -> list[str]:
    return [v["name"] for v in event["viewers"]]


async def test_agents_in_a_ticket_see_who_else_has_it_open_live(
        guest, guest_socket, agent_socket, live_server, http, connect):
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    first = await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    assert names(first) == ["Alan Agent"]
    bea, bea_socket = await second_agent(live_server, http, connect)
    joined = await bea_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    assert names(joined) == ["Alan Agent", "Bea Agent"]
    seen = await agent_socket.wait_for("ticket:viewers", where=lambda e: len(e["viewers"]) == 2)
    assert seen[-1]["ticket_id"] == guest.ticket_id and {v["id"] for v in seen[-1]["viewers"]} == {
        bea["id"], joined["viewers"][0]["id"]}

    # Bea moves on to another ticket: Alan hears he is alone
    assert (await bea_socket.call("ticket:leave", {"ticket_id": guest.ticket_id}))["ok"]
    await agent_socket.wait_for("ticket:viewers", where=lambda e: names(e) == ["Alan Agent"])
    # she comes back, then closes her laptop: the same
    await bea_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    await agent_socket.wait_for("ticket:viewers", 2, where=lambda e: len(e["viewers"]) == 2)
    await bea_socket.sio.disconnect()
    await agent_socket.wait_for("ticket:viewers", 2, where=lambda e: names(e) == ["Alan Agent"])
    assert guest_socket.received("ticket:viewers") == []


async def test_an_agent_writing_a_note_is_heard_by_agents_only_and_typing_reads_nothing(
        guest, guest_socket, agent_socket, live_server, http, connect):
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    _, bea_socket = await second_agent(live_server, http, connect)
    await bea_socket.call("ticket:join", {"ticket_id": guest.ticket_id})

    operations = []

    async def record(operation) -> None:
        operations.append(operation)

    # Only the embedded engine reports each operation (on PyMongo's client, `.hooks` would be
    # the database named "hooks"); on a real MongoDB the rest of the test runs.
    hooks = live_server.ctx.db.client.hooks if live_server.ctx.db.embedded else None
    if hooks is not None:
        hooks.append(record)
    note = await agent_socket.call("typing", {"ticket_id": guest.ticket_id, "typing": True, "note": True})
    reply = await bea_socket.call("typing", {"ticket_id": guest.ticket_id, "typing": True})
    if hooks is not None:
        hooks.remove(record)
        assert operations == []  # an agent's typing touches no collection
    assert note["ok"] and reply["ok"]
    heard = await bea_socket.wait_for("typing", where=lambda e: e.get("note"))
    assert heard == [{"ticket_id": guest.ticket_id, "name": "Alan Agent", "role": "agent", "typing": True,
                      "note": True}]
    # the guest hears Bea's reply being written, never Alan's note
    await guest_socket.wait_for("typing", where=lambda e: e["name"] == "Bea Agent")
    assert all(not e.get("note") and e["name"] != "Alan Agent" for e in guest_socket.received("typing"))
    refused = await guest_socket.call("typing", {"ticket_id": guest.ticket_id, "typing": True, "note": True})
    assert refused["error"]["code"] == "forbidden"
    bad = await agent_socket.call("typing", {"ticket_id": guest.ticket_id, "typing": True, "note": "yes"})
    assert bad["error"]["code"] == "invalid"
