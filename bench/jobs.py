#!/usr/bin/env python3
"""Jobs per second through one worker and through two, with a handler that does nothing,
on the embedded store (app/store/engine.py). Not a test: prints a small table. Bounded in time:
each run stops after RUN_LIMIT seconds and reports what it managed. mongomock scans, copies
and sorts the whole collection on every claim, so the rate falls as the queue grows; a real
MongoDB claims through the (status, run_at) index.

    .venv/bin/python bench/jobs.py [jobs-per-run]
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import db as db_module
from app.config import Settings
from app.jobs.worker import Worker
from app.services.conversations import NoEvents
from app.services.core import Ctx
from app.services.operations import jobs

RUN_LIMIT = 12.0


async def run(workers: int, count: int) -> tuple[int, float, float]:
    settings = Settings(secret_key="bench-" + "x" * 32, job_poll_interval=0.05)
    database = db_module.connect(settings)
    await db_module.ensure_indexes(database)
    ctx = Ctx(db=database, settings=settings, events=NoEvents())
    done = 0
    finished = asyncio.Event()

    async def nothing(ctx, payload):
        nonlocal done
        done += 1
        if done >= count:
            finished.set()

    started = time.perf_counter()
    for n in range(count):
        await jobs.enqueue(ctx, "noop", {"n": n})
    enqueue_rate = count / (time.perf_counter() - started)

    pool = [Worker(ctx, {"noop": nothing}, worker_id=f"bench-{i}") for i in range(workers)]
    started = time.perf_counter()
    for worker in pool:
        worker.start()
    try:
        await asyncio.wait_for(finished.wait(), RUN_LIMIT)
    except TimeoutError:
        pass
    elapsed = time.perf_counter() - started
    for worker in pool:
        await worker.stop()
    succeeded = await ctx.db.jobs.count_documents({"status": "succeeded"})
    return succeeded, succeeded / elapsed, enqueue_rate


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 300
    print(f"{count} no-op jobs per run, embedded store (app/store/engine.py), one process\n")
    print(f"{'workers':>7}  {'done':>6}  {'jobs/s':>8}  {'enqueue/s':>9}")
    for workers in (1, 2):
        succeeded, rate, enqueue_rate = await run(workers, count)
        print(f"{workers:>7}  {succeeded:>6}  {rate:>8.0f}  {enqueue_rate:>9.0f}")


if __name__ == "__main__":
    asyncio.run(main())
