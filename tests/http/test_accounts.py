"""Accounts: admins manage agents and admins; agents change their password; reset by e-mail."""

import asyncio
import dataclasses
import email
import queue
import re
from datetime import timedelta

import pytest
from aiosmtpd.controller import Controller

from app import clock
from app.errors import MESSAGES
from app.security import SESSION_COOKIE
from tests.conftest import PASSWORD, cookie_header, free_port, login, make_account


async def status_of(session, method, path, **kwargs):
    async with session.request(method, path, **kwargs) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def admin_session(http, admin):
    session = http()
    await login(session, admin)
    return session


async def test_admin_invites_lists_and_edits_accounts(admin_session, http, inbox):
    status, body = await status_of(admin_session, "POST", "/api/admin/users", json={
        "email": "Bea@Example.com", "name": "Bea", "role": "agent"})
    assert status == 201 and body["user"]["email"] == "bea@example.com" and body["user"]["invited"]
    assert "password_hash" not in body["user"]
    user_id = body["user"]["id"]
    _, message = await inbox.next()
    token = welcome_link(message).split("token=")[1]
    status, _ = await status_of(http(), "POST", "/api/auth/accept-invitation",
                                json={"token": token, "password": "long-password-1"})
    assert status == 200
    await login(http(), {"email": "bea@example.com", "password": "long-password-1"})

    status, body = await status_of(admin_session, "PATCH", f"/api/admin/users/{user_id}",
                                   json={"name": "Bea B.", "role": "admin"})
    assert status == 200 and (body["user"]["name"], body["user"]["role"]) == ("Bea B.", "admin")
    status, body = await status_of(admin_session, "GET", "/api/admin/users")
    assert {u["email"] for u in body["users"]} == {"ada@example.com", "bea@example.com"}
    assert not any(u["invited"] for u in body["users"])


@pytest.mark.parametrize("payload,field", [
    ({"email": "not-an-email", "name": "X", "role": "agent"}, "email"),
    ({"email": "x@example.com", "name": "", "role": "agent"}, "name"),
    ({"email": "x@example.com", "name": "X", "role": "root"}, "role"),
    # Admins do not choose other people's passwords: an invitation lets the person do it.
    ({"email": "x@example.com", "name": "X", "password": "long-password-1", "role": "agent"}, "password"),
])
async def test_bad_account_input_is_invalid_and_writes_nothing(admin_session, live_server, inbox, payload, field):
    status, body = await status_of(admin_session, "POST", "/api/admin/users", json=payload)
    assert status == 422 and body["error"]["code"] == "invalid" and body["error"]["field"] == field
    assert await live_server.ctx.db.users.count_documents({}) == 1
    assert await live_server.ctx.db.audit_events.count_documents({"action": "user.create"}) == 0
    assert inbox.received.empty()


async def test_patch_rejects_unknown_fields(admin_session, agent):
    status, body = await status_of(admin_session, "PATCH", f"/api/admin/users/{agent['id']}",
                                   json={"active": False})
    assert status == 422 and body["error"]["field"] == "active"


async def test_agents_get_403_on_admin_pages_and_apis(agent_session, agent, http):
    for method, path in [("GET", "/api/admin/users"), ("POST", "/api/admin/users"),
                         ("PATCH", f"/api/admin/users/{agent['id']}"),
                         ("POST", f"/api/admin/users/{agent['id']}/deactivate"),
                         ("POST", f"/api/admin/users/{agent['id']}/reactivate"),
                         ("GET", "/api/audit"), ("GET", "/api/audit.csv"), ("GET", "/api/audit?format=csv")]:
        async with agent_session.request(method, path, json={}) as resp:
            assert resp.status == 403, (method, path)
            assert (await resp.json())["error"]["code"] == "forbidden"
    for path in ("/admin/users", "/admin/audit"):
        async with agent_session.get(path, allow_redirects=False) as resp:
            assert resp.status == 403, path
        async with http().get(path, allow_redirects=False) as resp:
            assert resp.status == 302 and resp.headers["Location"].startswith("/login?next=")


