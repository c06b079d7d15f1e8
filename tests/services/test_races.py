"""Interleavings a networked MongoDB makes now and then, made every time: the embedded engine
yields between calls, and a gate (tests/store/interleave.py) holds one caller at an exact
call while another runs. Each of these failed on the code before the store rewrite."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bson import ObjectId

from tests.conftest import cookie_header, login, make_account
from tests.fakeclock import FakeClock
from tests.store.interleave import gate, on

FETCH = {"X-Requested-With": "fetch"}


def _touches_activity(op) -> bool:
    """The ticket update a guest's or agent's message makes (preview, times)."""
    return (op.collection == "tickets" and op.method in ("update_one", "find_one_and_update")
            and "last_message_preview" in str(op.document))


async def _history(sock, ticket_id: str) -> list[dict]:
    answer = await sock.call("messages:history", {"ticket_id": ticket_id, "limit": 100})
    assert answer["ok"], answer
    return answer["messages"]


async def _patch(session, ticket_id: str, body: dict) -> dict:
    async with session.patch(f"/api/tickets/{ticket_id}", json=body, headers=FETCH) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["ticket"]


async def test_a_close_between_a_sends_check_and_its_insert_orders_the_message_or_refuses_it(
        live_server, guest, guest_socket, agent_session, agent_socket):
    ticket_id = guest.ticket_id
    await _patch(agent_session, ticket_id, {"status": "pending"})  # the guest's reply reopens it
    assert (await guest_socket.call("ticket:join", {"ticket_id": ticket_id}))["ok"]
    held = gate(live_server.ctx.db, on("messages", "insert_one"))

    sending = asyncio.create_task(guest_socket.call(
        "message:send", {"ticket_id": ticket_id, "body": "are you there?", "client_msg_id": "g-9"}))
    await held.wait_reached()
    closed = await agent_socket.call("ticket:close", {"ticket_id": ticket_id})
    assert closed["ok"], closed
    held.open()
    answer = await sending

    ticket = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(ticket_id)})
    assert ticket["status"] == "closed" and ticket["closed_at"] is not None
    bodies = [m["body"] for m in await _history(agent_socket, ticket_id)]
    assert bodies[-1] == "Alan Agent closed the conversation"  # nothing after the close
    if answer["ok"]:
        assert "are you there?" in bodies
    else:
        assert answer["error"]["code"] == "closed" and "are you there?" not in bodies


async def test_a_close_that_lands_first_refuses_the_message_and_stores_nothing(
        live_server, guest, guest_socket, agent_socket):
    ticket_id = guest.ticket_id
    # Hold the send at its first database call after its read of the ticket.
    held = gate(live_server.ctx.db, lambda op: op.method != "find_one" or op.collection != "tickets")
    sending = asyncio.create_task(guest_socket.call(
        "message:send", {"ticket_id": ticket_id, "body": "late", "client_msg_id": "g-late"}))
    await held.wait_reached()
    assert (await agent_socket.call("ticket:close", {"ticket_id": ticket_id}))["ok"]
    held.open()
    answer = await sending
    assert answer["ok"] is False and answer["error"]["code"] == "closed"
    assert "late" not in [m["body"] for m in await _history(agent_socket, ticket_id)]


async def test_an_assignment_during_a_guest_message_is_what_agents_are_left_holding(
        live_server, guest, guest_socket, agent, agent_session, agent_socket):
    ticket_id = guest.ticket_id
    assert (await guest_socket.call("ticket:join", {"ticket_id": ticket_id}))["ok"]
    held = gate(live_server.ctx.db, _touches_activity)
    sending = asyncio.create_task(guest_socket.call(
        "message:send", {"ticket_id": ticket_id, "body": "hello?", "client_msg_id": "g-2"}))
    await held.wait_reached()
    await _patch(agent_session, ticket_id, {"assignee_id": agent["id"]})
    held.open()
    assert (await sending)["ok"]

    stored = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(ticket_id)})
    assert str(stored["assignee_id"]) == agent["id"]
    await agent_socket.wait_for_row(lambda t: t["last_message_preview"] == "hello?")
    await asyncio.sleep(0.7)  # past the queue's batch interval: everything has arrived
    # A client keeps the state with the highest version.
    newest = agent_socket.queue_rows(ticket_id)[-1]
    assert newest["assignee_id"] == agent["id"]
    assert newest["last_message_preview"] == "hello?"
    assert newest["version"] == stored["version"]


async def test_two_agents_replying_at_once_keep_the_earlier_first_response(
        live_server, http, guest, agent_session, connect, monkeypatch):
    ticket_id = guest.ticket_id
    other = await make_account(live_server, role="agent", name="Bea Agent", email="bea@example.com")
    bea_session = http()
    await login(bea_session, other)
    alan = await connect(cookie_header(agent_session))
    bea = await connect(cookie_header(bea_session))
    clock = FakeClock(monkeypatch)
    late = clock.now + timedelta(seconds=30)

    clock.now = late  # Alan's reply is stamped later ...
    held = gate(live_server.ctx.db, on("messages", "insert_one"))
    alan_sending = asyncio.create_task(alan.call(
        "message:send", {"ticket_id": ticket_id, "body": "Alan here", "client_msg_id": "a-1"}))
    await held.wait_reached()
    clock.now = late - timedelta(seconds=20)  # ... than Bea's, which completes first
    early = clock.now
    assert (await bea.call("message:send", {"ticket_id": ticket_id, "body": "Bea here",
                                            "client_msg_id": "b-1"}))["ok"]
    held.open()
    assert (await alan_sending)["ok"]

    stored = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(ticket_id)})
    assert stored["first_response_at"] == early


async def test_one_senders_messages_are_stored_and_delivered_in_the_order_sent(
        live_server, guest, guest_socket, agent_socket):
    ticket_id = guest.ticket_id
    assert (await agent_socket.call("ticket:join", {"ticket_id": ticket_id}))["ok"]
    assert (await guest_socket.call("ticket:join", {"ticket_id": ticket_id}))["ok"]
    bodies = [f"part {n}" for n in range(25)]
    # The first message's insert is slow (the database took a while to answer it) ...
    held = gate(live_server.ctx.db, lambda op: op.collection == "messages"
                and op.method == "insert_one" and op.document.get("client_msg_id") == "order-0")
    # ... while, as the browser does, each send goes out without waiting for the previous answer.
    sending = asyncio.gather(*(
        guest_socket.call("message:send", {"ticket_id": ticket_id, "body": body,
                                           "client_msg_id": f"order-{n}"})
        for n, body in enumerate(bodies)))
    await held.wait_reached()
    await asyncio.sleep(0.3)  # time enough for the later ones to overtake it, if they can
    held.open()
    answers = await sending
    assert all(a["ok"] for a in answers)
    stored = [m["body"] for m in await _history(agent_socket, ticket_id) if m["body"].startswith("part")]
    assert stored == bodies
    received = await agent_socket.wait_for("message:new", count=len(bodies),
                                           where=lambda m: m["body"].startswith("part"))
    assert [m["body"] for m in received] == bodies
    seqs = [a["message"]["seq"] for a in answers]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
