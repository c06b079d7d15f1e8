"""Sweeps over waiting tickets, run periodically by the worker's scheduler.

Both are idempotent and safe when several processes sweep at once: every change is one
conditional update on the values the sweep read, so only one sweep wins, and whatever
follows (system line, notifications) keys on the new escalation level.

- Escalation: an open or pending ticket whose latest guest message has had no agent answer
  for ESCALATE_AFTER goes up one priority step, gets `escalated_at`, a system line, and its
  assignee (or, unassigned, every admin) is notified once per level. It escalates again
  after each further ESCALATE_AFTER of silence, until urgent.
- Auto-resolve: a pending ticket untouched for AUTO_RESOLVE_AFTER (no guest reply: a guest
  message would have reopened it) becomes resolved.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from pymongo import ReturnDocument

from .. import clock
from . import audit, messages, notifications, users
from .context import Ctx
from .tickets import PRIORITIES

log = logging.getLogger(__name__)

BATCH = 500


def next_priority(priority: str) -> str:
    index = PRIORITIES.index(priority) if priority in PRIORITIES else 1
    return PRIORITIES[min(index + 1, len(PRIORITIES) - 1)]


def _waiting(ticket: dict) -> bool:
    """The guest spoke last: no agent message since their latest one."""
    guest_at, agent_at = ticket.get("last_guest_message_at"), ticket.get("last_agent_message_at")
    return guest_at is not None and (agent_at is None or agent_at < guest_at)


def _minutes(seconds: float) -> str:
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = round(minutes / 60)
    return f"{hours} h" if hours < 48 else f"{round(hours / 24)} days"


async def sweep_escalations(ctx: Ctx) -> list[dict]:
    """Escalate every ticket that has waited too long; returns the tickets escalated."""
    now = clock.utcnow()
    cutoff = now - timedelta(seconds=ctx.settings.escalate_after)
    candidates = await ctx.db.tickets.find({
        "status": {"$in": ["open", "pending"]},
        "last_guest_message_at": {"$lte": cutoff},
        "$or": [{"escalated_at": None}, {"escalated_at": {"$lte": cutoff}}],
    }).to_list(BATCH)
    escalated = []
    for ticket in candidates:
        updated = await escalate(ctx, ticket=ticket, now=now)
        if updated is not None:
            escalated.append(updated)
    return escalated


async def escalate(ctx: Ctx, *, ticket: dict, now) -> dict | None:
    """Escalate one ticket as read by a sweep, if it still is as read: a sweep in another
    process that read the same ticket finds the condition false and does nothing."""
    if not _waiting(ticket):
        return None
    if ticket.get("priority") == "urgent" and (
            ticket.get("escalated_at") or now) >= ticket["last_guest_message_at"]:
        return None  # already at the top, and said so since the guest last wrote
    level = ticket.get("escalation_level") or 0
    updated = await ctx.db.tickets.find_one_and_update(
        {
            "_id": ticket["_id"],
            "status": {"$in": ["open", "pending"]},
            "escalation_level": level if level else {"$in": [None, 0]},
            "last_guest_message_at": ticket["last_guest_message_at"],
        },
        {"$set": {
            "escalation_level": level + 1,
            "escalated_at": now,
            "priority": next_priority(ticket.get("priority", "normal")),
            "updated_at": now,
        }},
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:  # another sweep (or an agent) got there first
        return None
    await audit.record(
        ctx, actor=audit.SYSTEM, action="ticket.escalate", entity=("ticket", ticket["_id"]),
        before={"priority": ticket.get("priority"), "escalation_level": level},
        after={"priority": updated["priority"], "escalation_level": updated["escalation_level"]},
    )
    await _announce(ctx, ticket=updated, waited=(now - ticket["last_guest_message_at"]).total_seconds())
    return updated


async def _announce(ctx: Ctx, *, ticket: dict, waited: float) -> None:
    level, priority = ticket["escalation_level"], ticket["priority"]
    await messages.add_system(
        ctx, ticket=ticket, dedupe_key=f"escalate:{level}",
        body=f"No answer for {_minutes(waited)}: escalated, priority {priority}", internal=True,
    )
    await ctx.events.ticket_updated(ticket)
    assignee = ticket.get("assignee_id")
    recipients = [assignee] if assignee else await users.active_admin_ids(ctx.db)
    await notifications.enqueue(
        ctx, user_ids=recipients, kind="escalated", ticket_id=ticket["_id"],
        text=f"“{ticket.get('subject', '')}” from {ticket.get('guest_name', 'a guest')} has waited "
             f"{_minutes(waited)} for an answer (priority {priority})",
        key=f"escalate:{ticket['_id']}:{level}",
    )
    log.info("ticket %s escalated to level %d (%s)", ticket["_id"], level, priority)


async def sweep_auto_resolve(ctx: Ctx) -> list[dict]:
    """Resolve pending tickets the guest has left unanswered; returns those resolved."""
    now = clock.utcnow()
    cutoff = now - timedelta(seconds=ctx.settings.auto_resolve_after)
    query = {"status": "pending", "updated_at": {"$lte": cutoff}}
    resolved = []
    for ticket in await ctx.db.tickets.find(query).to_list(BATCH):
        updated = await ctx.db.tickets.find_one_and_update(
            {**query, "_id": ticket["_id"], "updated_at": ticket["updated_at"]},
            {"$set": {"status": "resolved", "updated_at": now, "resolved_at": now}},
            return_document=ReturnDocument.AFTER,
        )
        if updated is None:
            continue
        await audit.record(
            ctx, actor=audit.SYSTEM, action="ticket.auto_resolve", entity=("ticket", ticket["_id"]),
            before={"status": "pending"}, after={"status": "resolved"},
        )
        line = await messages.add_system(
            ctx, ticket=updated,
            body=f"No reply for {_minutes(ctx.settings.auto_resolve_after)}: marked resolved")
        await ctx.events.ticket_updated(updated)
        if updated.get("assignee_id"):
            await notifications.enqueue(
                ctx, user_ids=[updated["assignee_id"]], kind="status", ticket_id=updated["_id"],
                text=f"“{updated.get('subject', '')}” was resolved: the guest did not reply",
                key=f"line:{line['_id']}")
        resolved.append(updated)
    return resolved


async def sweep(ctx: Ctx) -> dict:
    """Every sweep, once."""
    return {
        "escalated": len(await sweep_escalations(ctx)),
        "resolved": len(await sweep_auto_resolve(ctx)),
    }
