"""Stopping the server: quickly, with many sockets open, after the worker has handed back
the job in hand and the audit backlog has been written."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
import pytest
import socketio
from aiohttp import web
from aiosmtpd.controller import Controller
from bson import ObjectId

from app import clock, create_app
from app import db as db_module
from app.services.operations import audit, jobs
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
SOCKETS = 1000
# Each test times how soon the server stops: with other tests' servers and browsers on the
# same cores, a stop that takes 2 s alone took over 5.
pytestmark = pytest.mark.alone


class StalledSmtp:
    """An SMTP server that takes the message and never answers: the e-mail job hangs."""

    async def handle_DATA(self, server, session, envelope):
        await asyncio.sleep(3600)


async def _raw_socket(session: aiohttp.ClientSession, url: str, cookie: str, origin: str):
    """One Socket.IO connection as a browser makes it, without a client library's weight:
    the Engine.IO open packet, then the namespace connect."""
    ws = await session.ws_connect(f"{url}/socket.io/?EIO=4&transport=websocket",
                                  headers={"Cookie": cookie, "Origin": origin})
    opened = await ws.receive_str()
    assert opened.startswith("0")
    await ws.send_str("40")
    connected = await ws.receive_str()
    assert connected.startswith("40"), connected
    return ws


async def _open_sockets(url: str, cookie: str, count: int) -> tuple[aiohttp.ClientSession, list]:
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    gate = asyncio.Semaphore(100)

    async def one():
        async with gate:
            return await _raw_socket(session, url, cookie, url)

    return session, await asyncio.gather(*(one() for _ in range(count)))


# Start-up is not what these tests time: a new Python process importing everything and
# compressing the static files takes a few seconds, more on a busy machine.
READY_WITHIN = 60


async def _wait_ready(url: str, process) -> None:
    deadline = time.monotonic() + READY_WITHIN
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert process.returncode is None, "the server stopped during start-up"
            try:
                async with session.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    raise AssertionError(f"the server was not ready within {READY_WITHIN} s")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_a_signal_with_1000_sockets_open_stops_the_server_within_5_seconds(sig, tmp_path):
    smtp = Controller(StalledSmtp(), hostname="127.0.0.1", port=free_port())
    smtp.start()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PORT": str(port), "SMTP_URL": f"smtp://127.0.0.1:{smtp.port}",
           "SUPPORT_CHAT_NO_VENV": "1", "LOG_LEVEL": "INFO"}
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        process = await asyncio.create_subprocess_exec(
            sys.executable, str(ROOT / "run.py"), cwd=ROOT, env=env, stdout=log, stderr=log)
    session = None
    try:
        await _wait_ready(url, process)
        async with aiohttp.ClientSession(headers={"Origin": url, "X-Requested-With": "fetch"},
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            async with http.post(f"{url}/api/guest/tickets", json={
                    "name": "Grace", "email": "grace@example.com", "message": "Hi"}) as resp:
                assert resp.status == 201
                ticket_id = (await resp.json())["ticket"]["id"]
                guest_cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
            async with http.post(f"{url}/api/auth/login", json={
                    "email": "agent@example.com", "password": "agent-demo-1234"}) as resp:
                assert resp.status == 200
            agent_cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar
                                     if c.key != "sc_guest")
        # The guest is away: the agent's reply becomes an e-mail job, which hangs in SMTP.
        agent = socketio.AsyncClient(reconnection=False)
        await agent.connect(url, headers={"Cookie": agent_cookie, "Origin": url},
                            transports=["websocket"])
        answer = await agent.call("message:send", {"ticket_id": ticket_id, "body": "Shipped!",
                                                   "client_msg_id": "reply-1"})
        assert answer["ok"], answer
        session, sockets = await _open_sockets(url, guest_cookie, SOCKETS)
        assert sum(not ws.closed for ws in sockets) == SOCKETS
        await asyncio.sleep(0.5)  # the worker has the e-mail job in hand by now

        began = time.monotonic()
        process.send_signal(sig)
        code = await asyncio.wait_for(process.wait(), 15)
        took = time.monotonic() - began
        await agent.disconnect()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        if session is not None:
            await session.close()
        smtp.stop()
    log_text = log_path.read_text()
    print(f"stopped with {SOCKETS} sockets open in {took:.2f} s")
    assert code == 0, log_text[-3000:]
    assert took < 5, f"took {took:.1f} s to stop\n{log_text[-3000:]}"
    assert "given back to the queue" in log_text, log_text[-3000:]
    assert "Traceback" not in log_text, log_text[-3000:]


async def test_shutdown_writes_the_audit_backlog_and_hands_back_the_job_in_hand(settings):
    """The same order in process: sockets closed, the job in hand given back, then the audit
    events still waiting written, all inside the budget."""
    from dataclasses import replace

    app = create_app(replace(settings, job_poll_interval=0.05))
    stuck = asyncio.Event()

    async def hangs(ctx, payload):
        stuck.set()
        await asyncio.Event().wait()

    runner = web.AppRunner(app, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings.port)
    await site.start()
    from app.keys import ctx_key, jobs_runtime_key

    ctx = app[ctx_key]
    app[jobs_runtime_key].worker.handlers["hang"] = hangs
    job = await jobs.enqueue(ctx, "hang", {})
    await asyncio.wait_for(stuck.wait(), 5)
    waiting = {"_id": ObjectId(), "at": clock.utcnow(),
               "actor": {"id": None, "role": "system", "name": "System"}, "action": "ticket.close",
               "entity": {"type": "ticket", "id": "t1"}, "before": None, "after": None,
               "ip": None, "user_agent": None}
    ctx.audit_backlog.append(audit.Waiting(event=waiting))  # a write that failed earlier
    url = f"http://127.0.0.1:{settings.port}"
    session, sockets = await _open_sockets(url, await _guest_cookie(url), 200)
    try:
        began = time.monotonic()
        await runner.cleanup()
        took = time.monotonic() - began
    finally:
        await session.close()
    assert took < 5
    for ws in sockets:  # every socket was told, then cut
        told = []
        while (message := await ws.receive(timeout=2)).type == aiohttp.WSMsgType.TEXT:
            told.append(message.data)
        assert "1" in told or ws.closed  # Engine.IO's close packet
    assert not ctx.audit_backlog
    async with _store_after_shutdown(ctx) as database:
        back = await database.jobs.find_one({"_id": job["_id"]})
        assert (back["status"], back["locked_by"]) == ("queued", None)
        assert await database.audit_events.find_one({"_id": waiting["_id"]}) is not None


@contextlib.asynccontextmanager
async def _store_after_shutdown(ctx):
    """The store as the stopped app left it. The app closed its client: on a real MongoDB
    (TEST_MONGODB_URI) a new one reads it, and the test's database is dropped after; the
    embedded engine keeps its data in the client the app had, which still reads."""
    if ctx.db.embedded:
        yield ctx.db
        return
    database = db_module.connect(ctx.settings)
    try:
        yield database
    finally:
        await database.client.drop_database(ctx.settings.mongodb_db)
        await database.close()


async def _guest_cookie(url: str) -> str:
    async with aiohttp.ClientSession(headers={"Origin": url, "X-Requested-With": "fetch"},
                                     cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
        async with http.post(f"{url}/api/guest/tickets", json={"name": "G", "message": "Hi"}) as resp:
            assert resp.status == 201
        return "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
