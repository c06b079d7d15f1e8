"""Sweeps over waiting tickets, run periodically by the worker's scheduler.

Each sweep selects only tickets that are due, through an indexed field that is set when a
ticket becomes due-able and removed when it stops being so: `escalate_at` (a guest's message
waiting for an answer) and `resolve_at` (a pending ticket waiting for its guest). It walks
all of them in batches, in (due time, _id) order, past each one it handled, so that tickets
it cannot change never stall it. Every change goes through tickets.change() (one atomic
update on the version read), so several processes sweeping at once change each ticket once.

- Escalation: an open or pending ticket whose guest has waited ESCALATE_AFTER for an agent's
  answer goes up one priority step and is escalated again after each further ESCALATE_AFTER,
  until urgent (an urgent ticket is escalated once, so that someone is told).
- Auto-resolve: a pending ticket with no guest reply for AUTO_RESOLVE_AFTER becomes resolved.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from ... import clock
from ...store import tickets as stored
from ..core import Ctx
from . import tickets
from .tickets import PRIORITIES, Plan

log = logging.getLogger(__name__)

BATCH = 200


def next_priority(priority: str) -> str:
    index = PRIORITIES.index(priority) if priority in PRIORITIES else 1
    return PRIORITIES[min(index + 1, len(PRIORITIES) - 1)]


async def _walk(ctx: Ctx, *, field: str, now: datetime, handle) -> list[dict]:
    """Every ticket due on `field`, in batches; `handle` returns the changed ticket or None."""
    changed, position = [], None
    while True:
        batch = await stored.due(ctx.db, field=field, now=now, after=position, limit=BATCH)
        for ticket in batch:
            updated = await handle(ticket)
            if updated is not None:
                changed.append(updated)
        if len(batch) < BATCH:
            return changed
        position = (batch[-1][field], batch[-1]["_id"])


async def sweep_escalations(ctx: Ctx) -> list[dict]:
    """Escalate every ticket whose guest has waited too long; returns those escalated."""
    now = clock.utcnow()
    return await _walk(ctx, field="escalate_at", now=now, handle=lambda t: escalate(ctx, ticket=t, now=now))


def _escalation(ctx: Ctx, ticket: dict, now: datetime) -> Plan | None:
    due = ticket.get("escalate_at")
    if due is None or due > now:
        return None  # answered, or escalated by another sweep, since it was read
    if ticket["status"] not in ("open", "pending") or ticket.get("waiting_since") is None:
        return Plan(unset=("escalate_at",), kind="bookkeeping")  # nobody waits: not due
    priority = next_priority(ticket.get("priority", "normal"))
    plan = Plan(set={"priority": priority, "escalated_at": now,
                     "escalation_level": (ticket.get("escalation_level") or 0) + 1})
    if priority == "urgent":
        plan.unset = ("escalate_at",)  # at the top: told once, until the guest writes again
    else:
        plan.set["escalate_at"] = now + timedelta(seconds=ctx.settings.escalate_after)
    return plan


async def escalate(ctx: Ctx, *, ticket: dict, now: datetime) -> dict | None:
    """Escalate one ticket as read by a sweep, if it is still due when written; returns it
    escalated, or None."""
    waiting_since = ticket.get("waiting_since") or now
    after, plan = await tickets.change_as_planned(
        ctx, ticket=ticket, actor=None, kind="escalate", decide=lambda t: _escalation(ctx, t, now),
        details={"waited": (now - waiting_since).total_seconds()})
    if plan is None or plan.kind is not None:
        return None
    ctx.metrics.escalated(after["priority"])
    log.info("ticket %s escalated to level %d (%s)", after["_id"], after["escalation_level"],
             after["priority"])
    return after


def _auto_resolution(ticket: dict, now: datetime) -> Plan | None:
    due = ticket.get("resolve_at")
    if due is None or due > now:
        return None
    if ticket["status"] != "pending":
        return Plan(unset=("resolve_at",), kind="bookkeeping")
    return Plan(set={"status": "resolved", "resolved_at": now},
                unset=("resolve_at", "waiting_since", "escalate_at"))


async def auto_resolve(ctx: Ctx, *, ticket: dict, now: datetime) -> dict | None:
    after, plan = await tickets.change_as_planned(
        ctx, ticket=ticket, actor=None, kind="auto_resolve", decide=lambda t: _auto_resolution(t, now))
    return after if plan is not None and plan.kind is None else None


async def sweep_auto_resolve(ctx: Ctx) -> list[dict]:
    """Resolve pending tickets the guest has left unanswered; returns those resolved."""
    now = clock.utcnow()
    return await _walk(ctx, field="resolve_at", now=now, handle=lambda t: auto_resolve(ctx, ticket=t, now=now))


async def sweep(ctx: Ctx) -> dict:
    """Every sweep, once."""
    return {
        "escalated": len(await sweep_escalations(ctx)),
        "resolved": len(await sweep_auto_resolve(ctx)),
    }
