"""Tickets: a guest starts one, agents list, join, change and close them; access rules live here.

Every change of a stored ticket goes through `change()`: decide on the ticket as read,
write it with one atomic update conditional on the version read (app/store/tickets.py),
and hand (before, after, actor) to effects.py. When someone else changed the
ticket in between, it is read again and the decision made again."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bson import ObjectId

from ... import clock
from ...errors import Conflict, Forbidden, Invalid, NotFound, TicketClosed
from ...security import Identity
from ...store import messages as stored_messages
from ...store import tickets as stored
from ...store import users as stored_users
from ..core import Ctx, client, cursors, ratelimit, validate
from . import assignment, effects, guest_context, messages

log = logging.getLogger(__name__)

STATUSES = ("open", "pending", "resolved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
SUBJECT_MAX = 120
PREVIEW_MAX = 140
CHANGE_TRIES = 5
GUEST_TICKETS_MAX = 50


@dataclass
class TicketPage:
    tickets: list[dict]
    next_cursor: str | None


@dataclass
class Plan:
    """What a decision changes: fields to set and fields to remove; `kind` names the change
    for its effects when it is not the caller's (bookkeeping: effects none)."""

    set: dict = field(default_factory=dict)
    unset: tuple[str, ...] = ()
    kind: str | None = None


def preview(body: str) -> str:
    line = " ".join(body.split())
    return line if len(line) <= PREVIEW_MAX else line[: PREVIEW_MAX - 1] + "…"


def escalation_due(ctx: Ctx, at: datetime) -> datetime:
    """When a guest who started waiting at `at` is escalated if nobody answers."""
    return at + timedelta(seconds=ctx.settings.escalate_after)


def ticket_oid(ticket_id: object) -> ObjectId:
    return ticket_id if isinstance(ticket_id, ObjectId) else validate.object_id(ticket_id, "ticket_id")


async def get_accessible(ctx: Ctx, *, identity: Identity, ticket_id: object) -> dict:
    """The ticket, if this caller may see it: agents any ticket, a guest only their own."""
    ticket = await stored.get(ctx.db, ticket_id=ticket_oid(ticket_id))
    if ticket is None:
        raise NotFound("This conversation does not exist.")
    if identity.is_agent or (identity.is_guest and ticket["guest_id"] == identity.id):
        return ticket
    raise Forbidden("This conversation is not yours.")


@dataclass(frozen=True)
class Welcome:
    """What the widget asks of a new conversation, as guests/widget_settings.py decides it
    (the widget's settings, the opening hours): whether an e-mail address is required, and
    the first answer while the team is away."""

    email_required: bool = False
    online: bool = True
    away_line: str | None = None


async def start_by_guest(
    ctx: Ctx, *, guest_id: str, name: object, email: object, body: object, context: object = None,
    welcome: Welcome = Welcome(),
) -> tuple[dict, dict]:
    """Open a ticket with its first message; agents see it appear in their queue. While the
    team is away (opening hours), or when the widget's settings say so, an e-mail address is
    required, and the conversation's first answer is an automatic one saying when the team
    is back (`welcome`)."""
    name = validate.text(name, "name", max_len=80)
    guest_email = validate.optional_email(email)
    body = validate.text(body, "message", max_len=messages.BODY_MAX)
    started_from = guest_context.check(context, user_agent=client.current().user_agent)
    if guest_email is None and welcome.email_required:
        raise Invalid("Please leave your e-mail address so that we can reply."
                      if welcome.online else
                      "We're away right now: leave your e-mail address and we'll reply there.",
                      field="email")
    await ratelimit.hit(ctx, "chat_start_ip", client.current().ip)
    await ratelimit.hit(ctx, "chat_start_guest", guest_id)
    now = clock.utcnow()
    ticket = await stored.insert(ctx.db, ticket={
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
        "waiting_since": now,
        "escalate_at": escalation_due(ctx, now),
        "escalated_at": None,
        "closed_at": None,
        "last_message_preview": preview(body),
        "version": 1,
        "seq": 1,  # the first message's number is taken with the ticket
        "guest_seq": 1,
        "guest_messages": 1,
        "joined": [],  # the agents the guest has been told about ("Ada from support joined")
        "context": started_from,
    })
    try:
        message = await messages.store_first(ctx, ticket=ticket, body=body, at=now)
    except BaseException:
        await stored.delete(ctx.db, ticket_id=ticket["_id"])  # no ticket without its first message
        raise
    await effects.apply(ctx, effects.Change(
        kind="created", after=ticket, message=message,
        details={"away_line": welcome.away_line} if welcome.away_line else {}))
    try:
        ticket = await assignment.offer(ctx, ticket=ticket) or ticket
    except Exception:  # the ticket waits: the next pass over waiting tickets assigns it
        log.exception("could not assign the new ticket %s", ticket["_id"])
    return ticket, message


