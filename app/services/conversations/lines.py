"""The system lines a ticket change writes in the conversation ("Ada closed the
conversation", "Alan from support joined"): a listener of effects.py.

A line is numbered and stored like a message, then handed to the listeners as a change of
its own (kind "line"), so that it is sent and announced like one."""

from __future__ import annotations

import logging
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from ... import clock
from ...store import messages as stored_messages
from ...store import tickets as stored_tickets
from ...store import users as stored_users
from ..core import Ctx
from .effects import Change, apply, duration

log = logging.getLogger(__name__)


async def on_change(ctx: Ctx, change: Change) -> None:
    write = _BY_KIND.get(change.kind)
    if write is not None:
        await write(ctx, change)


async def _created(ctx: Ctx, change: Change) -> None:
    """Started while the team is away: the first answer says when it is back."""
    away_line = change.details.get("away_line")
    if away_line:
        await write_line(ctx, ticket=change.after, key="away", body=away_line)


async def _message(ctx: Ctx, change: Change) -> None:
    ticket, message, actor = change.after, change.posted, change.person
    if _newly_joined(change, actor.id if actor.is_agent else None):
        # The agent's first reply took two numbers: the one below it is for this line.
        await write_line(ctx, ticket=ticket, body=joined_line(actor.name),
                         key=f"announce:{actor.id}",
                         numbers={"seq": message["seq"] - 1, "guest_seq": message["guest_seq"] - 1})


def joined_line(name: str) -> str:
    """What a guest reads when an agent first replies or is assigned: plain words."""
    return f"{name} from support joined"


def _newly_joined(change: Change, agent_id: str | None) -> bool:
    """Whether this change added the agent to the ticket's `joined` (the agents the guest
    has been told about): true once per agent and ticket, whichever change it was."""
    if agent_id is None:
        return False
    before = (change.before or {}).get("joined") or []
    return agent_id in (change.after.get("joined") or []) and agent_id not in before


async def _user(ctx: Ctx, user_id: Any) -> dict | None:
    if not user_id or not ObjectId.is_valid(str(user_id)):
        return None
    return await stored_users.by_id(ctx.db, user_id=ObjectId(str(user_id)))


async def _update(ctx: Ctx, change: Change) -> None:
    """Status (close, reopen), priority, assignee and tags, as an agent changed them."""
    before, ticket, name = change.before or {}, change.after, change.person.name
    diff = change.diff()
    if "assignee_id" in diff:
        await _assignment(ctx, change, diff["assignee_id"])
    if "priority" in diff:
        await write_line(ctx, ticket=ticket, body=f"{name} set priority to {diff['priority']}",
                         internal=True)
    if "tags" in diff:
        await write_line(ctx, ticket=ticket, internal=True, body=_tags_line(name, before, ticket))
    if "status" in diff:  # last: "closed" is the conversation's last line
        # The guest reads that the conversation ended or goes on; the team's triage words
        # (pending, resolved) stay internal.
        internal = False
        if diff["status"] == "closed":
            body = f"{name} closed the conversation"
        elif before.get("status") == "closed":
            body = f"{name} reopened the conversation"
        else:
            body, internal = f"{name} marked this {diff['status']}", True
        await write_line(ctx, ticket=ticket, body=body, internal=internal)


async def _assignment(ctx: Ctx, change: Change, new_id: ObjectId | None) -> None:
    before, ticket, actor = change.before or {}, change.after, change.person
    if new_id is None:
        old = await _user(ctx, before.get("assignee_id"))
        body = f"{actor.name} unassigned {old['name']}" if old else f"{actor.name} removed the assignee"
    else:
        assignee = change.details.get("assignee") or await _user(ctx, new_id)
        target = "themselves" if str(new_id) == actor.id else (assignee or {}).get("name", "someone")
        body = f"{actor.name} assigned this to {target}"
    await write_line(ctx, ticket=ticket, body=body, internal=True)
    if new_id is not None and _newly_joined(change, str(new_id)):
        assignee = change.details.get("assignee") or await _user(ctx, new_id)
        if assignee:
            await write_line(ctx, ticket=ticket, body=joined_line(assignee["name"]),
                             key=f"announce:{new_id}")


