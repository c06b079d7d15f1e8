"""How services tell connected clients what changed. Services call these after a write
succeeded; the payloads come from payloads.py, never raw documents."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

from . import payloads

log = logging.getLogger(__name__)

AGENTS_ROOM = "agents"
# Admin sockets only: live audit events (audit:new) go here.
ADMINS_ROOM = "admins"
# Queue rows refresh at most this often per ticket while messages stream in.
ACTIVITY_WINDOW = 0.25


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


def presence_room(room: object) -> bool:
    """The rooms the presence service asks about: with several processes their members
    are kept in Redis too (app/sockets/cluster.py)."""
    return isinstance(room, str) and room.startswith(("ticket:", "user:", "guest:")) and not room.endswith((":staff", ":guests"))


@dataclass
class Events:
    """Wraps the Socket.IO server (or, in a worker-only process, a write-only manager)."""

    sio: Any
    activity_window: float = ACTIVITY_WINDOW
    # Tickets whose activity update went out less than a window ago, and the newest state
    # waiting to follow it at the window's end.
    _cooling: set = field(default_factory=set, repr=False)
    _trailing: dict = field(default_factory=dict, repr=False)
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
        once. A message-activity update still waiting is older than this one: dropped."""
        self._trailing.pop(ticket["_id"], None)
        await self.sio.emit("ticket:updated", payloads.ticket(ticket), to=AGENTS_ROOM)
        if to_guest:
            await self.sio.emit("ticket:updated", payloads.guest_ticket(ticket),
                                to=guest_ticket_room(ticket["_id"]))

    async def ticket_activity(self, ticket: dict) -> None:
        """A message moved the ticket in the agents' queues (time, preview). Sent at once,
        then at most once per window per ticket, the last one carrying the newest state:
        at hundreds of messages a second, one queue refresh per message per agent was
        half of all frames the server wrote, for rows nobody can read that fast."""
        ticket_id = ticket["_id"]
        if ticket_id in self._cooling:
            self._trailing[ticket_id] = ticket
            return
        self._open_window(ticket_id)
        await self._emit_activity(ticket)

    def _open_window(self, ticket_id: object) -> None:
        self._cooling.add(ticket_id)
        asyncio.get_running_loop().call_later(self.activity_window, self._window_closed, ticket_id)

    def _window_closed(self, ticket_id: object) -> None:
        newest = self._trailing.pop(ticket_id, None)
        if newest is None:
            self._cooling.discard(ticket_id)
            return
        # The trailing update opens the next window at once, so a message arriving before
        # its send has run waits for the window instead of sending a second update.
        self._open_window(ticket_id)
        task = asyncio.get_running_loop().create_task(self._emit_activity(newest))
        self._sending.add(task)
        task.add_done_callback(self._sent)

    async def _emit_activity(self, ticket: dict) -> None:
        await self.sio.emit("ticket:updated", payloads.ticket(ticket), to=AGENTS_ROOM)

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

    def admins_listening(self) -> bool:
        """False only when no admin socket can be listening: a single process whose admins
        room is empty. With several processes (a message queue) another may hold one."""
        manager = getattr(self.sio, "manager", self.sio)
        if manager is None:
            return False
        if hasattr(manager, "_publish"):  # a pub/sub manager: the room spans processes
            return True
        return bool(manager.rooms.get("/", {}).get(ADMINS_ROOM))

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

    def admins_listening(self) -> bool:
        return False

    async def audit_new(self, row: dict) -> None:
        return None
