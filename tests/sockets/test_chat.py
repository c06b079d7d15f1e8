"""The chat events of the real-time protocol, against a live server."""

import asyncio
from datetime import datetime

import pytest

from app import clock
from app.errors import MESSAGES
from app.services.conversations import messages as message_service
from tests.conftest import cookie_header

BODY = "Where is my parcel?"


def ids(messages: list[dict]) -> list[str]:
    return [m["id"] for m in messages]


async def stored_messages(live_server, ticket_id: str) -> list[dict]:
    from bson import ObjectId

    return await live_server.ctx.db.messages.find({"ticket_id": ObjectId(ticket_id)}).to_list(None)


async def test_guest_and_agent_converse_in_the_ticket_room(guest, guest_socket, agent_socket, agent):
    joined = await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    assert joined["ok"] is True
    assert joined["ticket"]["id"] == guest.ticket_id
    assert [m["body"] for m in joined["messages"]] == ["Hello, my order is late."]

    agent_joined = await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    assert agent_joined["ok"] is True

    answer = await agent_socket.call(
        "message:send", {"ticket_id": guest.ticket_id, "body": "  On its way!  ", "client_msg_id": "a-1"}
    )
    assert answer["ok"] is True
    message = answer["message"]
    # the agent's first reply is announced to the guest, in a line numbered just before it
    announced = await guest_socket.wait_for("message:new", where=lambda m: m["kind"] == "system")
    assert [m["body"] for m in announced] == ["Alan Agent from support joined"]
    assert announced[0]["seq"] == message["seq"] - 1
    assert set(message) == {"id", "ticket_id", "kind", "sender_role", "sender_name", "body",
                            "client_msg_id", "created_at", "seq", "cursor"}
    assert (message["body"], message["sender_role"], message["sender_name"]) == (
        "On its way!", "agent", "Alan Agent")
    assert message["created_at"].endswith("Z")
    received = await guest_socket.wait_for("message:new", where=lambda m: m["kind"] == "message")
    assert received == [message]

    reply = await guest_socket.call(
        "message:send", {"ticket_id": guest.ticket_id, "body": "Thanks", "client_msg_id": "g-1"}
    )
    got = await agent_socket.wait_for("message:new", where=lambda m: m["sender_role"] == "guest")
    assert got == [reply["message"]]
    assert got[0]["sender_name"] == "Grace Guest"
    # the sender is answered by its acknowledgement, not echoed
    assert not [m for m in agent_socket.received("message:new") if m["sender_role"] == "agent"]


async def test_guest_cannot_join_another_guests_ticket(start_chat, connect, live_server):
    alice = await start_chat(name="Alice")
    bob = await start_chat(name="Bob")
    bob_socket = await connect(bob.cookie)
    alice_socket = await connect(alice.cookie)
    await alice_socket.call("ticket:join", {"ticket_id": alice.ticket_id})

    join = await bob_socket.call("ticket:join", {"ticket_id": alice.ticket_id})
    assert join["ok"] is False and join["error"]["code"] == "forbidden"
    history = await bob_socket.call("messages:history", {"ticket_id": alice.ticket_id, "limit": 10})
    assert history["ok"] is False and history["error"]["code"] == "forbidden"
    post = await bob_socket.call(
        "message:send", {"ticket_id": alice.ticket_id, "body": "hijack", "client_msg_id": "b-1"}
    )
    assert post["ok"] is False and post["error"]["code"] == "forbidden"
    typing = await bob_socket.call("typing", {"ticket_id": alice.ticket_id, "typing": True})
    assert typing["ok"] is False and typing["error"]["code"] == "forbidden"

    async with bob.session.get(f"/api/tickets/{alice.ticket_id}/messages") as resp:
        assert resp.status == 403
    async with bob.session.get(f"/api/tickets/{alice.ticket_id}") as resp:
        assert resp.status == 403
    assert [m["body"] for m in await stored_messages(live_server, alice.ticket_id)] == [
        "Hello, my order is late."]
    # Bob's socket never entered Alice's room: a message there does not reach him
    await alice_socket.call(
        "message:send", {"ticket_id": alice.ticket_id, "body": "private", "client_msg_id": "a-1"}
    )
    await bob_socket.call("message:send", {"ticket_id": bob.ticket_id, "body": "x", "client_msg_id": "b-2"})
    assert bob_socket.received("message:new") == []


