"""The durable job queue, kept in the `jobs` collection.

A job is claimed with one atomic find_one_and_update (queued and due, or processing with an
expired lease -> processing, locked by this worker until the lease ends), so any number of
workers, in one process or many, never run the same job at once. A failure puts it back in
the queue after an exponential backoff with jitter, until max_attempts; then it is `dead`
with its last error. Finishing or failing only counts while the job is still locked by the
worker that reports it: a worker whose lease ran out has lost the job to another. While a
job runs, its worker renews the lease (app/jobs/worker.py), so a job slower than one lease
still runs once. Finished jobs are deleted after JOB_RETENTION (dead ones after
DEAD_JOB_RETENTION) by a TTL index on expire_at.
"""

from __future__ import annotations

import logging
import random
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from ... import clock
from ...errors import Conflict, Forbidden, Invalid, NotFound
from ...security import Identity
from ...store import jobs as stored
from ..core import Ctx, cursors, validate
from . import audit

log = logging.getLogger(__name__)

STATUSES = ("queued", "processing", "succeeded", "dead")
BACKOFF_MAX = 3600.0
ERROR_MAX = 2000


async def enqueue(
    ctx: Ctx,
    kind: str,
    payload: dict,
    *,
    dedupe_key: str | None = None,
    run_at: datetime | None = None,
    max_attempts: int = 5,
    backoff_base: float | None = None,
) -> dict:
    """Queue a job. With a dedupe_key, a second enqueue with the same key is a no-op that
    returns the job already stored (whatever its status). `backoff_base`: this job's first
    delay before a retry, when it is not the queue's (webhooks wait longer)."""
    if not isinstance(kind, str) or not kind:
        raise Invalid("kind must be a name.", field="kind")
    if not isinstance(payload, dict):
        raise Invalid("payload must be an object.", field="payload")
    if not isinstance(max_attempts, int) or max_attempts < 1:
        raise Invalid("max_attempts must be at least 1.", field="max_attempts")
    now = clock.utcnow()
    doc = {
        "kind": kind,
        "payload": payload,
        "status": "queued",
        "attempts": 0,
        "max_attempts": max_attempts,
        "run_at": run_at or now,
        "locked_until": None,
        "locked_by": None,
        "last_error": None,
        "created_at": now,
        "updated_at": now,
    }
    if dedupe_key is not None:
        doc["dedupe_key"] = dedupe_key
    if backoff_base is not None:
        doc["backoff_base"] = float(backoff_base)
    try:
        await stored.insert(ctx.db, job=doc)
    except DuplicateKeyError:
        if dedupe_key is None:  # the dedupe key is the only unique field a job has
            raise
        existing = await stored.by_dedupe_key(ctx.db, dedupe_key=dedupe_key)
        if existing is None:  # deleted in between: the key is free again
            raise
        return existing
    ctx.job_signal.notify()
    return doc


def _lease(ctx: Ctx, lease: float | None) -> float:
    return ctx.settings.job_lease if lease is None else lease


async def claim(ctx: Ctx, *, worker_id: str, lease: float | None = None) -> dict | None:
    """Take the next due job, or one whose worker's lease ran out, atomically; None if none."""
    now = clock.utcnow()
    return await stored.claim(ctx.db, worker_id=worker_id, now=now,
                              lease_until=now + timedelta(seconds=_lease(ctx, lease)))


async def renew(ctx: Ctx, job: dict, *, worker_id: str, lease: float | None = None) -> bool:
    """Extend the lease of a job still running here; False when this worker lost it."""
    now = clock.utcnow()
    return await stored.renew(ctx.db, job_id=job["_id"], worker_id=worker_id, now=now,
                              lease_until=now + timedelta(seconds=_lease(ctx, lease)))


async def complete(ctx: Ctx, job: dict, *, worker_id: str) -> bool:
    """Mark the job succeeded, if this worker still holds it; it is deleted after
    JOB_RETENTION."""
    now = clock.utcnow()
    return await stored.finish(ctx.db, job_id=job["_id"], worker_id=worker_id, now=now,
                               status="succeeded",
                               expire_at=now + timedelta(seconds=ctx.settings.job_retention))


