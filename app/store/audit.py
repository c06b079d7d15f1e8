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
