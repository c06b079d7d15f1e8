"""Keyset paging over (time, _id), newest first: equal times neither skip nor repeat."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bson import ObjectId

Position = tuple[datetime, ObjectId]


def older_than(field: str, position: Position) -> dict:
    """Documents strictly older than `position` in (field, _id) order."""
    at, oid = position
    return {"$or": [{field: {"$lt": at}}, {field: at, "_id": {"$lt": oid}}]}


async def newest_first(collection: Any, query: dict, *, field: str, before: Position | None,
                       size: int) -> tuple[list[dict], bool]:
    """One page of `query` in (field, _id) order, newest first, older than `before` if
    given; and whether an older page exists."""
    if before is not None:
        older = older_than(field, before)
        query = {"$and": [query, older]} if query else older
    docs = await collection.find(query).sort([(field, -1), ("_id", -1)]).to_list(size + 1)
    return docs[:size], len(docs) > size