async def test_sender_role_and_kind_in_the_payload_are_ignored(guest, guest_socket, agent_socket, live_server):
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    answer = await guest_socket.call("message:send", {
        "ticket_id": guest.ticket_id, "body": "I am staff", "client_msg_id": "g-1",
        "sender_role": "agent", "sender_name": "Support Team", "kind": "note", "role": "admin",
    })
    assert answer["ok"] is True
    assert (answer["message"]["sender_role"], answer["message"]["sender_name"],
            answer["message"]["kind"]) == ("guest", "Grace Guest", "message")
    stored = [m for m in await stored_messages(live_server, guest.ticket_id) if m["body"] == "I am staff"]
    assert len(stored) == 1 and stored[0]["sender_role"] == "guest" and stored[0]["kind"] == "message"


async def test_resend_with_same_client_msg_id_stores_one_message_and_broadcasts_once(
        guest, guest_socket, agent_socket, live_server):
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    payload = {"ticket_id": guest.ticket_id, "body": BODY, "client_msg_id": "dup-1"}
    first = await guest_socket.call("message:send", payload)
    second = await guest_socket.call("message:send", payload)
    assert first["ok"] and second["ok"]
    assert second["message"] == first["message"]
    # a later message arrives after any broadcast of the resend would have
    await guest_socket.call("message:send", {**payload, "body": "marker", "client_msg_id": "dup-2"})
    await agent_socket.wait_for("message:new", where=lambda m: m["body"] == "marker")
    from_guest = [m for m in agent_socket.received("message:new") if m["sender_role"] == "guest"]
    assert [m["body"] for m in from_guest] == [BODY, "marker"]
    assert [m["body"] for m in await stored_messages(live_server, guest.ticket_id)].count(BODY) == 1


async def test_history_pages_over_equal_timestamps_have_no_skips_or_repeats(
        guest, guest_socket, monkeypatch):
    # every message shares the first message's millisecond
    same_time = datetime.fromisoformat(guest.message["created_at"].replace("Z", "+00:00"))
    monkeypatch.setattr(clock, "utcnow", lambda: same_time)
    sent = []
    for i in range(25):
        answer = await guest_socket.call(
            "message:send", {"ticket_id": guest.ticket_id, "body": f"m{i}", "client_msg_id": f"c{i}"})
        sent.append(answer["message"]["id"])
    assert len(set(sent)) == 25

    newest = await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id, "limit": 10})
    page2 = await guest_socket.call(
        "messages:history", {"ticket_id": guest.ticket_id, "before": newest["next_cursor"], "limit": 10})
    page3 = await guest_socket.call(
        "messages:history", {"ticket_id": guest.ticket_id, "before": page2["next_cursor"], "limit": 10})
    assert page3["next_cursor"] is None and page3["has_more"] is False
    walked = ids(page3["messages"]) + ids(page2["messages"]) + ids(newest["messages"])
    # the first message (from starting the chat) plus the 25, each once, oldest first
    assert walked == [guest.message["id"], *sent]

    # and forwards, with `after`, over the same equal timestamps
    forward, cursor = [], page3["messages"][0]["cursor"]
    while True:
        page = await guest_socket.call(
            "messages:history", {"ticket_id": guest.ticket_id, "after": cursor, "limit": 7})
        forward += ids(page["messages"])
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    assert forward == sent


