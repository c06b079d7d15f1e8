"""Two server processes, as deployed: `python3 run.py` twice, real OS processes, against one
MongoDB (TEST_MONGODB_URI: the stand-in pass points it at the stand-in) and one
redis-server. Nothing is shared in memory: every ticket, job and session crosses the
driver, every live event crosses Redis. A guest on one, an agent on the other, messages
both ways; e-mail jobs that both processes' workers poll for, each sent once; and a sign-out
through one process cutting the agent's socket on the other.

tests/scale/test_cluster.py tests the same things quickly with two apps in the test's own
process sharing one embedded store."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiosmtpd.controller import Controller

from app import db as db_module
from app.config import Settings
from app.services.people import users
from tests.conftest import (
    PASSWORD,
    SECRET,
    SERVER_EVENTS,
    TEST_MONGODB_URI,
    Client,
    _recorder_for,
    free_port,
)
from tests.jobs.test_email import Inbox

pytestmark = pytest.mark.skipif(
    not TEST_MONGODB_URI,
    reason="two processes need a MongoDB both reach: set TEST_MONGODB_URI (the stand-in pass does)")

ROOT = Path(__file__).resolve().parent.parent.parent
GUESTS_AWAY = 3  # guests who left an address and get the agent's reply by e-mail


@dataclass
class Process:
    name: str
    url: str
    proc: asyncio.subprocess.Process
    log: Path


async def _start(name: str, env: dict, log: Path) -> Process:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**env, "PORT": str(port), "ALLOWED_ORIGINS": url, "PROCESS_NAME": name}
    with log.open("w") as out:
        proc = await asyncio.create_subprocess_exec(sys.executable, str(ROOT / "run.py"), cwd=ROOT,
                                                    env=env, stdout=out, stderr=out)
    process = Process(name=name, url=url, proc=proc, log=log)
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + 30
        while True:
            assert proc.returncode is None, f"{name} stopped at start-up:\n{log.read_text()[-3000:]}"
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return process
            assert time.monotonic() < deadline, f"{name} never became ready:\n{log.read_text()[-3000:]}"
            await asyncio.sleep(0.1)


async def _stop(process: Process) -> int:
    if process.proc.returncode is None:
        process.proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.proc.wait(), 15)
        except TimeoutError:
            process.proc.kill()
            await process.proc.wait()
    return process.proc.returncode


@pytest.fixture
async def smtp_inbox():
    inbox = Inbox(loop=asyncio.get_running_loop())
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
async def database():
    """The database both processes use, reached by the test too (to make the agent through
    the product's own service, and to read the jobs); dropped after."""
    settings = Settings(secret_key=SECRET, mongodb_uri=TEST_MONGODB_URI,
                        mongodb_db=f"support_test_{uuid.uuid4().hex[:12]}", bcrypt_rounds=4)
    database = db_module.connect(settings)
    try:
        yield database, settings
    finally:
        try:
            await database.client.drop_database(settings.mongodb_db)
        finally:
            await database.close()


@pytest.fixture
async def processes(redis_server, smtp_inbox, database, tmp_path):
    """Processes A and B: `python3 run.py` each, one database, one Redis, one SMTP server.
    Each stops on SIGTERM with exit code 0 and no traceback or ERROR in its log."""
    _, smtp_port = smtp_inbox
    _, settings = database
    env = {**os.environ, "SUPPORT_CHAT_NO_VENV": "1", "MONGODB_URI": TEST_MONGODB_URI,
           "MONGODB_DB": settings.mongodb_db, "REDIS_URL": redis_server.url, "SECRET_KEY": SECRET,
           "SMTP_URL": f"smtp://127.0.0.1:{smtp_port}", "MAIL_FROM": "Help <help@example.com>",
           "LOG_LEVEL": "INFO"}
    started: list[Process] = []
    try:
        for name in ("a", "b"):  # one after the other: the first makes the indexes
            started.append(await _start(name, env, tmp_path / f"{name}.log"))
        yield tuple(started)
    finally:
        codes = [await _stop(process) for process in started]
    for process, code in zip(started, codes, strict=True):
        log = process.log.read_text()
        assert code == 0, f"{process.name} exited with {code}:\n{log[-3000:]}"
        problems = [line for line in log.splitlines() if " ERROR " in line or "Traceback" in line]
        assert problems == [], f"{process.name} logged:\n" + "\n".join(problems)


class Browser:
    """One person's browser: its cookies, sent to whichever process it talks to."""

    def __init__(self) -> None:
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.sockets: list[Client] = []

    async def post(self, process: Process, path: str, body: dict) -> tuple[int, dict]:
        headers = {"Origin": process.url, "X-Requested-With": "fetch"}
        async with self.session.post(f"{process.url}{path}", json=body, headers=headers) as resp:
            return resp.status, await resp.json()

    def cookie(self) -> str:
        return "; ".join(f"{c.key}={c.value}" for c in self.session.cookie_jar)

    async def connect(self, process: Process) -> Client:
        import socketio

        client = Client(sio=socketio.AsyncClient(reconnection=False))
        for name in SERVER_EVENTS:
            client.sio.on(name, _recorder_for(client.recorder, name))
        self.sockets.append(client)
        await client.sio.connect(process.url, headers={"Origin": process.url, "Cookie": self.cookie()},
                                 transports=["websocket"], wait_timeout=10)
        return client

    async def close(self) -> None:
        for client in self.sockets:
            if client.sio.connected:
                await client.sio.disconnect()
        await self.session.close()


@pytest.fixture
async def browser():
    made: list[Browser] = []

    def open_browser() -> Browser:
        made.append(Browser())
        return made[-1]

    yield open_browser
    for one in made:
        await one.close()


async def test_two_processes_on_one_database_serve_one_conversation_run_each_job_once_and_share_sign_out(
        processes, database, smtp_inbox, browser):
    a, b = processes
    db, settings = database
    inbox, _ = smtp_inbox
    await users.create_user(db, email="alan@example.com", name="Alan Agent", password=PASSWORD,
                            role="agent", settings=settings)

    # A guest on A, the agent on B: the conversation goes both ways.
    guest = browser()
    status, started = await guest.post(a, "/api/guest/tickets", {"name": "Grace", "message": "Hi"})
    assert status == 201, started
    ticket_id = started["ticket"]["id"]
    agent_browser = browser()
    status, _ = await agent_browser.post(b, "/api/auth/login", {"email": "alan@example.com",
                                                                "password": PASSWORD})
    assert status == 200
    guest_socket = await guest.connect(a)
    agent_socket = await agent_browser.connect(b)
    for socket in (guest_socket, agent_socket):
        assert (await socket.call("ticket:join", {"ticket_id": ticket_id}, timeout=10))["ok"]
    sent = await guest_socket.call("message:send", {"ticket_id": ticket_id, "body": "Where is my parcel?",
                                                    "client_msg_id": "g-1"}, timeout=10)
    assert sent["ok"], sent
    [heard] = await agent_socket.wait_for("message:new", timeout=10, where=lambda m: m["client_msg_id"] == "g-1")
    assert (heard["id"], heard["sender_role"]) == (sent["message"]["id"], "guest")
    replied = await agent_socket.call("message:send", {"ticket_id": ticket_id, "body": "On its way.",
                                                       "client_msg_id": "a-1"}, timeout=10)
    assert replied["ok"], replied
    [heard] = await guest_socket.wait_for("message:new", timeout=10, where=lambda m: m["client_msg_id"] == "a-1")
    assert (heard["body"], heard["sender_name"]) == ("On its way.", "Alan Agent")

    # Guests who left an address and went away get the reply by e-mail: one job each, which
    # both processes' workers poll for, and each is sent exactly once.
    away = []
    for n in range(GUESTS_AWAY):
        status, started = await browser().post(a, "/api/guest/tickets", {
            "name": f"Guest {n}", "email": f"guest{n}@example.com", "message": "Any news?"})
        assert status == 201, started
        away.append(started["ticket"]["id"])
    for n, away_ticket in enumerate(away):
        answer = await agent_socket.call("message:send", {"ticket_id": away_ticket, "body": f"News {n}",
                                                          "client_msg_id": f"away-{n}"}, timeout=10)
        assert answer["ok"], answer
    await inbox.wait(GUESTS_AWAY, timeout=30)
    deadline = time.monotonic() + 10
    while (done := await db.jobs.count_documents({"kind": "email", "status": "succeeded"})) < GUESTS_AWAY:
        assert time.monotonic() < deadline, f"{done} of {GUESTS_AWAY} e-mail jobs succeeded"
        await asyncio.sleep(0.1)
    emails = await db.jobs.find({"kind": "email"}).to_list(None)
    assert sorted((job["status"], job["attempts"]) for job in emails) == [("succeeded", 1)] * GUESTS_AWAY
    assert sorted(rcpt for _, (rcpt,), _ in inbox.messages) == [f"guest{n}@example.com" for n in range(GUESTS_AWAY)]

    # Signing out through A ends the session everywhere: the agent's socket on B is cut,
    # and B refuses the cookie from then on.
    signed_in = agent_browser.cookie()
    cut = asyncio.Event()
    agent_socket.sio.on("disconnect", lambda *_: cut.set())
    status, _ = await agent_browser.post(a, "/api/auth/logout", {})
    assert status == 200
    await asyncio.wait_for(cut.wait(), 5)
    async with aiohttp.ClientSession() as stale:
        async with stale.get(f"{b.url}/api/auth/me", headers={"Cookie": signed_in}) as resp:
            assert resp.status == 401
    assert guest_socket.sio.connected  # the guest's own socket on A stays
