"""The durable job queue. A job is claimed with one atomic update (queued and due, or
processing with a lapsed lease -> processing, locked by one worker until its lease ends);
finishing, failing, renewing and releasing count only while that worker still holds it."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ReturnDocument

from ..db import Database
from . import oid
from .paging import Position, newest_first

AFTER = ReturnDocument.AFTER


async def insert(db: Database, *, job: dict) -> dict:
    """Raises DuplicateKeyError when a job with the same dedupe_key exists."""
    job["_id"] = (await db.jobs.insert_one(job)).inserted_id
    return job


async def get(db: Database, *, job_id: ObjectId) -> dict | None:
    return await db.jobs.find_one({"_id": oid(job_id, "job_id")})


async def by_dedupe_key(db: Database, *, dedupe_key: str) -> dict | None:
    return await db.jobs.find_one({"dedupe_key": dedupe_key})


async def claim(db: Database, *, worker_id: str, now: datetime, lease_until: datetime) -> dict | None:
    """The next due job (or one whose worker's lease ran out), now this worker's."""
    return await db.jobs.find_one_and_update(
        {"$or": [{"status": "queued", "run_at": {"$lte": now}},
                 {"status": "processing", "locked_until": {"$lt": now}}]},
        {"$set": {"status": "processing", "locked_by": worker_id, "locked_until": lease_until,
                  "updated_at": now},
         "$inc": {"attempts": 1}},
        sort=[("run_at", 1), ("_id", 1)],
        return_document=AFTER,
    )


def _held(job_id: ObjectId, worker_id: str) -> dict:
    return {"_id": oid(job_id, "job_id"), "status": "processing", "locked_by": worker_id}


async def renew(db: Database, *, job_id: ObjectId, worker_id: str, now: datetime,
                lease_until: datetime) -> bool:
    """Extend the lease of a job this worker still holds; False when it lost it."""
    result = await db.jobs.update_one(
        _held(job_id, worker_id), {"$set": {"locked_until": lease_until, "updated_at": now}})
    return result.matched_count == 1


async def finish(db: Database, *, job_id: ObjectId, worker_id: str, now: datetime,
                 status: str, expire_at: datetime, error: str | None = None) -> bool:
    """Mark a held job succeeded or dead; it is deleted at `expire_at` (TTL index)."""
    fields = {"status": status, "locked_until": None, "updated_at": now, "finished_at": now,
              "expire_at": expire_at}
    if error is not None:
        fields["last_error"] = error
    result = await db.jobs.update_one(_held(job_id, worker_id), {"$set": fields})
    return result.modified_count == 1


async def requeue(db: Database, *, job_id: ObjectId, worker_id: str, now: datetime,
                  run_at: datetime, error: str | None, count_attempt: bool = True) -> bool:
    """Give a held job back to the queue, to run at `run_at` (after a failure, or at
    shutdown without counting the attempt)."""
    update: dict = {"$set": {"status": "queued", "run_at": run_at, "locked_until": None,
                             "locked_by": None, "updated_at": now}}
    if error is not None:
        update["$set"]["last_error"] = error
    if not count_attempt:
        update["$inc"] = {"attempts": -1}
    result = await db.jobs.update_one(_held(job_id, worker_id), update)
    return result.modified_count == 1


async def retry_dead(db: Database, *, job_id: ObjectId, now: datetime) -> dict | None:
    """A dead job queued again from scratch (an admin's retry); None if it is not dead."""
    return await db.jobs.find_one_and_update(
        {"_id": oid(job_id, "job_id"), "status": "dead"},
        {"$set": {"status": "queued", "run_at": now, "attempts": 0, "locked_by": None,
                  "locked_until": None, "updated_at": now, "retried_at": now},
         "$unset": {"expire_at": "", "finished_at": ""}},
        return_document=AFTER,
    )


async def page(db: Database, *, status: str, before: Position | None,
               size: int) -> tuple[list[dict], bool]:
    """Jobs in one status, most recently changed first."""
    return await newest_first(db.jobs, {"status": status}, field="updated_at", before=before,
                              size=size)


async def count(db: Database, *, status: str) -> int:
    return await db.jobs.count_documents({"status": status})


async def queue_by_kind(db: Database) -> list[dict]:
    """Per status (queued, dead) and kind: how many jobs, and the earliest run_at. Read
    through the (status, kind, run_at) index, so the scrape of /metrics stays cheap however
    many finished jobs are kept. One document per (status, kind) that has any job:
    `{"status", "kind", "count", "earliest_run_at"}`."""
    cursor = await db.jobs.aggregate([
        {"$match": {"status": {"$in": ["queued", "dead"]}}},
        {"$group": {"_id": {"status": "$status", "kind": "$kind"}, "count": {"$sum": 1},
                    "earliest_run_at": {"$min": "$run_at"}}},
    ])
    return [{"status": row["_id"]["status"], "kind": row["_id"]["kind"], "count": row["count"],
             "earliest_run_at": row["earliest_run_at"]} for row in await cursor.to_list(None)]


async def delete_about(db: Database, *, ticket_ids: list[str], emails: list[str]) -> int:
    """Delete the jobs not running now that are about these tickets (payload.ticket_id) or
    e-mail these addresses: what they carry is a guest's (a guest's erasure)."""
    clauses: list[dict] = []
    if ticket_ids:
        clauses.append({"payload.ticket_id": {"$in": list(ticket_ids)}})
    if emails:
        clauses.append({"kind": "email", "payload.to": {"$in": list(emails)}})
    if not clauses:
        return 0
    result = await db.jobs.delete_many({"status": {"$ne": "processing"}, "$or": clauses})
    return result.deleted_count
