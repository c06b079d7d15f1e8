"""The audit trail: each action that matters writes one event with who, what, when, where,
and before/after; a failing audit write is retried and never fails the user's action."""

import dataclasses

import pytest

from app.services.operations import audit
from tests.conftest import PASSWORD, cookie_header, login

UA = "AuditTest/1.0"


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, trust_proxy=True)


def from_ip(ip: str) -> dict:
    return {"X-Forwarded-For": ip, "User-Agent": UA}


async def events(live_server, action: str) -> list[dict]:
    return await live_server.ctx.db.audit_events.find({"action": action}).sort("at", 1).to_list(100)


def assert_no_secrets(event: dict) -> None:
    text = repr(event)
    assert "password_hash" not in text and "$2b$" not in text and "token_hash" not in text


async def test_login_success_failure_and_logout_are_audited_with_ip_and_user_agent(http, agent, live_server):
    session = http()
    async with session.post("/api/auth/login", json={"email": agent["email"], "password": "nope-nope"},
                            headers=from_ip("203.0.113.7")) as resp:
        assert resp.status == 401
    async with session.post("/api/auth/login", json={"email": "ghost@example.com", "password": "x"},
                            headers=from_ip("203.0.113.7")) as resp:
        assert resp.status == 401
    async with session.post("/api/auth/login", json={"email": agent["email"], "password": PASSWORD},
                            headers=from_ip("203.0.113.8")) as resp:
        assert resp.status == 200
    async with session.post("/api/auth/logout", headers=from_ip("203.0.113.9")) as resp:
        assert resp.status == 200

    failed = await events(live_server, "auth.login_failed")
    assert [(e["entity"], e["meta"]["email"]) for e in failed] == [
        ({"type": "user", "id": agent["id"]}, agent["email"]),
        ({"type": None, "id": None}, "ghost@example.com"),
    ]
    assert failed[0]["actor"] == {"id": None, "role": "anonymous", "name": ""}
    assert failed[0]["ip"] == "203.0.113.7" and failed[0]["user_agent"] == UA
    assert "nope-nope" not in repr(failed)

    [ok] = await events(live_server, "auth.login")
    assert ok["actor"] == {"id": agent["id"], "role": "agent", "name": "Alan Agent"}
    assert ok["entity"] == {"type": "user", "id": agent["id"]} and ok["ip"] == "203.0.113.8"
    [out] = await events(live_server, "auth.logout")
    assert out["actor"]["id"] == agent["id"] and out["ip"] == "203.0.113.9"
    for e in [*failed, ok, out]:
        assert_no_secrets(e)


async def test_account_changes_are_audited_with_before_and_after(http, admin, live_server):
    session = http()
    await login(session, admin)
    async with session.post("/api/admin/users", json={
        "email": "new@example.com", "name": "Nina New", "role": "agent",
    }, headers=from_ip("192.0.2.1")) as resp:
        assert resp.status == 201
        user_id = (await resp.json())["user"]["id"]
    async with session.patch(f"/api/admin/users/{user_id}", json={"name": "Nina Newer", "role": "admin"}) as resp:
        assert resp.status == 200
    async with session.post(f"/api/admin/users/{user_id}/deactivate") as resp:
        assert resp.status == 200
    async with session.post(f"/api/admin/users/{user_id}/reactivate") as resp:
        assert resp.status == 200

    admin_actor = {"id": admin["id"], "role": "admin", "name": "Ada Admin"}
    [created] = await events(live_server, "user.create")
    assert created["actor"] == admin_actor and created["entity"] == {"type": "user", "id": user_id}
    assert created["before"] is None
    assert created["after"] == {"email": "new@example.com", "name": "Nina New", "role": "agent", "active": True}
    assert created["ip"] == "192.0.2.1" and created["user_agent"] == UA
    [updated] = await events(live_server, "user.update")
    assert (updated["before"]["name"], updated["before"]["role"]) == ("Nina New", "agent")
    assert (updated["after"]["name"], updated["after"]["role"]) == ("Nina Newer", "admin")
    [off] = await events(live_server, "user.deactivate")
    assert (off["before"]["active"], off["after"]["active"]) == (True, False)
    [on] = await events(live_server, "user.reactivate")
    assert (on["before"]["active"], on["after"]["active"]) == (False, True)
    for e in (created, updated, off, on):
        assert_no_secrets(e)