async def test_deactivated_agent_loses_live_socket_within_a_second_and_cookie(
        admin_session, agent, agent_session, agent_socket, live_server):
    assert agent_socket.sio.connected
    disconnected = asyncio.Event()
    agent_socket.sio.on("disconnect", lambda *args: disconnected.set())
    status, body = await status_of(admin_session, "POST", f"/api/admin/users/{agent['id']}/deactivate")
    assert status == 200 and body["user"]["active"] is False
    await asyncio.wait_for(disconnected.wait(), timeout=1.0)
    async with agent_session.get("/api/auth/me") as resp:
        assert resp.status == 401
    # The right password: told the account is deactivated (a wrong one learns nothing).
    status, body = await status_of(agent_session, "POST", "/api/auth/login",
                                   json={"email": agent["email"], "password": PASSWORD})
    assert status == 403 and body["error"]["message"] == MESSAGES["deactivated"]
    assert "deactivated" in body["error"]["message"]
    status, body = await status_of(agent_session, "POST", "/api/auth/login",
                                   json={"email": agent["email"], "password": "not-the-password"})
    assert status == 401 and body["error"]["message"] == MESSAGES["bad_credentials"]

    status, body = await status_of(admin_session, "POST", f"/api/admin/users/{agent['id']}/reactivate")
    assert status == 200 and body["user"]["active"] is True
    await login(agent_session, agent)


async def test_the_last_active_admin_cannot_deactivate_or_demote_themself(admin_session, admin, http, live_server,
                                                                         inbox):
    for method, path, payload in [("POST", f"/api/admin/users/{admin['id']}/deactivate", None),
                                  ("PATCH", f"/api/admin/users/{admin['id']}", {"role": "agent"})]:
        status, body = await status_of(admin_session, method, path, json=payload)
        assert status == 409 and body["error"]["code"] == "conflict", body
    me = await live_server.ctx.db.users.find_one({"email": admin["email"]})
    assert me["role"] == "admin" and me["active"] is True
    # With a second admin, stepping down is allowed.
    status, body = await status_of(admin_session, "POST", "/api/admin/users", json={
        "email": "b@example.com", "name": "Bo", "role": "admin"})
    await inbox.next()  # the invitation, sent before the test ends
    status, body = await status_of(admin_session, "PATCH", f"/api/admin/users/{admin['id']}",
                                   json={"role": "agent"})
    assert status == 200 and body["user"]["role"] == "agent"


async def test_password_change_needs_the_old_one_and_ends_other_sessions(http, agent, connect):
    here, elsewhere = http(), http()
    await login(here, agent)
    await login(elsewhere, agent)
    other_socket = await connect(cookie_header(elsewhere))
    old_cookie = cookie_header(here)

    status, body = await status_of(here, "POST", "/api/auth/password",
                                   json={"old_password": "wrong-one!", "new_password": "brand-new-password"})
    assert status == 422 and body["error"]["field"] == "old_password"
    async with elsewhere.get("/api/auth/me") as resp:
        assert resp.status == 200

    disconnected = asyncio.Event()
    other_socket.sio.on("disconnect", lambda *args: disconnected.set())
    async with here.post("/api/auth/password",
                         json={"old_password": PASSWORD, "new_password": "brand-new-password"}) as resp:
        assert resp.status == 200
        assert SESSION_COOKIE in resp.cookies  # this browser gets a fresh cookie
    assert cookie_header(here) != old_cookie
    async with here.get("/api/auth/me") as resp:
        assert resp.status == 200
    async with elsewhere.get("/api/auth/me") as resp:
        assert resp.status == 401
    await asyncio.wait_for(disconnected.wait(), timeout=1.0)
    await login(http(), {**agent, "password": "brand-new-password"})
    status, _ = await status_of(http(), "POST", "/api/auth/login",
                                json={"email": agent["email"], "password": PASSWORD})
    assert status == 401


class Inbox:
    """An SMTP server for one test: aiosmtpd on a free port, messages into a queue."""

    def __init__(self) -> None:
        self.received: queue.Queue = queue.Queue()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server, session, envelope):
        self.received.put(envelope)
        return "250 OK"

    async def next(self, timeout: float = 5.0):
        envelope = await asyncio.to_thread(self.received.get, True, timeout)
        return envelope, email.message_from_bytes(envelope.content)


@pytest.fixture
def inbox():
    box = Inbox()
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture
def settings(settings, inbox):
    return dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{inbox.port}",
                               mail_from="Help <help@example.com>")


