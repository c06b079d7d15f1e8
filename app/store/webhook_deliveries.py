"""The `webhook_deliveries` collection: the delivery log, one document per attempt.

Fields: webhook_id, delivery_id (the X-Support-Delivery value: one per event and hook,
the same on every attempt and redelivery), event, ticket_id, attempt, redelivery, status
("succeeded" | "failed"), response_code (None when no answer came), duration_ms, error,
body (the JSON sent, for "redeliver"), internal (it carries a note or internal line), at,
expire_at (a TTL index deletes it then: WEBHOOK_DELIVERY_RETENTION)."""

from __future__ import annotations

from bson import ObjectId

from ..db import Database
from . import oid
from .paging import Position, newest_first


async def insert(db: Database, *, delivery: dict) -> dict:
    delivery["_id"] = (await db.webhook_deliveries.insert_one(delivery)).inserted_id
    return delivery


async def get(db: Database, *, webhook_id: ObjectId, attempt_id: ObjectId) -> dict | None:
    return await db.webhook_deliveries.find_one(
        {"_id": oid(attempt_id, "attempt_id"), "webhook_id": oid(webhook_id, "webhook_id")})


async def page(db: Database, *, webhook_id: ObjectId, before: Position | None,
               size: int) -> tuple[list[dict], bool]:
    """One hook's attempts, newest first."""
    return await newest_first(db.webhook_deliveries, {"webhook_id": oid(webhook_id, "webhook_id")},
                              field="at", before=before, size=size)


async def delete_of_webhook(db: Database, *, webhook_id: ObjectId) -> int:
    result = await db.webhook_deliveries.delete_many({"webhook_id": oid(webhook_id, "webhook_id")})
    return result.deleted_count


async def delete_about_tickets(db: Database, *, ticket_ids: list[ObjectId]) -> int:
    """Forget what was sent about these tickets (a guest's erasure: the bodies hold what
    they wrote)."""
    result = await db.webhook_deliveries.delete_many({"ticket_id": {"$in": list(ticket_ids)}})
    return result.deleted_count
