"""Starting and stopping the background work of one process: a worker and the scheduler."""

from __future__ import annotations

from dataclasses import dataclass

from ..services.context import Ctx
from .handlers import HANDLERS
from .scheduler import Scheduler
from .worker import Worker


@dataclass
class Runtime:
    worker: Worker
    scheduler: Scheduler

    async def stop(self) -> None:
        await self.scheduler.stop()
        await self.worker.stop()


def start(ctx: Ctx) -> Runtime:
    return Runtime(worker=Worker(ctx, HANDLERS).start(), scheduler=Scheduler(ctx).start())