async def test_password_change_is_audited_without_the_password(http, agent, live_server):
    session = http()
    await login(session, agent)
    async with session.post("/api/auth/password", json={
        "old_password": PASSWORD, "new_password": "brand-new-password"}) as resp:
        assert resp.status == 200
    [changed] = await events(live_server, "user.password_change")
    assert changed["actor"]["id"] == agent["id"] and changed["entity"] == {"type": "user", "id": agent["id"]}
    assert changed["before"] == {"token_version": 0} and changed["after"] == {"token_version": 1}
    assert "brand-new-password" not in repr(changed) and PASSWORD not in repr(changed)
    assert_no_secrets(changed)


async def test_guest_chat_start_ticket_close_and_note_are_audited(
        http, start_chat, agent, agent_socket, live_server):
    session = http()
    guest = await start_chat(name="Gina Guest", session=session)
    [created] = await events(live_server, "ticket.create")
    assert created["actor"]["role"] == "guest" and created["actor"]["name"] == "Gina Guest"
    guest_id = next(c.value for c in session.cookie_jar if c.key == "sc_guest").split(".")[0]
    assert guest_id not in repr(created)  # the guest id is a credential: a pseudonym instead
    assert created["actor"]["id"].startswith("guest:")
    assert created["entity"] == {"type": "ticket", "id": guest.ticket_id}
    assert created["after"]["status"] == "open" and created["after"]["guest_name"] == "Gina Guest"
    assert created["ip"] == "127.0.0.1"

    answer = await agent_socket.call("note:add", {"ticket_id": guest.ticket_id, "body": "VIP customer",
                                                  "client_msg_id": "n1"})
    assert answer["ok"], answer
    [note] = await events(live_server, "note.create")
    assert note["actor"] == {"id": agent["id"], "role": "agent", "name": "Alan Agent"}
    assert note["entity"] == {"type": "ticket", "id": guest.ticket_id}
    assert note["after"] == {"message_id": answer["message"]["id"], "body": "VIP customer"}
    assert note["ip"] == "127.0.0.1"  # from the socket's handshake

    answer = await agent_socket.call("ticket:close", {"ticket_id": guest.ticket_id})
    assert answer["ok"]
    [closed] = await events(live_server, "ticket.close")
    assert closed["actor"]["id"] == agent["id"]
    assert (closed["before"], closed["after"]) == ({"status": "open"}, {"status": "closed"})


async def test_socket_events_carry_the_handshake_ip_and_user_agent(connect, agent_session, guest, live_server):
    sock = await connect(cookie_header(agent_session))
    # A client-side connect with a forwarded address, through a trusted proxy.
    import socketio

    sio = socketio.AsyncClient(reconnection=False)
    await sio.connect(live_server.url, transports=["websocket"], headers={
        "Origin": live_server.origin, "Cookie": cookie_header(agent_session),
        "X-Forwarded-For": "198.51.100.77", "User-Agent": "SocketUA/2"})
    try:
        answer = await sio.call("ticket:close", {"ticket_id": guest.ticket_id}, timeout=5)
        assert answer["ok"]
    finally:
        await sio.disconnect()
    [closed] = await events(live_server, "ticket.close")
    assert closed["ip"] == "198.51.100.77" and closed["user_agent"] == "SocketUA/2"
    assert sock.sio.connected


async def test_a_failing_audit_write_is_retried_and_never_fails_the_action(
        http, agent, live_server, monkeypatch):
    collection = live_server.ctx.db.audit_events
    real_insert = collection.insert_one
    failures = {"left": 2}

    async def flaky_insert(doc, *args, **kwargs):
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("database hiccup")
        return await real_insert(doc, *args, **kwargs)

    monkeypatch.setattr(collection, "insert_one", flaky_insert)
    await login(http(), agent)
    assert failures["left"] == 0
    assert len(await events(live_server, "auth.login")) == 1


