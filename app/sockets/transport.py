"""What python-engineio and python-socketio read from the wire, as this server wants it.

Four places where the libraries' defaults did not fit, each changed for this server only
(never the libraries' module-level state):

- WebSocket compression. The aiohttp driver builds `WebSocketResponse(max_msg_size=...)`,
  and aiohttp then accepts permessage-deflate whenever the client offers it (browsers always
  do). Compressing every small chat frame costs about four times the memory per idle
  connection and CPU on every send (bench/README.md), so it is off unless WS_COMPRESSION=1.
  python-engineio has no option for it: the driver's WebSocket class is swapped (its
  `_async` table is copied, never the module's).
- Frames Engine.IO cannot decode. The driver's WebSocket hands every frame to the library,
  which then ends the connection with a traceback in the log. The swapped class skips such
  a frame with one WARNING line, and the connection goes on.
- Socket.IO packets. The server's packet class (`serializer=`, python-socketio's own
  extension point) decodes integers too long to convert as validate.OversizedNumber, so an
  event with `ticket_id: 10**300` is answered `invalid` instead of never, and refuses at
  decoding what the library would otherwise fail on later (an event that is not
  [name, ...arguments], a packet type a client never sends, a binary packet with no
  attachment, which would wedge the connection), as wirelog.ClientInputError.

What the libraries log about refused input goes through app/wirelog.py: one WARNING line
naming the socket, rate-limited. tests/sockets/test_transport.py fails first if the
libraries' internals these rely on change."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import engineio.packet
import orjson
import socketio.packet
from aiohttp.web import WebSocketResponse
from engineio import exceptions
from engineio.async_drivers import aiohttp as engineio_aiohttp
from engineio.async_socket import AsyncSocket

from .. import wirelog
from ..services.core import validate

log = wirelog.library_logger(wirelog.TRANSPORT_LOGGER)

# Packet types a client sends: not CONNECT_ERROR, which only a server sends.
_CLIENT_PACKET_TYPES = (socketio.packet.CONNECT, socketio.packet.DISCONNECT, socketio.packet.EVENT,
                        socketio.packet.ACK, socketio.packet.BINARY_EVENT, socketio.packet.BINARY_ACK)
_EVENTS = (socketio.packet.EVENT, socketio.packet.BINARY_EVENT)
_BINARY = (socketio.packet.BINARY_EVENT, socketio.packet.BINARY_ACK)
# Names python-socketio dispatches to the connect and disconnect handlers, never to events.
_RESERVED_EVENTS = frozenset(socketio.AsyncServer.reserved_events)


def _dumps(data: Any, **_options: Any) -> str:
    """Compact JSON, as python-socketio asks for (separators without spaces), by orjson:
    the server encodes every packet it sends once, and the standard encoder was a few
    per cent of its CPU per broadcast message. What orjson refuses (a lone surrogate, an
    integer beyond 64 bits) goes through the standard encoder as before."""
    try:
        return orjson.dumps(data).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(data, separators=(",", ":"))


class _WireJson:
    """The `json` a packet class encodes and decodes with: orjson out; validate.loads in,
    so an over-long integer becomes a value the event wrapper refuses naming its field."""

    dumps = staticmethod(_dumps)
    loads = staticmethod(validate.loads)


# Values that hold no bytes and nothing inside: the answer for most of a payload's values.
_FLAT = frozenset({str, int, float, bool, type(None)})


class WirePacket(socketio.packet.Packet):
    """python-socketio's packet, refusing at decoding what the server would fail on later."""

    json = _WireJson

    @classmethod
    def data_is_binary(cls, data: Any) -> bool:
        """The library's check (bytes anywhere in lists and dicts), without building a list
        and reducing it with a lambda at every level: every packet the server makes asks,
        and it was a few per cent of the CPU per message."""
        kind = type(data)
        if kind in _FLAT:
            return False
        if kind is list:
            items = data
        elif kind is dict:
            items = data.values()
        else:  # bytes, bytearray, subclasses, anything else: the library decides
            return super().data_is_binary(data)
        for item in items:  # noqa: SIM110 (a loop costs less than any() over a generator)
            if type(item) not in _FLAT and cls.data_is_binary(item):
                return True
        return False

    def decode(self, encoded_packet: Any) -> int:
        # The packet type is one ASCII digit: int() would also read "１" (fullwidth) as DISCONNECT.
        if isinstance(encoded_packet, str) and not encoded_packet[:1].isascii():
            raise wirelog.ClientInputError("a Socket.IO packet type that is not an ASCII digit")
        try:
            attachments = super().decode(encoded_packet)
        except Exception as exc:
            raise wirelog.ClientInputError(f"undecodable Socket.IO packet: {type(exc).__name__}: {exc}") from None
        if self.packet_type not in _CLIENT_PACKET_TYPES:
            raise wirelog.ClientInputError("a Socket.IO packet type a client does not send")
        if self.packet_type in _BINARY and not attachments:
            raise wirelog.ClientInputError("a binary Socket.IO packet without attachments")
        if self.packet_type in _EVENTS and not _is_event(self.data):
            raise wirelog.ClientInputError("a Socket.IO event that is not [name, ...arguments]")
        return attachments

    def add_attachment(self, attachment: Any) -> bool:
        try:
            return super().add_attachment(attachment)
        except Exception as exc:
            raise wirelog.ClientInputError(f"a Socket.IO attachment out of place: {exc}") from None


