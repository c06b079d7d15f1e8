"""The Engine.IO server with smaller per-connection state.

Every connected socket holds an outgoing packet queue for as long as it lives. engine.io makes
it an `asyncio.Queue`, which allocates three deques and an `asyncio.Event` (a fourth deque) up
front: about 3.5 KB per idle socket before anything is queued (tracemalloc, bench idle
scenario). `PacketQueue` offers the part of asyncio.Queue's API engine.io uses (unbounded put,
get, get_nowait, task_done, join) and allocates its buffers only while something is queued
or waited for.

Between pings, engine.io keeps a task per socket asleep in `asyncio.sleep(ping_interval)`
(`AsyncSocket._send_ping`); `EngineServer` schedules the same ping on the socket's one timer
instead (transport.SocketTimer, which a WebSocket's read deadline shares), and runs a short
task only to send it.

The server class is chosen through python-socketio's own hook
(`_engineio_server_class`), so nothing in the libraries is patched."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Any

import engineio
import socketio
from engineio import packet
from engineio.async_socket import AsyncSocket

from . import transport


class PacketQueue:
    """An unbounded FIFO queue with asyncio.Queue's semantics for put/get/task_done/join,
    whose deque and waiter lists exist only while in use."""

    __slots__ = ("_items", "_getters", "_joiners", "_unfinished")

    def __init__(self) -> None:
        self._items: deque | None = None
        self._getters: list[asyncio.Future] | None = None
        self._joiners: list[asyncio.Future] | None = None
        self._unfinished = 0

    def qsize(self) -> int:
        return len(self._items) if self._items else 0

    def empty(self) -> bool:
        return not self._items

    def full(self) -> bool:
        return False

    def put_nowait(self, item: Any) -> None:
        if self._items is None:
            self._items = deque()
        self._items.append(item)
        self._unfinished += 1
        self._wake_getter()

    async def put(self, item: Any) -> None:
        self.put_nowait(item)

    def get_nowait(self) -> Any:
        items = self._items
        if not items:
            raise asyncio.QueueEmpty
        item = items.popleft()
        if not items:
            self._items = None  # an idle socket keeps no buffer
        return item

    async def get(self) -> Any:
        while not self._items:
            getter = asyncio.get_running_loop().create_future()
            if self._getters is None:
                self._getters = []
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()  # no-op if already woken
                self._discard_getter(getter)
                if self._items and not getter.cancelled():
                    # woken, then cancelled before it could take the item: pass the turn on
                    self._wake_getter()
                raise
        return self.get_nowait()

    def task_done(self) -> None:
        if self._unfinished <= 0:
            raise ValueError("task_done() called too many times")
        self._unfinished -= 1
        if self._unfinished == 0 and self._joiners:
            joiners, self._joiners = self._joiners, None
            for joiner in joiners:
                if not joiner.done():
                    joiner.set_result(None)

    async def join(self) -> None:
        if self._unfinished > 0:
            joiner = asyncio.get_running_loop().create_future()
            if self._joiners is None:
                self._joiners = []
            self._joiners.append(joiner)
            await joiner

    def _wake_getter(self) -> None:
        getters = self._getters
        while getters:
            getter = getters.pop(0)
            if not getter.done():
                getter.set_result(None)
                break
        if not getters:
            self._getters = None

    def _discard_getter(self, getter: asyncio.Future) -> None:
        if self._getters is not None:
            try:
                self._getters.remove(getter)
            except ValueError:
                pass
            if not self._getters:
                self._getters = None


class EngineServer(engineio.AsyncServer):
    """engine.io's asyncio server, with a `PacketQueue` per socket and pings on timers."""

    def create_queue(self, *args, **kwargs) -> PacketQueue:
        if args or kwargs:  # a bounded queue (not asked for by engine.io itself)
            return super().create_queue(*args, **kwargs)
        return PacketQueue()

    def start_background_task(self, target, *args, **kwargs):
        socket = getattr(target, "__self__", None)
        if (getattr(target, "__func__", None) is AsyncSocket._send_ping and isinstance(socket, AsyncSocket)
                and not args and not kwargs):
            # AsyncSocket.schedule_ping: the sleep of _send_ping on the socket's one timer
            transport.SocketTimer.of(socket).ping_in(self.ping_interval)
            return None
        return super().start_background_task(target, *args, **kwargs)


class SocketServer(socketio.AsyncServer):
    """python-socketio's asyncio server on top of `EngineServer`."""

    def _engineio_server_class(self):
        return EngineServer

    async def _send_packet(self, eio_sid, pkt):
        """A packet for one socket (most often an event's acknowledgement): written straight
        to its connection when that keeps its order (transport.write_now), as a broadcast
        is. Every message's acknowledgement otherwise woke the socket's writer task and went
        through aiohttp's frame writer."""
        encoded = pkt.encode()
        if isinstance(encoded, str):
            socket = self.eio.sockets.get(eio_sid)
            if socket is not None:
                frame = transport.text_frame(packet.Packet(packet.MESSAGE, encoded).encode())
                if transport.write_now(socket, frame, time.time()):
                    return
        await super()._send_packet(eio_sid, pkt)
