"""Shared fixtures: settings -> live_server -> agent -> guest chat -> sockets.

Every test talks to a real aiohttp server listening on a free port, through aiohttp's HTTP
client and python-socketio's AsyncClient. Test data is made through the product's own
services or its HTTP API, not raw inserts."""

from __future__ import annotations

import asyncio
import fcntl
import functools
import importlib
import json
import logging
import os
import pkgutil
import socket
import tempfile
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import socketio

import app
from app import create_app
from app.config import Settings
from app.http import assets
from app.keys import ctx_key
from app.security import GUEST_COOKIE, SESSION_COOKIE
from app.services.core import Ctx
from app.services.people import users

# The summaries printed after the run, also under pytest-xdist (tests/figures.py).
pytest_plugins = ["tests.figures"]

# Hypothesis draws constants from the project's modules loaded so far, so what the fuzz and
# schemathesis tests generated depended on which of app's modules the tests before them had
# imported (some are imported inside functions): under pytest-xdist, on which tests a worker
# happened to run first. With every module of app imported before any test, each test
# draws from the same pool, in any process and any order.
for _module in pkgutil.walk_packages(app.__path__, "app."):
    importlib.import_module(_module.name)

SECRET = "test-secret-key-0123456789abcdef"
PASSWORD = "correct-horse-battery"


# Ports handed out by free_port() are locked, each by one byte at its own offset of this
# file, by the process that took them, until it exits (the system drops the locks then).
PORT_LOCKS = Path(tempfile.gettempdir()) / "support-chat-test-ports.lock"
_port_locks: int | None = None  # the file's descriptor, open as long as this process
_ports_taken: set[int] = set()


def free_port() -> int:
    """A port nothing listens on, told to one caller only. The system's free port is
    free only until its probe socket closes: another test process (pytest-xdist's other
    workers, or another run on this machine) could be told the same one before the first
    server binds it. So each port is locked while the probe still holds it, and one that
    another process locked, or that this process already handed out, is passed over."""
    global _port_locks
    if _port_locks is None:
        _port_locks = os.open(PORT_LOCKS, os.O_RDWR | os.O_CREAT, 0o666)
    while True:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
            if port in _ports_taken:
                continue
            try:
                fcntl.lockf(_port_locks, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, port)
            except OSError:  # another process was given it
                continue
        _ports_taken.add(port)
        return port


@pytest.fixture(scope="session", autouse=True)
def _static_files_compressed_once():
    """Each app reads every static file and compresses it with gzip and brotli at their
    best levels, about a second of CPU: most of what a test's server cost to start. The
    files are the same for every app of the run, so this process compresses each one once,
    by the app's own function; a file changed on disk (its size or time) is read anew."""
    load = assets._load

    @functools.cache
    def load_version(path: Path, size: int, mtime_ns: int) -> assets.Asset:
        return load(path)

    def load_once(path: Path) -> assets.Asset:
        stat = path.stat()
        return load_version(path, stat.st_size, stat.st_mtime_ns)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(assets, "_load", load_once)
        yield


@pytest.fixture
def port() -> int:
    return free_port()


# Run the suite against a real MongoDB: TEST_MONGODB_URI=mongodb://host:27017 python3 run.py test
# (each test gets a database of its own, dropped after; the few tests that hold the embedded
# engine at an exact call, or move its TTL clock, skip).
TEST_MONGODB_URI = os.environ.get("TEST_MONGODB_URI")


def server_is_standin(uri: str) -> bool:
    """Whether the MongoDB at `uri` is mongoeco, the stand-in of the tests' stand-in pass
    (tests/standin): its buildInfo says so."""
    from pymongo import MongoClient

    with MongoClient(uri, serverSelectionTimeoutMS=5000) as client:
        return client.admin.command("buildInfo").get("gitVersion") == "mongoeco"


def pytest_collection_modifyitems(config, items) -> None:
    """`@pytest.mark.standin_limit("why")`: a test the stand-in cannot run, skipped there with
    its reason (the -ra summary lists each), and run on the embedded engine and on a real
    MongoDB. The README's table "What the stand-in cannot do" lists them all."""
    limited = [item for item in items if item.get_closest_marker("standin_limit")]
    if not limited or not TEST_MONGODB_URI or not server_is_standin(TEST_MONGODB_URI):
        return
    for item in limited:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database") == "embedded":
            continue  # the store's contract on the embedded engine, beside the stand-in's
        (reason,) = item.get_closest_marker("standin_limit").args
        item.add_marker(pytest.mark.skip(reason=f"stand-in limit: {reason}"))


@pytest.fixture
def settings(port: int) -> Settings:
    return Settings(
        host="127.0.0.1",
        port=port,
        secret_key=SECRET,
        allowed_origins=(f"http://127.0.0.1:{port}",),
        seed_demo=False,
        bcrypt_rounds=4,
        # Tests fill long histories quickly; tests/http/test_rate_limits.py sets small limits.
        rate_messages_per_ticket="1000/minute",
        mongodb_uri=TEST_MONGODB_URI,
        mongodb_db=f"support_test_{uuid.uuid4().hex[:12]}" if TEST_MONGODB_URI else "support",
    )


