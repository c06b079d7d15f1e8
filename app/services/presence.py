"""Who is connected where: the questions jobs and account changes ask about live sockets.

With one process the answers come from the Socket.IO server's own rooms. With REDIS_URL
set, the Socket.IO manager is app.sockets.cluster.ClusterManager, which keeps the members of
these rooms in Redis for every process; the same functions then answer across processes,
and disconnect_user reaches sockets held by other processes through the manager's queue."""

from __future__ import annotations

from .context import Ctx
from .events import guest_room, ticket_room, user_room

NAMESPACE = "/"


async def _sids_in_all(ctx: Ctx, *rooms: str) -> set[str]:
    """The sids that are in every one of these rooms."""
    sio = ctx.events.sio
    if sio is None:
        return set()
    shared = getattr(sio.manager, "shared_members", None)  # several processes (Redis)
    if shared is not None:
        return await shared(NAMESPACE, rooms)
    found: set[str] | None = None
    for room in rooms:
        sids = {sid for sid, _ in sio.manager.get_participants(NAMESPACE, room)}
        found = sids if found is None else found & sids
    return found or set()


async def guest_in_ticket_room(ctx: Ctx, *, ticket: dict) -> bool:
    """Whether the ticket's guest has a socket in its room right now."""
    return bool(await _sids_in_all(ctx, ticket_room(ticket["_id"]), guest_room(ticket["guest_id"])))


async def user_in_ticket_room(ctx: Ctx, *, user_id: str, ticket_id: object) -> bool:
    return bool(await _sids_in_all(ctx, ticket_room(ticket_id), user_room(user_id)))


async def user_online(ctx: Ctx, *, user_id: str) -> bool:
    return bool(await _sids_in_all(ctx, user_room(user_id)))


async def users_online(ctx: Ctx, *, user_ids: list[str]) -> set[str]:
    """Which of these agents have a socket connected now, on any process."""
    sio = ctx.events.sio
    if sio is None or not user_ids:
        return set()
    rooms = {user_room(u): u for u in user_ids}
    occupied = getattr(sio.manager, "occupied", None)  # several processes (Redis)
    if occupied is not None:
        return {rooms[room] for room in await occupied(NAMESPACE, list(rooms))}
    return {user for room, user in rooms.items()
            if any(True for _ in sio.manager.get_participants(NAMESPACE, room))}


async def disconnect_user(ctx: Ctx, *, user_id: str) -> int:
    """Cut every socket of this agent (deactivation, password change), in whichever process
    holds it. Returns how many."""
    sids = await _sids_in_all(ctx, user_room(user_id))
    for sid in sids:
        # A sid held by another process: the Redis manager forwards the disconnect to it.
        await ctx.events.sio.disconnect(sid, namespace=NAMESPACE)
    return len(sids)