async def test_reconnecting_client_catches_up_on_every_message_sent_while_away(
        guest, connect, agent_socket):
    guest_socket = await connect(guest.cookie)
    joined = await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    last_cursor = joined["messages"][-1]["cursor"]
    await guest_socket.sio.disconnect()

    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    sent = []
    for i in range(30):
        answer = await agent_socket.call(
            "message:send", {"ticket_id": guest.ticket_id, "body": f"while away {i}", "client_msg_id": f"w{i}"})
        sent.append(answer["message"]["id"])

    back = await connect(guest.cookie)
    await back.call("ticket:join", {"ticket_id": guest.ticket_id})
    caught_up, cursor = [], last_cursor
    while True:
        page = await back.call("messages:history", {"ticket_id": guest.ticket_id, "after": cursor, "limit": 12})
        assert page["ok"]
        caught_up += page["messages"]
        cursor = page["next_cursor"]
        if not page["has_more"]:
            break
    agent_lines = [m["id"] for m in caught_up if m["kind"] == "message"]
    assert agent_lines == sent  # all 30, once each, in order
    assert len(ids(caught_up)) == len(set(ids(caught_up)))


class FailingWrites:
    """The messages collection, except that every insert fails as a lost primary would."""

    def __init__(self, collection):
        self._collection = collection

    def __getattr__(self, name):
        return getattr(self._collection, name)

    async def insert_one(self, *args, **kwargs):
        from pymongo.errors import AutoReconnect

        raise AutoReconnect("primary stepped down")


@pytest.mark.logs_errors  # provokes it on purpose
async def test_failed_database_write_answers_internal_and_the_room_sees_nothing(
        guest, guest_socket, agent_socket, live_server, monkeypatch):
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    before = len(agent_socket.received("message:new"))
    monkeypatch.setattr(live_server.ctx.db, "messages", FailingWrites(live_server.ctx.db.messages))
    answer = await guest_socket.call(
        "message:send", {"ticket_id": guest.ticket_id, "body": "lost?", "client_msg_id": "f-1"})
    assert answer == {"ok": False, "error": {"code": "internal", "message": MESSAGES["internal"]}}
    monkeypatch.undo()
    ok = await guest_socket.call(
        "message:send", {"ticket_id": guest.ticket_id, "body": "after", "client_msg_id": "f-2"})
    assert ok["ok"]
    await agent_socket.wait_for("message:new", where=lambda m: m["body"] == "after")
    assert [m["body"] for m in agent_socket.received("message:new")[before:]] == ["after"]
    assert "lost?" not in [m["body"] for m in await stored_messages(live_server, guest.ticket_id)]


async def test_closed_ticket_refuses_messages_and_stores_nothing(
        guest, guest_socket, agent_socket, live_server):
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    closed = await agent_socket.call("ticket:close", {"ticket_id": guest.ticket_id})
    assert closed["ok"] and closed["ticket"]["status"] == "closed"
    update = await guest_socket.wait_for("ticket:updated", where=lambda t: t["status"] == "closed")
    assert update[0]["closed_at"] is not None
    count = len(await stored_messages(live_server, guest.ticket_id))
    for sender in (guest_socket, agent_socket):
        answer = await sender.call(
            "message:send", {"ticket_id": guest.ticket_id, "body": "still there?", "client_msg_id": "late"})
        assert answer["ok"] is False and answer["error"]["code"] == "closed"
    assert len(await stored_messages(live_server, guest.ticket_id)) == count
    again = await agent_socket.call("ticket:close", {"ticket_id": guest.ticket_id})
    assert again["ok"]  # closing twice is harmless and writes no second system line
    system = [m for m in await stored_messages(live_server, guest.ticket_id) if m["kind"] == "system"]
    assert [m["body"] for m in system].count("Alan Agent closed the conversation") == 1


async def test_guest_cannot_close_a_ticket(guest, guest_socket):
    answer = await guest_socket.call("ticket:close", {"ticket_id": guest.ticket_id})
    assert answer["ok"] is False and answer["error"]["code"] == "forbidden"