RELATED_MAX = 20


async def related(ctx: Ctx, *, identity: Identity, ticket_id: object) -> list[dict]:
    """The guest's other conversations, newest first: the same guest (cookie) or the same
    e-mail address. Agents only (a guest id never leaves the server)."""
    if not identity.is_agent:
        raise Forbidden()
    ticket = await get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    return await stored.related(ctx.db, ticket_id=ticket["_id"], guest_id=ticket["guest_id"],
                                guest_email=ticket.get("guest_email"), limit=RELATED_MAX)


async def list_for_guest(ctx: Ctx, *, guest_id: str) -> list[dict]:
    """The guest's conversations: open ones (not closed) first, each group newest first."""
    found = await stored.of_guest(ctx.db, guest_id=guest_id, limit=GUEST_TICKETS_MAX)
    return sorted(found, key=lambda t: t["status"] == "closed")  # stable: newest first within


async def mark_read(ctx: Ctx, *, identity: Identity, ticket_id: object, seq: object) -> None:
    """The guest has seen their conversation up to message number `seq`: the launcher's
    unread badge counts agents' messages after it."""
    if not identity.is_guest:
        return  # agents' reading is not tracked here
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= validate.MAX_SAFE_INTEGER:
        raise Invalid("seq must be a message number.", field="seq")
    ticket = await get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    await stored.mark_read_by_guest(ctx.db, ticket_id=ticket["_id"], guest_id=identity.id, seq=seq)


UNREAD_MAX = 99


async def unread_for_guest(ctx: Ctx, *, guest_id: str) -> int:
    """Agents' messages the guest has not seen, in their conversations that are not closed
    (at most UNREAD_MAX: a badge says 99 at most)."""
    found = await stored.of_guest(ctx.db, guest_id=guest_id, limit=GUEST_TICKETS_MAX)
    positions = [(t["_id"], t.get("guest_read_seq", 0)) for t in found if t["status"] != "closed"]
    return await stored_messages.unread_by_guest(ctx.db, positions=positions, limit=UNREAD_MAX)


async def list_for_agents(
    ctx: Ctx, *, identity: Identity, status: object = None, before: object = None,
    limit: object = None, assignee: object = None, priority: object = None, tag: object = None,
) -> TicketPage:
    """The queue. status: one status, `all`, or `active` (open and pending); assignee: `me`,
    `none` or an agent's id; priority: one priority; tag: tickets carrying this tag."""
    if not identity.is_agent:
        raise Forbidden()
    statuses = None
    if status == "active":
        statuses = ["open", "pending"]
    elif status not in (None, "", "all"):
        statuses = [validate.choice(status, "status", STATUSES)]
    wanted_assignee: object = ...
    if assignee == "me":
        wanted_assignee = ObjectId(identity.id)
    elif assignee == "none":
        wanted_assignee = None
    elif assignee not in (None, "", "all"):
        wanted_assignee = validate.object_id(assignee, "assignee")
    wanted_priority = None
    if priority not in (None, "", "all"):
        wanted_priority = validate.choice(priority, "priority", PRIORITIES)
    wanted_tag = validate.tag(tag, "tag") if tag not in (None, "") else None
    size = validate.limit(limit, default=50)
    docs, more = await stored.queue_page(
        ctx.db, statuses=statuses, assignee=wanted_assignee, priority=wanted_priority,
        tag=wanted_tag, before=cursors.position(before), size=size)
    return TicketPage(tickets=docs, next_cursor=cursors.next_cursor(docs, more, "updated_at"))


