"""The `webhooks` collection: URLs that admins registered to hear about tickets.

Fields: url, events (names from services/operations/webhooks.py EVENTS), include_notes (internal
notes and internal system lines are sent only when true), active, description,
secret_seed (the signing secret is derived from it and SECRET_KEY, services/operations/webhooks.py),
created_at, created_by {id, name}, updated_at."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ReturnDocument

from ..db import Database
from . import oid

AFTER = ReturnDocument.AFTER


async def insert(db: Database, *, webhook: dict) -> dict:
    webhook["_id"] = (await db.webhooks.insert_one(webhook)).inserted_id
    return webhook


async def get(db: Database, *, webhook_id: ObjectId) -> dict | None:
    return await db.webhooks.find_one({"_id": oid(webhook_id, "webhook_id")})


async def newest(db: Database, *, limit: int) -> list[dict]:
    return await db.webhooks.find({}).sort([("created_at", -1), ("_id", -1)]).to_list(limit)


async def active(db: Database, *, limit: int) -> list[dict]:
    """The active hooks (what a ticket change is sent to)."""
    return await db.webhooks.find({"active": True}).sort("_id", 1).to_list(limit)


async def update(db: Database, *, webhook_id: ObjectId, at: datetime, set: dict) -> dict | None:
    return await db.webhooks.find_one_and_update(
        {"_id": oid(webhook_id, "webhook_id")}, {"$set": {**set, "updated_at": at}},
        return_document=AFTER)


async def delete(db: Database, *, webhook_id: ObjectId) -> dict | None:
    return await db.webhooks.find_one_and_delete({"_id": oid(webhook_id, "webhook_id")})
