"""How python-engineio's aiohttp driver opens and serves WebSockets, with permessage-deflate
a choice and fewer tasks per connection.

Compression: the driver builds `WebSocketResponse(max_msg_size=...)`, and aiohttp then accepts
permessage-deflate whenever the client offers it (browsers always do). Compressing every
small chat frame costs about four times the memory per idle connection and CPU on every
send (bench/README.md), so it is off unless WS_COMPRESSION=1. python-engineio has no option
for it: the driver's WebSocket class is swapped for this server only (its `_async` table
is copied, never the module's).

Tasks: for a socket that opens directly on WebSocket, engine.io's handler waits for every
frame in a task of its own under `asyncio.wait_for`, and its writer waits for every packet
through `asyncio.wait_for(queue.get())`, another task: two extra tasks (with their
coroutines, futures, contexts and timers) for every idle connection. `serve_websocket`
is the same loop with `asyncio.timeout` instead, in the tasks that already exist: the
same reading and writing, the same timeouts (ping interval + ping timeout) and the same
way out. A socket upgrading from long-polling still goes through engine.io's own handler."""

from __future__ import annotations

import asyncio

from aiohttp.web import WebSocketResponse
from engineio import exceptions, packet
from engineio.async_drivers import aiohttp as engineio_aiohttp
from engineio.async_socket import AsyncSocket


class LeanWebSocket(engineio_aiohttp.WebSocket):
    """The driver's WebSocket, served by `serve_websocket`."""

    compress = True  # aiohttp's default, as in the driver

    async def __call__(self, environ):
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size,
                                       compress=self.compress)
        await self._sock.prepare(request)
        self.environ = environ
        socket = getattr(self.handler, "__self__", None)
        if isinstance(socket, AsyncSocket) and not socket.connected:
            await serve_websocket(socket, self)
        else:  # an upgrade from long-polling
            await self.handler(self)
        return self._sock


class UncompressedWebSocket(LeanWebSocket):
    """`LeanWebSocket`, refusing permessage-deflate."""

    compress = False


async def serve_websocket(socket: AsyncSocket, ws: engineio_aiohttp.WebSocket) -> None:
    """engine.io's `AsyncSocket._websocket_handler` for a socket opened on WebSocket, without
    a task per wait: read frames in the calling task, write packets in one writer task."""
    server = socket.server
    timeout = server.ping_interval + server.ping_timeout
    socket.connected = True
    socket.upgraded = True
    writer_task = asyncio.ensure_future(_write_packets(socket, ws, timeout))
    server.logger.info("%s: Upgrade to websocket successful", socket.sid)
    while True:
        try:
            async with asyncio.timeout(timeout):
                data = await ws.wait()
            if data and len(data) > server.max_http_buffer_size:
                raise ValueError("packet is too large")
        except asyncio.CancelledError:
            break
        except Exception:  # closed, timed out, too large: engine.io ends the socket
            break
        if data is None:  # connection closed by client
            break
        try:
            await socket.receive(packet.Packet(encoded_packet=data))
        except exceptions.UnknownPacketError:
            pass
        except exceptions.SocketIsClosedError:
            server.logger.info("Receive error -- socket is closed")
            break
        except Exception:
            server.logger.exception("Unknown receive error")
    await socket.queue.put(None)  # unlock the writer task so it can exit
    await writer_task
    await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


async def _write_packets(socket: AsyncSocket, ws: engineio_aiohttp.WebSocket, timeout: float) -> None:
    """engine.io's writer: send what is queued, in order; stop on None, on a send error, or
    when nothing was queued for `timeout` seconds (as `AsyncSocket.poll` does)."""
    queue = socket.queue
    while True:
        try:
            async with asyncio.timeout(timeout):
                first = await queue.get()
            queue.task_done()
        except (TimeoutError, asyncio.CancelledError):
            break
        if first is None:
            break
        packets = [first]
        while True:
            try:
                pkt = queue.get_nowait()
            except asyncio.QueueEmpty:
                break
            queue.task_done()
            if pkt is None:
                queue.put_nowait(None)  # as poll() does: the next get ends the loop
                break
            packets.append(pkt)
        try:
            for pkt in packets:
                await ws.send(pkt.encode())
        except (Exception, asyncio.CancelledError):
            break
    await ws.close()


def use_websocket_compression(eio, enabled: bool) -> None:
    websocket = LeanWebSocket if enabled else UncompressedWebSocket
    eio._async = {**eio._async, "websocket": websocket}
