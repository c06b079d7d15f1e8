"""Who is connected where: the questions jobs and account changes ask about live sockets.

This is the single-process implementation, read from the Socket.IO server's own rooms.
With REDIS_URL set (several processes), the same functions must answer across processes."""

from __future__ import annotations

from .context import Ctx
from .events import guest_room, ticket_room, user_room

NAMESPACE = "/"


def _sids(ctx: Ctx, room: str) -> set[str]:
    sio = ctx.events.sio
    if sio is None:
        return set()
    return {sid for sid, _ in sio.manager.get_participants(NAMESPACE, room)}


async def guest_in_ticket_room(ctx: Ctx, *, ticket: dict) -> bool:
    """Whether the ticket's guest has a socket in its room right now."""
    return bool(_sids(ctx, ticket_room(ticket["_id"])) & _sids(ctx, guest_room(ticket["guest_id"])))


async def user_in_ticket_room(ctx: Ctx, *, user_id: str, ticket_id: object) -> bool:
    return bool(_sids(ctx, ticket_room(ticket_id)) & _sids(ctx, user_room(user_id)))


async def user_online(ctx: Ctx, *, user_id: str) -> bool:
    return bool(_sids(ctx, user_room(user_id)))


async def disconnect_user(ctx: Ctx, *, user_id: str) -> int:
    """Cut every socket of this agent (deactivation, password change). Returns how many."""
    sids = _sids(ctx, user_room(user_id))
    for sid in sids:
        await ctx.events.sio.disconnect(sid, namespace=NAMESPACE)
    return len(sids)
