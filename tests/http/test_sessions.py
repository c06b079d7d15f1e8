"""Server-side sessions: each sign-in is a session record; signing out ends it at once, for
the cookie and for the sockets opened with it; /account lists and ends them."""

import asyncio
import dataclasses
from datetime import timedelta

import pytest
import socketio

from app import clock
from app.security import SESSION_COOKIE
from app.services.people import sessions as session_service
from app.store import sessions as store_sessions
from tests.conftest import cookie_header, login


def session_cookie(session) -> str:
    return next(c.value for c in session.cookie_jar if c.key == SESSION_COOKIE)


async def status_of(session, method, path, **kwargs):
    async with session.request(method, path, **kwargs) as resp:
        return resp.status, await resp.json()


def disconnected(client) -> asyncio.Event:
    event = asyncio.Event()
    client.sio.on("disconnect", lambda *args: event.set())
    return event


async def with_cookie(http, value: str):
    """Another client holding a copy of a session cookie (as an attacker who stole it would)."""
    session = http()
    session.cookie_jar.update_cookies({SESSION_COOKIE: value})
    return session


async def test_logout_revokes_the_cookie_and_cuts_the_socket(http, agent, connect):
    browser = http()
    await login(browser, agent)
    stolen = await with_cookie(http, session_cookie(browser))
    socket = await connect(cookie_header(browser))
    cut = disconnected(socket)
    assert (await status_of(stolen, "GET", "/api/auth/me"))[0] == 200

    assert (await status_of(browser, "POST", "/api/auth/logout"))[0] == 200
    await asyncio.wait_for(cut.wait(), timeout=1.0)
    status, body = await status_of(stolen, "GET", "/api/auth/me")
    assert status == 401 and body["error"]["code"] == "unauthorized"
    async with stolen.get("/dashboard", allow_redirects=False) as resp:
        assert resp.status == 302
    with pytest.raises(socketio.exceptions.ConnectionError):  # the same cookie cannot open a socket either
        await connect(f"{SESSION_COOKIE}={session_cookie(stolen)}")


async def test_logging_out_one_browser_leaves_the_others_signed_in(http, agent, connect):
    here, there = http(), http()
    await login(here, agent)
    await login(there, agent)
    socket_there = await connect(cookie_header(there))
    await status_of(here, "POST", "/api/auth/logout")
    assert (await status_of(there, "GET", "/api/auth/me"))[0] == 200
    assert socket_there.sio.connected
    answer = await socket_there.call("typing", {"ticket_id": "0" * 24, "typing": True})
    assert answer["ok"] or answer["error"]["code"] != "unauthorized"  # still signed in there


async def test_each_sign_in_is_listed_with_its_address_and_browser(http, agent, live_server):
    phone, laptop = http(), http()
    await login(phone, agent)
    async with laptop.post("/api/auth/login", json={"email": agent["email"], "password": agent["password"]},
                           headers={"User-Agent": "Laptop Browser/1.0"}) as resp:
        assert resp.status == 200
    status, body = await status_of(laptop, "GET", "/api/account/sessions")
    assert status == 200 and len(body["sessions"]) == 2
    newest, older = body["sessions"]
    assert newest["current"] and not older["current"]
    assert newest["user_agent"] == "Laptop Browser/1.0" and newest["ip"] == "127.0.0.1"
    assert newest["stage"] == "active" and newest["created_at"].endswith("Z")
    stored = await live_server.ctx.db.sessions.find_one({"_id": newest["id"]})
    assert stored["user_id"] and stored["ended_at"] is None and stored["expires_at"] > clock.utcnow()


async def test_signing_out_another_session_from_account_ends_it_and_its_sockets(http, agent, connect):
    here, lost_phone = http(), http()
    await login(here, agent)
    await login(lost_phone, agent)
    phone_socket = await connect(cookie_header(lost_phone))
    cut = disconnected(phone_socket)
    _, body = await status_of(here, "GET", "/api/account/sessions")
    [phone] = [s for s in body["sessions"] if not s["current"]]

    status, body = await status_of(here, "DELETE", f"/api/account/sessions/{phone['id']}")
    assert status == 200 and body == {"ok": True, "signed_out": False}
    await asyncio.wait_for(cut.wait(), timeout=1.0)
    assert (await status_of(lost_phone, "GET", "/api/auth/me"))[0] == 401
    assert (await status_of(here, "GET", "/api/auth/me"))[0] == 200
    status, body = await status_of(here, "DELETE", f"/api/account/sessions/{phone['id']}")
    assert status == 404