@dataclass
class LiveServer:
    url: str
    app: Any

    @property
    def ctx(self) -> Ctx:
        return self.app[ctx_key]

    @property
    def origin(self) -> str:
        return self.url


@pytest.fixture
async def live_server(aiohttp_server, settings: Settings) -> LiveServer:
    app = create_app(settings)
    server = await aiohttp_server(app, host="127.0.0.1", port=settings.port)
    yield LiveServer(url=str(server.make_url("")).rstrip("/"), app=app)
    if settings.mongodb_uri:
        await server.close()
        from pymongo import AsyncMongoClient

        client = AsyncMongoClient(settings.mongodb_uri)
        await client.drop_database(settings.mongodb_db)
        await client.close()


def embedded_only(database) -> None:
    """For a test that needs the embedded engine's hooks or TTL clock."""
    if not database.embedded:
        pytest.skip("needs the embedded engine (hooks, TTL clock)")


async def make_account(server: LiveServer, *, role: str, name: str, email: str) -> dict:
    user = await users.create_user(
        server.ctx.db, email=email, name=name, password=PASSWORD, role=role,
        settings=server.ctx.settings,
    )
    return {"id": str(user["_id"]), "email": email, "password": PASSWORD, "name": name, "role": role}


@pytest.fixture
async def demo_agent(live_server: LiveServer) -> dict:
    return await make_account(live_server, role="agent", name="Alan Agent", email="alan@example.com")


@pytest.fixture
async def agent(demo_agent: dict) -> dict:
    return demo_agent


@pytest.fixture
async def admin(live_server: LiveServer) -> dict:
    return await make_account(live_server, role="admin", name="Ada Admin", email="ada@example.com")


@pytest.fixture
async def http(live_server: LiveServer):
    """Opens HTTP sessions that each keep their own cookies, like separate browsers."""
    sessions: list[aiohttp.ClientSession] = []

    def open_session() -> aiohttp.ClientSession:
        # The headers our pages' fetch() sends (CSRF check: app/http/hardening.py).
        session = aiohttp.ClientSession(
            base_url=live_server.url, cookie_jar=aiohttp.CookieJar(unsafe=True),
            headers={"Origin": live_server.origin, "X-Requested-With": "fetch"},
        )
        sessions.append(session)
        return session

    yield open_session
    for session in sessions:
        await session.close()


def cookie_header(session: aiohttp.ClientSession) -> str:
    return "; ".join(f"{c.key}={c.value}" for c in session.cookie_jar)


async def login(session: aiohttp.ClientSession, account: dict) -> dict:
    async with session.post(
        "/api/auth/login", json={"email": account["email"], "password": account["password"]}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


@dataclass
class Guest:
    session: aiohttp.ClientSession
    ticket: dict
    message: dict

    @property
    def cookie(self) -> str:
        return cookie_header(self.session)

    @property
    def ticket_id(self) -> str:
        return self.ticket["id"]


@pytest.fixture
def start_chat(http):
    async def start(name: str = "Grace Guest", message: str = "Hello, my order is late.",
                    email: str | None = None, session=None) -> Guest:
        session = session or http()
        body = {"name": name, "message": message}
        if email:
            body["email"] = email
        async with session.post("/api/guest/tickets", json=body) as resp:
            assert resp.status == 201, await resp.text()
            data = await resp.json()
        assert any(c.key == GUEST_COOKIE for c in session.cookie_jar)
        return Guest(session=session, ticket=data["ticket"], message=data["message"])

    return start


@pytest.fixture
async def guest(start_chat) -> Guest:
    return await start_chat()


class Recorder:
    """Collects the events a socket receives, and waits for them without sleeping."""

    def __init__(self) -> None:
        self.events: dict[str, list] = defaultdict(list)
        self._changed = asyncio.Condition()

    async def record(self, name: str, payload: Any) -> None:
        # Every payload must survive JSON as it is: nothing raw from the database.
        self.events[name].append(json.loads(json.dumps(payload)))
        async with self._changed:
            self._changed.notify_all()

    async def wait_for(self, name: str, count: int = 1, timeout: float = 5.0, where=None) -> list:
        def matching() -> list:
            return [e for e in self.events[name] if where is None or where(e)]

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(matching()) >= count), timeout)
        return matching()

    async def wait_until(self, predicate, timeout: float = 5.0) -> None:
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(predicate), timeout)