def _is_event(data: Any) -> bool:
    return (isinstance(data, list) and bool(data) and isinstance(data[0], str)
            and data[0] not in _RESERVED_EVENTS)


class WireWebSocket(engineio_aiohttp.WebSocket):
    """The driver's WebSocket, with permessage-deflate a choice, naming its Engine.IO
    session in the log, and skipping frames Engine.IO cannot decode."""

    compress = False

    async def __call__(self, environ):
        # The handler is the Engine.IO socket's bound method: what it logs names its sid.
        wirelog.socket_id.set(getattr(getattr(self.handler, "__self__", None), "sid", None))
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(max_msg_size=self.server.max_http_buffer_size,
                                       compress=self.compress)
        await self._sock.prepare(request)
        # Sent with the 101 answer: the security headers (a CSP string among them) would
        # otherwise stay in memory for the connection's life.
        self._sock.headers.clear()
        self.environ = environ
        socket = getattr(self.handler, "__self__", None)
        if isinstance(socket, AsyncSocket) and not socket.connected:
            await serve_websocket(socket, self)
        else:  # an upgrade from long-polling
            await self.handler(self)
        return self._sock

    async def wait(self):
        while True:
            frame = await super().wait()
            if _engineio_packet(frame) is not None:
                return frame
            log.warning("skipped a WebSocket frame Engine.IO cannot decode: %r", frame[:40])

    async def next_packet(self) -> engineio.packet.Packet | None:
        """The next frame Engine.IO can decode, decoded (once); None when the client closed.
        Raises as `wait` does when the connection fails or a frame is too large."""
        while True:
            frame = await super().wait()
            if frame is None:
                return None
            if len(frame) > self.server.max_http_buffer_size:
                raise ValueError("packet is too large")
            pkt = _engineio_packet(frame)
            if pkt is not None:
                return pkt
            log.warning("skipped a WebSocket frame Engine.IO cannot decode: %r", frame[:40])


class CompressedWireWebSocket(WireWebSocket):
    compress = True


class SocketTimer:
    """One timer per socket for both of engine.io's clocks: the next ping (every ping
    interval after the last pong) and, on a WebSocket, the read deadline (nothing received
    for ping interval + ping timeout: the reading task is cancelled, the client is gone).
    A frame received only notes the time; the timer is moved when it fires early.
    `asyncio.timeout` around each read made and cancelled a timer for every frame (a few
    per cent of the CPU per message), and a second timer per socket for the ping cost
    memory on every idle connection."""

    __slots__ = ("_loop", "_socket", "_timer", "_when", "_ping_at", "_reader", "_last", "_seconds",
                 "expired")

    def __init__(self, socket: AsyncSocket) -> None:
        self._loop = asyncio.get_running_loop()
        self._socket = socket
        self._timer: asyncio.TimerHandle | None = None
        self._when = 0.0
        self._ping_at: float | None = None
        self._reader: asyncio.Task | None = None
        self._last = 0.0
        self._seconds = 0.0
        self.expired = False

    @classmethod
    def of(cls, socket: AsyncSocket) -> SocketTimer:
        timer = socket.__dict__.get("_socket_timer")
        if timer is None:
            timer = socket._socket_timer = cls(socket)
        return timer

    def ping_in(self, seconds: float) -> None:
        """engine.io's schedule_ping: the next ping in `seconds`."""
        self._ping_at = self._loop.time() + seconds
        self._arm()

    def watch_reads(self, reader: asyncio.Task, seconds: float) -> None:
        self._reader, self._seconds, self._last = reader, seconds, self._loop.time()
        self._arm()

    def received(self) -> None:
        self._last = self._loop.time()

    def stop_reads(self) -> None:
        self._reader = None
        self._arm()

    def _arm(self) -> None:
        due = self._ping_at
        if self._reader is not None:
            reads_due = self._last + self._seconds
            if due is None or reads_due < due:
                due = reads_due
        if self._timer is not None:
            if due is not None and self._when <= due:
                return  # fires first; it sets itself again for what is left
            self._timer.cancel()
            self._timer = None
        if due is not None:
            self._when = due
            self._timer = self._loop.call_at(due, self._due)

    def _due(self) -> None:
        self._timer = None
        now = self._loop.time()
        if self._ping_at is not None and now >= self._ping_at:
            self._ping_at = None
            self._ping()
        if self._reader is not None and now >= self._last + self._seconds:
            self.expired = True
            reader, self._reader = self._reader, None
            reader.cancel()
        self._arm()

    def _ping(self) -> None:
        """What engine.io's AsyncSocket._send_ping does after its sleep."""
        socket = self._socket
        if not socket.closing and not socket.closed:
            socket.last_ping = time.time()
            # The loop holds the task until it runs, and send() only queues the packet: done
            # at its first step, so nothing is lost by not keeping it.
            asyncio.ensure_future(socket.send(engineio.packet.Packet(engineio.packet.PING)))  # noqa: RUF006


