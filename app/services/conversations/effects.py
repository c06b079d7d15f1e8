"""The one place that turns a ticket change into its effects.

A service changes a ticket with one atomic update and hands the result here as a `Change`:
the ticket before and after that update and who made it. `apply` derives everything that
follows from that pair: the system lines in the conversation, the audit event, the
notifications and e-mails, the socket events (from the returned document, never from
an earlier read), and the webhook events (`_announce`). A new kind of change is a new case
here.

Effects run after the change is stored; one that fails is logged and the others still run
(the change itself stands, and the audit trail has its own retry)."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from ... import clock
from ...security import Identity
from ...store import messages as stored_messages
from ...store import tickets as stored_tickets
from ...store import users as stored_users
from ..core.context import Ctx
from ..operations import audit, mail, notifications, webhooks
from . import payloads

log = logging.getLogger(__name__)

# The fields whose change is a change of the ticket itself (the rest is bookkeeping).
TRACKED = ("status", "priority", "assignee_id", "tags")


@dataclass(frozen=True)
class Change:
    """One atomic change of a ticket.

    kind: created, message, note, update (status, priority, assignee, tags, close, reopen),
    auto_assign, escalate, auto_resolve, erase (a guest's data removed, services/privacy.py),
    csat (a satisfaction rating: details["csat"] = {rating, comment, submitted_at}).
    actor: who did it (None: the system)."""

    kind: str
    after: dict
    before: dict | None = None
    actor: Identity | None = None
    message: dict | None = None  # the message or note that made it
    details: dict = field(default_factory=dict)  # what the kind needs to be described
    skip_sid: str | None = None  # the socket that made it: it has its answer already

    def diff(self) -> dict:
        """The tracked fields that differ, with their new values."""
        before = self.before or {}
        return {k: self.after.get(k) for k in TRACKED if before.get(k) != self.after.get(k)}


async def apply(ctx: Ctx, change: Change) -> None:
    handler = _HANDLERS[change.kind]
    await _guarded(_workload(ctx, change), f"open counts of ticket {change.after.get('_id')}")
    await handler(ctx, change)
    await _guarded(_announce(ctx, change), f"webhooks of a {change.kind} change")


async def _workload(ctx: Ctx, change: Change) -> None:
    """Keep each agent's open_count (the open and pending tickets assigned to them, which
    auto-assignment weighs against their capacity) from what this change did: a ticket that
    leaves an agent (closed, resolved, reassigned) frees a slot, one that comes to them
    takes one, unless auto-assignment took it already (details["reserved"]). A freed slot
    goes to the next ticket waiting for an agent (services/assignment.py)."""
    if change.before is None or change.kind == "note":  # a note changes nothing of the ticket
        return
    new = _holder(change.after)
    if change.kind == "message":
        # A message moves only the status (a guest reopening): its update was conditional
        # on the status read, not on the assignee, which may have changed meanwhile (and
        # counted then). The assignee before is the one after.
        old = new if change.before.get("status") in stored_tickets.HOLDING else None
        if new is None:
            return
    else:  # change(): conditional on the version read, so `before` is what was replaced
        old = _holder(change.before)
    if old == new:
        return
    if new is not None and change.details.get("reserved") != new:
        await stored_users.count_open(ctx.db, user_id=new, delta=1)
    if old is not None:
        await stored_users.count_open(ctx.db, user_id=old, delta=-1)
        from . import assignment

        assignment.soon(ctx)


def _holder(ticket: dict) -> ObjectId | None:
    """The agent whose slot this ticket takes, if any."""
    return ticket.get("assignee_id") if ticket.get("status") in stored_tickets.HOLDING else None


# --- the kinds ---------------------------------------------------------------------------


async def _created(ctx: Ctx, change: Change) -> None:
    from ..guests import availability

    ticket = change.after
    await _guarded(ctx.events.ticket_updated(ticket, to_guest=False), "ticket:updated")
    away = change.details.get("away")
    if away:  # started while the team is away: the first answer says when it is back
        await write_line(ctx, ticket=ticket, key="away",
                         body=availability.away_line(away["back_at"], away["timezone"]))
    await audit.record(
        ctx, actor=audit.guest_actor(ticket["guest_id"], ticket.get("guest_name", "")),
        action="ticket.create", entity=("ticket", ticket["_id"]),
        after={k: ticket.get(k) for k in ("subject", "status", "priority", "guest_name", "guest_email")},
    )


async def _message(ctx: Ctx, change: Change) -> None:
    ticket, message = change.after, change.message
    if _newly_joined(change, change.actor.id if change.actor.is_agent else None):
        # The agent's first reply took two numbers: the one below it is for this line.
        await write_line(ctx, ticket=ticket, body=_joined_line(change.actor.name),
                         key=f"announce:{change.actor.id}",
                         numbers={"seq": message["seq"] - 1, "guest_seq": message["guest_seq"] - 1})
    await _guarded(ctx.events.message_new(message, skip_sid=change.skip_sid), "message:new")
    if change.before is not None and change.before["status"] != ticket["status"]:
        await _guarded(ctx.events.ticket_updated(ticket), "ticket:updated")  # reopened by the guest
    else:
        await _guarded(ctx.events.ticket_activity(ticket), "ticket:updated")
    await _guarded(_tell_who_is_away(ctx, ticket=ticket, message=message, actor=change.actor),
                   f"follow-up of message {message['_id']}")


async def _note(ctx: Ctx, change: Change) -> None:
    message = change.message
    await _guarded(ctx.events.message_new(message, skip_sid=change.skip_sid), "message:new")
    await audit.record(ctx, actor=change.actor, action="note.create",
                       entity=("ticket", message["ticket_id"]),
                       after={"message_id": message["_id"], "body": message["body"]})


def _joined_line(name: str) -> str:
    """What a guest reads when an agent first replies or is assigned: plain words."""
    return f"{name} from support joined"


def _newly_joined(change: Change, agent_id: str | None) -> bool:
    """Whether this change added the agent to the ticket's `joined` (the agents the guest
    has been told about): true once per agent and ticket, whichever change it was."""
    if agent_id is None:
        return False
    before = (change.before or {}).get("joined") or []
    return agent_id in (change.after.get("joined") or []) and agent_id not in before


async def _update(ctx: Ctx, change: Change) -> None:
    """Status (close, reopen), priority, assignee and tags, as an agent changed them."""
    before, ticket, actor = change.before or {}, change.after, change.actor
    diff = change.diff()
    if not diff:
        return
    name, subject = actor.name, ticket.get("subject", "")
    closing = diff.get("status") == "closed"
    if "assignee_id" in diff:
        await _assignment(ctx, change, diff["assignee_id"])
    if "priority" in diff:
        await write_line(ctx, ticket=ticket, body=f"{name} set priority to {diff['priority']}",
                         internal=True)
    if "tags" in diff:
        await write_line(ctx, ticket=ticket, internal=True, body=_tags_line(name, before, ticket))
    status_line = None
    if "status" in diff:  # last: "closed" is the conversation's last line
        # The guest reads that the conversation ended or goes on; the team's triage words
        # (pending, resolved) stay internal.
        internal = False
        if closing:
            body = f"{name} closed the conversation"
        elif before.get("status") == "closed":
            body = f"{name} reopened the conversation"
        else:
            body, internal = f"{name} marked this {diff['status']}", True
        status_line = await write_line(ctx, ticket=ticket, body=body, internal=internal)
    await _guarded(ctx.events.ticket_updated(ticket), "ticket:updated")
    if closing and set(diff) == {"status"}:
        await audit.record(ctx, actor=actor, action="ticket.close", entity=("ticket", ticket["_id"]),
                           before={"status": before.get("status")}, after={"status": "closed"})
    else:
        await audit.record(ctx, actor=actor, action="ticket.update", entity=("ticket", ticket["_id"]),
                           before={k: before.get(k) for k in diff}, after=dict(diff))
    if closing and ticket.get("guest_email"):
        await _guarded(mail.enqueue_closing(ctx, ticket=ticket), f"closing e-mail of {ticket['_id']}")
    if "status" in diff and status_line is not None:
        text = (f"{name} closed “{subject}”" if closing
                else f"{name} marked “{subject}” {diff['status']}")
        await _notify_assignee(ctx, change, kind="status", text=text, key=f"line:{status_line['_id']}")


async def _auto_assign(ctx: Ctx, change: Change) -> None:
    """Auto-assignment gave the ticket to an agent (ASSIGNMENT=round_robin): an internal
    line, the guest told who joined, the assignee's bell, an audit event by the system."""
    from ..people import users

    ticket = change.after
    assignee = change.details.get("assignee") or await users.get_user(ctx.db, user_id=str(ticket["assignee_id"]))
    name = (assignee or {}).get("name", "someone")
    line = await write_line(ctx, ticket=ticket, body=f"Assigned to {name} automatically", internal=True)
    if _newly_joined(change, str(ticket["assignee_id"])):
        await write_line(ctx, ticket=ticket, body=_joined_line(name), key=f"announce:{ticket['assignee_id']}")
    await _guarded(ctx.events.ticket_updated(ticket), "ticket:updated")
    await audit.record(ctx, actor=audit.SYSTEM, action="ticket.auto_assign", entity=("ticket", ticket["_id"]),
                       before={"assignee_id": None}, after={"assignee_id": ticket["assignee_id"]})
    key = f"line:{line['_id']}" if line else f"assign:{ticket['_id']}:{ticket['version']}"
    await _notify(ctx, user_ids=[ticket["assignee_id"]], kind="assigned", ticket=ticket, key=key,
                  text=f"“{ticket.get('subject', '')}” from {ticket.get('guest_name', 'a guest')} "
                       "was assigned to you")


