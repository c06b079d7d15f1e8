"""What every service function gets: `Ctx`, the database, the settings and what the app
hands the services without their knowing what answers.

Three of those are Protocols, so that core imports no other package: the live events
(conversations' Events, or NoEvents in tools), the counters for /metrics (operations'
Metrics) and the sockets layer (app/sockets/rooms.py's SocketRooms: who is connected where).
create_app and the worker wire in the real ones."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ...config import Settings
from ...db import Database


class LiveEvents(Protocol):
    """What services tell connected clients, after a write succeeded."""

    async def message_new(self, doc: dict, *, skip_sid: str | None = None) -> None: ...

    async def ticket_updated(self, ticket: dict, *, to_guest: bool = True) -> None: ...

    async def ticket_activity(self, ticket: dict) -> None: ...

    async def typing(self, payload: dict, *, ticket_id: object, skip_sid: str | None) -> None: ...

    async def typing_staff(self, payload: dict, *, ticket_id: object,
                           skip_sid: str | None) -> None: ...

    async def viewers(self, ticket_id: object, viewers: list[dict]) -> None: ...

    async def notification_new(self, doc: dict) -> None: ...

    async def notification_updated(self, doc: dict) -> None: ...

    async def notification_count(self, user_id: str, unread: int) -> None: ...

    async def audit_new(self, row: dict) -> None: ...


class Counters(Protocol):
    """What this process counts for /metrics, at the place where each thing happens."""

    def message_stored(self, kind: str) -> None: ...

    def escalated(self, priority: str) -> None: ...

    def refused(self, rule: str) -> None: ...

    def socket_connected(self, role: str) -> None: ...

    def socket_disconnected(self, role: str) -> None: ...

    def timed(self, event: str,
              handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]: ...


class NotCounted:
    """Counters for a context nobody scrapes (tools, tests that build their own)."""

    def message_stored(self, kind: str) -> None:
        pass

    def escalated(self, priority: str) -> None:
        pass

    def refused(self, rule: str) -> None:
        pass

    def socket_connected(self, role: str) -> None:
        pass

    def socket_disconnected(self, role: str) -> None:
        pass

    def timed(self, event: str,
              handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        return handler


class Sockets(Protocol):
    """Who is connected where, on any process: the questions presence, sessions and the live
    audit page ask of the sockets layer, by room name (conversations/events.py names them)."""

    async def members(self, rooms: Iterable[str]) -> set[str]:
        """The sids that are in every one of these rooms."""
        ...

    async def occupied(self, rooms: list[str]) -> set[str]:
        """Which of these rooms have a socket in them."""
        ...

    async def remember_agent(self, sid: str, *, user_id: str, name: str) -> None:
        """Who an agent's socket is, for agents_in() on every process."""
        ...

    async def agents_in(self, room: str) -> dict[str, tuple[str, str]]:
        """The agent sockets in the room: sid -> (user id, name)."""
        ...

    async def disconnect(self, sid: str) -> None:
        """Cut this socket, in whichever process holds it."""
        ...

    async def close_room(self, room: str) -> None:
        """Disconnect every socket in the room, in whichever process holds it."""
        ...

    def may_reach(self, room: str) -> bool:
        """False only when no socket in this room can be listening."""
        ...


@dataclass
class Ctx:
    """What every service function needs: the database, the settings, and the event sink."""

    db: Database
    settings: Settings
    events: LiveEvents
    # The sockets layer (app/sockets/rooms.py); None in a process that holds no sockets and
    # publishes to none: nobody is connected, as far as it can tell.
    sockets: Sockets | None = None
    # Made on first use from the settings (core/ratelimit.py).
    limiter: Any = None
    # Audit events whose write failed: retried in the background (operations/audit.py).
    audit_backlog: deque = field(default_factory=deque)
    # Fire-and-forget tasks (e-mails), kept referenced until done.
    background: set = field(default_factory=set)
    # Background runs that coalesce (one at a time, one more if asked meanwhile), by name:
    # conversations/assignment.py's pass over the tickets waiting for an agent.
    coalesced: dict = field(default_factory=dict)
    job_signal: JobSignal = field(default_factory=lambda: JobSignal())
    # This process's counters for /metrics (operations/metrics.py); the app passes its own.
    metrics: Counters = field(default_factory=NotCounted)
    # The active webhooks, read at most every few seconds (operations/webhooks.py).
    webhooks: Any = None
    # Figures worth keeping for a moment (guests/availability.py): name -> (until, value).
    cached: dict = field(default_factory=dict)


class JobSignal:
    """Wakes this process's idle workers when a job is enqueued here (others poll)."""

    def __init__(self) -> None:
        self._waiters: set[asyncio.Event] = set()

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._waiters.add(event)
        return event

    def unsubscribe(self, event: asyncio.Event) -> None:
        self._waiters.discard(event)

    def notify(self) -> None:
        for event in self._waiters:
            event.set()
