"""A real webhook receiver for tests: an aiohttp server on 127.0.0.1 that records every
request and answers as the test scripts it (a status per attempt, or never)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp import web

from tests.conftest import free_port

HANG = -1  # an answer that never comes


def verify(secret: str, header: str, body: bytes, *, tolerance: int = 300) -> bool:
    """The README's verification snippet: the signature is HMAC-SHA256 over "<t>.<body>"."""
    parts = dict(item.split("=", 1) for item in header.split(","))
    timestamp = int(parts["t"])
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts["v1"])


@dataclass
class Received:
    headers: dict
    raw: bytes
    path: str = ""

    @property
    def body(self) -> dict:
        return json.loads(self.raw)

    @property
    def event(self) -> str:
        return self.headers["X-Support-Event"]


@dataclass
class Receiver:
    """`answer(received, n)` says what status the n-th request of its delivery id gets."""

    answer: Callable[[Received, int], int] = lambda received, n: 200
    requests: list[Received] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/support"

    async def _handle(self, request: web.Request) -> web.Response:
        received = Received(headers=dict(request.headers), raw=await request.read(),
                            path=request.path_qs)
        same = [r for r in self.requests if r.headers.get("X-Support-Delivery")
                == received.headers.get("X-Support-Delivery")]
        self.requests.append(received)
        async with self._changed:
            self._changed.notify_all()
        status = self.answer(received, len(same) + 1)
        if status == HANG:
            await asyncio.Event().wait()
        return web.Response(status=status, text="ok" if status < 300 else "not now")

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/hooks/support", self._handle)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.1)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def wait_for(self, count: int = 1, *, where=None, timeout: float = 10.0) -> list[Received]:
        def matching() -> list[Received]:
            return [r for r in self.requests if where is None or where(r)]

        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: len(matching()) >= count), timeout)
        return matching()