async def _assignment(ctx: Ctx, change: Change, new_id: ObjectId | None) -> None:
    from ..people import users

    before, ticket, actor = change.before or {}, change.after, change.actor
    subject, old_id = ticket.get("subject", ""), before.get("assignee_id")
    if new_id is None:
        old = await users.get_user(ctx.db, user_id=str(old_id)) if old_id else None
        body = f"{actor.name} unassigned {old['name']}" if old else f"{actor.name} removed the assignee"
    else:
        assignee = change.details.get("assignee") or await users.get_user(ctx.db, user_id=str(new_id))
        target = "themselves" if str(new_id) == actor.id else (assignee or {}).get("name", "someone")
        body = f"{actor.name} assigned this to {target}"
    line = await write_line(ctx, ticket=ticket, body=body, internal=True)
    if new_id is not None and _newly_joined(change, str(new_id)):
        assignee = change.details.get("assignee") or await users.get_user(ctx.db, user_id=str(new_id))
        if assignee:
            await write_line(ctx, ticket=ticket, body=_joined_line(assignee["name"]),
                             key=f"announce:{new_id}")
    key = f"line:{line['_id']}" if line else f"assign:{ticket['_id']}:{ticket['version']}"
    if new_id is not None and str(new_id) != actor.id:
        await _notify(ctx, user_ids=[new_id], kind="assigned", ticket=ticket,
                      text=f"{actor.name} assigned “{subject}” to you", key=key)
    if old_id and str(old_id) != actor.id:
        await _notify(ctx, user_ids=[old_id], kind="unassigned", ticket=ticket,
                      text=f"{actor.name} took “{subject}” off your queue", key=f"{key}:old")


