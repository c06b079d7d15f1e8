"""Who is connected where: the questions jobs and account changes ask about live sockets.

The sockets layer answers them through `ctx.sockets` (core's Sockets protocol, implemented
by app/sockets/rooms.py): with one process from the Socket.IO server's own rooms, with
REDIS_URL from the members that app/sockets/cluster.py keeps in Redis for every process.
A process without sockets (`ctx.sockets` None) sees nobody."""

from __future__ import annotations

from ..core import Ctx
from .events import guest_room, ticket_room, user_room


async def _sids_in_all(ctx: Ctx, *rooms: str) -> set[str]:
    """The sids that are in every one of these rooms."""
    if ctx.sockets is None:
        return set()
    return await ctx.sockets.members(rooms)


async def guest_in_ticket_room(ctx: Ctx, *, ticket: dict) -> bool:
    """Whether the ticket's guest has a socket in its room right now."""
    return bool(await _sids_in_all(ctx, ticket_room(ticket["_id"]), guest_room(ticket["guest_id"])))


async def user_in_ticket_room(ctx: Ctx, *, user_id: str, ticket_id: object) -> bool:
    return bool(await _sids_in_all(ctx, ticket_room(ticket_id), user_room(user_id)))


async def user_online(ctx: Ctx, *, user_id: str) -> bool:
    return bool(await _sids_in_all(ctx, user_room(user_id)))


async def users_online(ctx: Ctx, *, user_ids: list[str]) -> set[str]:
    """Which of these agents have a socket connected now, on any process. A process that
    serves no sockets (`run.py worker`) cannot tell: nobody, as far as it knows."""
    if ctx.sockets is None or not user_ids:
        return set()
    rooms = {user_room(u): u for u in user_ids}
    return {rooms[room] for room in await ctx.sockets.occupied(list(rooms))}


# --- who else is in a ticket (agents only) ---------------------------------------------------


async def remember(ctx: Ctx, *, sid: str, identity) -> None:
    """At an agent socket's connect: who it is, for viewers() on every process."""
    if ctx.sockets is not None and identity.is_agent:
        await ctx.sockets.remember_agent(sid, user_id=identity.id, name=identity.name)


async def viewers(ctx: Ctx, *, ticket_id: object, leaving_sid: str | None = None) -> list[dict]:
    """The agents with the ticket open now ({id, name}, each once, by name), from the
    sockets in its room: no database read. `leaving_sid`: a socket on its way out."""
    if ctx.sockets is None:
        return []
    found: dict[str, str] = {}
    for sid, (user_id, name) in (await ctx.sockets.agents_in(ticket_room(ticket_id))).items():
        if sid != leaving_sid:
            found[user_id] = name
    return [{"id": user_id, "name": name} for user_id, name in sorted(found.items(), key=lambda i: i[1])]


async def announce_viewers(ctx: Ctx, *, ticket_id: object, leaving_sid: str | None = None) -> list[dict]:
    """Tell the agents in a ticket who has it open (after a join, a leave, a disconnect)."""
    found = await viewers(ctx, ticket_id=ticket_id, leaving_sid=leaving_sid)
    await ctx.events.viewers(ticket_id, found)
    return found


async def disconnect_user(ctx: Ctx, *, user_id: str) -> int:
    """Cut every socket of this agent (deactivation, password change), in whichever process
    holds it. Returns how many."""
    if ctx.sockets is None:
        return 0
    sids = await ctx.sockets.members([user_room(user_id)])
    for sid in sids:
        await ctx.sockets.disconnect(sid)
    return len(sids)