async def test_nobody_can_end_someone_elses_session(http, agent, admin):
    agents_browser, admins_browser = http(), http()
    await login(agents_browser, agent)
    await login(admins_browser, admin)
    _, body = await status_of(agents_browser, "GET", "/api/account/sessions")
    [agents_session] = body["sessions"]
    status, _ = await status_of(admins_browser, "DELETE", f"/api/account/sessions/{agents_session['id']}")
    assert status == 404
    assert (await status_of(agents_browser, "GET", "/api/auth/me"))[0] == 200
    status, body = await status_of(admins_browser, "DELETE", "/api/account/sessions/" + "x" * 65)
    assert status == 422 and body["error"]["field"] == "session_id"


async def test_sign_out_everywhere_ends_every_session_and_socket(http, agent, connect, live_server):
    browsers = [http() for _ in range(3)]
    sockets = []
    for browser in browsers:
        await login(browser, agent)
        sockets.append(await connect(cookie_header(browser)))
    cuts = [disconnected(s) for s in sockets]
    status, body = await status_of(browsers[0], "POST", "/api/account/sessions/end-all")
    assert status == 200 and body["signed_out"]
    await asyncio.wait_for(asyncio.gather(*(c.wait() for c in cuts)), timeout=1.0)
    for browser in browsers:
        assert (await status_of(browser, "GET", "/api/auth/me"))[0] == 401
    actions = [e["action"] async for e in live_server.ctx.db.audit_events.find({"actor.id": agent["id"]})]
    assert "auth.logout_everywhere" in actions


async def test_a_socket_is_cut_when_its_session_expires(http, agent, connect, live_server, monkeypatch):
    browser = http()
    await login(browser, agent)
    stored = await live_server.ctx.db.sessions.find_one({})
    # Half a second before the session's end (the token itself is still good for hours).
    almost = stored["expires_at"] - timedelta(seconds=0.5)
    monkeypatch.setattr(clock, "utcnow", lambda: almost)
    socket = await connect(cookie_header(browser))
    cut = disconnected(socket)
    await asyncio.wait_for(cut.wait(), timeout=2.0)


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, session_recheck_interval=0.2)


async def test_the_periodic_check_cuts_a_socket_whose_session_ended_unannounced(http, agent, connect, live_server):
    """A session ended without its room being closed (a Redis message lost, a process that
    died first) still loses its sockets at the next periodic check."""
    browser = http()
    await login(browser, agent)
    socket = await connect(cookie_header(browser))
    cut = disconnected(socket)
    [session] = await live_server.ctx.db.sessions.find({}).to_list(None)
    await store_sessions.end(live_server.ctx.db, session_id=session["_id"], at=clock.utcnow(), reason="test")
    await asyncio.wait_for(cut.wait(), timeout=2.0)


async def test_socket_events_never_read_the_session_from_the_database(
        agent_socket, guest, live_server, monkeypatch):
    reads = []
    real = store_sessions.by_id

    async def counting(db, *, session_id):
        reads.append(session_id)
        return await real(db, session_id=session_id)

    monkeypatch.setattr(store_sessions, "by_id", counting)
    assert (await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id}))["ok"]
    for n in range(20):
        answer = await agent_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": f"reply {n}",
                                                          "client_msg_id": f"r-{n}"})
        assert answer["ok"], answer
    assert reads == []


async def test_a_half_open_session_ends_after_ten_minutes(live_server, agent):
    ctx = live_server.ctx
    user = await ctx.db.users.find_one({"email": agent["email"]})
    started = await session_service.start(ctx, user=user, stage=session_service.CODE)
    assert started.session["expires_at"] - started.session["created_at"] == timedelta(minutes=10)
    assert started.max_age <= 600