def reset_link(message) -> str:
    body = message.get_payload(decode=True).decode()
    [link] = re.findall(r"\S+/reset-password\?token=\S+", body)
    return link


def welcome_link(message) -> str:
    body = message.get_payload(decode=True).decode()
    [link] = re.findall(r"\S+/welcome\?token=\S+", body)
    return link


async def test_password_reset_end_to_end_through_smtp(http, agent, inbox, live_server, agent_session):
    session = http()
    status, known = await status_of(session, "POST", "/api/auth/forgot-password", json={"email": agent["email"]})
    status2, unknown = await status_of(session, "POST", "/api/auth/forgot-password",
                                       json={"email": "nobody@example.com"})
    assert (status, known) == (status2, unknown) == (200, known)

    envelope, message = await inbox.next()
    assert envelope.rcpt_tos == [agent["email"]] and message["From"] == "Help <help@example.com>"
    link = reset_link(message)
    assert link.startswith(live_server.url + "/reset-password?token=")
    token = link.split("token=")[1]
    assert inbox.received.empty()  # nothing for the unknown e-mail
    stored = await live_server.ctx.db.users.find_one({"email": agent["email"]})
    assert token not in repr(stored)  # only its hash is kept

    async with session.get(link.replace(live_server.url, "")) as resp:
        assert resp.status == 200 and resp.headers["Referrer-Policy"] == "no-referrer"
    status, _ = await status_of(session, "POST", "/api/auth/reset-password",
                                json={"token": token, "password": "reset-password-9"})
    assert status == 200
    await login(http(), {**agent, "password": "reset-password-9"})
    async with agent_session.get("/api/auth/me") as resp:
        assert resp.status == 401  # the old session ended

    status, body = await status_of(session, "POST", "/api/auth/reset-password",
                                   json={"token": token, "password": "another-password-1"})
    assert status == 422 and body["error"]["field"] == "token"  # single use
    events = await live_server.ctx.db.audit_events.find(
        {"action": {"$in": ["user.password_reset_request", "user.password_reset"]}}).to_list(10)
    assert [e["action"] for e in events] == ["user.password_reset_request"] * 2 + ["user.password_reset"]
    assert token not in repr(events)


async def test_an_expired_reset_token_is_refused(http, agent, inbox, live_server, monkeypatch):
    session = http()
    await status_of(session, "POST", "/api/auth/forgot-password", json={"email": agent["email"]})
    _, message = await inbox.next()
    token = reset_link(message).split("token=")[1]
    later = clock.utcnow() + timedelta(hours=1, seconds=1)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    status, body = await status_of(session, "POST", "/api/auth/reset-password",
                                   json={"token": token, "password": "reset-password-9"})
    assert status == 422 and body["error"]["field"] == "token"
    status, _ = await status_of(session, "POST", "/api/auth/login",
                                json={"email": agent["email"], "password": "reset-password-9"})
    assert status == 401


async def test_a_reset_token_works_just_before_the_hour_is_up(http, agent, inbox, monkeypatch):
    session = http()
    await status_of(session, "POST", "/api/auth/forgot-password", json={"email": agent["email"]})
    _, message = await inbox.next()
    token = reset_link(message).split("token=")[1]
    later = clock.utcnow() + timedelta(minutes=59)
    monkeypatch.setattr(clock, "utcnow", lambda: later)
    status, _ = await status_of(session, "POST", "/api/auth/reset-password",
                                json={"token": token, "password": "reset-password-9"})
    assert status == 200


async def test_the_account_list_pages_through_every_account_in_name_order(admin_session, live_server):
    for n in range(230):
        await make_account(live_server, role="agent", name=f"Agent {n:03d}", email=f"a{n}@example.com")
    names, cursor, pages = [], None, 0
    while True:
        params = {"limit": "100", **({"after": cursor} if cursor else {})}
        async with admin_session.get("/api/admin/users", params=params) as resp:
            assert resp.status == 200
            page = await resp.json()
        names += [u["name"] for u in page["users"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and len(names) == 231  # and the admin, none cut off, none twice
    assert names == sorted(names) and len(set(names)) == len(names)
    async with admin_session.get("/api/admin/users", params={"after": "not a cursor"}) as resp:
        assert resp.status == 422
