"""How python-engineio's aiohttp driver opens WebSockets, with permessage-deflate a choice.

The driver builds `WebSocketResponse(max_msg_size=...)`, and aiohttp then accepts
permessage-deflate whenever the client offers it (browsers always do). Compressing every
small chat frame costs about four times the memory per idle connection and CPU on every
send (bench/README.md), so it is off unless WS_COMPRESSION=1. python-engineio has no option
for it: the driver's WebSocket class is swapped for this server only (its `_async` table
is copied, never the module's)."""

from __future__ import annotations

from aiohttp.web import WebSocketResponse
from engineio.async_drivers import aiohttp as engineio_aiohttp


class UncompressedWebSocket(engineio_aiohttp.WebSocket):
    """The driver's WebSocket, refusing permessage-deflate."""

    async def __call__(self, environ):
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size, compress=False)
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


def use_websocket_compression(eio, enabled: bool) -> None:
    if enabled:
        return
    eio._async = {**eio._async, "websocket": UncompressedWebSocket}
