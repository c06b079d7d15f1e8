from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..config import Settings
from ..db import Database
from .events import Events


@dataclass
class Ctx:
    """What every service function needs: the database, the settings, and the event sink."""

    db: Database
    settings: Settings
    events: Events
    job_signal: JobSignal = field(default_factory=lambda: JobSignal())


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
