"""How services tell connected clients what changed. Services call these after a write
succeeded; the payloads come from payloads.py, never raw documents."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from ..core import Ctx
from . import payloads
from .effects import Change, guarded

log = logging.getLogger(__name__)

AGENTS_ROOM = "agents"
# Admin sockets only: live audit events (audit:new) go here.
ADMINS_ROOM = "admins"
# Message activity reaches the agents' queues in batches: one `queue:updated` frame per
# interval carrying every ticket that moved, whatever the number of busy tickets.
QUEUE_INTERVAL = 0.5


def ticket_room(ticket_id: object) -> str:
    return f"ticket:{ticket_id}"


def staff_room(ticket_id: object) -> str:
    """The agent sockets in a ticket's room: internal notes go here only."""
    return f"ticket:{ticket_id}:staff"


def guest_ticket_room(ticket_id: object) -> str:
    """The guest sockets in a ticket's room: they get the ticket in its guest shape."""
    return f"ticket:{ticket_id}:guests"


def user_room(user_id: object) -> str:
    return f"user:{user_id}"


def guest_room(guest_id: str) -> str:
    return f"guest:{guest_id}"


def _version(ticket: dict) -> int:
    return ticket.get("version", 0)


def presence_room(room: object) -> bool:
    """The rooms the presence service asks about: with several processes their members
    are kept in Redis too (app/sockets/cluster.py)."""
    return isinstance(room, str) and room.startswith(("ticket:", "user:", "guest:")) and not room.endswith((":staff", ":guests"))


@dataclass
class Events:
    """Wraps the Socket.IO server (or, in a worker-only process, a write-only manager)."""

    sio: Any
    queue_interval: float = QUEUE_INTERVAL
    # The newest activity state of each ticket that moved since the last batch went out, and
    # whether a batch window is open (the first activity after a quiet spell goes at once).
    _batch: dict = field(default_factory=dict, repr=False)
    _window_open: bool = field(default=False, repr=False)
    _sending: set = field(default_factory=set, repr=False)

    async def message_new(self, doc: dict, *, skip_sid: str | None = None) -> None:
        """Agents get every message; the guests in the room only what a guest may read,
        numbered in their own sequence."""
        ticket_id = doc["ticket_id"]
        await self.sio.emit("message:new", payloads.message(doc), to=staff_room(ticket_id),
                            skip_sid=skip_sid)
        if doc.get("guest_seq") is not None:
            await self.sio.emit("message:new", payloads.message(doc, for_guest=True),
                                to=guest_ticket_room(ticket_id), skip_sid=skip_sid)

    async def ticket_updated(self, ticket: dict, *, to_guest: bool = True) -> None:
        """A change of the ticket itself (status, priority, assignee, a new ticket): sent at
        once. Activity of this ticket still waiting for the next batch is older: dropped."""
        waiting = self._batch.get(ticket["_id"])
        if waiting is not None and _version(waiting) <= _version(ticket):
            del self._batch[ticket["_id"]]
        await self.sio.emit("ticket:updated", payloads.ticket(ticket), to=AGENTS_ROOM)
        if to_guest:
            await self.sio.emit("ticket:updated", payloads.guest_ticket(ticket),
                                to=guest_ticket_room(ticket["_id"]))

    async def ticket_activity(self, ticket: dict) -> None:
        """A message moved the ticket in the agents' queues (time, preview, unread). Every
        agent socket gets one `queue:updated` frame per interval with the newest state of
        each ticket that moved: per-ticket updates made frames grow as busy tickets times
        agent sockets (60,700 frames/s for 400 dashboards at 200 msg/s). After a quiet
        spell the first one goes at once, so a single message shows without delay."""
        waiting = self._batch.get(ticket["_id"])
        if waiting is None or _version(waiting) <= _version(ticket):
            self._batch[ticket["_id"]] = ticket
        if self._window_open:
            return
        self._open_window()
        await self._emit_batch()

    def _open_window(self) -> None:
        self._window_open = True
        asyncio.get_running_loop().call_later(self.queue_interval, self._window_closed)

    def _window_closed(self) -> None:
        if not self._batch:
            self._window_open = False
            return
        # The batch taken now opens the next window at once: activity arriving before its
        # send has run joins the next batch instead of sending one more frame.
        self._open_window()
        task = asyncio.get_running_loop().create_task(self._emit_batch())
        self._sending.add(task)
        task.add_done_callback(self._sent)

    async def _emit_batch(self) -> None:
        batch, self._batch = self._batch, {}
        if batch:
            await self.sio.emit("queue:updated", {"tickets": [payloads.ticket(t) for t in batch.values()]},
                                to=AGENTS_ROOM)

    def _sent(self, task: asyncio.Task) -> None:
        self._sending.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("queue update not sent: %s", task.exception())

    async def typing(self, payload: dict, *, ticket_id: object, skip_sid: str | None) -> None:
        await self.sio.emit("typing", payload, to=ticket_room(ticket_id), skip_sid=skip_sid)

    async def viewers(self, ticket_id: object, viewers: list[dict]) -> None:
        """Who has the ticket open: to the agents in it only."""
        await self.sio.emit("ticket:viewers", {"ticket_id": str(ticket_id), "viewers": viewers},
                            to=staff_room(ticket_id))

    async def typing_staff(self, payload: dict, *, ticket_id: object, skip_sid: str | None) -> None:
        """An agent writing a note: the other agents in the ticket hear of it, never the guest."""
        await self.sio.emit("typing", payload, to=staff_room(ticket_id), skip_sid=skip_sid)

    async def notification_new(self, doc: dict) -> None:
        await self.sio.emit("notification:new", payloads.notification(doc), to=user_room(doc["user_id"]))

    async def notification_updated(self, doc: dict) -> None:
        await self.sio.emit("notification:updated", payloads.notification(doc), to=user_room(doc["user_id"]))

    async def notification_count(self, user_id: str, unread: int) -> None:
        await self.sio.emit("notification:count", {"unread": unread}, to=user_room(user_id))

    async def audit_new(self, row: dict) -> None:
        """An audit event as the audit page shows it, to every admin socket."""
        await self.sio.emit("audit:new", row, to=ADMINS_ROOM)


