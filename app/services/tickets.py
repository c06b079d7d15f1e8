"""Tickets: a guest starts one, agents list, join and close them; access rules live here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bson import ObjectId
from pymongo import ReturnDocument

from .. import clock
from ..errors import Forbidden, NotFound, TicketClosed
from ..security import Identity
from . import audit, client, cursors, messages, ratelimit, validate
from .context import Ctx

STATUSES = ("open", "pending", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
SUBJECT_MAX = 120
PREVIEW_MAX = 140


@dataclass
class TicketPage:
    tickets: list[dict]
    next_cursor: str | None


def preview(body: str) -> str:
    line = " ".join(body.split())
    return line if len(line) <= PREVIEW_MAX else line[: PREVIEW_MAX - 1] + "…"


async def get_accessible(ctx: Ctx, *, identity: Identity, ticket_id: object) -> dict:
    """The ticket, if this caller may see it: agents any ticket, a guest only their own."""
    oid = ticket_id if isinstance(ticket_id, ObjectId) else validate.object_id(ticket_id, "ticket_id")
    ticket = await ctx.db.tickets.find_one({"_id": oid})
    if ticket is None:
        raise NotFound("This conversation does not exist.")
    if identity.is_agent or (identity.is_guest and ticket["guest_id"] == identity.id):
        return ticket
    raise Forbidden("This conversation is not yours.")


async def start_by_guest(
    ctx: Ctx, *, guest_id: str, name: object, email: object, body: object
) -> tuple[dict, dict]:
    """Open a ticket with its first message; agents see it appear in their queue."""
    name = validate.text(name, "name", max_len=80)
    guest_email = validate.optional_email(email)
    body = validate.text(body, "message", max_len=messages.BODY_MAX)
    await ratelimit.hit(ctx, "chat_start_ip", client.current().ip)
    await ratelimit.hit(ctx, "chat_start_guest", guest_id)
    now = clock.utcnow()
    ticket = {
        "guest_id": guest_id,
        "guest_name": name,
        "guest_email": guest_email,
        "subject": preview(body)[:SUBJECT_MAX],
        "status": "open",
        "priority": "normal",
        "assignee_id": None,
        "tags": [],
        "created_at": now,
        "updated_at": now,
        "last_message_at": now,
        "last_guest_message_at": now,
        "first_response_at": None,
        "escalated_at": None,
        "closed_at": None,
        "last_message_preview": preview(body),
    }
    ticket["_id"] = (await ctx.db.tickets.insert_one(ticket)).inserted_id
    try:
        message = await messages.insert(
            ctx,
            ticket=ticket,
            kind="message",
            sender_role="guest",
            sender_id=guest_id,
            sender_name=name,
            body=body,
            client_msg_id=None,
            at=now,
        )
    except BaseException:
        # No ticket without its first message.
        await ctx.db.tickets.delete_one({"_id": ticket["_id"]})
        raise
    await ctx.events.ticket_updated(ticket, to_guest=False)
    await audit.record(
        ctx, actor=audit.guest_actor(guest_id, name), action="ticket.create",
        entity=("ticket", ticket["_id"]),
        after={k: ticket[k] for k in ("subject", "status", "priority", "guest_name", "guest_email")},
    )
    return ticket, message


async def list_for_guest(ctx: Ctx, *, guest_id: str) -> list[dict]:
    return await ctx.db.tickets.find({"guest_id": guest_id}).sort(
        [("created_at", -1), ("_id", -1)]
    ).to_list(50)


async def list_for_agents(
    ctx: Ctx, *, identity: Identity, status: object = None, before: object = None, limit: object = None
) -> TicketPage:
    if not identity.is_agent:
        raise Forbidden()
    query: dict = {}
    if status not in (None, "", "all"):
        query["status"] = validate.choice(status, "status", STATUSES)
    if before not in (None, ""):
        at, oid = cursors.decode(before, "before")
        query.update(cursors.before("updated_at", at, oid))
    size = validate.limit(limit, default=50)
    docs = await ctx.db.tickets.find(query).sort([("updated_at", -1), ("_id", -1)]).to_list(size + 1)
    more = len(docs) > size
    docs = docs[:size]
    next_cursor = cursors.encode(docs[-1]["updated_at"], docs[-1]["_id"]) if more else None
    return TicketPage(tickets=docs, next_cursor=next_cursor)


@dataclass
class Joined:
    ticket: dict
    page: messages.HistoryPage


async def join(
    ctx: Ctx,
    *,
    identity: Identity,
    ticket_id: object,
    subscribe: Callable[[dict], Awaitable[None]],
    limit: object = None,
) -> Joined:
    """Enter a ticket's room and read its newest page, in that order, so that no message
    falls into the gap between the two. The first time an agent joins, the conversation
    says so, once: a reconnect does not repeat it."""
    limit = validate.limit(limit, default=messages.PAGE_DEFAULT)
    ticket = await get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    await subscribe(ticket)
    if identity.is_agent and ticket["status"] != "closed":
        await messages.add_system(
            ctx, ticket=ticket, body=f"{identity.name} joined the conversation",
            dedupe_key=f"join:{identity.id}",
        )
    page = await messages.history(ctx, identity=identity, ticket_id=None, ticket=ticket, limit=limit)
    return Joined(ticket=ticket, page=page)


async def typing(
    ctx: Ctx, *, identity: Identity, ticket_id: object, typing: object, skip_sid: str | None
) -> None:
    """Tell the others in the room that this caller is (or stopped) typing."""
    is_typing = validate.boolean(typing, "typing")
    ticket = await get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    if ticket["status"] == "closed":
        raise TicketClosed()
    name = ticket["guest_name"] if identity.is_guest else identity.name
    payload = {
        "ticket_id": str(ticket["_id"]),
        "name": name,
        "role": "guest" if identity.is_guest else "agent",
        "typing": is_typing,
    }
    await ctx.events.typing(payload, ticket_id=ticket["_id"], skip_sid=skip_sid)


async def close(ctx: Ctx, *, identity: Identity, ticket_id: object) -> dict:
    if not identity.is_agent:
        raise Forbidden("Only agents can close a conversation.")
    ticket = await get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    now = clock.utcnow()
    closed = await ctx.db.tickets.find_one_and_update(
        {"_id": ticket["_id"], "status": {"$ne": "closed"}},
        {"$set": {"status": "closed", "closed_at": now, "updated_at": now}},
        return_document=ReturnDocument.AFTER,
    )
    if closed is None:  # already closed: nothing to say twice
        return ticket
    await messages.add_system(ctx, ticket=closed, body=f"{identity.name} closed the conversation")
    await ctx.events.ticket_updated(closed)
    await audit.record(ctx, actor=identity, action="ticket.close", entity=("ticket", closed["_id"]),
                       before={"status": ticket["status"]}, after={"status": "closed"})
    return closed
