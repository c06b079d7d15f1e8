"""What every service function gets: `Ctx`, the database, the settings, and what the app
hands in (protocols.py)."""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ...config import Settings
from ...db import Database
from .protocols import Counters, LiveEvents, NotCounted, Sockets


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
