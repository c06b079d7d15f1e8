"""Opaque paging cursors: a (time, _id) pair, so that equal times neither skip nor repeat."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from bson import ObjectId

from ..errors import Invalid


def encode(at: datetime, oid: ObjectId) -> str:
    millis = int(at.timestamp() * 1000)
    raw = f"{millis}.{oid}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(value: object, field: str) -> tuple[datetime, ObjectId]:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise Invalid(f"{field} is not a valid cursor.", field=field)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        millis, oid = raw.split(".")
        at = datetime.fromtimestamp(int(millis) / 1000, UTC)
        return at, ObjectId(oid)
    except Exception:
        raise Invalid(f"{field} is not a valid cursor.", field=field) from None


def before(field: str, at: datetime, oid: ObjectId) -> dict:
    """Documents strictly older than (at, oid) in (field, _id) order."""
    return {"$or": [{field: {"$lt": at}}, {field: at, "_id": {"$lt": oid}}]}


def after(field: str, at: datetime, oid: ObjectId) -> dict:
    """Documents strictly newer than (at, oid) in (field, _id) order."""
    return {"$or": [{field: {"$gt": at}}, {field: at, "_id": {"$gt": oid}}]}


async def newest_first(
    collection: Any, query: dict, *, field: str, cursor: object, size: int
) -> tuple[list[dict], str | None]:
    """One page of `query` in (field, _id) order, newest first, older than `cursor` (a
    `before` cursor) if given; and the cursor of the next, older page, or None at the end."""
    if cursor not in (None, ""):
        at, oid = decode(cursor, "before")
        older = before(field, at, oid)
        query = {"$and": [query, older]} if query else older
    docs = await collection.find(query).sort([(field, -1), ("_id", -1)]).to_list(size + 1)
    page = docs[:size]
    next_cursor = encode(page[-1][field], page[-1]["_id"]) if len(docs) > size else None
    return page, next_cursor