def backoff(ctx: Ctx, attempts: int, base: float | None = None) -> float:
    """Seconds before the next try: base * 2^(attempts-1), with "equal jitter" (half fixed,
    half random), so that delays grow and retries of many jobs do not march in step."""
    base = ctx.settings.job_backoff_base if base is None else base
    delay = min(BACKOFF_MAX, base * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


async def fail(ctx: Ctx, job: dict, *, worker_id: str, error: str) -> str | None:
    """Record a failed attempt: back to the queue after a backoff, or dead after the last
    attempt (kept DEAD_JOB_RETENTION for admins to see and retry). Returns the new status,
    or None when this worker no longer held the job."""
    now = clock.utcnow()
    error = error[:ERROR_MAX]
    if job["attempts"] >= job["max_attempts"]:
        done = await stored.finish(
            ctx.db, job_id=job["_id"], worker_id=worker_id, now=now, status="dead", error=error,
            expire_at=now + timedelta(seconds=ctx.settings.dead_job_retention))
        if not done:
            return None
        log.error("job %s (%s) is dead after %d attempts: %s", job["_id"], job["kind"],
                  job["attempts"], error)
        return "dead"
    run_at = now + timedelta(seconds=backoff(ctx, job["attempts"], job.get("backoff_base")))
    requeued = await stored.requeue(ctx.db, job_id=job["_id"], worker_id=worker_id, now=now,
                                    run_at=run_at, error=error)
    return "queued" if requeued else None


async def release(ctx: Ctx, job: dict, *, worker_id: str) -> bool:
    """Give an unfinished job back (shutdown): queued again at once, lease cleared, and the
    attempt not counted."""
    now = clock.utcnow()
    return await stored.requeue(ctx.db, job_id=job["_id"], worker_id=worker_id, now=now,
                                run_at=now, error=None, count_attempt=False)


# The job the worker is running in this task, for handlers that say which attempt this is.
_running: ContextVar[dict | None] = ContextVar("running_job", default=None)


def running() -> dict | None:
    """The job being run (its `attempts` counts this attempt); None outside a worker."""
    return _running.get()


def run_as(job: dict):
    """Mark `job` as the one running in this task (the worker calls this)."""
    return _running.set(job)


async def get(ctx: Ctx, job_id: ObjectId) -> dict | None:
    return await stored.get(ctx.db, job_id=job_id)


# --- dead jobs, for admins -------------------------------------------------------------


@dataclass
class JobPage:
    jobs: list[dict]
    next_cursor: str | None
    total: int


def _require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden("Only admins can see the job queue.")


async def dead(ctx: Ctx, *, identity: Identity, before: object = None, limit: object = None) -> JobPage:
    """Jobs that gave up, most recent first, with their last error."""
    _require_admin(identity)
    size = validate.limit(limit, default=50)
    docs, more = await stored.page(ctx.db, status="dead", before=cursors.position(before), size=size)
    return JobPage(jobs=docs, next_cursor=cursors.next_cursor(docs, more, "updated_at"),
                   total=await stored.count(ctx.db, status="dead"))


async def retry(ctx: Ctx, *, identity: Identity, job_id: object) -> dict:
    """Queue a dead job again, from its first attempt (audited)."""
    _require_admin(identity)
    oid = validate.object_id(job_id, "job_id")
    before = await stored.get(ctx.db, job_id=oid)
    if before is None:
        raise NotFound("This job does not exist (finished jobs are deleted after a while).")
    job = await stored.retry_dead(ctx.db, job_id=oid, now=clock.utcnow())
    if job is None:
        raise Conflict("Only a dead job can be retried; this one is " + before["status"] + ".")
    ctx.job_signal.notify()
    await audit.record(ctx, actor=identity, action="job.retry", entity=("job", oid),
                       before={"status": "dead", "attempts": before["attempts"],
                               "last_error": before.get("last_error")},
                       after={"status": "queued", "kind": job["kind"]})
    return job


# --- the queue's figures, for /metrics ----------------------------------------------------


@dataclass
class QueueFigures:
    queued: int = 0
    dead: int = 0
    oldest_due: datetime | None = None  # the earliest run_at of a queued job


async def queue_stats(ctx: Ctx, *, kinds: tuple[str, ...] = ()) -> dict[str, QueueFigures]:
    """Queued and dead jobs per kind, and when the oldest queued one became (or becomes) due;
    every kind in `kinds` is listed, with zeros when it has no job."""
    figures = {kind: QueueFigures() for kind in kinds}
    for row in await stored.queue_by_kind(ctx.db):
        entry = figures.setdefault(row["kind"], QueueFigures())
        if row["status"] == "queued":
            entry.queued, entry.oldest_due = row["count"], row["earliest_run_at"]
        else:
            entry.dead = row["count"]
    return figures
