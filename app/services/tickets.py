"""Tickets: a guest starts one, agents list, join and close them; access rules live here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bson import ObjectId
from pymongo import ReturnDocument

from .. import clock
from ..errors import Conflict, Forbidden, Invalid, NotFound, TicketClosed
from ..security import Identity
from . import audit, client, cursors, messages, notifications, ratelimit, users, validate
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
    ctx: Ctx, *, identity: Identity, status: object = None, before: object = None,
    limit: object = None, assignee: object = None, priority: object = None,
) -> TicketPage:
    """The queue. status: one status, `all`, or `active` (open and pending); assignee: `me`,
    `none` or an agent's id; priority: one priority."""
    if not identity.is_agent:
        raise Forbidden()
    query: dict = {}
    if status == "active":
        query["status"] = {"$in": ["open", "pending"]}
    elif status not in (None, "", "all"):
        query["status"] = validate.choice(status, "status", STATUSES)
    if assignee == "me":
        query["assignee_id"] = ObjectId(identity.id)
    elif assignee == "none":
        query["assignee_id"] = None
    elif assignee not in (None, "", "all"):
        query["assignee_id"] = validate.object_id(assignee, "assignee")
    if priority not in (None, "", "all"):
        query["priority"] = validate.choice(priority, "priority", PRIORITIES)
    size = validate.limit(limit, default=50)
    docs, next_cursor = await cursors.newest_first(
        ctx.db.tickets, query, field="updated_at", cursor=before, size=size)
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
    line = await messages.add_system(ctx, ticket=closed, body=f"{identity.name} closed the conversation")
    await ctx.events.ticket_updated(closed)
    await audit.record(ctx, actor=identity, action="ticket.close", entity=("ticket", closed["_id"]),
                       before={"status": ticket["status"]}, after={"status": "closed"})
    await _notify_assignee(ctx, identity=identity, ticket=closed, kind="status", line=line,
                           text=f"{identity.name} closed “{closed.get('subject', '')}”")
    return closed


UPDATABLE = ("status", "priority", "assignee_id")
UPDATE_TRIES = 3


async def check_update(ctx: Ctx, *, identity: Identity, changes: object) -> tuple[dict, dict | None]:
    """Validate a change set: returns the wanted values and the new assignee's account."""
    if not identity.is_agent:
        raise Forbidden("Only agents can change a conversation.")
    changes = validate.payload(changes)
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise Invalid(f"{unknown[0]} cannot be changed here.", field=unknown[0])
    if not changes:
        raise Invalid("Give a status, priority or assignee_id to change.")
    wanted: dict = {}
    if "status" in changes:
        wanted["status"] = validate.choice(changes["status"], "status", STATUSES)
    if "priority" in changes:
        wanted["priority"] = validate.choice(changes["priority"], "priority", PRIORITIES)
    assignee = None
    if "assignee_id" in changes:
        if changes["assignee_id"] is None:
            wanted["assignee_id"] = None
        else:
            oid = validate.object_id(changes["assignee_id"], "assignee_id")
            assignee = await ctx.db.users.find_one(
                {"_id": oid, "active": True, "role": {"$in": list(users.ROLES)}})
            if assignee is None:
                raise Invalid("assignee_id is not an active agent.", field="assignee_id")
            wanted["assignee_id"] = oid
    return wanted, assignee


async def update(ctx: Ctx, *, identity: Identity, ticket_id: object, changes: object) -> dict:
    """Change a ticket's status, priority and assignee. Each real change is written as one
    conditional update (on the values it replaces), then said in the conversation, sent as
    ticket:updated, and the people concerned are notified. Closing goes through close()."""
    wanted, assignee = await check_update(ctx, identity=identity, changes=changes)
    ticket = await get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    closing = wanted.get("status") == "closed"
    fields = {k: v for k, v in wanted.items() if not (k == "status" and closing)}
    before, diff = ticket, {}
    for _ in range(UPDATE_TRIES):
        diff = {k: v for k, v in fields.items() if ticket.get(k) != v}
        if not diff:
            break
        now = clock.utcnow()
        update_set = {**diff, "updated_at": now}
        if "status" in diff and ticket["status"] == "closed":
            update_set["closed_at"] = None  # reopened
        updated = await ctx.db.tickets.find_one_and_update(
            {"_id": ticket["_id"], **{k: ticket.get(k) for k in diff}},
            {"$set": update_set},
            return_document=ReturnDocument.AFTER,
        )
        if updated is not None:
            before, ticket = ticket, updated
            break
        ticket = await get_accessible(ctx, identity=identity, ticket_id=ticket["_id"])
    else:
        raise Conflict("This conversation changed at the same moment. Please try again.")
    if diff:
        await _announce(ctx, identity=identity, before=before, ticket=ticket, diff=diff,
                        assignee=assignee)
    if closing:
        ticket = await close(ctx, identity=identity, ticket_id=ticket["_id"])
    return ticket


async def _announce(ctx: Ctx, *, identity: Identity, before: dict, ticket: dict, diff: dict,
                    assignee: dict | None) -> None:
    """After an update: the audit event, one system line per change, ticket:updated,
    notifications."""
    await audit.record(
        ctx, actor=identity, action="ticket.update", entity=("ticket", ticket["_id"]),
        before={k: before.get(k) for k in diff}, after=dict(diff),
    )
    actor, subject = identity.name, ticket.get("subject", "")
    if "assignee_id" in diff:
        old_id = before.get("assignee_id")
        if diff["assignee_id"] is None:
            old = await users.get_user(ctx.db, user_id=str(old_id)) if old_id else None
            line = await messages.add_system(
                ctx, ticket=ticket,
                body=f"{actor} unassigned {old['name']}" if old else f"{actor} removed the assignee",
                internal=True)
        else:
            target = "themselves" if str(diff["assignee_id"]) == identity.id else assignee["name"]
            line = await messages.add_system(ctx, ticket=ticket, body=f"{actor} assigned this to {target}",
                                             internal=True)
            if str(diff["assignee_id"]) != identity.id:
                await notifications.enqueue(
                    ctx, user_ids=[diff["assignee_id"]], kind="assigned", ticket_id=ticket["_id"],
                    text=f"{actor} assigned “{subject}” to you", key=f"line:{line['_id']}")
        if old_id and str(old_id) != identity.id:
            await notifications.enqueue(
                ctx, user_ids=[old_id], kind="unassigned", ticket_id=ticket["_id"],
                text=f"{actor} took “{subject}” off your queue", key=f"line:{line['_id']}:old")
    if "priority" in diff:
        await messages.add_system(ctx, ticket=ticket, body=f"{actor} set priority to {diff['priority']}",
                                  internal=True)
    if "status" in diff:
        line = await messages.add_system(ctx, ticket=ticket, body=f"{actor} marked this {diff['status']}")
        await _notify_assignee(ctx, identity=identity, ticket=ticket, kind="status", line=line,
                               text=f"{actor} marked “{subject}” {diff['status']}")
    await ctx.events.ticket_updated(ticket)


async def _notify_assignee(ctx: Ctx, *, identity: Identity, ticket: dict, kind: str,
                           line: dict | None, text: str) -> None:
    """Tell the ticket's assignee about a change someone else made."""
    assignee_id = ticket.get("assignee_id")
    if not assignee_id or str(assignee_id) == identity.id or line is None:
        return
    await notifications.enqueue(ctx, user_ids=[assignee_id], kind=kind, ticket_id=ticket["_id"],
                                text=text, key=f"line:{line['_id']}")
