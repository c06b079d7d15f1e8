"""New audit events reach the admins' sockets as they are stored (`audit:new`, the row the
audit page shows), never an agent's, and never at the cost of the audited action."""

import asyncio
import logging

import pytest

from app.services.conversations import ADMINS_ROOM, Events
from app.services.operations import audit
from tests.conftest import cookie_header, login, make_account


@pytest.fixture
async def admin_session(http, admin):
    session = http()
    await login(session, admin)
    return session


async def test_admins_get_each_new_event_as_the_page_shows_it_and_agents_get_none(
        connect, admin_session, agent_session, start_chat):
    admin_socket = await connect(cookie_header(admin_session))
    agent_socket = await connect(cookie_header(agent_session))
    guest = await start_chat(name="Lena Live", message="Is anyone there?")

    [event] = await admin_socket.wait_for("audit:new", where=lambda e: e["action"] == "ticket.create")
    async with admin_session.get("/api/audit", params={"action": "ticket.create"}) as resp:
        [row] = (await resp.json())["events"]
    assert event == row  # one shape, built by one function from the stored event
    assert event["entity_href"] == f"/dashboard/tickets/{guest.ticket_id}"
    assert (event["actor_label"], event["entity_label"]) == ("Lena Live (guest)", "Is anyone there?")

    async with agent_session.patch(f"/api/tickets/{guest.ticket_id}", json={"priority": "high"}) as resp:
        assert resp.status == 200
    [update] = await admin_socket.wait_for("audit:new", where=lambda e: e["action"] == "ticket.update")
    assert update["actor_label"] == "Alan Agent" and update["entity_label"] == "Is anyone there?"
    assert agent_socket.received("audit:new") == []


async def test_a_failing_live_event_never_fails_the_audited_action(
        connect, admin_session, start_chat, live_server, monkeypatch, caplog):
    await connect(cookie_header(admin_session))
    failed = asyncio.Event()

    async def broken(self, row):
        failed.set()
        raise ConnectionError("the message queue is down")

    monkeypatch.setattr(Events, "audit_new", broken)
    caplog.set_level(logging.WARNING)
    guest = await start_chat(name="Still Works", message="Hello")
    await asyncio.wait_for(failed.wait(), 5)
    stored = await live_server.ctx.db.audit_events.find_one({"action": "ticket.create"})
    assert stored["entity"]["id"] == guest.ticket_id
    await asyncio.sleep(0.05)  # the task logs after the emit failed
    assert any("audit:new not sent" in r.getMessage() for r in caplog.records)
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_with_no_admin_listening_nothing_is_looked_up_or_sent(connect, agent_session, live_server):
    await connect(cookie_header(agent_session))
    event = await live_server.ctx.db.audit_events.find_one({"action": "auth.login"})
    assert live_server.ctx.sockets.may_reach(ADMINS_ROOM) is False
    assert audit.announce(live_server.ctx, event) is None


async def test_an_admin_made_agent_loses_the_live_audit_at_once(
        connect, admin_session, http, live_server, start_chat):
    other = await make_account(live_server, role="admin", name="Otto Other", email="otto@example.com")
    otto = http()
    await login(otto, other)
    otto_socket = await connect(cookie_header(otto))
    await start_chat(name="Before", message="Seen by Otto")
    await otto_socket.wait_for("audit:new", where=lambda e: e["action"] == "ticket.create")

    async with admin_session.patch(f"/api/admin/users/{other['id']}", json={"role": "agent"}) as resp:
        assert resp.status == 200
    for _ in range(100):
        if not otto_socket.sio.connected:
            break
        await asyncio.sleep(0.02)
    assert not otto_socket.sio.connected

    again = await connect(cookie_header(otto))  # the same sign-in, now an agent's
    watching = await connect(cookie_header(admin_session))
    await start_chat(name="After", message="Not for Otto")
    await watching.wait_for("audit:new", where=lambda e: e["actor_label"] == "After (guest)")
    assert again.received("audit:new") == []
