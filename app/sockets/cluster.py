"""Several server processes as one, through Redis (REDIS_URL).

python-socketio's AsyncRedisManager already carries emits, room changes and disconnects
between processes over one pub/sub channel. What it cannot answer is *who is where* across
processes: its rooms are each process's own. ClusterManager adds that, for the rooms the
presence service asks about (events.presence_room), as Redis sets of sids:

    support-chat:presence:hosts                  sorted set: host id -> last heartbeat (unix s)
    support-chat:presence:<host>:<room>          set of this host's sids in that room
    support-chat:presence:<host>:#labels         hash: this host's agent sids -> "user id|name"

Each process writes only its own keys, so a process that dies leaves nothing that is
believed: queries read only hosts whose heartbeat is fresh, and the next live process to
beat deletes a dead host's keys. When Redis loses the keys (restart without persistence,
flush) or a write failed, the next heartbeat notices and writes this process's rooms again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import cast

import socketio
from redis import asyncio as aioredis

from ..services.conversations import presence_room
from ..services.people import is_session_room
from .sessions import disconnect_members

log = logging.getLogger(__name__)

PREFIX = "support-chat:presence"
HOSTS = f"{PREFIX}:hosts"
LABELS = "#labels"  # per host: hash sid -> "user id|name" of its agent sockets (not a room name)


class ClusterManager(socketio.AsyncRedisManager):
    """AsyncRedisManager that also keeps the presence rooms' members in Redis."""

    heartbeat_seconds = 5.0
    host_ttl_seconds = 20.0

    def __init__(self, url: str, **kwargs) -> None:
        kwargs.setdefault("redis_options", {"socket_connect_timeout": 5})
        super().__init__(url, **kwargs)
        self.store = aioredis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=5, socket_timeout=5
        )
        self._rooms_of: dict[str, set[str]] = {}  # local sid -> its presence rooms
        self._labels: dict[str, str] = {}  # local agent sid -> "user id|name" (who is viewing)
        self._lock = asyncio.Lock()  # this host's writes, in order
        self._resync = True
        self._closed = False
        self._heartbeat: asyncio.Task | None = None
        self._retired: list = []  # clients replaced on reconnect, closed at the end

    # -- lifecycle ---------------------------------------------------------------------

    async def start(self, timeout: float = 10.0) -> None:
        """Check Redis, start listening and beating. Called once the app starts, so that
        the process hears other processes' emits before its first client arrives."""
        await self.store.ping()
        if not self.server.manager_initialized:
            self.server.manager_initialized = True
            self.initialize()  # starts the pub/sub listener
        await self._beat()
        self._heartbeat = asyncio.create_task(self._beat_forever())
        deadline = time.monotonic() + timeout
        while self.pubsub is None or not self.pubsub.subscribed:
            if time.monotonic() > deadline:
                raise TimeoutError("Redis pub/sub did not subscribe in time")
            await asyncio.sleep(0.01)

    async def close(self) -> None:
        self._closed = True  # the heartbeat stops at its next turn even if a cancel is lost
        for task in (self._heartbeat, getattr(self, "thread", None)):
            if task is not None:
                await _cancel_until_done(task)
        try:
            async with self._lock:
                await self._forget_host(self.host_id)
        except Exception:
            log.warning("could not remove this process's presence keys from Redis")
        for client in [self.pubsub, self.redis, *self._retired, self.store]:
            if client is not None:
                await client.aclose()

    def _redis_connect(self) -> None:
        # The listener and the publisher reconnect by making new clients; keep the old
        # ones so that they are closed at shutdown instead of leaking their sockets.
        self._retired.extend(c for c in (self.pubsub, self.redis) if c is not None)
        super()._redis_connect()

    async def ping(self) -> bool:
        """For /readyz: Redis answers and this process's listener is subscribed."""
        return bool(await self.store.ping()) and self.pubsub is not None and self.pubsub.subscribed

    # -- keeping the rooms -------------------------------------------------------------

    async def enter_room(self, sid, namespace, room, eio_sid=None):
        local = self.is_connected(sid, namespace) or self.is_pre_connected(sid, namespace)
        result = await super().enter_room(sid, namespace, room, eio_sid=eio_sid)
        if local and presence_room(room):
            rooms = self._rooms_of.setdefault(sid, set())
            if room not in rooms:
                rooms.add(room)
                await self._write(sadd={room: [sid]})
        return result

    async def leave_room(self, sid, namespace, room):
        result = await super().leave_room(sid, namespace, room)
        rooms = self._rooms_of.get(sid)
        if rooms is not None and room in rooms:
            rooms.discard(room)
            await self._write(srem={room: [sid]})
        return result

    async def disconnect(self, sid, namespace, **kwargs):
        result = await super().disconnect(sid, namespace, **kwargs)
        if kwargs.get("ignore_queue"):  # the local removal, wherever it was asked from
            rooms = self._rooms_of.pop(sid, None)
            labelled = self._labels.pop(sid, None) is not None
            if rooms or labelled:
                await self._write(srem={room: [sid] for room in rooms or ()},
                                  unlabel=[sid] if labelled else None)
        return result

    async def label(self, sid: str, label: str) -> None:
        """Say who a local socket is (an agent: "id|name"), for viewers() on every process."""
        self._labels[sid] = label
        await self._write(labels={sid: label})

    async def _handle_close_room(self, message):
        # A session room is closed when its session ends (sign-out): its sockets go with it,
        # on every process (app/sockets/sessions.py). python-socketio calls this for the
        # close here and for each close another process publishes.
        room, namespace = message.get("room"), message.get("namespace") or "/"
        if is_session_room(room):
            await disconnect_members(self, namespace, room)
        return await super()._handle_close_room(message)

    def _key(self, host: str, room: str) -> str:
        return f"{PREFIX}:{host}:{room}"

    async def _write(self, *, sadd: dict | None = None, srem: dict | None = None,
                     labels: dict | None = None, unlabel: list | None = None) -> None:
        if self._closed:
            return
        try:
            async with self._lock:
                pipe = self.store.pipeline(transaction=False)
                for room, sids in (sadd or {}).items():
                    pipe.sadd(self._key(self.host_id, room), *sids)
                for room, sids in (srem or {}).items():
                    pipe.srem(self._key(self.host_id, room), *sids)
                if labels:
                    pipe.hset(self._key(self.host_id, LABELS), mapping=labels)
                if unlabel:
                    pipe.hdel(self._key(self.host_id, LABELS), *unlabel)
                await pipe.execute()
        except Exception as exc:  # Redis away: the local rooms still work; rewrite later
            self._resync = True
            log.warning("presence write to Redis failed (%s); will rewrite on the next beat", exc)

    async def _beat_forever(self) -> None:
        while not self._closed:
            await asyncio.sleep(self.heartbeat_seconds)
            try:
                await self._beat()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self._resync = True
                log.warning("presence heartbeat to Redis failed: %s", exc)

    async def _beat(self) -> None:
        now = time.time()
        async with self._lock:
            added = await self.store.zadd(HOSTS, {self.host_id: now})
            if added or self._resync:  # Redis forgot us (restart, flush) or a write failed
                await self._rewrite_local()
                self._resync = False
            dead = await self._hosts("-inf", now - self.host_ttl_seconds)
            for host in dead:
                await self._forget_host(host)

    async def _rewrite_local(self) -> None:
        members: dict[str, list[str]] = defaultdict(list)
        for sid, rooms in self._rooms_of.items():
            for room in rooms:
                members[room].append(sid)
        stale = [key async for key in self.store.scan_iter(match=f"{PREFIX}:{self.host_id}:*")]
        pipe = self.store.pipeline(transaction=True)
        if stale:
            pipe.unlink(*stale)
        for room, sids in members.items():
            pipe.sadd(self._key(self.host_id, room), *sids)
        if self._labels:
            # redis-py types `mapping` as Mapping[str | bytes | ..., ...], whose key type is
            # invariant: it refuses a dict[str, str], which it sends as well as any.
            pipe.hset(self._key(self.host_id, LABELS), mapping=dict(self._labels))  # type: ignore[arg-type]
        await pipe.execute()

    async def _hosts(self, low: float | str, high: float | str) -> list[str]:
        """The processes whose last heartbeat is within [low, high]."""
        # Text, as decode_responses makes them; redis-py's types also allow bytes and
        # (member, score) pairs, which this call never returns.
        return cast(list[str], await self.store.zrangebyscore(HOSTS, low, high))

    async def _forget_host(self, host: str) -> None:
        keys = [key async for key in self.store.scan_iter(match=f"{PREFIX}:{host}:*")]
        if keys:
            await self.store.unlink(*keys)
        await self.store.zrem(HOSTS, host)

    # -- asking ------------------------------------------------------------------------

    async def labelled_members(self, namespace: str, room: str) -> dict[str, str]:
        """The labelled sids (agents) in this room on every live process, with their labels."""
        hosts = await self._hosts(time.time() - self.host_ttl_seconds, "+inf")
        if not hosts:
            return {}
        pipe = self.store.pipeline(transaction=False)
        for host in hosts:
            pipe.smembers(self._key(host, room))
        members = await pipe.execute()
        pipe = self.store.pipeline(transaction=False)
        asked = [(host, sorted(sids)) for host, sids in zip(hosts, members, strict=True) if sids]
        for host, sids in asked:
            pipe.hmget(self._key(host, LABELS), sids)
        found: dict[str, str] = {}
        for (_, sids), labels in zip(asked, await pipe.execute() if asked else [], strict=True):
            found.update({sid: label for sid, label in zip(sids, labels, strict=True) if label})
        return found

    async def occupied(self, namespace: str, rooms: list[str]) -> set[str]:
        """Which of these rooms have a member on any live process (one round trip)."""
        hosts = await self._hosts(time.time() - self.host_ttl_seconds, "+inf")
        if not hosts or not rooms:
            return set()
        pipe = self.store.pipeline(transaction=False)
        asked = [(room, host) for room in rooms for host in hosts]
        for room, host in asked:
            pipe.exists(self._key(host, room))  # an empty set is no key in Redis
        return {room for (room, _), there in zip(asked, await pipe.execute(), strict=True) if there}

    async def shared_members(self, namespace: str, rooms: Iterable[str]) -> set[str]:
        """The sids, on any live process, that are in every one of these rooms."""
        rooms = list(rooms)
        hosts = await self._hosts(time.time() - self.host_ttl_seconds, "+inf")
        if not hosts:
            return set()
        pipe = self.store.pipeline(transaction=False)
        for host in hosts:
            pipe.sinter([self._key(host, room) for room in rooms])
        found: set[str] = set()
        for sids in await pipe.execute():
            found |= set(sids)
        return found


CANCEL_AGAIN_SECONDS = 0.1


async def _cancel_until_done(task: asyncio.Task) -> None:
    """Cancel a task and wait for it to end, cancelling again if the cancellation was lost.

    On Python 3.11, asyncio.wait_for returns normally instead of raising CancelledError when
    the cancellation arrives in the same turn of the loop as the awaited operation finishing
    (CPython gh-86296, fixed in 3.12), and redis-py awaits wait_for around every command it
    writes. The heartbeat and the pub/sub listener then carried on as if never cancelled,
    and a shutdown that awaited them once waited forever (a test teardown hung so)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_AGAIN_SECONDS)
    if not task.cancelled() and task.exception() is not None:
        log.debug("a Redis task ended with %r at shutdown", task.exception())