async def test_opening_a_conversation_tells_the_guest_nothing_and_a_first_reply_is_announced_once(
        guest, connect, agent_session, live_server):
    for round in range(3):
        sock = await connect(cookie_header(agent_session))
        assert (await sock.call("ticket:join", {"ticket_id": guest.ticket_id}))["ok"]
        if round:  # opened once without a word, then replies after each reconnect
            sent = await sock.call("message:send", {"ticket_id": guest.ticket_id, "body": f"Reply {round}",
                                                    "client_msg_id": f"r-{round}"})
            assert sent["ok"]
        await sock.sio.disconnect()
    stored = sorted(await stored_messages(live_server, guest.ticket_id), key=lambda m: m["seq"])
    assert [(m["kind"], m["body"]) for m in stored] == [
        ("message", "Hello, my order is late."), ("system", "Alan Agent from support joined"),
        ("message", "Reply 1"), ("message", "Reply 2")]
    assert [m["guest_seq"] for m in stored] == [1, 2, 3, 4]


async def test_typing_reaches_the_others_in_the_room_but_not_the_sender(guest, guest_socket, agent_socket):
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    assert (await agent_socket.call("typing", {"ticket_id": guest.ticket_id, "typing": True}))["ok"]
    seen = await guest_socket.wait_for("typing")
    assert seen == [{"ticket_id": guest.ticket_id, "name": "Alan Agent", "role": "agent", "typing": True}]
    await guest_socket.call("typing", {"ticket_id": guest.ticket_id, "typing": False})
    seen = await agent_socket.wait_for("typing")
    assert seen == [{"ticket_id": guest.ticket_id, "name": "Grace Guest", "role": "guest", "typing": False}]
    assert guest_socket.received("typing") == [
        {"ticket_id": guest.ticket_id, "name": "Alan Agent", "role": "agent", "typing": True}]


async def test_agents_see_a_message_move_the_ticket_in_their_queue(guest, guest_socket, agent_socket):
    await guest_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "any news?", "client_msg_id": "q"})
    row = await agent_socket.wait_for_row(lambda t: t["last_message_preview"] == "any news?")
    assert row["id"] == guest.ticket_id
    [batch] = [b for b in agent_socket.received("queue:updated")
               if any(t["last_message_preview"] == "any news?" for t in b["tickets"])]
    assert [t["id"] for t in batch["tickets"]] == [guest.ticket_id]


NOT_AN_ID = "zzzzzzzzzzzzzzzzzzzzzzzz"
INVALID_PAYLOADS = [
    ("message:send", None),
    ("message:send", "a string"),
    ("message:send", [1, 2]),
    ("message:send", {"body": "no ticket", "client_msg_id": "x"}),
    ("message:send", {"ticket_id": NOT_AN_ID, "body": "x", "client_msg_id": "x"}),
    ("message:send", {"ticket_id": 12, "body": "x", "client_msg_id": "x"}),
    ("message:send", {"ticket_id": "TICKET", "body": "", "client_msg_id": "x"}),
    ("message:send", {"ticket_id": "TICKET", "body": "    \n ", "client_msg_id": "x"}),
    ("message:send", {"ticket_id": "TICKET", "body": "x" * 5001, "client_msg_id": "x"}),
    ("message:send", {"ticket_id": "TICKET", "body": 42, "client_msg_id": "x"}),
    ("message:send", {"ticket_id": "TICKET", "body": "x"}),
    ("message:send", {"ticket_id": "TICKET", "body": "x", "client_msg_id": ""}),
    ("message:send", {"ticket_id": "TICKET", "body": "x", "client_msg_id": "x" * 65}),
    ("message:send", {"ticket_id": "TICKET", "body": "x", "client_msg_id": {"$gt": ""}}),
    ("ticket:join", {}),
    ("ticket:join", {"ticket_id": {"$ne": None}}),
    ("ticket:join", {"ticket_id": "TICKET", "limit": 0}),
    ("ticket:leave", {"ticket_id": None}),
    ("messages:history", {"ticket_id": "TICKET", "limit": 101}),
    ("messages:history", {"ticket_id": "TICKET", "limit": "ten"}),
    ("messages:history", {"ticket_id": "TICKET", "limit": True}),
    ("messages:history", {"ticket_id": "TICKET", "before": "not-a-cursor"}),
    ("messages:history", {"ticket_id": "TICKET", "after": -7}),
    ("messages:history", {"ticket_id": "TICKET", "after": "7th"}),
    ("messages:history", {"ticket_id": "TICKET", "before": "x", "after": "y"}),
    ("typing", {"ticket_id": "TICKET", "typing": "yes"}),
    ("typing", {"ticket_id": "TICKET"}),
    ("ticket:close", {"ticket_id": NOT_AN_ID}),
]


