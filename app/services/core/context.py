from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ...config import Settings
from ...db import Database
from ..conversations.events import Events
from ..operations.metrics import Metrics


@dataclass
class Ctx:
    """What every service function needs: the database, the settings, and the event sink."""

    db: Database
    settings: Settings
    events: Events
    # Made on first use from the settings (services/ratelimit.py).
    limiter: Any = None
    # Audit events whose write failed: retried in the background (services/audit.py).
    audit_backlog: deque = field(default_factory=deque)
    # Fire-and-forget tasks (e-mails), kept referenced until done.
    background: set = field(default_factory=set)
    # Background runs that coalesce (one at a time, one more if asked meanwhile), by name:
    # services/assignment.py's pass over the tickets waiting for an agent.
    coalesced: dict = field(default_factory=dict)
    job_signal: JobSignal = field(default_factory=lambda: JobSignal())
    # This process's counters for /metrics (services/metrics.py); the app passes its own.
    metrics: Metrics = field(default_factory=Metrics)
    # The active webhooks, read at most every few seconds (services/webhooks.py).
    webhooks: Any = None
    # Figures worth keeping for a moment (services/availability.py): name -> (until, value).
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
