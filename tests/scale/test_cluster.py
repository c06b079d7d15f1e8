"""Several processes as one: a guest on node A and an agent on node B share one store and
one Redis, and everything that crosses between them goes through Redis.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
import socketio

from app import create_app
from app.keys import sio_key
from app.services.conversations import presence
from tests.conftest import cookie_header, free_port, login, make_account
from tests.scale.conftest import node_settings


@pytest.fixture
async def browsers():
    sessions: list[aiohttp.ClientSession] = []

    def open_session(node) -> aiohttp.ClientSession:
        session = aiohttp.ClientSession(base_url=node.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        await session.close()


async def start_chat(session: aiohttp.ClientSession, message: str = "Where is my parcel?") -> dict:
    async with session.post("/api/guest/tickets", json={"name": "Grace", "message": message}) as resp:
        assert resp.status == 201, await resp.text()
        return (await resp.json())["ticket"]


@pytest.fixture
async def chat(nodes, browsers):
    """A guest who started a chat (over node A's HTTP) and an agent logged in (over B's)."""
    a, b = nodes
    guest_session = browsers(a)
    ticket = await start_chat(guest_session)
    agent = await make_account(a.server, role="agent", name="Alan Agent", email="alan@example.com")
    agent_session = browsers(b)
    await login(agent_session, agent)
    return {"ticket": ticket, "guest_cookie": cookie_header(guest_session),
            "agent": agent, "agent_cookie": cookie_header(agent_session)}


async def eventually(check, timeout: float = 5.0) -> None:
    """Poll an async condition with a short deadline (for state no event announces)."""
    deadline = time.monotonic() + timeout
    while not await check():
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.02)


async def test_guest_on_one_node_and_agent_on_another_converse(nodes, chat):
    a, b = nodes
    ticket_id = chat["ticket"]["id"]
    guest = await a.connect(chat["guest_cookie"])
    agent = await b.connect(chat["agent_cookie"])
    assert (await guest.call("ticket:join", {"ticket_id": ticket_id}))["ok"]
    assert (await agent.call("ticket:join", {"ticket_id": ticket_id}))["ok"]

    sent = await guest.call("message:send", {"ticket_id": ticket_id, "body": "Hello from A",
                                             "client_msg_id": "g-1"})
    assert sent["ok"]
    [got] = await agent.wait_for("message:new", where=lambda m: m["client_msg_id"] == "g-1")
    assert got["body"] == "Hello from A" and got["id"] == sent["message"]["id"]

    assert (await agent.call("message:send", {"ticket_id": ticket_id, "body": "Hi, from B",
                                              "client_msg_id": "a-1"}))["ok"]
    [got] = await guest.wait_for("message:new", where=lambda m: m["client_msg_id"] == "a-1")
    assert got["sender_role"] == "agent" and got["sender_name"] == "Alan Agent"
    # Each message reached the other side once, and the sender not at all.
    assert [m["client_msg_id"] for m in agent.received("message:new") if m["kind"] == "message"] == ["g-1"]
    assert [m["client_msg_id"] for m in guest.received("message:new") if m["kind"] == "message"] == ["a-1"]


async def test_ticket_close_on_one_node_disables_the_guest_on_the_other(nodes, chat):
    a, b = nodes
    ticket_id = chat["ticket"]["id"]
    guest = await b.connect(chat["guest_cookie"])
    agent = await a.connect(chat["agent_cookie"])
    assert (await guest.call("ticket:join", {"ticket_id": ticket_id}))["ok"]

    closed = await agent.call("ticket:close", {"ticket_id": ticket_id})
    assert closed["ok"] and closed["ticket"]["status"] == "closed"
    [update] = await guest.wait_for("ticket:updated", where=lambda t: t["status"] == "closed")
    assert update["id"] == ticket_id
    await guest.wait_for("message:new", where=lambda m: m["kind"] == "system" and "closed" in m["body"])
    answer = await guest.call("message:send", {"ticket_id": ticket_id, "body": "wait!",
                                               "client_msg_id": "late"})
    assert answer["error"]["code"] == "closed"


async def test_typing_crosses_nodes_and_skips_the_sender(nodes, chat):
    a, b = nodes
    ticket_id = chat["ticket"]["id"]
    guest = await a.connect(chat["guest_cookie"])
    agent = await b.connect(chat["agent_cookie"])
    for client in (guest, agent):
        assert (await client.call("ticket:join", {"ticket_id": ticket_id}))["ok"]
    assert (await agent.call("typing", {"ticket_id": ticket_id, "typing": True}))["ok"]
    [typing] = await guest.wait_for("typing")
    assert typing == {"ticket_id": ticket_id, "name": "Alan Agent", "role": "agent", "typing": True}
    assert (await guest.call("typing", {"ticket_id": ticket_id, "typing": True}))["ok"]
    [typing] = await agent.wait_for("typing")
    assert typing["role"] == "guest"
    assert len(guest.received("typing")) == 1  # its own typing did not come back


async def test_presence_answers_across_nodes(nodes, chat):
    a, b = nodes
    ticket_id = chat["ticket"]["id"]
    ticket = await a.ctx.db.tickets.find_one({})
    agent_id = chat["agent"]["id"]
    assert not await presence.user_online(a.ctx, user_id=agent_id)

    guest = await b.connect(chat["guest_cookie"])
    agent = await b.connect(chat["agent_cookie"])
    # Node A holds neither socket, and still knows.
    assert await presence.user_online(a.ctx, user_id=agent_id)
    assert not await presence.guest_in_ticket_room(a.ctx, ticket=ticket)
    assert (await guest.call("ticket:join", {"ticket_id": ticket_id}))["ok"]
    assert await presence.guest_in_ticket_room(a.ctx, ticket=ticket)
    assert not await presence.user_in_ticket_room(a.ctx, user_id=agent_id, ticket_id=ticket["_id"])
    assert (await agent.call("ticket:join", {"ticket_id": ticket_id}))["ok"]
    assert await presence.user_in_ticket_room(a.ctx, user_id=agent_id, ticket_id=ticket["_id"])

    assert (await guest.call("ticket:leave", {"ticket_id": ticket_id}))["ok"]
    assert not await presence.guest_in_ticket_room(a.ctx, ticket=ticket)
    await agent.sio.disconnect()
    await eventually(lambda: _not(presence.user_online(a.ctx, user_id=agent_id)))


async def _not(awaitable) -> bool:
    return not await awaitable


async def test_disconnect_user_on_one_node_cuts_the_agents_sockets_on_both(nodes, chat):
    a, b = nodes
    agent_id = chat["agent"]["id"]
    on_a = await a.connect(chat["agent_cookie"])
    on_b = await b.connect(chat["agent_cookie"])
    guest = await b.connect(chat["guest_cookie"])
    cut = [asyncio.Event(), asyncio.Event()]
    for client, event in zip((on_a, on_b), cut, strict=True):
        client.sio.on("disconnect", lambda *_, event=event: event.set())

    assert await presence.disconnect_user(a.ctx, user_id=agent_id) == 2
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in cut)), 5)
    assert not on_a.sio.connected and not on_b.sio.connected
    assert guest.sio.connected  # nobody else was cut
    await eventually(lambda: _not(presence.user_online(b.ctx, user_id=agent_id)))


@pytest.mark.logs_errors  # provokes it on purpose
async def test_readyz_reports_redis_next_to_mongodb(nodes, browsers, redis_server):
    a, _ = nodes
    async with browsers(a).get("/readyz") as resp:
        assert resp.status == 200
        assert (await resp.json())["checks"] == {"mongodb": "ok", "redis": "ok"}
    await redis_server.stop()
    async with browsers(a).get("/readyz") as resp:
        assert resp.status == 503
        assert (await resp.json())["checks"]["redis"].startswith("failing")
    await redis_server.start()  # so that the nodes shut down cleanly


@pytest.mark.logs_errors  # provokes it on purpose
async def test_delivery_and_presence_resume_after_a_redis_restart(nodes, chat, redis_server):
    a, b = nodes
    ticket_id = chat["ticket"]["id"]
    ticket = await a.ctx.db.tickets.find_one({})
    guest = await a.connect(chat["guest_cookie"])
    agent = await b.connect(chat["agent_cookie"])
    for client in (guest, agent):
        assert (await client.call("ticket:join", {"ticket_id": ticket_id}))["ok"]
    assert await presence.guest_in_ticket_room(b.ctx, ticket=ticket)

    await redis_server.restart()  # same port, empty: no persistence

    # Keep sending until one crosses: pub/sub has no backlog, so what was published while
    # a listener was reconnecting is lost (clients catch up with messages:history after).
    deadline = time.monotonic() + 20
    n = 0
    while not [m for m in agent.received("message:new") if (m["client_msg_id"] or "").startswith("r-")]:
        assert time.monotonic() < deadline, "no message crossed after the Redis restart"
        n += 1
        answer = await guest.call("message:send", {"ticket_id": ticket_id, "body": f"again {n}",
                                                   "client_msg_id": f"r-{n}"})
        assert answer["ok"]  # the store is not Redis: sending never failed
        try:
            await agent.wait_for("message:new", timeout=0.25,
                                 where=lambda m: (m["client_msg_id"] or "").startswith("r-"))
        except TimeoutError:
            pass
    # and the other way
    assert (await agent.call("message:send", {"ticket_id": ticket_id, "body": "back",
                                              "client_msg_id": "after"}))["ok"]
    await guest.wait_for("message:new", where=lambda m: m["client_msg_id"] == "after")
    # Node A wrote its rooms again into the empty Redis: B sees the guest in the room.
    await eventually(lambda: presence.guest_in_ticket_room(b.ctx, ticket=ticket), timeout=10)


async def test_a_rate_limit_counts_failed_attempts_on_both_nodes(nodes, browsers, chat):
    """Failed sign-ins per e-mail (5 per 10 minutes) are one count, wherever they land; a
    successful one (the agent's own, on node B, in the chat fixture, and one more here) is
    given back in Redis and does not count."""
    a, b = nodes
    wrong = {"email": chat["agent"]["email"], "password": "not-the-password"}
    statuses = []
    for node in (a, b, a, b, None, a, b):
        if node is None:
            await login(browsers(a), chat["agent"])
            continue
        async with browsers(node).post("/api/auth/login", json=wrong) as resp:
            statuses.append((resp.status, resp.headers.get("Retry-After")))
    assert [s for s, _ in statuses] == [401, 401, 401, 401, 401, 429]
    assert int(statuses[-1][1]) > 0
    # another e-mail's bucket is its own
    other = {"email": "someone-else@example.com", "password": "x"}
    async with browsers(a).post("/api/auth/login", json=other) as resp:
        assert resp.status == 401


async def test_deactivating_an_agent_on_one_node_cuts_their_sockets_on_both(nodes, browsers, chat):
    a, b = nodes
    admin = await make_account(a.server, role="admin", name="Ada Admin", email="ada@example.com")
    admin_session = browsers(a)
    await login(admin_session, admin)
    on_a = await a.connect(chat["agent_cookie"])
    on_b = await b.connect(chat["agent_cookie"])
    cut = [asyncio.Event(), asyncio.Event()]
    for client, event in zip((on_a, on_b), cut, strict=True):
        client.sio.on("disconnect", lambda *_, event=event: event.set())

    started = time.monotonic()
    async with admin_session.post(f"/api/admin/users/{chat['agent']['id']}/deactivate",
                                  headers={"X-Requested-With": "fetch", "Origin": a.url}) as resp:
        assert resp.status == 200, await resp.text()
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in cut)), 1.0)
    assert time.monotonic() - started < 1.0
    # and the cookie no longer opens a socket on either node
    for node in (a, b):
        with pytest.raises(socketio.exceptions.ConnectionError):
            await node.connect(chat["agent_cookie"])


async def test_logout_on_one_node_cuts_that_sessions_sockets_on_both_within_a_second(nodes, browsers, chat):
    """Signing out through node A ends the session for both nodes at once: the cookie is
    refused on B, and the sockets opened with it on A and on B are cut; another session of
    the same agent (another browser, on B) keeps its socket."""
    a, b = nodes
    on_a = await a.connect(chat["agent_cookie"])
    on_b = await b.connect(chat["agent_cookie"])
    other_browser = browsers(b)
    await login(other_browser, chat["agent"])
    other = await b.connect(cookie_header(other_browser))
    cut = [asyncio.Event(), asyncio.Event()]
    for client, event in zip((on_a, on_b), cut, strict=True):
        client.sio.on("disconnect", lambda *_, event=event: event.set())

    signing_out = browsers(a)
    signing_out.cookie_jar.update_cookies({"sc_session": chat["agent_cookie"].split("sc_session=")[1]})
    started = time.monotonic()
    async with signing_out.post("/api/auth/logout", headers={"X-Requested-With": "fetch", "Origin": a.url}) as resp:
        assert resp.status == 200
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in cut)), 1.0)
    assert time.monotonic() - started < 1.0
    stale = browsers(b)
    stale.cookie_jar.update_cookies({"sc_session": chat["agent_cookie"].split("sc_session=")[1]})
    async with stale.get("/api/auth/me") as resp:
        assert resp.status == 401
    await asyncio.sleep(0.2)
    assert other.sio.connected


async def test_a_node_shuts_down_even_when_a_redis_call_lost_its_cancellation(redis_server, aiohttp_server):
    """Python 3.11's asyncio.wait_for, which redis-py awaits around every command it writes,
    returns normally when the cancellation arrives in the same turn as the write finishing.
    Shutdown cancels the presence heartbeat once; it must still end (a CI run once hung in
    a test teardown so)."""
    settings = node_settings(free_port(), redis_server.url)
    app = create_app(settings)
    manager = app[sio_key].manager
    manager.heartbeat_seconds = 0.01
    server = await aiohttp_server(app, host="127.0.0.1", port=settings.port)
    beating = asyncio.Event()
    lost: list[asyncio.CancelledError] = []

    async def beat_that_loses_one_cancellation() -> None:
        beating.set()
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError as exc:
            if lost:
                raise
            lost.append(exc)  # what wait_for did inside redis-py: the cancellation is gone

    manager._beat = beat_that_loses_one_cancellation
    await asyncio.wait_for(beating.wait(), 5)
    closing = asyncio.ensure_future(server.close())
    await asyncio.wait({closing}, timeout=10)
    try:
        assert closing.done(), "shutdown is still waiting for the heartbeat"
        assert lost and manager._heartbeat.done()
    finally:
        manager._heartbeat.cancel()  # were it still running, the teardown would hang too
        await closing
