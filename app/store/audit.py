"""Audit events: written once each (the _id is chosen before the first try, so a retry of
a write that did land is refused as a duplicate), read newest first."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from ..db import Database
from .paging import Position, newest_first

EXPORT_BATCH = 500


@dataclass(frozen=True)
class AuditFilters:
    actor: str | None = None
    action: str | None = None
    entity_type: str | None = None
    entity_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _query(filters: AuditFilters) -> dict:
    """The filter, its most selective fields first: MongoDB picks its index whatever the
    order, and the embedded engine, which tests each event in turn, stops sooner."""
    query: dict = {}
    if filters.entity_id:
        query["entity.id"] = filters.entity_id
    if filters.actor:
        query["actor.id"] = filters.actor
    if filters.action:
        query["action"] = filters.action
    if filters.entity_type:
        query["entity.type"] = filters.entity_type
    if filters.since or filters.until:
        query["at"] = {}
        if filters.since:
            query["at"]["$gte"] = filters.since
        if filters.until:
            query["at"]["$lt"] = filters.until
    return query


async def insert(db: Database, *, event: dict) -> None:
    """Raises DuplicateKeyError when an event with this _id is stored already."""
    await db.audit_events.insert_one(dict(event))


async def page(db: Database, *, filters: AuditFilters, before: Position | None,
               size: int) -> tuple[list[dict], bool]:
    return await newest_first(db.audit_events, _query(filters), field="at", before=before, size=size)


async def every(db: Database, *, filters: AuditFilters) -> AsyncIterator[dict]:
    """Every matching event, newest first, read in batches: an export of any size without
    holding it all in memory and without a limit that cuts it short."""
    before: Position | None = None
    while True:
        docs, more = await page(db, filters=filters, before=before, size=EXPORT_BATCH)
        for doc in docs:
            yield doc
        if not more:
            return
        before = (docs[-1]["at"], docs[-1]["_id"])


def _about(ticket_ids: list[str], actor_ids: list[str]) -> dict:
    clauses: list[dict] = []
    if ticket_ids:
        clauses.append({"entity.type": "ticket", "entity.id": {"$in": list(ticket_ids)}})
    if actor_ids:
        clauses.append({"actor.id": {"$in": list(actor_ids)}})
    return {"$or": clauses} if clauses else {"_id": None}


async def every_about(db: Database, *, ticket_ids: list[str], actor_ids: list[str]) -> list[dict]:
    """Every event about these tickets or made by these actors (a guest's pseudonyms),
    newest first, read in batches."""
    found: list[dict] = []
    before: Position | None = None
    while True:
        docs, more = await newest_first(db.audit_events, _about(ticket_ids, actor_ids), field="at",
                                        before=before, size=EXPORT_BATCH)
        found.extend(docs)
        if not more:
            return found
        before = (docs[-1]["at"], docs[-1]["_id"])


# What events about a ticket may hold of its guest: their name, e-mail and words.
GUEST_FIELDS = ("guest_name", "guest_email", "subject", "body")


async def redact_about(db: Database, *, ticket_ids: list[str], actor_ids: list[str],
                       marker: str, name: str) -> int:
    """Remove a guest's personal data from the events about their tickets and from those
    they made (name, e-mail, words, IP address and browser); who did what, when, stays.
    Returns how many events changed."""
    changed = 0
    if ticket_ids:
        about = {"entity.type": "ticket", "entity.id": {"$in": list(ticket_ids)}}
        for side in ("before", "after"):
            for field in GUEST_FIELDS:
                path = f"{side}.{field}"
                result = await db.audit_events.update_many(
                    {**about, path: {"$exists": True, "$nin": [None, marker]}},
                    {"$set": {path: None if field == "guest_email" else marker}})
                changed += result.modified_count
    if actor_ids:
        result = await db.audit_events.update_many(
            {"actor.id": {"$in": list(actor_ids)},
             "$or": [{"actor.name": {"$ne": name}}, {"ip": {"$ne": None}}, {"user_agent": {"$ne": None}}]},
            {"$set": {"actor.name": name, "ip": None, "user_agent": None}})
        changed += result.modified_count
    return changed