class NoEvents(Events):
    """For tools that write without anyone listening (seeding, benchmarks' set-up)."""

    def __init__(self) -> None:
        super().__init__(sio=None)

    async def message_new(self, doc: dict, *, skip_sid: str | None = None) -> None:
        return None

    async def ticket_updated(self, ticket: dict, *, to_guest: bool = True) -> None:
        return None

    async def ticket_activity(self, ticket: dict) -> None:
        return None

    async def typing(self, payload: dict, *, ticket_id: object, skip_sid: str | None) -> None:
        return None

    async def viewers(self, ticket_id: object, viewers: list[dict]) -> None:
        return None

    async def typing_staff(self, payload: dict, *, ticket_id: object, skip_sid: str | None) -> None:
        return None

    async def notification_new(self, doc: dict) -> None:
        return None

    async def notification_updated(self, doc: dict) -> None:
        return None

    async def notification_count(self, user_id: str, unread: int) -> None:
        return None

    async def audit_new(self, row: dict) -> None:
        return None


# --- the listener: what each ticket change sends (effects.py) -------------------------------


async def on_change(ctx: Ctx, change: Change) -> None:
    """The socket events of a ticket change, from the document the change returned."""
    ticket, kind = change.after, change.kind
    if kind in ("message", "note", "line"):
        await guarded(ctx.events.message_new(change.posted, skip_sid=change.skip_sid), "message:new")
    if kind == "created":
        await guarded(ctx.events.ticket_updated(ticket, to_guest=False), "ticket:updated")
    elif kind == "message":
        if change.before is not None and change.before["status"] != ticket["status"]:
            await guarded(ctx.events.ticket_updated(ticket), "ticket:updated")  # reopened by the guest
        else:
            await guarded(ctx.events.ticket_activity(ticket), "ticket:updated")
    elif kind == "update":
        if change.diff():
            await guarded(ctx.events.ticket_updated(ticket), "ticket:updated")
    elif kind in ("auto_assign", "escalate", "auto_resolve", "csat", "erase"):
        await guarded(ctx.events.ticket_updated(ticket), "ticket:updated")
