"""Messages: sending (stored before anyone is told), system lines, and history pages."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from .. import clock
from ..errors import Forbidden, Invalid, TicketClosed
from ..security import Identity
from . import audit, cursors, ratelimit, validate
from .context import Ctx

log = logging.getLogger(__name__)

BODY_MAX = 5000
PAGE_DEFAULT = 30
GUEST_KINDS = ["message", "system"]


@dataclass
class Sent:
    message: dict
    created: bool  # False when the client_msg_id was already stored: nothing was broadcast


@dataclass
class HistoryPage:
    messages: list[dict]
    next_cursor: str | None
    has_more: bool


async def insert(
    ctx: Ctx,
    *,
    ticket: dict,
    kind: str,
    sender_role: str,
    sender_id: str | None,
    sender_name: str,
    body: str,
    client_msg_id: str | None,
    at=None,
    internal: bool = False,
) -> dict:
    """Store one message. Raises DuplicateKeyError when (ticket, client_msg_id) exists."""
    doc = {
        "ticket_id": ticket["_id"],
        "kind": kind,
        "sender_role": sender_role,
        "sender_id": sender_id,
        "sender_name": sender_name,
        "body": body,
        "created_at": at or clock.utcnow(),
    }
    if client_msg_id is not None:
        doc["client_msg_id"] = client_msg_id
    if internal:
        doc["internal"] = True
    doc["_id"] = (await ctx.db.messages.insert_one(doc)).inserted_id
    return doc


def check_send(identity: Identity, ticket: dict, kind: str) -> None:
    if kind == "note" and not identity.is_agent:
        raise Forbidden("Only agents can write internal notes.")
    if ticket["status"] == "closed":
        raise TicketClosed()


async def send(
    ctx: Ctx,
    *,
    identity: Identity,
    ticket_id: object,
    body: object,
    client_msg_id: object,
    kind: str = "message",
    skip_sid: str | None = None,
) -> Sent:
    """Store a guest's or agent's message, then tell the room. Sending the same
    client_msg_id again returns the stored message and tells nobody."""
    from . import tickets  # tickets imports this module

    body = validate.text(body, "body", max_len=BODY_MAX)
    client_msg_id = validate.client_msg_id(client_msg_id)
    ticket = await tickets.get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    check_send(identity, ticket, kind)
    await ratelimit.hit(ctx, "message", f"{identity.role}:{identity.id}:{ticket['_id']}")
    sender_name = ticket["guest_name"] if identity.is_guest else identity.name
    try:
        doc = await insert(
            ctx, ticket=ticket, kind=kind, sender_role="guest" if identity.is_guest else "agent",
            sender_id=identity.id, sender_name=sender_name, body=body, client_msg_id=client_msg_id,
        )
    except DuplicateKeyError:
        stored = await ctx.db.messages.find_one(
            {"ticket_id": ticket["_id"], "client_msg_id": client_msg_id}
        )
        if stored is None:  # the index said yes and the read says no: treat as a failed write
            raise
        return Sent(message=stored, created=False)
    await ctx.events.message_new(doc, skip_sid=skip_sid)
    if kind == "note":
        await audit.record(ctx, actor=identity, action="note.create", entity=("ticket", ticket["_id"]),
                           after={"message_id": doc["_id"], "body": body})
    if kind == "message":
        updated = await _touch_ticket(ctx, ticket=ticket, message=doc, identity=identity)
        if updated is not None and updated["status"] != ticket["status"]:
            await ctx.events.ticket_updated(updated)  # reopened by the guest: everyone is told
        elif updated is not None:
            await ctx.events.ticket_activity(updated)
        await _tell_who_is_away(ctx, ticket=ticket, message=doc, identity=identity)
    return Sent(message=doc, created=True)


async def _tell_who_is_away(ctx: Ctx, *, ticket: dict, message: dict, identity: Identity) -> None:
    """Queue an e-mail to a guest who is not in the room when an agent replies, or a
    notification to an assignee who is not in the room when the guest writes. Nothing is
    queued (no write at all) when the other side is there to see it."""
    from . import mail, notifications, presence

    try:
        if identity.is_agent:
            if ticket.get("guest_email") and not await presence.guest_in_ticket_room(ctx, ticket=ticket):
                await mail.enqueue_reply(ctx, ticket=ticket, message=message)
        elif ticket.get("assignee_id") and not await presence.user_in_ticket_room(
                ctx, user_id=str(ticket["assignee_id"]), ticket_id=ticket["_id"]):
            await notifications.enqueue(
                ctx, user_ids=[ticket["assignee_id"]], kind="guest_message", ticket_id=ticket["_id"],
                text=f"{message['sender_name']}: {message['body'][:200]}",
                key=f"message:{message['_id']}")
    except Exception:  # the message is stored and sent; a lost e-mail must not undo that
        log.exception("could not queue follow-up work for message %s", message["_id"])


async def _touch_ticket(ctx: Ctx, *, ticket: dict, message: dict, identity: Identity) -> dict | None:
    """Keep the ticket's activity fields current. The message is already stored and sent, so a
    failure here is logged, not returned to the sender."""
    from .tickets import preview

    at = message["created_at"]
    update: dict = {"last_message_at": at, "updated_at": at, "last_message_preview": preview(message["body"])}
    if identity.is_guest:
        update["last_guest_message_at"] = at
        if ticket["status"] in ("pending", "resolved"):
            update["status"] = "open"  # the guest wrote back: the ball is with the agents again
    else:
        update["last_agent_message_at"] = at
        if ticket.get("first_response_at") is None:
            update["first_response_at"] = at
    try:
        await ctx.db.tickets.update_one({"_id": ticket["_id"]}, {"$set": update})
    except Exception:
        log.exception("could not update ticket %s after message %s", ticket["_id"], message["_id"])
        return None
    return {**ticket, **update}


async def add_system(
    ctx: Ctx, *, ticket: dict, body: str, dedupe_key: str | None = None, internal: bool = False
) -> dict | None:
    """A line written by the server ("Ada joined"). With a dedupe_key it is written at most
    once per ticket; returns None when it already was. An internal line (triage: priority,
    assignment, escalation) is for agents only, like a note: no guest sees or fetches it."""
    try:
        doc = await insert(
            ctx, ticket=ticket, kind="system", sender_role="system", sender_id=None,
            sender_name="System", body=body,
            client_msg_id=f"system:{dedupe_key}" if dedupe_key else None,
            internal=internal,
        )
    except DuplicateKeyError:
        return None
    await ctx.events.message_new(doc)
    return doc


async def history(
    ctx: Ctx,
    *,
    identity: Identity,
    ticket_id: object,
    before: object = None,
    after: object = None,
    limit: object = None,
    ticket: dict | None = None,
) -> HistoryPage:
    """A page of messages, oldest first. No cursor: the newest page. `before`: the page older
    than the cursor. `after`: the messages newer than it (catch-up), with has_more."""
    from . import tickets

    size = validate.limit(limit, default=PAGE_DEFAULT)
    if before not in (None, "") and after not in (None, ""):
        raise Invalid("Give before or after, not both.", field="before")
    if ticket is None:
        ticket = await tickets.get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    query: dict = {"ticket_id": ticket["_id"]}
    if not identity.is_agent:
        query["kind"] = {"$in": GUEST_KINDS}
        query["internal"] = {"$ne": True}

    if after not in (None, ""):
        at, oid = cursors.decode(after, "after")
        query.update(cursors.after("created_at", at, oid))
        docs = await ctx.db.messages.find(query).sort([("created_at", 1), ("_id", 1)]).to_list(size + 1)
        more = len(docs) > size
        docs = docs[:size]
        next_cursor = cursors.encode(docs[-1]["created_at"], docs[-1]["_id"]) if docs else after
        return HistoryPage(messages=docs, next_cursor=next_cursor, has_more=more)

    docs, next_cursor = await cursors.newest_first(
        ctx.db.messages, query, field="created_at", cursor=before, size=size)
    docs.reverse()  # pages are read newest first and shown oldest first
    return HistoryPage(messages=docs, next_cursor=next_cursor, has_more=next_cursor is not None)