# --- changing a ticket ---------------------------------------------------------------------

Decide = Callable[[dict], Plan | None]


async def change(ctx: Ctx, *, ticket: dict, actor: Identity | None, kind: str, decide: Decide,
                 details: dict | None = None) -> dict:
    """Decide on the ticket as read and store the decision atomically, if nobody changed the
    ticket meanwhile; else read it again and decide again. `decide` returns None when there
    is nothing to change (or raises a domain error). Returns the ticket as it is now."""
    ticket, _ = await change_as_planned(ctx, ticket=ticket, actor=actor, kind=kind, decide=decide,
                                        details=details)
    return ticket


async def change_as_planned(ctx: Ctx, *, ticket: dict, actor: Identity | None, kind: str,
                            decide: Decide, details: dict | None = None) -> tuple[dict, Plan | None]:
    """change(), also returning the plan that was stored (None: nothing changed)."""
    for _ in range(CHANGE_TRIES):
        plan = decide(ticket)
        if plan is None:
            return ticket, None
        after = await stored.change(ctx.db, ticket_id=ticket["_id"], version=ticket["version"],
                                    at=clock.utcnow(), set=plan.set, unset=plan.unset)
        if after is not None:
            await effects.apply(ctx, effects.Change(kind=plan.kind or kind, before=ticket, after=after,
                                                    actor=actor, details=details or {}))
            return after, plan
        fresh = await stored.get(ctx.db, ticket_id=ticket["_id"])
        if fresh is None:
            raise NotFound("This conversation does not exist.")
        ticket = fresh
    raise Conflict("This conversation changed at the same moment. Please try again.")


def status_plan(ctx: Ctx, ticket: dict, status: str, now: datetime) -> Plan:
    """What else moves with a new status: closing stamps closed_at and ends any waiting;
    pending starts the auto-resolve clock; reopening clears closed_at and resolved_at (so
    that resolved_at, when present, is when the ticket was last resolved: reports)."""
    plan = Plan(set={"status": status})
    unset: list[str] = []
    if status == "closed":
        plan.set["closed_at"] = now
        unset += ["waiting_since", "escalate_at", "resolve_at"]
    elif status == "resolved":
        plan.set["resolved_at"] = now
        unset += ["waiting_since", "escalate_at", "resolve_at"]
    elif status == "pending":
        plan.set["resolve_at"] = now + timedelta(seconds=ctx.settings.auto_resolve_after)
        unset.append("resolved_at")
    else:
        unset += ["resolve_at", "resolved_at"]
    if ticket.get("status") == "closed" and status != "closed":
        plan.set["closed_at"] = None
    plan.unset = tuple(unset)
    return plan


async def close(ctx: Ctx, *, identity: Identity, ticket_id: object) -> dict:
    if not identity.is_agent:
        raise Forbidden("Only agents can close a conversation.")
    ticket = await get_accessible(ctx, identity=identity, ticket_id=ticket_id)

    def decide(current: dict) -> Plan | None:
        if current["status"] == "closed":
            return None  # already closed: nothing to say twice
        return status_plan(ctx, current, "closed", clock.utcnow())

    return await change(ctx, ticket=ticket, actor=identity, kind="update", decide=decide)


UPDATABLE = ("status", "priority", "assignee_id", "tags", "add_tags", "remove_tags")


