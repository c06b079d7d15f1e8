"""Periodic sweeps (escalation, auto-resolve), run in every worker process. The sweeps are
idempotent and conditional, so several processes sweeping at once change each ticket once."""

from __future__ import annotations

import asyncio
import logging

from ..services.conversations import assignment, escalation
from ..services.core import Ctx

log = logging.getLogger(__name__)


class Scheduler:
    def __init__(self, ctx: Ctx, *, interval: float | None = None) -> None:
        self.ctx = ctx
        self.interval = ctx.settings.sweep_interval if interval is None else interval
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    def start(self) -> Scheduler:
        self._task = asyncio.create_task(self._loop(), name="scheduler")
        return self

    async def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                done = await escalation.sweep(self.ctx)
                if any(done.values()):
                    log.info("sweep: %s", done)
            except Exception:
                log.exception("sweep failed")
            try:
                # Tickets waiting for an agent, in case a signal (an agent arriving on
                # another process, a slot freed there) was missed.
                assigned = await assignment.offer_waiting(self.ctx)
                if assigned:
                    log.info("sweep: assigned %d waiting tickets", assigned)
            except Exception:
                log.exception("assigning waiting tickets failed")
            try:
                await asyncio.wait_for(self._stop.wait(), self.interval)
            except TimeoutError:
                pass

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=10)
            if not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task})
            self._task = None
