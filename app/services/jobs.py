"""The durable job queue, kept in the `jobs` collection.

A job is claimed with one atomic find_one_and_update (queued and due, or processing with an
expired lease -> processing, locked by this worker until the lease ends), so any number of
workers, in one process or many, never run the same job at once. A failure puts it back in
the queue after an exponential backoff with jitter, until max_attempts; then it is `dead`
with its last error. Finishing or failing only counts while the job is still locked by the
worker that reports it: a worker whose lease ran out has lost the job to another.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from .. import clock
from ..errors import Invalid
from .context import Ctx

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
) -> dict:
    """Queue a job. With a dedupe_key, a second enqueue with the same key is a no-op that
    returns the job already stored (whatever its status)."""
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
    try:
        doc["_id"] = (await ctx.db.jobs.insert_one(doc)).inserted_id
    except DuplicateKeyError:
        existing = await ctx.db.jobs.find_one({"dedupe_key": dedupe_key})
        if existing is None:  # deleted in between: the key is free again
            raise
        return existing
    ctx.job_signal.notify()
    return doc


async def claim(ctx: Ctx, *, worker_id: str, lease: float | None = None) -> dict | None:
    """Take the next due job, or one whose worker's lease ran out, atomically; None if none."""
    now = clock.utcnow()
    lease = ctx.settings.job_lease if lease is None else lease
    return await ctx.db.jobs.find_one_and_update(
        {
            "$or": [
                {"status": "queued", "run_at": {"$lte": now}},
                {"status": "processing", "locked_until": {"$lt": now}},
            ]
        },
        {
            "$set": {
                "status": "processing",
                "locked_by": worker_id,
                "locked_until": now + timedelta(seconds=lease),
                "updated_at": now,
            },
            "$inc": {"attempts": 1},
        },
        sort=[("run_at", 1), ("_id", 1)],
        return_document=ReturnDocument.AFTER,
    )


def _mine(job: dict, worker_id: str) -> dict:
    return {"_id": job["_id"], "status": "processing", "locked_by": worker_id}


async def complete(ctx: Ctx, job: dict, *, worker_id: str) -> bool:
    """Mark the job succeeded, if this worker still holds it."""
    now = clock.utcnow()
    result = await ctx.db.jobs.update_one(
        _mine(job, worker_id),
        {"$set": {"status": "succeeded", "locked_until": None, "updated_at": now, "finished_at": now}},
    )
    return result.modified_count == 1


def backoff(ctx: Ctx, attempts: int) -> float:
    """Seconds before the next try: base * 2^(attempts-1), with "equal jitter" (half fixed,
    half random), so that delays grow and retries of many jobs do not march in step."""
    delay = min(BACKOFF_MAX, ctx.settings.job_backoff_base * 2 ** max(0, attempts - 1))
    return delay / 2 + random.uniform(0, delay / 2)


async def fail(ctx: Ctx, job: dict, *, worker_id: str, error: str) -> str | None:
    """Record a failed attempt: back to the queue after a backoff, or dead after the last
    attempt. Returns the new status, or None when this worker no longer held the job."""
    now = clock.utcnow()
    error = error[:ERROR_MAX]
    if job["attempts"] >= job["max_attempts"]:
        update = {"status": "dead", "last_error": error, "locked_until": None, "updated_at": now,
                  "finished_at": now}
    else:
        run_at = now + timedelta(seconds=backoff(ctx, job["attempts"]))
        update = {"status": "queued", "run_at": run_at, "last_error": error,
                  "locked_until": None, "locked_by": None, "updated_at": now}
    result = await ctx.db.jobs.update_one(_mine(job, worker_id), {"$set": update})
    if result.modified_count != 1:
        return None
    if update["status"] == "dead":
        log.error("job %s (%s) is dead after %d attempts: %s", job["_id"], job["kind"], job["attempts"], error)
    return update["status"]


async def release(ctx: Ctx, job: dict, *, worker_id: str) -> bool:
    """Give an unfinished job back (shutdown): queued again at once, lease cleared, and the
    attempt not counted."""
    now = clock.utcnow()
    result = await ctx.db.jobs.update_one(
        _mine(job, worker_id),
        {"$set": {"status": "queued", "run_at": now, "locked_until": None, "locked_by": None,
                  "updated_at": now},
         "$inc": {"attempts": -1}},
    )
    return result.modified_count == 1


async def get(ctx: Ctx, job_id: object) -> dict | None:
    return await ctx.db.jobs.find_one({"_id": job_id})