async def check_update(ctx: Ctx, *, identity: Identity, changes: object) -> tuple[dict, dict | None]:
    """Validate a change set: returns the wanted values and the new assignee's account."""
    if not identity.is_agent:
        raise Forbidden("Only agents can change a conversation.")
    changes = validate.payload(changes)
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise Invalid(f"{unknown[0]} cannot be changed here.", field=unknown[0])
    if not changes:
        raise Invalid("Give a status, priority, assignee_id or tags to change.")
    wanted: dict = {}
    # tags: the whole list; add_tags / remove_tags: a change to the list as it is when
    # stored, so that two agents tagging at once both keep their tag.
    if "tags" in changes and ("add_tags" in changes or "remove_tags" in changes):
        raise Invalid("Give tags, or add_tags and remove_tags, not both.", field="tags")
    for name in ("tags", "add_tags", "remove_tags"):
        if name in changes:
            wanted[name] = validate.tags(changes[name], name)
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
            assignee = await stored_users.by_id(ctx.db, user_id=oid)
            if (assignee is None or not assignee.get("active", True)
                    or assignee["role"] not in stored_users.ROLES_ASSIGNED):
                raise Invalid("assignee_id is not an active agent.", field="assignee_id")
            wanted["assignee_id"] = oid
    return wanted, assignee


async def update(ctx: Ctx, *, identity: Identity, ticket_id: object, changes: object) -> dict:
    """Change a ticket's status, priority and assignee, in one atomic update: said in the
    conversation, sent as ticket:updated, audited, and the people concerned notified."""
    wanted, assignee = await check_update(ctx, identity=identity, changes=changes)
    ticket = await get_accessible(ctx, identity=identity, ticket_id=ticket_id)

    def decide(current: dict) -> Plan | None:
        diff = {k: v for k, v in wanted.items() if k in ("status", "priority", "assignee_id")
                and current.get(k) != v}
        tags = _tags_after(current.get("tags") or [], wanted)
        if tags is not None and tags != (current.get("tags") or []):
            if len(tags) > validate.TAGS_MAX:
                raise Invalid(f"A ticket has at most {validate.TAGS_MAX} tags.", field="tags")
            diff["tags"] = tags
        if not diff:
            return None
        plan = Plan(set=dict(diff))
        joined = current.get("joined") or []
        if diff.get("assignee_id") is not None and str(diff["assignee_id"]) not in joined:
            plan.set["joined"] = [*joined, str(diff["assignee_id"])]  # the guest is told
        if "status" in diff:
            moved = status_plan(ctx, current, diff["status"], clock.utcnow())
            plan.set.update(moved.set)
            plan.unset = moved.unset
        return plan

    return await change(ctx, ticket=ticket, actor=identity, kind="update", decide=decide,
                        details={"assignee": assignee})


# --- search ------------------------------------------------------------------------------

SEARCH_MIN, SEARCH_MAX = 2, 100
SNIPPET_CHARS = 160


@dataclass
class SearchHit:
    ticket: dict
    field: str  # where the text was found: message, note, subject, guest_name, guest_email, tag
    snippet: str  # the text around it


@dataclass
class SearchPage:
    hits: list[SearchHit]
    next_cursor: str | None


async def search(ctx: Ctx, *, identity: Identity, text: object, before: object = None,
                 limit: object = None) -> SearchPage:
    """Tickets by guest name, e-mail, subject, tag or message text, most recently updated
    first, each with the snippet that matched: agents only. What is typed is searched as
    text, never read as a pattern or an operator."""
    if not identity.is_agent:
        raise Forbidden()
    if not isinstance(text, str) or len(text.strip()) < SEARCH_MIN:
        raise Invalid(f"Type at least {SEARCH_MIN} characters to search.", field="q")
    text = validate.text(text, "q", max_len=SEARCH_MAX)
    size = validate.limit(limit, default=20, maximum=50)
    docs, found_in, more = await stored.search_page(ctx.db, text=text, before=cursors.position(before),
                                                    size=size)
    hits = [_hit(ticket, found_in.get(ticket["_id"]), text) for ticket in docs]
    return SearchPage(hits=hits, next_cursor=cursors.next_cursor(docs, more, "updated_at"))


