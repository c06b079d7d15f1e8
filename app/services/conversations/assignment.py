"""Auto-assignment (ASSIGNMENT=round_robin): a new ticket goes to the agent who is online
(a socket connected, on any process, and availability "online") with room under their
capacity, and who was assigned least recently. With nobody available it waits unassigned,
and is assigned as soon as someone is: an agent connects or comes back from "away", a slot
frees (a ticket closed, resolved or reassigned), an admin raises a capacity, and at every
sweep in case a signal was missed.

Each assignment is two atomic steps: one conditional update of the agent
(store.users.reserve_slot: open_count below capacity, in the filter) takes a slot, then the
ticket changes through tickets.change(), conditional on it still being open and unassigned.
When the second step finds the ticket taken meanwhile, the slot is given back. So however
many tickets arrive at once, on however many processes, no agent gets more than capacity.
open_count is kept by on_change, a listener of effects.py, from each change's before and after."""

from __future__ import annotations

import asyncio
import logging

from bson import ObjectId

from ... import clock
from ...errors import Forbidden, Invalid
from ...security import Identity
from ...store import tickets as stored_tickets
from ...store import users as stored_users
from ..core import Ctx, validate
from . import presence, tickets  # tickets imports this module too: used at call time only
from .effects import Change

log = logging.getLogger(__name__)

AVAILABILITIES = ("online", "away")
WAITING_BATCH = 50
CAPACITY_MAX = 100


def enabled(ctx: Ctx) -> bool:
    return ctx.settings.assignment == "round_robin"


async def offer(ctx: Ctx, *, ticket: dict) -> dict | None:
    """Assign this ticket if it is open and unassigned and someone is available; returns
    the ticket as assigned, or None (it waits)."""
    after, _ = await _assign(ctx, ticket)
    return after


async def _assign(ctx: Ctx, ticket: dict) -> tuple[dict | None, bool]:
    """The ticket as assigned (or None), and whether anyone had room."""
    if not enabled(ctx) or ticket.get("assignee_id") is not None or ticket.get("status") != "open":
        return None, True
    candidates = await _online_and_available(ctx)
    agent = await stored_users.reserve_slot(ctx.db, candidates=candidates, at=clock.utcnow())
    if agent is None:
        return None, False  # nobody has room: the ticket waits

    def decide(current: dict) -> tickets.Plan | None:
        if current.get("assignee_id") is not None or current.get("status") != "open":
            return None  # assigned or closed meanwhile
        joined = current.get("joined") or []
        plan = tickets.Plan(set={"assignee_id": agent["_id"]})
        if str(agent["_id"]) not in joined:
            plan.set["joined"] = [*joined, str(agent["_id"])]
        return plan

    stored = None
    try:
        after, stored = await tickets.change_as_planned(
            ctx, ticket=ticket, actor=None, kind="auto_assign", decide=decide,
            details={"assignee": agent, "reserved": agent["_id"]})
    finally:
        if stored is None:  # the ticket was not given to them: the slot goes back
            await stored_users.count_open(ctx.db, user_id=agent["_id"], delta=-1)
    return (after if stored is not None else None), True


async def offer_waiting(ctx: Ctx) -> int:
    """Assign the tickets waiting for an agent, oldest first, while anyone has room;
    returns how many were assigned."""
    if not enabled(ctx):
        return 0
    assigned = 0
    while True:
        waiting = await stored_tickets.waiting_unassigned(ctx.db, limit=WAITING_BATCH)
        progress = False
        for ticket in waiting:
            after, room = await _assign(ctx, ticket)
            if not room:
                return assigned
            if after is not None:
                assigned += 1
                progress = True
        if not progress or len(waiting) < WAITING_BATCH:
            return assigned


def soon(ctx: Ctx) -> None:
    """Run offer_waiting in the background (an agent arrived, a slot freed): the change that
    made room answers at once. Runs are coalesced: one at a time, and one more after it if
    asked meanwhile."""
    if not enabled(ctx):
        return
    state = ctx.coalesced.setdefault("assignment", {"task": None, "again": False})
    if state["task"] is not None and not state["task"].done():
        state["again"] = True
        return

    async def run() -> None:
        while True:
            state["again"] = False
            try:
                await offer_waiting(ctx)
            except Exception:
                log.exception("assigning the waiting tickets failed")
            if not state["again"]:
                return

    task = asyncio.get_running_loop().create_task(run(), name="assign waiting tickets")
    state["task"] = task
    ctx.background.add(task)
    task.add_done_callback(ctx.background.discard)


async def _online_and_available(ctx: Ctx) -> list[ObjectId]:
    """Agents who are available (not away, active) and have a socket connected now."""
    available = await stored_users.available_ids(ctx.db)
    online = await presence.users_online(ctx, user_ids=[str(u) for u in available])
    return [u for u in available if str(u) in online]


# --- what agents and admins set -------------------------------------------------------------


async def set_availability(ctx: Ctx, *, identity: Identity, availability: object) -> dict:
    """An agent says they take new tickets (online) or not (away). Coming back online
    assigns waiting tickets at once."""
    if not identity.is_agent:
        raise Forbidden()
    value = validate.choice(availability, "availability", AVAILABILITIES)
    user = await stored_users.set_availability(ctx.db, user_id=ObjectId(identity.id), availability=value)
    if user is None:
        raise Forbidden()
    if value == "online":
        soon(ctx)
    return user


def check_capacity(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= CAPACITY_MAX:
        raise Invalid(f"capacity must be a whole number from 0 to {CAPACITY_MAX}.", field="capacity")
    return value


async def recount(ctx: Ctx, *, user: dict) -> None:
    """Count an agent's open tickets again from the tickets (an admin saved their capacity):
    corrects a count left one high by a process that died between taking a slot and
    assigning the ticket. Only if the count did not move meanwhile."""
    held = await stored_tickets.count_held(ctx.db, assignee_id=user["_id"])
    await stored_users.correct_open_count(ctx.db, user_id=user["_id"], seen=user.get("open_count", 0),
                                          count=held)


async def agent_connected(ctx: Ctx, *, identity: Identity) -> None:
    """An agent's socket connected: if they are available, waiting tickets may go to them."""
    if identity.is_agent and enabled(ctx):
        soon(ctx)


# --- the listener: each agent's open count (effects.py) -------------------------------------


async def on_change(ctx: Ctx, change: Change) -> None:
    """Keep each agent's open_count (the open and pending tickets assigned to them, which
    auto-assignment weighs against their capacity) from what this change did: a ticket that
    leaves an agent (closed, resolved, reassigned) frees a slot, one that comes to them
    takes one, unless auto-assignment took it already (details["reserved"]). A freed slot
    goes to the next ticket waiting for an agent."""
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
        soon(ctx)


def _holder(ticket: dict) -> ObjectId | None:
    """The agent whose slot this ticket takes, if any."""
    return ticket.get("assignee_id") if ticket.get("status") in stored_tickets.HOLDING else None
