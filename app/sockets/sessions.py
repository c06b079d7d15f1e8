"""A socket lives no longer than the sign-in session it was opened with.

The handshake checks the session once (services/people/sessions.py); after that no event reads the
database to ask again. Instead, each agent socket

- is in its session's room, `session:<jti>`. Ending a session closes that room, and closing
  a session room disconnects its members: here (LocalManager) or on every process
  (ClusterManager, through Redis, app/sockets/cluster.py). That is how sign-out, "sign out"
  on /account and the end of a half-open session reach live sockets within a moment;
- has a timer set for its session's expiry, which disconnects it then;
- is looked at again by a periodic check (every SESSION_RECHECK seconds, one query for all
  of this process's sessions), for anything the first two could miss: a Redis message lost
  while Redis was away, a session ended by a process that died before telling anyone.

Per message, none of this costs anything."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

import engineio.packet
import socketio
import socketio.packet

from ..security import Identity
from ..services.core import Ctx
from ..services.people import sessions
from . import transport

log = logging.getLogger(__name__)

NAMESPACE = "/"
RECHECK_BATCH = 500


async def disconnect_members(manager: socketio.AsyncManager, namespace: str, room: str) -> int:
    """Disconnect this process's sockets in the room; how many."""
    sids = [sid for sid, _ in manager.get_participants(namespace, room)]
    for sid in sids:
        await manager.server.disconnect(sid, namespace=namespace, ignore_queue=True)
    return len(sids)


class LocalManager(socketio.AsyncManager):
    """The single-process manager, with session rooms that disconnect when closed."""

    async def emit(self, event, data, namespace, room=None, skip_sid=None, callback=None, to=None,
                   **kwargs):
        """A broadcast without an acknowledgement, encoded and framed once, then written to
        each member's connection at once where that keeps its order (transport.write_now),
        else handed to its Engine.IO queue. The library's emit starts a task per recipient
        and waits for them all; handing a packet to a queue never waits, so those tasks were
        pure cost: about a sixth of the server's CPU at 5,000 deliveries a second."""
        kwargs.pop("ignore_queue", None)  # no queue in one process
        if callback is not None or kwargs:
            return await super().emit(event, data, namespace, room=room, skip_sid=skip_sid,
                                      callback=callback, to=to, **kwargs)
        room = to or room
        if namespace not in self.rooms:
            return
        if isinstance(data, tuple):
            data = list(data)
        elif data is not None:
            data = [data]
        else:
            data = []
        skip = set(skip_sid) if isinstance(skip_sid, list) else {skip_sid}
        encoded = self.server.packet_class(socketio.packet.EVENT, namespace=namespace,
                                           data=[event, *data]).encode()
        if not isinstance(encoded, list):
            encoded = [encoded]
        eio_packets = [engineio.packet.Packet(engineio.packet.MESSAGE, p) for p in encoded]
        # A text packet (every event but a file's bytes) is framed once for everyone.
        frame = transport.text_frame(eio_packets[0].encode()) if len(encoded) == 1 and isinstance(
            encoded[0], str) else None
        sockets = self.server.eio.sockets
        now = time.time()
        # A list first: a member leaving while we hand out packets must not change the loop.
        for sid, eio_sid in list(self.get_participants(namespace, room)):
            if sid in skip:
                continue
            try:
                if frame is not None:
                    socket = sockets.get(eio_sid)
                    if socket is not None and transport.write_now(socket, frame, now):
                        continue
                for eio_pkt in eio_packets:
                    await self.server._send_eio_packet(eio_sid, eio_pkt)
            except Exception as exc:  # one member's broken connection never costs the others theirs
                log.warning("a broadcast did not reach socket %s: %s", eio_sid, exc)

    async def close_room(self, room, namespace):
        if sessions.is_session_room(room):
            await disconnect_members(self, namespace or NAMESPACE, room)
        return await super().close_room(room, namespace)


async def watch(sio: socketio.AsyncServer, ctx: Ctx, sid: str, identity: Identity) -> None:
    """At connect: put an agent's socket in its session's room and set its expiry timer."""
    if identity.session_id is None or identity.session_expires_at is None:
        return
    await sio.enter_room(sid, sessions.session_room(identity.session_id))
    delay = max(0.0, sessions.expires_in(identity.session_expires_at))
    loop = asyncio.get_running_loop()
    timer = loop.call_later(delay, _expire, sio, ctx, sid)
    async with sio.session(sid) as saved:
        saved["session_timer"] = timer


def _expire(sio: socketio.AsyncServer, ctx: Ctx, sid: str) -> None:
    task = asyncio.get_running_loop().create_task(sio.disconnect(sid, namespace=NAMESPACE))
    ctx.background.add(task)
    task.add_done_callback(ctx.background.discard)


async def forget(sio: socketio.AsyncServer, sid: str) -> None:
    """At disconnect: the expiry timer has nothing left to do."""
    with contextlib.suppress(KeyError, ValueError):
        saved = await sio.get_session(sid)
        timer = saved.pop("session_timer", None)
        if timer is not None:
            timer.cancel()


async def recheck(sio: socketio.AsyncServer, ctx: Ctx) -> int:
    """Disconnect this process's sockets whose session has ended or expired; how many."""
    rooms = [room for room in list(sio.manager.rooms.get(NAMESPACE, {})) if sessions.is_session_room(room)]
    cut = 0
    for start in range(0, len(rooms), RECHECK_BATCH):
        batch = rooms[start:start + RECHECK_BATCH]
        ids = [room[len(sessions.ROOM_PREFIX):] for room in batch]
        still_open = await sessions.open_among(ctx.db, session_ids=ids)
        for session_id, room in zip(ids, batch, strict=True):
            if session_id not in still_open:
                cut += await disconnect_members(sio.manager, NAMESPACE, room)
    if cut:
        log.info("cut %d socket(s) whose session had ended", cut)
    return cut


async def recheck_forever(sio: socketio.AsyncServer, ctx: Ctx, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await recheck(sio, ctx)
        except Exception:  # the database away for a moment: try again next time
            log.exception("the periodic session check failed")


async def recheck_task(app):
    """cleanup_ctx: the periodic check, from start-up to shutdown."""
    from ..keys import ctx_key, sio_key

    task = asyncio.create_task(recheck_forever(app[sio_key], app[ctx_key],
                                               app[ctx_key].settings.session_recheck_interval))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
