"""In-app notifications of agents. A read notification is deleted at `expire_at` (TTL)."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ReturnDocument

from ..db import Database
from . import oid
from .paging import Position, newest_first


async def insert(db: Database, *, notification: dict) -> dict:
    """Raises DuplicateKeyError when one with the same dedupe_key exists."""
    notification["_id"] = (await db.notifications.insert_one(notification)).inserted_id
    return notification


async def unread_count(db: Database, *, user_id: ObjectId) -> int:
    return await db.notifications.count_documents({"user_id": oid(user_id, "user_id"), "read_at": None})


async def page(db: Database, *, user_id: ObjectId, unread_only: bool, before: Position | None,
               size: int) -> tuple[list[dict], bool]:
    query: dict = {"user_id": oid(user_id, "user_id")}
    if unread_only:
        query["read_at"] = None
    return await newest_first(db.notifications, query, field="created_at", before=before, size=size)


async def mark(db: Database, *, notification_id: ObjectId, user_id: ObjectId,
               read_at: datetime | None, expire_at: datetime | None) -> dict | None:
    """Mark one of this user's notifications read (read_at) or unread (None)."""
    update = ({"$set": {"read_at": read_at, "expire_at": expire_at}} if read_at is not None
              else {"$set": {"read_at": None}, "$unset": {"expire_at": ""}})
    return await db.notifications.find_one_and_update(
        {"_id": oid(notification_id, "notification_id"), "user_id": oid(user_id, "user_id")}, update,
        return_document=ReturnDocument.AFTER)


async def mark_all_read(db: Database, *, user_id: ObjectId, read_at: datetime,
                        expire_at: datetime) -> int:
    result = await db.notifications.update_many(
        {"user_id": oid(user_id, "user_id"), "read_at": None},
        {"$set": {"read_at": read_at, "expire_at": expire_at}})
    return result.modified_count


async def redact_about_tickets(db: Database, *, ticket_ids: list[ObjectId], text: str) -> int:
    """Replace the text of every notification about these tickets (it can quote a guest)."""
    result = await db.notifications.update_many(
        {"ticket_id": {"$in": list(ticket_ids)}, "text": {"$ne": text}}, {"$set": {"text": text}})
    return result.modified_count