def _tags_line(name: str, before: dict, after: dict) -> str:
    old, new = set(before.get("tags") or []), set(after.get("tags") or [])
    parts = []
    if new - old:
        parts.append("added " + ", ".join(sorted(new - old)))
    if old - new:
        parts.append("removed " + ", ".join(sorted(old - new)))
    return f"{name} {' and '.join(parts)} (tags)"


async def _escalate(ctx: Ctx, change: Change) -> None:
    """The escalation sweep raised the ticket's priority (an internal line; the assignee,
    or every admin when nobody is assigned, is told once per level)."""
    from ..people import users

    before, ticket = change.before or {}, change.after
    level, priority = ticket["escalation_level"], ticket["priority"]
    waited = _duration(change.details.get("waited", 0))
    ctx.metrics.escalated(priority)
    await write_line(ctx, ticket=ticket, key=f"escalate:{level}", internal=True,
                     body=f"No answer for {waited}: escalated, priority {priority}")
    await _guarded(ctx.events.ticket_updated(ticket), "ticket:updated")
    await audit.record(
        ctx, actor=audit.SYSTEM, action="ticket.escalate", entity=("ticket", ticket["_id"]),
        before={"priority": before.get("priority"), "escalation_level": before.get("escalation_level") or 0},
        after={"priority": priority, "escalation_level": level},
    )
    assignee = ticket.get("assignee_id")
    recipients = [assignee] if assignee else await users.active_admin_ids(ctx.db)
    await _notify(ctx, user_ids=recipients, kind="escalated", ticket=ticket,
                  key=f"escalate:{ticket['_id']}:{level}",
                  text=f"“{ticket.get('subject', '')}” from {ticket.get('guest_name', 'a guest')} has "
                       f"waited {waited} for an answer (priority {priority})")
    log.info("ticket %s escalated to level %d (%s)", ticket["_id"], level, priority)


