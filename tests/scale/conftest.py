"""Two server processes' worth of app in one test process: two aiohttp servers on two
ports, one shared store, each with its own Redis manager, and a real redis-server."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
import socketio
from redis import asyncio as aioredis

from app import create_app, db
from app.config import Settings
from app.keys import sio_key
from tests.conftest import SECRET, SERVER_EVENTS, Client, LiveServer, _recorder_for, free_port

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """A throwaway redis-server on a free port, with no persistence."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    async def start(self) -> None:
        self.proc = subprocess.Popen(
            [REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        client = aioredis.Redis.from_url(self.url)
        try:
            deadline = time.monotonic() + 10
            while True:
                try:
                    if await client.ping():
                        return
                except (ConnectionError, OSError, aioredis.ConnectionError):
                    pass
                assert self.proc.poll() is None, "redis-server exited at start-up"
                assert time.monotonic() < deadline, "redis-server did not answer in time"
                await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    async def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            await asyncio.to_thread(self.proc.wait, 10)
        self.proc = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
async def redis_server():
    if not shutil.which(REDIS):
        pytest.fail(f"{REDIS} is needed for the multi-node tests (apt-get install redis-server)")
    server = RedisServer()
    await server.start()
    yield server
    await server.stop()


@dataclass
class Node:
    server: LiveServer
    sockets: list[socketio.AsyncClient] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ctx(self):
        return self.server.ctx

    @property
    def manager(self):
        return self.server.app[sio_key].manager

    async def connect(self, cookie: str, *, auth: Any = None) -> Client:
        sio = socketio.AsyncClient(reconnection=False)
        client = Client(sio=sio)
        for name in SERVER_EVENTS:
            sio.on(name, _recorder_for(client.recorder, name))
        self.sockets.append(sio)
        await sio.connect(self.url, headers={"Origin": self.url, "Cookie": cookie},
                          transports=["websocket"], auth=auth, wait_timeout=5)
        return client


def node_settings(port: int, redis_url: str) -> Settings:
    return Settings(
        host="127.0.0.1", port=port, secret_key=SECRET,
        allowed_origins=(f"http://127.0.0.1:{port}",), seed_demo=False, bcrypt_rounds=4,
        redis_url=redis_url,
    )


@pytest.fixture
async def nodes(redis_server, aiohttp_server) -> tuple[Node, Node]:
    """Node A and node B: one store, one Redis, two servers with their own managers.
    (redis_server comes first so that it stops after the servers.)"""
    settings_a = node_settings(free_port(), redis_server.url)
    settings_b = node_settings(free_port(), redis_server.url)
    shared = db.connect(settings_a)
    made = []
    for settings in (settings_a, settings_b):
        app = create_app(settings, database=shared)
        app[sio_key].manager.heartbeat_seconds = 0.1  # notice a Redis restart quickly
        server = await aiohttp_server(app, host="127.0.0.1", port=settings.port)
        made.append(Node(LiveServer(url=str(server.make_url("")).rstrip("/"), app=app)))
    yield tuple(made)
    for node in made:
        for sio in node.sockets:
            if sio.connected:
                await sio.disconnect()
            if sio.eio.http is not None and not sio.eio.http.closed:
                await sio.eio.http.close()
