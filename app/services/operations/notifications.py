"""In-app notifications for agents: written by `notify` jobs, read and marked in the inbox.

Services that want someone told call `enqueue(...)`: one job per event, deduplicated by the
event's key. The job writes one notification per recipient (each deduplicated too, so a
retried job writes no second copy) and pushes it live to `user:<id>`, followed by the new
unread count, which every open tab of that agent shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from ... import clock
from ...errors import Forbidden, Invalid, NotFound
from ...security import Identity
from ...store import notifications as stored
from ..core import cursors, validate
from ..core.context import Ctx
from . import jobs

KINDS = ("assigned", "unassigned", "status", "escalated", "guest_message")
JOB_KIND = "notify"
TEXT_MAX = 300


@dataclass
class Page:
    notifications: list[dict]
    next_cursor: str | None


def _oid(value: object) -> ObjectId:
    return value if isinstance(value, ObjectId) else ObjectId(str(value))


async def enqueue(
    ctx: Ctx, *, user_ids: list, kind: str, ticket_id: object, text: str, key: str
) -> dict | None:
    """Queue the notification of these users about one event; `key` names the event, so
    queueing it twice tells nobody twice."""
    if kind not in KINDS:
        raise ValueError(f"unknown notification kind {kind!r}")
    recipients = [str(u) for u in dict.fromkeys(user_ids) if u]
    if not recipients:
        return None
    payload = {"user_ids": recipients, "kind": kind, "ticket_id": str(ticket_id),
               "text": text[:TEXT_MAX], "key": key}
    return await jobs.enqueue(ctx, JOB_KIND, payload, dedupe_key=f"notify:{key}")


async def deliver(ctx: Ctx, payload: dict) -> int:
    """The `notify` job: store one notification per recipient, then push it live.
    Returns how many were new."""
    created = 0
    for user_id in payload["user_ids"]:
        doc = {
            "user_id": _oid(user_id),
            "kind": payload["kind"],
            "ticket_id": _oid(payload["ticket_id"]),
            "text": payload["text"],
            "read_at": None,
            "created_at": clock.utcnow(),
            "dedupe_key": f"{payload['key']}:{user_id}",
        }
        try:
            await stored.insert(ctx.db, notification=doc)
        except DuplicateKeyError:
            continue  # written by an earlier attempt of this job
        created += 1
        await ctx.events.notification_new(doc)
        await push_count(ctx, user_id=user_id)
    return created


async def unread_count(ctx: Ctx, *, user_id: object) -> int:
    return await stored.unread_count(ctx.db, user_id=_oid(user_id))


async def push_count(ctx: Ctx, *, user_id: object) -> int:
    unread = await unread_count(ctx, user_id=user_id)
    await ctx.events.notification_count(str(user_id), unread)
    return unread


def _require_agent(identity: Identity) -> ObjectId:
    if not identity.is_agent:
        raise Forbidden()
    return ObjectId(identity.id)


def _expiry(ctx: Ctx, read_at: datetime) -> datetime:
    """A read notification is deleted NOTIFICATION_RETENTION after it was read."""
    return read_at + timedelta(seconds=ctx.settings.notification_retention)


async def list_for(
    ctx: Ctx, *, identity: Identity, before: object = None, limit: object = None, unread: object = None
) -> Page:
    """The caller's notifications, newest first, paged by an opaque cursor."""
    user_id = _require_agent(identity)
    size = validate.limit(limit, default=30)
    unread_only = False
    if unread not in (None, "", "0", "false", False):
        if unread not in ("1", "true", True):
            raise Invalid("unread must be 1 or 0.", field="unread")
        unread_only = True
    docs, more = await stored.page(ctx.db, user_id=user_id, unread_only=unread_only,
                                   before=cursors.position(before), size=size)
    return Page(notifications=docs, next_cursor=cursors.next_cursor(docs, more, "created_at"))


async def mark(ctx: Ctx, *, identity: Identity, notification_id: object, read: bool) -> tuple[dict, int]:
    """Mark one of the caller's notifications read or unread; returns it and the unread count."""
    user_id = _require_agent(identity)
    oid = validate.object_id(notification_id, "notification_id")
    now = clock.utcnow()
    doc = await stored.mark(ctx.db, notification_id=oid, user_id=user_id,
                            read_at=now if read else None, expire_at=_expiry(ctx, now) if read else None)
    if doc is None:
        raise NotFound("This notification does not exist.")
    await ctx.events.notification_updated(doc)
    return doc, await push_count(ctx, user_id=user_id)


async def mark_all_read(ctx: Ctx, *, identity: Identity) -> tuple[int, int]:
    """Mark every unread notification of the caller read; returns (changed, unread)."""
    user_id = _require_agent(identity)
    now = clock.utcnow()
    changed = await stored.mark_all_read(ctx.db, user_id=user_id, read_at=now, expire_at=_expiry(ctx, now))
    return changed, await push_count(ctx, user_id=user_id)


async def count_for(ctx: Ctx, *, identity: Identity) -> int:
    return await unread_count(ctx, user_id=_require_agent(identity))