@pytest.mark.parametrize("event,payload", INVALID_PAYLOADS)
async def test_invalid_payload_answers_invalid_stores_nothing_and_keeps_the_socket(
        event, payload, guest, connect, agent_session, live_server):
    sock = await connect(cookie_header(agent_session))
    if isinstance(payload, dict):
        payload = {k: (guest.ticket_id if v == "TICKET" else v) for k, v in payload.items()}
    before = len(await stored_messages(live_server, guest.ticket_id))
    answer = await sock.call(event, payload)
    assert answer["ok"] is False
    assert answer["error"]["code"] == "invalid", answer
    assert answer["error"]["message"]
    assert len(await stored_messages(live_server, guest.ticket_id)) == before
    assert sock.sio.connected
    ok = await sock.call("messages:history", {"ticket_id": guest.ticket_id, "limit": 1})
    assert ok["ok"] is True


async def test_unknown_ticket_answers_not_found(agent_socket):
    answer = await agent_socket.call("ticket:join", {"ticket_id": "5f0000000000000000000000"})
    assert answer["ok"] is False and answer["error"]["code"] == "not_found"


async def test_many_concurrent_senders_each_get_their_own_message(guest, guest_socket, agent_socket):
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    answers = await asyncio.gather(*[
        guest_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": f"b{i}", "client_msg_id": f"k{i}"})
        for i in range(20)])
    assert all(a["ok"] for a in answers)
    got = await agent_socket.wait_for("message:new", count=20, where=lambda m: m["sender_role"] == "guest")
    assert sorted(m["body"] for m in got) == sorted(f"b{i}" for i in range(20))
    assert message_service.BODY_MAX == 5000


async def test_a_burst_of_messages_refreshes_the_queue_a_few_times_ending_on_the_newest(
        guest, guest_socket, agent_socket):
    for i in range(20):
        await guest_socket.call(
            "message:send", {"ticket_id": guest.ticket_id, "body": f"burst {i}", "client_msg_id": f"u{i}"})
    last = await agent_socket.wait_for_row(lambda t: t["last_message_preview"] == "burst 19")
    assert last["id"] == guest.ticket_id
    batches = agent_socket.received("queue:updated")
    assert len(batches) < 20  # not one frame per message
    assert all(len({t["id"] for t in b["tickets"]}) == len(b["tickets"]) for b in batches)  # newest only
    # and the newest state is the last word
    assert agent_socket.queue_rows(guest.ticket_id)[-1]["last_message_preview"] == "burst 19"


async def test_a_close_right_after_a_burst_is_not_followed_by_a_stale_queue_update(
        guest, guest_socket, agent_socket):
    for i in range(5):
        await guest_socket.call(
            "message:send", {"ticket_id": guest.ticket_id, "body": f"quick {i}", "client_msg_id": f"q{i}"})
    assert (await agent_socket.call("ticket:close", {"ticket_id": guest.ticket_id}))["ok"]
    await agent_socket.wait_for("ticket:updated", where=lambda t: t["status"] == "closed")
    await asyncio.sleep(0.7)  # past the batch interval: a stale batch would have arrived by now
    rows = agent_socket.queue_rows(guest.ticket_id)
    assert rows[-1]["status"] == "closed"  # the state the dashboard keeps (highest version)
    assert rows.count(rows[-1]) == 1