async def _auto_resolve(ctx: Ctx, change: Change) -> None:
    ticket = change.after
    waited = _duration(ctx.settings.auto_resolve_after)
    line = await write_line(ctx, ticket=ticket, body=f"No reply for {waited}: marked resolved",
                            internal=True)
    await _guarded(ctx.events.ticket_updated(ticket), "ticket:updated")
    await audit.record(ctx, actor=audit.SYSTEM, action="ticket.auto_resolve",
                       entity=("ticket", ticket["_id"]),
                       before={"status": "pending"}, after={"status": "resolved"})
    key = f"line:{line['_id']}" if line else f"resolve:{ticket['_id']}:{ticket['version']}"
    await _notify_assignee(ctx, change, kind="status", key=key,
                           text=f"“{ticket.get('subject', '')}” was resolved: the guest did not reply")


async def _csat(ctx: Ctx, change: Change) -> None:
    """The guest rated the closed conversation (or changed their rating): agents see it on
    the ticket and as an internal line; audited. (Webhooks: `csat.submitted`, from
    `_announce` as for every change.)"""
    before, ticket = change.before or {}, change.after
    rating = ticket["csat"]
    comment = f": “{rating['comment']}”" if rating.get("comment") else ""
    verb = "changed their rating to" if before.get("csat") else "rated this conversation"
    await write_line(ctx, ticket=ticket, internal=True,
                     body=f"{ticket.get('guest_name') or 'The guest'} {verb} {rating['rating']}/5{comment}")
    await _guarded(ctx.events.ticket_updated(ticket), "ticket:updated")
    await audit.record(ctx, actor=audit.guest_actor(ticket["guest_id"], ticket.get("guest_name", "")),
                       action="ticket.csat", entity=("ticket", ticket["_id"]),
                       before={"csat": before.get("csat")}, after={"csat": rating})


async def _nothing(ctx: Ctx, change: Change) -> None:
    """A sweep tidied a field nobody sees (a due time that no longer applies)."""


async def _erase(ctx: Ctx, change: Change) -> None:
    """A guest's name, e-mail and words were removed from the ticket (services/privacy.py):
    the queues and the room see the new state; the audit event names no personal data."""
    ticket = change.after
    await _guarded(ctx.events.ticket_updated(ticket), "ticket:updated")
    await audit.record(ctx, actor=change.actor, action="ticket.erase", entity=("ticket", ticket["_id"]),
                       before={"erased": False},
                       after={"erased": True, "messages": change.details.get("messages", 0)})


_HANDLERS = {
    "created": _created,
    "message": _message,
    "note": _note,
    "update": _update,
    "auto_assign": _auto_assign,
    "escalate": _escalate,
    "auto_resolve": _auto_resolve,
    "csat": _csat,
    "bookkeeping": _nothing,
    "erase": _erase,
}


# --- webhooks ----------------------------------------------------------------------------


