"""The worker loop: claim a job, run its handler, record the outcome; sleep when idle.

Handlers are looked up by the job's kind and called as `await handler(ctx, payload)`. A
handler that raises has its job retried later (app/services/operations/jobs.py decides when). On stop,
the job in hand gets `stop_timeout` seconds to finish; after that it is cancelled and given
back to the queue, so that another worker runs it.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import traceback
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..services.core import Ctx
from ..services.operations import jobs

log = logging.getLogger(__name__)

Handler = Callable[[Ctx, dict], Awaitable[Any]]


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker:
    def __init__(
        self,
        ctx: Ctx,
        handlers: Mapping[str, Handler],
        *,
        worker_id: str | None = None,
        poll_interval: float | None = None,
        stop_timeout: float | None = None,
    ) -> None:
        self.ctx = ctx
        self.handlers = dict(handlers)
        self.id = worker_id or new_worker_id()
        self.poll_interval = ctx.settings.job_poll_interval if poll_interval is None else poll_interval
        self.stop_timeout = ctx.settings.job_stop_timeout if stop_timeout is None else stop_timeout
        self.processed = 0
        self._stopping = False
        self._task: asyncio.Task | None = None
        self._current: asyncio.Task | None = None
        self._wake: asyncio.Event | None = None
        self.idle = asyncio.Event()  # set while the loop waits for work (tests, benchmarks)

    def start(self) -> Worker:
        self._wake = self.ctx.job_signal.subscribe()
        self._task = asyncio.create_task(self._loop(), name=f"worker {self.id}")
        return self

    async def run_once(self) -> bool:
        """Claim and run one due job; False when there was none."""
        job = await jobs.claim(self.ctx, worker_id=self.id)
        if job is None:
            return False
        self._current = asyncio.create_task(self._execute(job), name=f"job {job['_id']}")
        keeper = asyncio.create_task(self._keep_lease(job, self._current), name=f"lease {job['_id']}")
        try:
            # wait() rather than await: cancelling the job at shutdown must not end the loop
            # with an exception.
            await asyncio.wait({self._current})
        finally:
            keeper.cancel()
            await asyncio.wait({keeper})
            self._current = None
        return True

    async def _keep_lease(self, job: dict, running: asyncio.Task) -> None:
        """Renew the job's lease every third of it while it runs, so that a job slower than
        the lease (a slow SMTP exchange) is not claimed and run a second time elsewhere. A
        worker that finds the lease lost (it stalled longer than a lease) stops the job."""
        lease = self.ctx.settings.job_lease
        while not running.done():
            await asyncio.sleep(lease / 3)
            try:
                held = await jobs.renew(self.ctx, job, worker_id=self.id)
            except Exception:
                log.warning("worker %s could not renew the lease of job %s", self.id, job["_id"])
                continue
            if not held and not running.done():
                log.warning("worker %s lost the lease of job %s: stopping it", self.id, job["_id"])
                running.cancel()
                return

    async def _loop(self) -> None:
        assert self._wake is not None
        while not self._stopping:
            self._wake.clear()
            try:
                ran = await self.run_once()
            except Exception:
                log.exception("worker %s could not claim a job", self.id)
                ran = False
            if ran or self._stopping:
                continue
            self.idle.set()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            except TimeoutError:
                pass
            self.idle.clear()

    async def _execute(self, job: dict) -> None:
        ctx, kind = self.ctx, job["kind"]
        try:
            if job["attempts"] > job["max_attempts"]:
                raise RuntimeError("the job's worker stopped answering too many times")
            handler = self.handlers.get(kind)
            if handler is None:
                raise LookupError(f"no handler for job kind {kind!r}")
            jobs.run_as(job)  # this task's own context: gone when it ends
            await handler(ctx, job["payload"])
        except asyncio.CancelledError:
            released = await jobs.release(ctx, job, worker_id=self.id)
            log.warning("worker %s stopped during job %s (%s): %s", self.id, job["_id"], kind,
                        "given back to the queue" if released else "it was no longer ours")
            raise
        except Exception as exc:
            error = "".join(traceback.format_exception_only(type(exc), exc)).strip()
            status = await jobs.fail(ctx, job, worker_id=self.id, error=error)
            log.warning("job %s (%s) attempt %d failed: %s -> %s", job["_id"], kind, job["attempts"],
                        error, status or "lease lost")
        else:
            if await jobs.complete(ctx, job, worker_id=self.id):
                self.processed += 1
            else:
                log.warning("job %s (%s) finished after its lease ran out", job["_id"], kind)

    async def stop(self, timeout: float | None = None) -> None:
        """Finish the job in hand (up to `timeout` seconds), else give it back; then end."""
        timeout = self.stop_timeout if timeout is None else timeout
        self._stopping = True
        if self._wake is not None:
            self._wake.set()
            self.ctx.job_signal.unsubscribe(self._wake)
        if self._task is None:
            return
        done, _ = await asyncio.wait({self._task}, timeout=timeout)
        if not done:
            current = self._current
            if current is not None and not current.done():
                current.cancel()
            done, _ = await asyncio.wait({self._task}, timeout=5)
            if not done:  # stuck in the database: give up on it
                self._task.cancel()
                await asyncio.wait({self._task})
        self._task = None
