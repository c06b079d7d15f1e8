"""A pinned clock for tests: app.clock.utcnow answers what the test says, until it moves it."""

from __future__ import annotations

from datetime import timedelta

from app import clock


class FakeClock:
    def __init__(self, monkeypatch, *, start=None) -> None:
        self.now = start or clock.utcnow()
        monkeypatch.setattr(clock, "utcnow", lambda: self.now)

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