def _tags_line(name: str, before: dict, after: dict) -> str:
    old, new = set(before.get("tags") or []), set(after.get("tags") or [])
    parts = []
    if new - old:
        parts.append("added " + ", ".join(sorted(new - old)))
    if old - new:
        parts.append("removed " + ", ".join(sorted(old - new)))
    return f"{name} {' and '.join(parts)} (tags)"


async def _auto_assign(ctx: Ctx, change: Change) -> None:
    """Auto-assignment gave the ticket to an agent (ASSIGNMENT=round_robin): an internal
    line, and the guest told who joined."""
    ticket = change.after
    assignee = change.details.get("assignee") or await _user(ctx, ticket["assignee_id"])
    name = (assignee or {}).get("name", "someone")
    await write_line(ctx, ticket=ticket, body=f"Assigned to {name} automatically", internal=True)
    if _newly_joined(change, str(ticket["assignee_id"])):
        await write_line(ctx, ticket=ticket, body=joined_line(name), key=f"announce:{ticket['assignee_id']}")


async def _escalate(ctx: Ctx, change: Change) -> None:
    """The escalation sweep raised the ticket's priority: an internal line, once per level."""
    ticket = change.after
    waited = duration(change.details.get("waited", 0))
    await write_line(ctx, ticket=ticket, key=f"escalate:{ticket['escalation_level']}", internal=True,
                     body=f"No answer for {waited}: escalated, priority {ticket['priority']}")


async def _auto_resolve(ctx: Ctx, change: Change) -> None:
    waited = duration(ctx.settings.auto_resolve_after)
    await write_line(ctx, ticket=change.after, body=f"No reply for {waited}: marked resolved",
                     internal=True)


async def _csat(ctx: Ctx, change: Change) -> None:
    """The guest rated the closed conversation (or changed their rating): agents see it as
    an internal line."""
    before, ticket = change.before or {}, change.after
    rating = ticket["csat"]
    comment = f": “{rating['comment']}”" if rating.get("comment") else ""
    verb = "changed their rating to" if before.get("csat") else "rated this conversation"
    await write_line(ctx, ticket=ticket, internal=True,
                     body=f"{ticket.get('guest_name') or 'The guest'} {verb} {rating['rating']}/5{comment}")


_BY_KIND = {
    "created": _created,
    "message": _message,
    "update": _update,
    "auto_assign": _auto_assign,
    "escalate": _escalate,
    "auto_resolve": _auto_resolve,
    "csat": _csat,
}


async def write_line(ctx: Ctx, *, ticket: dict, body: str, key: str | None = None,
                     internal: bool = False, numbers: dict | None = None) -> dict | None:
    """A line written by the server ("Ada closed the conversation"), numbered like every
    message and sent like one. With a key it is written at most once per ticket (None when
    it was). An internal line (triage: priority, assignment, escalation, tags) is for agents
    only, like a note: no guest sees or fetches it. `numbers`: the seq and guest_seq taken
    for it already (by the change that made it); else it takes the next ones."""
    try:
        if key is not None and await stored_messages.by_system_key(
                ctx.db, ticket_id=ticket["_id"], system_key=key):
            return None
        if numbers is None:
            numbers = await stored_tickets.take_seq(ctx.db, ticket_id=ticket["_id"],
                                                    guest_visible=not internal, unless_closed=False)
        if numbers is None:
            return None  # the ticket is gone
        line: dict[str, Any] = {
            "ticket_id": ticket["_id"], "kind": "system", "sender_role": "system", "sender_id": None,
            "sender_name": "System", "body": body, "created_at": clock.utcnow(),
            "seq": numbers["seq"],
        }
        if not internal:
            line["guest_seq"] = numbers["guest_seq"]
        else:
            line["internal"] = True
        if key is not None:
            line["system_key"] = key
        try:
            await stored_messages.insert(ctx.db, message=line)
        except DuplicateKeyError:
            return None  # the same line, written at the same moment by another process
        ctx.metrics.message_stored("system")
        await apply(ctx, Change(kind="line", after=ticket, message=line))
        return line
    except Exception:
        log.exception("could not write the line %r in ticket %s", body, ticket["_id"])
        return None
