"""What the app hands the services without their knowing what answers, as Protocols of
core (so that core imports no other package): the live events (conversations' Events, or
NoEvents in tools), the counters for /metrics (operations' Metrics) and the sockets layer
(app/sockets/rooms.py's SocketRooms: who is connected where). create_app and the worker
wire the real ones into Ctx."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol


class LiveEvents(Protocol):
    """What services tell connected clients, after a write succeeded."""

    async def message_new(self, doc: dict, *, skip_sid: str | None = None) -> None: ...

    async def ticket_updated(self, ticket: dict, *, to_guest: bool = True) -> None: ...

    async def ticket_activity(self, ticket: dict) -> None: ...

    async def typing(self, payload: dict, *, ticket_id: object, skip_sid: str | None) -> None: ...

    async def typing_staff(self, payload: dict, *, ticket_id: object,
                           skip_sid: str | None) -> None: ...

    async def viewers(self, ticket_id: object, viewers: list[dict]) -> None: ...

    async def notification_new(self, doc: dict) -> None: ...

    async def notification_updated(self, doc: dict) -> None: ...

    async def notification_count(self, user_id: str, unread: int) -> None: ...

    async def audit_new(self, row: dict) -> None: ...


class Counters(Protocol):
    """What this process counts for /metrics, at the place where each thing happens."""

    def message_stored(self, kind: str) -> None: ...

    def escalated(self, priority: str) -> None: ...

    def refused(self, rule: str) -> None: ...

    def socket_connected(self, role: str) -> None: ...

    def socket_disconnected(self, role: str) -> None: ...

    def timed(self, event: str,
              handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]: ...


class NotCounted:
    """Counters for a context nobody scrapes (tools, tests that build their own)."""

    def message_stored(self, kind: str) -> None:
        pass

    def escalated(self, priority: str) -> None:
        pass

    def refused(self, rule: str) -> None:
        pass

    def socket_connected(self, role: str) -> None:
        pass

    def socket_disconnected(self, role: str) -> None:
        pass

    def timed(self, event: str,
              handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        return handler


class Sockets(Protocol):
    """Who is connected where, on any process: the questions presence, sessions and the live
    audit page ask of the sockets layer, by room name (conversations/events.py names them)."""

    async def members(self, rooms: Iterable[str]) -> set[str]:
        """The sids that are in every one of these rooms."""
        ...

    async def occupied(self, rooms: list[str]) -> set[str]:
        """Which of these rooms have a socket in them."""
        ...

    async def remember_agent(self, sid: str, *, user_id: str, name: str) -> None:
        """Who an agent's socket is, for agents_in() on every process."""
        ...

    async def agents_in(self, room: str) -> dict[str, tuple[str, str]]:
        """The agent sockets in the room: sid -> (user id, name)."""
        ...

    async def disconnect(self, sid: str) -> None:
        """Cut this socket, in whichever process holds it."""
        ...

    async def close_room(self, room: str) -> None:
        """Disconnect every socket in the room, in whichever process holds it."""
        ...

    def may_reach(self, room: str) -> bool:
        """False only when no socket in this room can be listening."""
        ...
