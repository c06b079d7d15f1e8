"""Escalation and auto-resolve sweeps: idempotent, conditional, safe to run concurrently."""

from __future__ import annotations

import asyncio

from bson import ObjectId

from app.services.conversations import escalation
from tests.conftest import cookie_header, login
from tests.fakeclock import FakeClock

FETCH = {"X-Requested-With": "fetch"}
MINUTE = 60


async def ticket(live_server, ticket_id: str) -> dict:
    return await live_server.ctx.db.tickets.find_one({"_id": ObjectId(ticket_id)})


async def system_lines(live_server, ticket_id: str) -> list[str]:
    docs = await live_server.ctx.db.messages.find(
        {"ticket_id": ObjectId(ticket_id), "kind": "system"}).sort("created_at", 1).to_list(None)
    return [d["body"] for d in docs]


async def test_a_sweep_run_twice_escalates_once_and_tells_every_admin(
        guest, admin, agent, http, connect, live_server, monkeypatch):
    session = http()
    await login(session, admin)
    admin_tab = await connect(cookie_header(session))
    ctx = live_server.ctx
    time = FakeClock(monkeypatch)
    time.advance(14 * MINUTE)
    assert await escalation.sweep_escalations(ctx) == []  # not yet
    time.advance(2 * MINUTE)

    # a second process read the ticket at the same moment as this one
    stale = await ticket(live_server, guest.ticket_id)
    first = await escalation.sweep_escalations(ctx)
    again = await escalation.sweep_escalations(ctx)
    late = await escalation.escalate(ctx, ticket=stale, now=time.now)
    assert len(first) == 1 and again == [] and late is None
    stored = await ticket(live_server, guest.ticket_id)
    assert (stored["priority"], stored["escalation_level"]) == ("high", 1)
    assert stored["escalated_at"] == time.now
    assert await system_lines(live_server, guest.ticket_id) == [
        "No answer for 16 min: escalated, priority high"]
    notes = await admin_tab.wait_for("notification:new")
    assert notes[0]["kind"] == "escalated" and "waited 16 min" in notes[0]["text"]
    jobs = await ctx.db.jobs.find({"kind": "notify"}).to_list(None)
    assert [j["dedupe_key"] for j in jobs] == [f"notify:escalate:{guest.ticket_id}:1"]
    assert jobs[0]["payload"]["user_ids"] == [admin["id"]]  # admins only, not the agent
    audited = await ctx.db.audit_events.find({"action": "ticket.escalate"}).to_list(None)
    assert len(audited) == 1 and audited[0]["actor"]["role"] == "system"
    assert (audited[0]["before"], audited[0]["after"]) == (
        {"priority": "normal", "escalation_level": 0}, {"priority": "high", "escalation_level": 1})


async def test_a_ticket_still_waiting_escalates_one_step_per_period_up_to_urgent(guest, live_server, monkeypatch):
    ctx = live_server.ctx
    time = FakeClock(monkeypatch)
    priorities = []
    for _ in range(4):
        time.advance(16 * MINUTE)
        await escalation.sweep_escalations(ctx)
        await escalation.sweep_escalations(ctx)
        priorities.append((await ticket(live_server, guest.ticket_id))["priority"])
    assert priorities == ["high", "urgent", "urgent", "urgent"]
    assert len(await system_lines(live_server, guest.ticket_id)) == 2


async def test_an_answered_ticket_does_not_escalate_and_an_assigned_one_tells_its_assignee(
        start_chat, agent, agent_socket, live_server, monkeypatch):
    answered, assigned = await start_chat(name="A", message="a"), await start_chat(name="B", message="b")
    await agent_socket.call("message:send", {"ticket_id": answered.ticket_id, "body": "On it",
                                             "client_msg_id": "reply-1"})
    await agent_socket.call("ticket:update", {"ticket_id": assigned.ticket_id, "assignee_id": agent["id"]})
    time = FakeClock(monkeypatch)
    time.advance(20 * MINUTE)
    escalated = await escalation.sweep_escalations(live_server.ctx)
    assert [str(t["_id"]) for t in escalated] == [assigned.ticket_id]
    job = await live_server.ctx.db.jobs.find_one({"payload.kind": "escalated"})
    assert job["payload"]["user_ids"] == [agent["id"]]
    assert (await ticket(live_server, answered.ticket_id))["priority"] == "normal"


async def test_a_pending_ticket_without_a_guest_reply_is_resolved_once(guest, agent_socket, live_server, monkeypatch):
    await agent_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "Does it work now?",
                                             "client_msg_id": "r-1"})
    await agent_socket.call("ticket:update", {"ticket_id": guest.ticket_id, "status": "pending"})
    time = FakeClock(monkeypatch)
    time.advance(6 * 86400)
    assert await escalation.sweep_auto_resolve(live_server.ctx) == []
    time.advance(86400 + 1)
    results = await asyncio.gather(*(escalation.sweep_auto_resolve(live_server.ctx) for _ in range(3)))
    assert sum(len(r) for r in results) == 1
    assert (await ticket(live_server, guest.ticket_id))["status"] == "resolved"
    lines = await system_lines(live_server, guest.ticket_id)
    assert lines[-1] == "No reply for 7 days: marked resolved"
    update = await agent_socket.wait_for("ticket:updated", where=lambda t: t["status"] == "resolved")
    assert update[0]["id"] == guest.ticket_id


async def test_an_open_ticket_is_never_auto_resolved(guest, live_server, monkeypatch):
    time = FakeClock(monkeypatch)
    time.advance(30 * 86400)
    assert await escalation.sweep_auto_resolve(live_server.ctx) == []
    assert (await ticket(live_server, guest.ticket_id))["status"] == "open"


async def test_the_escalation_line_is_for_agents_only(guest, guest_socket, live_server, monkeypatch):
    time = FakeClock(monkeypatch)
    time.advance(16 * MINUTE)
    assert len(await escalation.sweep_escalations(live_server.ctx)) == 1
    history = await guest_socket.call("messages:history", {"ticket_id": guest.ticket_id})
    assert [m["kind"] for m in history["messages"]] == ["message"]
    assert any("escalated" in line for line in await system_lines(live_server, guest.ticket_id))
