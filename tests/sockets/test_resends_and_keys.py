"""A client_msg_id names the sender's own message: a resend gets that message back, whatever
the rate limit or the ticket's status now say, and never anybody else's (the server's
system lines included)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from app.services.conversations import escalation
from tests.fakeclock import FakeClock


@pytest.fixture
def settings(settings):
    return replace(settings, rate_messages_per_ticket="3/minute", rate_typing="5/second")


async def send(sock, ticket_id: str, body: str, client_msg_id: str) -> dict:
    return await sock.call("message:send", {"ticket_id": ticket_id, "body": body,
                                            "client_msg_id": client_msg_id})


async def test_a_resend_at_the_rate_limit_returns_the_stored_message(guest, guest_socket):
    first = await send(guest_socket, guest.ticket_id, "one", "m-1")
    for n in (2, 3):
        assert (await send(guest_socket, guest.ticket_id, f"#{n}", f"m-{n}"))["ok"]
    refused = await send(guest_socket, guest.ticket_id, "four", "m-4")
    assert refused["error"]["code"] == "rate_limited"
    again = await send(guest_socket, guest.ticket_id, "one", "m-1")  # after a reconnect
    assert again["ok"] and again["duplicate"] is True
    assert again["message"]["id"] == first["message"]["id"]


async def test_a_resend_after_the_close_returns_the_message_that_went_through(
        guest, guest_socket, agent_socket):
    first = await send(guest_socket, guest.ticket_id, "before the close", "m-1")
    assert (await agent_socket.call("ticket:close", {"ticket_id": guest.ticket_id}))["ok"]
    again = await send(guest_socket, guest.ticket_id, "before the close", "m-1")
    assert again["ok"] and again["message"]["id"] == first["message"]["id"]
    assert (await send(guest_socket, guest.ticket_id, "new", "m-2"))["error"]["code"] == "closed"


async def test_the_same_client_msg_id_from_two_senders_stores_both(guest, guest_socket, agent_socket):
    mine = await send(guest_socket, guest.ticket_id, "guest says", "same-id")
    theirs = await send(agent_socket, guest.ticket_id, "agent says", "same-id")
    assert mine["ok"] and theirs["ok"] and theirs["duplicate"] is False
    assert theirs["message"]["id"] != mine["message"]["id"]
    assert theirs["message"]["body"] == "agent says"


async def test_a_guest_cannot_take_or_read_a_system_lines_key(
        guest, guest_socket, agent_socket, live_server, monkeypatch):
    clock = FakeClock(monkeypatch)
    # Sent before the escalation: once, it stopped the triage line from ever being written.
    early = await send(guest_socket, guest.ticket_id, "hello?", "system:escalate:1")
    assert early["ok"] and early["message"]["body"] == "hello?"
    clock.advance(16 * 60)
    assert len(await escalation.sweep_escalations(live_server.ctx)) == 1
    lines = await agent_socket.call("messages:history", {"ticket_id": guest.ticket_id})
    assert any("escalated" in m["body"] for m in lines["messages"])
    # Sent after: once, it answered with the internal triage line.
    late = await send(guest_socket, guest.ticket_id, "hello?", "system:escalate:1")
    assert late["ok"] and late["message"]["id"] == early["message"]["id"]
    assert "escalated" not in late["message"]["body"]


async def test_typing_over_its_limit_is_dropped_silently(guest, guest_socket, agent_socket):
    assert (await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id}))["ok"]
    answers = await asyncio.gather(*(
        guest_socket.call("typing", {"ticket_id": guest.ticket_id, "typing": n % 2 == 0})
        for n in range(50)))
    assert all(a == {"ok": True} for a in answers)  # the sender is not told off ...
    await asyncio.sleep(0.3)
    assert 1 <= len(agent_socket.received("typing")) <= 5  # ... the room hears a few