def _hit(ticket: dict, message: dict | None, text: str) -> SearchHit:
    """Where the text shows best: a field of the ticket that holds it, else the message."""
    fields = [("guest_name", ticket.get("guest_name")), ("guest_email", ticket.get("guest_email")),
              ("subject", ticket.get("subject"))] + [("tag", t) for t in ticket.get("tags") or []]
    for name, value in fields:
        if value and _position(value, text) is not None:
            return SearchHit(ticket=ticket, field=name, snippet=value)
    if message is not None:
        return SearchHit(ticket=ticket, field=message.get("kind", "message"),
                         snippet=snippet(message["body"], text))
    return SearchHit(ticket=ticket, field="subject", snippet=ticket.get("subject", ""))


def _position(value: str, text: str) -> int | None:
    """Where the text starts in value, ignoring case (whitespace runs count as one space)."""
    found = " ".join(value.split()).casefold().find(" ".join(text.split()).casefold())
    return None if found < 0 else found


def snippet(body: str, text: str, width: int = SNIPPET_CHARS) -> str:
    """The part of a message around the first place the text appears, on one line."""
    line = " ".join(body.split())
    at = _position(line, text)
    if at is None:  # found word by word (a text index), not as typed: show the start
        return preview(line) if len(line) > width else line
    start = max(0, at - width // 3)
    end = min(len(line), start + width)
    start = max(0, end - width)
    return ("…" if start else "") + line[start:end].strip() + ("…" if end < len(line) else "")


def _tags_after(current: list[str], wanted: dict) -> list[str] | None:
    """The ticket's tags after this change (None: the change is not about tags)."""
    if "tags" in wanted:
        return wanted["tags"]
    if "add_tags" not in wanted and "remove_tags" not in wanted:
        return None
    removed = set(wanted.get("remove_tags", []))
    kept = [t for t in current if t not in removed]
    return kept + [t for t in wanted.get("add_tags", []) if t not in kept and t not in removed]


TAG_SUGGESTIONS_MAX = 500


async def known_tags(ctx: Ctx, *, identity: Identity) -> list[str]:
    """The tags in use on any ticket, for suggestions: agents only."""
    if not identity.is_agent:
        raise Forbidden()
    return await stored.tags_in_use(ctx.db, limit=TAG_SUGGESTIONS_MAX)


# --- being in a ticket ---------------------------------------------------------------------


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
    falls into the gap between the two. Opening a conversation says nothing to the guest:
    an agent is announced when they first reply or are assigned (lines.py)."""
    limit = validate.limit(limit, default=messages.PAGE_DEFAULT)
    ticket = await get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    await subscribe(ticket)
    page = await messages.history(ctx, identity=identity, ticket_id=None, ticket=ticket, limit=limit)
    return Joined(ticket=ticket, page=page)


async def typing(
    ctx: Ctx, *, identity: Identity, ticket_id: object, typing: object, skip_sid: str | None,
    note: object = None,
) -> None:
    """Tell the others in the room that this caller is (or stopped) typing. Over the typing
    limit the event is dropped without a word: it is a hint, not a message. `note`: an
    agent writing an internal note, which only the other agents hear of.

    An agent's typing reads nothing from the database (agents may be in any ticket: the
    room is the ticket's, or nobody's); a guest's is checked against their ticket."""
    is_typing = validate.boolean(typing, "typing")
    is_note = validate.boolean(note, "note") if note is not None else False
    if is_note and not identity.is_agent:
        raise Forbidden("Only agents write internal notes.")
    oid = ticket_oid(ticket_id)
    if not await ratelimit.allow(ctx, "typing", f"{identity.role}:{identity.id}:{oid}"):
        return
    if identity.is_guest:
        ticket = await get_accessible(ctx, identity=identity, ticket_id=oid)
        if ticket["status"] == "closed":
            raise TicketClosed()
        name = ticket["guest_name"]
    else:
        name = identity.name
    payload = {
        "ticket_id": str(oid),
        "name": name,
        "role": "guest" if identity.is_guest else "agent",
        "typing": is_typing,
    }
    if is_note:
        await ctx.events.typing_staff({**payload, "note": True}, ticket_id=oid, skip_sid=skip_sid)
    else:
        await ctx.events.typing(payload, ticket_id=oid, skip_sid=skip_sid)