@dataclass
class Client:
    sio: socketio.AsyncClient
    recorder: Recorder = field(default_factory=Recorder)

    async def call(self, event: str, data: Any = None, timeout: float = 5.0) -> dict:
        answer = await self.sio.call(event, data, timeout=timeout)
        return json.loads(json.dumps(answer))

    async def wait_for(self, name: str, count: int = 1, timeout: float = 5.0, where=None) -> list:
        return await self.recorder.wait_for(name, count, timeout, where)

    def received(self, name: str) -> list:
        return self.recorder.events[name]

    def queue_rows(self, ticket_id: str | None = None) -> list[dict]:
        """Every ticket state an agent's queue was sent, as the dashboard merges them: changes
        (`ticket:updated`) and message activity (`queue:updated` batches), oldest version
        first (a client keeps the highest version)."""
        rows = list(self.received("ticket:updated"))
        rows += [t for batch in self.received("queue:updated") for t in batch["tickets"]]
        rows = [t for t in rows if ticket_id is None or t["id"] == ticket_id]
        return sorted(rows, key=lambda t: t.get("version", 0))

    async def wait_for_row(self, where, timeout: float = 5.0) -> dict:
        """Waits until the queue was sent a ticket state that matches; returns the newest."""
        await self.recorder.wait_until(lambda: any(where(t) for t in self.queue_rows()), timeout)
        return [t for t in self.queue_rows() if where(t)][-1]


SERVER_EVENTS = ("message:new", "ticket:updated", "queue:updated", "typing", "ticket:viewers", "notification:new",
                 "notification:count", "notification:updated", "audit:new")


@pytest.fixture
async def connect(live_server: LiveServer):
    """Connects python-socketio clients to the live server with the given cookies."""
    clients: list[socketio.AsyncClient] = []

    async def open_socket(cookie: str | None = None, *, origin: str | None = None,
                          auth: Any = None) -> Client:
        sio = socketio.AsyncClient(reconnection=False)
        client = Client(sio=sio)
        for name in SERVER_EVENTS:
            sio.on(name, _recorder_for(client.recorder, name))
        headers = {"Origin": origin or live_server.origin}
        if cookie:
            headers["Cookie"] = cookie
        clients.append(sio)
        await sio.connect(
            live_server.url, headers=headers, transports=["websocket"], auth=auth, wait_timeout=5
        )
        return client

    yield open_socket
    for sio in clients:
        if sio.connected:
            await sio.disconnect()
        elif sio.eio.http is not None and not sio.eio.http.closed:
            await sio.eio.http.close()  # a refused handshake leaves its HTTP session open


def _recorder_for(recorder: Recorder, name: str):
    async def handler(payload=None):
        await recorder.record(name, payload)

    return handler


@pytest.fixture
async def agent_session(http, agent):
    session = http()
    await login(session, agent)
    return session


@pytest.fixture
async def agent_socket(connect, agent_session) -> Client:
    return await connect(cookie_header(agent_session))


@pytest.fixture
async def guest_socket(connect, guest: Guest) -> Client:
    return await connect(guest.cookie)


def log_problems(records: list[logging.LogRecord]) -> list[str]:
    """What a malformed request must never leave in the server's log: an ERROR or a traceback."""
    return [f"{r.levelname} {r.name}: {r.getMessage()}" + (" (with a traceback)" if r.exc_info else "")
            for r in records if r.levelno >= logging.ERROR or r.exc_info]


@pytest.fixture
def clean_log(caplog):
    """Fails the test if the server logged an ERROR or a traceback while it ran."""
    caplog.set_level(logging.WARNING)
    yield caplog
    assert log_problems(caplog.records) == []


@pytest.fixture(scope="session")
def _turns(tmp_path_factory):
    """Under pytest-xdist, two lock files that this run's workers share (in the parent of
    their own temporary directories): `room`, held shared by each running test, and
    `gate`, which a test passes through to enter. None in a run of one process."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        yield None
        return
    shared = tmp_path_factory.getbasetemp().parent
    gate, room = (os.open(shared / name, os.O_RDWR | os.O_CREAT, 0o666) for name in ("gate", "room"))
    yield gate, room
    os.close(gate)
    os.close(room)


@pytest.fixture(autouse=True)
def _alone_when_marked(request, _turns):
    """A test marked `alone` times what the server does (how soon a signal stops it) and
    runs while no other test does: it closes the gate, so that no test starts, and waits
    until the tests running on the other workers have ended. Other tests hold the room
    shared and run side by side."""
    if _turns is None:
        yield
        return
    gate, room = _turns
    fcntl.flock(gate, fcntl.LOCK_EX)
    if request.node.get_closest_marker("alone"):
        fcntl.flock(room, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(room, fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)
        return
    fcntl.flock(room, fcntl.LOCK_SH)
    fcntl.flock(gate, fcntl.LOCK_UN)
    try:
        yield
    finally:
        fcntl.flock(room, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def _no_unexpected_errors_in_the_log(request, caplog):
    """Every test fails if the server logged an ERROR or a traceback while it ran, unless it
    is marked `logs_errors` (it provokes one on purpose: a database that fails, a job that
    dies). Effects of a ticket change log their failures instead of raising (the change
    stands): this is what makes such a failure fail a test."""
    if request.node.get_closest_marker("logs_errors"):
        yield
        return
    caplog.set_level(logging.WARNING)
    yield
    problems = log_problems(caplog.get_records("setup") + caplog.get_records("call"))
    assert problems == [], "the server logged an error:\n" + "\n".join(problems)


__all__ = ["GUEST_COOKIE", "SESSION_COOKIE"]