async def _announce(ctx: Ctx, change: Change) -> None:
    """The webhook events of a change (services/webhooks.py queues one delivery per hook
    that wants each; nothing is written when none does). Each event has a key, so that a
    change announced twice is delivered once."""
    ticket, message, kind = change.after, change.message, change.kind
    version_key = f"{ticket['_id']}:v{ticket.get('version')}"
    actor: Any = change.actor
    events: list[tuple[str, str, dict]] = []
    if kind == "created":
        actor = audit.guest_actor(ticket["guest_id"], ticket.get("guest_name", ""))
        events.append(("ticket.created", str(ticket["_id"]), {"message": message}))
        events.append(("message.created", f"message:{message['_id']}", {"message": message}))
    elif kind in ("message", "note"):
        events.append(("message.created", f"message:{message['_id']}", {"message": message}))
        changes = _changes(change)
        if kind == "message" and changes:  # the guest wrote back: the ticket reopened
            events.append(("ticket.updated", version_key, {"changes": changes}))
    elif kind in ("update", "escalate", "auto_resolve", "erase"):
        changes = _changes(change)
        if changes:
            events.append(("ticket.updated", version_key, {"changes": changes}))
            if changes.get("status", {}).get("after") == "closed":
                events.append(("ticket.closed", version_key, {"changes": changes}))
    elif kind == "csat":
        events.append(("csat.submitted", version_key, {"csat": _csat_payload(change)}))
    for event, key, extra in events:
        await webhooks.announce(ctx, event=event, key=key, ticket=ticket, actor=actor, **extra)


def _changes(change: Change) -> dict:
    """What a change did to the ticket, as {field: {before, after}} (ids as strings)."""
    before, after = change.before or {}, change.after
    changes = {}
    for name in (*TRACKED, "escalation_level"):
        if change.before is not None and before.get(name) != after.get(name):
            changes[name] = {"before": _plain(before.get(name)), "after": _plain(after.get(name))}
    if bool(before.get("erased_at")) != bool(after.get("erased_at")):
        changes["erased"] = {"before": False, "after": True}
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _csat_payload(change: Change) -> dict:
    """csat.submitted's `csat`: {rating, comment, submitted_at}, from the change's details
    (or the ticket's `csat` field)."""
    raw = change.details.get("csat") or change.after.get("csat") or {}
    submitted = raw.get("submitted_at") or raw.get("at")
    return {"rating": raw.get("rating"), "comment": raw.get("comment"),
            "submitted_at": payloads.iso(submitted) if not isinstance(submitted, str) else submitted}


# --- building blocks ---------------------------------------------------------------------


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
        await _guarded(ctx.events.message_new(line), "message:new")
        await _guarded(webhooks.announce(ctx, event="message.created", key=f"message:{line['_id']}",
                                         ticket=ticket, message=line), "webhook of a line")
        return line
    except Exception:
        log.exception("could not write the line %r in ticket %s", body, ticket["_id"])
        return None


async def _tell_who_is_away(ctx: Ctx, *, ticket: dict, message: dict, actor: Identity) -> None:
    """An e-mail to a guest who is not in the room when an agent replies, or a
    notification to an assignee who is not in the room when the guest writes. Nothing is
    queued (no write at all) when the other side is there to see it."""
    from . import presence

    if actor.is_agent:
        if ticket.get("guest_email") and not await presence.guest_in_ticket_room(ctx, ticket=ticket):
            await mail.enqueue_reply(ctx, ticket=ticket, message=message)
    elif ticket.get("assignee_id") and not await presence.user_in_ticket_room(
            ctx, user_id=str(ticket["assignee_id"]), ticket_id=ticket["_id"]):
        await _notify(ctx, user_ids=[ticket["assignee_id"]], kind="guest_message", ticket=ticket,
                      text=f"{message['sender_name']}: {message['body'][:200]}",
                      key=f"message:{message['_id']}")


async def _notify_assignee(ctx: Ctx, change: Change, *, kind: str, text: str, key: str) -> None:
    """Tell the ticket's assignee about a change someone else made."""
    assignee_id = change.after.get("assignee_id")
    if not assignee_id or (change.actor is not None and str(assignee_id) == change.actor.id):
        return
    await _notify(ctx, user_ids=[assignee_id], kind=kind, ticket=change.after, text=text, key=key)


async def _notify(ctx: Ctx, *, user_ids: list, kind: str, ticket: dict, text: str, key: str) -> None:
    await _guarded(notifications.enqueue(ctx, user_ids=user_ids, kind=kind, ticket_id=ticket["_id"],
                                         text=text, key=key), f"notification {key}")


async def _guarded(awaitable, what: str) -> Any:
    try:
        return await awaitable
    except Exception:
        log.exception("could not carry out %s", what)
        return None


def _duration(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = round(minutes / 60)
    return f"{hours} h" if hours < 48 else f"{round(hours / 24)} days"