async def serve_websocket(socket: AsyncSocket, ws: WireWebSocket) -> None:
    """engine.io's `AsyncSocket._websocket_handler` for a socket opened on WebSocket, without
    a task per wait: read frames in the calling task, write packets in one writer task."""
    server = socket.server
    socket.connected = True
    socket.upgraded = True
    writer_task = asyncio.ensure_future(_write_packets(socket, ws))
    server.logger.info("%s: Upgrade to websocket successful", socket.sid)
    reader = asyncio.current_task()
    assert reader is not None  # a coroutine run by the request's task
    timer = SocketTimer.of(socket)
    timer.watch_reads(reader, server.ping_interval + server.ping_timeout)
    try:
        while True:
            try:
                pkt = await ws.next_packet()
            except Exception:  # closed, not a frame, too large: engine.io ends the socket
                break
            timer.received()
            if pkt is None:  # closed by the client
                break
            try:
                await socket.receive(pkt)
            except exceptions.UnknownPacketError:
                pass
            except exceptions.SocketIsClosedError:
                server.logger.info("Receive error -- socket is closed")
                break
            except Exception:
                server.logger.exception("Unknown receive error")
    except asyncio.CancelledError:
        # Timed out (nothing received for ping interval + ping timeout), or cancelled from
        # outside (shutdown): either way the socket ends here, as engine.io's own loop does.
        if timer.expired:
            reader.uncancel()
    finally:
        timer.stop_reads()
    await socket.queue.put(None)  # unlock the writer task so it can exit
    await writer_task
    await socket.close(wait=False, abort=True, reason=server.reason.TRANSPORT_CLOSE)


async def _write_packets(socket: AsyncSocket, ws: engineio_aiohttp.WebSocket) -> None:
    """engine.io's writer: send what is queued, in order; stop on None or on a send error.
    engine.io's own writer also gives up after ping interval + ping timeout without a packet;
    here the reading loop ends by then (nothing received for as long) and queues the None,
    so the writer needs no timer of its own."""
    queue = socket.queue
    while True:
        try:
            if queue.empty() and not ws.compress:
                socket._idle_ws = ws  # nothing queued or in flight: a broadcast may write at once
            first = await queue.get()
            queue.task_done()
        except asyncio.CancelledError:
            break
        finally:
            socket._idle_ws = None
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


# A socket's own writer keeps sending what is queued once this much waits in the kernel's
# buffer (aiohttp's writer drains at 64 KiB): a slow reader is never written past it.
DIRECT_WRITE_LIMIT = 64 * 1024


def text_frame(text: str) -> bytes:
    """One unmasked, final WebSocket text frame (RFC 6455 5.2), as a server sends it: the
    same bytes for every recipient of a broadcast."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = bytes((0x81, size))
    elif size < 65536:
        header = bytes((0x81, 126)) + size.to_bytes(2, "big")
    else:
        header = bytes((0x81, 127)) + size.to_bytes(8, "big")
    return header + payload


def write_now(socket: AsyncSocket, frame: bytes, now: float) -> bool:
    """Write a broadcast's frame straight to a socket's connection, when that keeps its
    order: its writer is waiting with nothing queued or in flight, the connection is open
    and not backed up, and its pings are answered (else engine.io's send closes it). False:
    send it the usual way, through the queue. Per recipient this skips the queue, a task
    switch and building the frame, and the writes of one message go out back to back."""
    ws = getattr(socket, "_idle_ws", None)
    if ws is None or not socket.queue.empty() or socket.closing or socket.closed:
        return False
    last_ping = socket.last_ping
    if last_ping and now - last_ping > socket.server.ping_timeout:
        return False
    writer = getattr(ws._sock, "_writer", None)
    transport = getattr(writer, "transport", None)
    if transport is None or transport.is_closing() or transport.get_write_buffer_size() > DIRECT_WRITE_LIMIT:
        return False
    transport.write(frame)
    return True


def _engineio_packet(frame: str | bytes) -> engineio.packet.Packet | None:
    """The frame as an Engine.IO packet, or None when Engine.IO would fail on it."""
    # The packet type is one ASCII digit: int() would also read "１" (fullwidth) as CLOSE.
    if isinstance(frame, str) and not frame[:1].isascii():
        return None
    try:
        pkt = engineio.packet.Packet(encoded_packet=frame)
    except Exception:
        return None
    # A type with no name makes the library's receive() fail with a traceback.
    return pkt if 0 <= pkt.packet_type < len(engineio.packet.packet_names) else None


def _naming_the_session(translate_request):
    """The driver's translate_request, noting the Engine.IO session a polling request names."""

    def translate(request):
        wirelog.socket_id.set(request.query.get("sid"))
        return translate_request(request)

    return translate


def use_wire_transport(eio, *, compression: bool) -> None:
    """Swap the driver's WebSocket class and request translation, for this server only."""
    eio._async = {
        **eio._async,
        "websocket": CompressedWireWebSocket if compression else WireWebSocket,
        "translate_request": _naming_the_session(eio._async["translate_request"]),
    }
