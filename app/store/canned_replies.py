"""Canned replies: the team's (owner_key "team") and each agent's own (owner_key: their
id). A shortcut is unique per owner (index one_shortcut_per_owner)."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ..db import Database
from . import oid

AFTER = ReturnDocument.AFTER


async def of_owners(db: Database, *, owner_keys: list[str], limit: int) -> list[dict]:
    """The replies of these owners, by shortcut."""
    return await db.canned_replies.find({"owner_key": {"$in": owner_keys}}).sort(
        [("shortcut", 1), ("owner_key", 1)]).to_list(limit)


async def count_of(db: Database, *, owner_key: str) -> int:
    return await db.canned_replies.count_documents({"owner_key": owner_key})


async def get(db: Database, *, reply_id: ObjectId) -> dict | None:
    return await db.canned_replies.find_one({"_id": oid(reply_id, "reply_id")})


async def insert(db: Database, *, reply: dict) -> dict | None:
    """Store a new reply; None when its owner has this shortcut already."""
    try:
        reply["_id"] = (await db.canned_replies.insert_one(reply)).inserted_id
    except DuplicateKeyError:
        return None
    return reply


async def change(db: Database, *, reply_id: ObjectId, owner_key: str, fields: dict,
                 at: datetime) -> dict | None:
    """Change a reply of this owner; None when there is none. Raises DuplicateKeyError when
    the new shortcut is the owner's already."""
    return await db.canned_replies.find_one_and_update(
        {"_id": oid(reply_id, "reply_id"), "owner_key": owner_key},
        {"$set": {**fields, "updated_at": at}}, return_document=AFTER)


async def delete(db: Database, *, reply_id: ObjectId, owner_key: str) -> dict | None:
    """Remove a reply of this owner; the reply as it was, or None."""
    return await db.canned_replies.find_one_and_delete(
        {"_id": oid(reply_id, "reply_id"), "owner_key": owner_key})