@pytest.mark.logs_errors  # provokes it on purpose
async def test_an_audit_write_that_keeps_failing_waits_in_the_backlog_then_lands(
        http, agent, live_server, monkeypatch, caplog):
    collection = live_server.ctx.db.audit_events
    real_insert = collection.insert_one

    async def down(doc, *args, **kwargs):
        raise ConnectionError("database down")

    monkeypatch.setattr(collection, "insert_one", down)
    await login(http(), agent)  # the sign-in itself succeeds
    assert len(live_server.ctx.audit_backlog) == 1
    assert any("AUDIT WRITE FAILED" in r.getMessage() for r in caplog.records)

    monkeypatch.setattr(collection, "insert_one", real_insert)
    assert await audit.drain_backlog(live_server.ctx) == 1
    assert not live_server.ctx.audit_backlog
    [event] = await events(live_server, "auth.login")
    assert event["actor"]["id"] == agent["id"]


def test_snapshots_drop_secrets():
    snap = audit.snapshot({"name": "A", "password_hash": "$2b$...", "password_reset": {"token_hash": "x"},
                           "token_version": 3, "api_token": "t", "nested": {"secret": 1, "ok": 2}})
    assert snap == {"name": "A", "token_version": 3, "nested": {"ok": 2}}


async def test_an_event_with_values_the_database_cannot_store_is_stored_with_them_replaced_and_says_so(
        live_server):
    from app.services.core import client

    token = client.bind(client.ClientInfo(ip="192.0.2.9", user_agent="Agent \udcff"))
    try:
        await audit.record(live_server.ctx, actor=None, action="auth.login_failed", entity=None,
                           after={"count": 10**30, "when": {1, 2}}, meta={"email": "x\ud800@example.com"})
    finally:
        client.reset(token)
    assert not live_server.ctx.audit_backlog
    [event] = await events(live_server, "auth.login_failed")
    assert event["meta"] == {"email": "x\\ud800@example.com",
                             "sanitized": ["after.count", "after.when", "user_agent", "meta.email"]}
    assert event["user_agent"] == "Agent \\udcff" and event["ip"] == "192.0.2.9"
    assert event["after"]["count"] == "<integer of 100 bits>"


@pytest.mark.logs_errors  # provokes it on purpose
async def test_an_event_the_database_refuses_never_holds_up_the_events_behind_it(
        http, agent, live_server, monkeypatch, caplog):
    from bson.errors import InvalidDocument

    collection = live_server.ctx.db.audit_events
    real_insert = collection.insert_one
    database = {"down": False}

    async def insert(doc, *args, **kwargs):
        if database["down"]:
            raise ConnectionError("database down")
        if doc["action"] == "test.refused":
            raise InvalidDocument("the database refuses this one")
        return await real_insert(doc, *args, **kwargs)

    monkeypatch.setattr(collection, "insert_one", insert)
    ctx = live_server.ctx
    await audit.record(ctx, actor=None, action="test.refused", entity=None)
    database["down"] = True
    await login(http(), agent)  # its audit event fails too, behind the refused one
    assert [w.event["action"] for w in ctx.audit_backlog] == ["test.refused", "auth.login"]

    assert await audit.drain_backlog(ctx) == 0  # while the database is down: nothing counted
    assert [(w.event["action"], w.refusals) for w in ctx.audit_backlog] == [("test.refused", 1),
                                                                           ("auth.login", 0)]
    database["down"] = False
    assert await audit.drain_backlog(ctx) == 1  # the later event drains past the refused one
    assert [(w.event["action"], w.refusals) for w in ctx.audit_backlog] == [("test.refused", 2)]
    assert [e["actor"]["id"] for e in await events(live_server, "auth.login")] == [agent["id"]]

    assert await audit.drain_backlog(ctx) == 0
    assert not ctx.audit_backlog  # set aside after its third refusal, and logged in full
    [set_aside] = [r for r in caplog.records if "AUDIT EVENT SET ASIDE" in r.getMessage()]
    assert set_aside.levelname == "CRITICAL" and "test.refused" in set_aside.getMessage()
