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
from ...store import users as stored_users
from ..conversations import Change, effects, presence
from ..core import Ctx, cursors, validate
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


# --- the listener: who is told about a ticket change (conversations' effects) ---------------


async def on_change(ctx: Ctx, change: Change) -> None:
    ticket, kind = change.after, change.kind
    subject = ticket.get("subject", "")
    version_key = f"{ticket['_id']}:{ticket.get('version')}"
    if kind == "message" and not change.person.is_agent:
        # The guest wrote while their assignee is not in the room.
        message = change.posted
        if ticket.get("assignee_id") and not await presence.user_in_ticket_room(
                ctx, user_id=str(ticket["assignee_id"]), ticket_id=ticket["_id"]):
            await _tell(ctx, user_ids=[ticket["assignee_id"]], kind="guest_message", ticket=ticket,
                        text=f"{message['sender_name']}: {message['body'][:200]}",
                        key=f"message:{message['_id']}")
    elif kind == "update":
        diff, before, actor = change.diff(), change.before or {}, change.person
        if "assignee_id" in diff:
            new_id, old_id = diff["assignee_id"], before.get("assignee_id")
            if new_id is not None and str(new_id) != actor.id:
                await _tell(ctx, user_ids=[new_id], kind="assigned", ticket=ticket,
                            text=f"{actor.name} assigned “{subject}” to you", key=f"assign:{version_key}")
            if old_id and str(old_id) != actor.id:
                await _tell(ctx, user_ids=[old_id], kind="unassigned", ticket=ticket,
                            text=f"{actor.name} took “{subject}” off your queue",
                            key=f"assign:{version_key}:old")
        if "status" in diff:
            text = (f"{actor.name} closed “{subject}”" if diff["status"] == "closed"
                    else f"{actor.name} marked “{subject}” {diff['status']}")
            await _tell_assignee(ctx, change, kind="status", text=text, key=f"status:{version_key}")
    elif kind == "auto_assign":
        await _tell(ctx, user_ids=[ticket["assignee_id"]], kind="assigned", ticket=ticket,
                    key=f"assign:{version_key}",
                    text=f"“{subject}” from {ticket.get('guest_name', 'a guest')} was assigned to you")
    elif kind == "escalate":
        # The assignee, or every admin when nobody is assigned, is told once per level.
        level, priority = ticket["escalation_level"], ticket["priority"]
        assignee = ticket.get("assignee_id")
        recipients = [assignee] if assignee else await stored_users.active_admin_ids(ctx.db)
        waited = effects.duration(change.details.get("waited", 0))
        await _tell(ctx, user_ids=recipients, kind="escalated", ticket=ticket,
                    key=f"escalate:{ticket['_id']}:{level}",
                    text=f"“{subject}” from {ticket.get('guest_name', 'a guest')} has "
                         f"waited {waited} for an answer (priority {priority})")
    elif kind == "auto_resolve":
        await _tell_assignee(ctx, change, kind="status", key=f"resolve:{version_key}",
                             text=f"“{subject}” was resolved: the guest did not reply")


async def _tell_assignee(ctx: Ctx, change: Change, *, kind: str, text: str, key: str) -> None:
    """Tell the ticket's assignee about a change someone else made."""
    assignee_id = change.after.get("assignee_id")
    if not assignee_id or (change.actor is not None and str(assignee_id) == change.actor.id):
        return
    await _tell(ctx, user_ids=[assignee_id], kind=kind, ticket=change.after, text=text, key=key)


async def _tell(ctx: Ctx, *, user_ids: list, kind: str, ticket: dict, text: str, key: str) -> None:
    await effects.guarded(enqueue(ctx, user_ids=user_ids, kind=kind, ticket_id=ticket["_id"], text=text, key=key),
                  f"notification {key}")
