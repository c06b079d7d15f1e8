"""Internal notes: agents write them; guests never see them, by socket or by HTTP."""


async def join(client, ticket_id):
    answer = await client.call("ticket:join", {"ticket_id": ticket_id})
    assert answer["ok"], answer
    return answer


async def test_a_note_reaches_agents_but_never_the_guest_socket_or_guest_endpoints(
        guest, guest_socket, agent_socket, connect, agent_session, live_server):
    from tests.conftest import cookie_header

    other_agent = await connect(cookie_header(agent_session))
    await join(guest_socket, guest.ticket_id)
    await join(agent_socket, guest.ticket_id)
    await join(other_agent, guest.ticket_id)
    preview_before = (await live_server.ctx.db.tickets.find_one({}))["last_message_preview"]

    answer = await agent_socket.call("note:add", {"ticket_id": guest.ticket_id, "body": "Refund approved internally",
                                                  "client_msg_id": "note-1"})
    assert answer["ok"] and answer["message"]["kind"] == "note"
    async with agent_session.post(f"/api/tickets/{guest.ticket_id}/notes",
                                  json={"body": "Second internal note", "client_msg_id": "note-2"}) as resp:
        assert resp.status == 201
        assert (await resp.json())["message"]["kind"] == "note"
    notes = await other_agent.wait_for("message:new", count=2, where=lambda m: m["kind"] == "note")
    assert [n["body"] for n in notes] == ["Refund approved internally", "Second internal note"]
    # a note is not the conversation's latest line: the queue preview (which guests see) is unchanged
    assert (await live_server.ctx.db.tickets.find_one({}))["last_message_preview"] == preview_before

    # A later ordinary message reaches the guest: anything before it would have arrived first.
    await agent_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "We refunded you",
                                             "client_msg_id": "m-1"})
    await guest_socket.wait_for("message:new", where=lambda m: m["body"] == "We refunded you")
    assert all(m["kind"] != "note" for m in guest_socket.received("message:new"))
    assert "internal" not in repr(guest_socket.received("ticket:updated")).lower()

    history = await guest_socket.call("messages:history", {"ticket_id": guest.ticket_id})
    assert "note" not in {m["kind"] for m in history["messages"]}
    rejoin = await join(guest_socket, guest.ticket_id)
    assert "note" not in {m["kind"] for m in rejoin["messages"]}
    async with guest.session.get(f"/api/tickets/{guest.ticket_id}/messages") as resp:
        body = await resp.text()
    assert "internal" not in body.lower() and "Second internal note" not in body
    async with guest.session.get("/api/guest/tickets") as resp:
        assert "internal" not in (await resp.text()).lower()
    async with guest.session.get(f"/api/tickets/{guest.ticket_id}") as resp:
        assert "internal" not in (await resp.text()).lower()

    staff_history = await agent_socket.call("messages:history", {"ticket_id": guest.ticket_id})
    assert [m["body"] for m in staff_history["messages"] if m["kind"] == "note"] == [
        "Refund approved internally", "Second internal note"]


async def test_a_note_does_not_change_the_ticket_preview(guest, agent_socket, agent_session, live_server):
    before = await live_server.ctx.db.tickets.find_one({})
    answer = await agent_socket.call("note:add", {"ticket_id": guest.ticket_id, "body": "secret plan",
                                                  "client_msg_id": "n"})
    assert answer["ok"]
    async with agent_session.post(f"/api/tickets/{guest.ticket_id}/notes",
                                  json={"body": "another plan", "client_msg_id": "n2"}) as resp:
        assert resp.status == 201
    after = await live_server.ctx.db.tickets.find_one({})
    assert after["last_message_preview"] == before["last_message_preview"] == "Hello, my order is late."
    assert after["last_message_at"] == before["last_message_at"]


async def test_guests_cannot_add_notes(guest, guest_socket, live_server):
    answer = await guest_socket.call("note:add", {"ticket_id": guest.ticket_id, "body": "x", "client_msg_id": "g"})
    assert answer["error"]["code"] == "forbidden"
    async with guest.session.post(f"/api/tickets/{guest.ticket_id}/notes",
                                  json={"body": "x", "client_msg_id": "g2"}) as resp:
        assert resp.status == 401
    assert await live_server.ctx.db.messages.count_documents({"kind": "note"}) == 0


async def test_bad_note_input_is_invalid_and_stores_nothing(guest, agent_socket, agent_session, live_server):
    for payload in ({"ticket_id": guest.ticket_id, "body": "", "client_msg_id": "a"},
                    {"ticket_id": guest.ticket_id, "body": "x" * 5001, "client_msg_id": "a"},
                    {"ticket_id": guest.ticket_id, "body": "ok", "client_msg_id": "bad id!"},
                    {"ticket_id": "nope", "body": "ok", "client_msg_id": "a"}):
        answer = await agent_socket.call("note:add", payload)
        assert answer["error"]["code"] == "invalid", payload
    async with agent_session.post(f"/api/tickets/{guest.ticket_id}/notes", json={"body": 5}) as resp:
        assert resp.status == 422
    assert await live_server.ctx.db.messages.count_documents({"kind": "note"}) == 0
