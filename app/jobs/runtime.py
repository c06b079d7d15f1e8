"""Starting and stopping the background work of one process: a worker and the scheduler."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from ..services.core import Ctx
from .handlers import HANDLERS
from .scheduler import Scheduler
from .worker import Worker


@dataclass
class Runtime:
    worker: Worker
    scheduler: Scheduler
    _stopping: asyncio.Task | None = field(default=None, repr=False)

    def begin_stop(self) -> asyncio.Task:
        """Start stopping (the job in hand is finished or given back); idempotent."""
        if self._stopping is None:
            self._stopping = asyncio.create_task(self._stop(), name="jobs runtime stop")
        return self._stopping

    async def stop(self) -> None:
        await self.begin_stop()

    async def _stop(self) -> None:
        await self.scheduler.stop()
        await self.worker.stop()


def start(ctx: Ctx) -> Runtime:
    return Runtime(worker=Worker(ctx, HANDLERS).start(), scheduler=Scheduler(ctx).start())
