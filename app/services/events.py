"""How services tell connected clients what changed. Services call these after a write
succeeded; the payloads come from payloads.py, never raw documents."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import payloads

AGENTS_ROOM = "agents"


def ticket_room(ticket_id: object) -> str:
    return f"ticket:{ticket_id}"


def staff_room(ticket_id: object) -> str:
    """The agent sockets in a ticket's room: internal notes go here only."""
    return f"ticket:{ticket_id}:staff"


def user_room(user_id: object) -> str:
    return f"user:{user_id}"


def guest_room(guest_id: str) -> str:
    return f"guest:{guest_id}"


def presence_room(room: object) -> bool:
    """The rooms the presence service asks about: with several processes their members
    are kept in Redis too (app/sockets/cluster.py)."""
    return isinstance(room, str) and room.startswith(("ticket:", "user:", "guest:")) and not room.endswith(":staff")


@dataclass
class Events:
    """Wraps the Socket.IO server (or, in a worker-only process, a write-only manager)."""

    sio: Any

    async def message_new(self, doc: dict, *, skip_sid: str | None = None) -> None:
        room = staff_room(doc["ticket_id"]) if doc["kind"] == "note" else ticket_room(doc["ticket_id"])
        await self.sio.emit("message:new", payloads.message(doc), to=room, skip_sid=skip_sid)

    async def ticket_updated(self, ticket: dict, *, to_guest: bool = True) -> None:
        rooms = [AGENTS_ROOM, ticket_room(ticket["_id"])] if to_guest else AGENTS_ROOM
        await self.sio.emit("ticket:updated", payloads.ticket(ticket), to=rooms)

    async def typing(self, payload: dict, *, ticket_id: object, skip_sid: str | None) -> None:
        await self.sio.emit("typing", payload, to=ticket_room(ticket_id), skip_sid=skip_sid)

    async def notification_new(self, doc: dict) -> None:
        await self.sio.emit("notification:new", payloads.notification(doc), to=user_room(doc["user_id"]))

    async def notification_updated(self, doc: dict) -> None:
        await self.sio.emit("notification:updated", payloads.notification(doc), to=user_room(doc["user_id"]))

    async def notification_count(self, user_id: str, unread: int) -> None:
        await self.sio.emit("notification:count", {"unread": unread}, to=user_room(user_id))


class NoEvents(Events):
    """For tools that write without anyone listening (seeding, benchmarks' set-up)."""

    def __init__(self) -> None:
        super().__init__(sio=None)

    async def message_new(self, doc: dict, *, skip_sid: str | None = None) -> None:
        return None

    async def ticket_updated(self, ticket: dict, *, to_guest: bool = True) -> None:
        return None

    async def typing(self, payload: dict, *, ticket_id: object, skip_sid: str | None) -> None:
        return None

    async def notification_new(self, doc: dict) -> None:
        return None

    async def notification_updated(self, doc: dict) -> None:
        return None

    async def notification_count(self, user_id: str, unread: int) -> None:
        return None
