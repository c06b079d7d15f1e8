"""Who is connected where: the questions jobs and account changes ask about live sockets.

With one process the answers come from the Socket.IO server's own rooms. With REDIS_URL
set, the Socket.IO manager is app.sockets.cluster.ClusterManager, which keeps the members of
these rooms in Redis for every process; the same functions then answer across processes,
and disconnect_user reaches sockets held by other processes through the manager's queue."""

from __future__ import annotations

from ..core.context import Ctx
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
    """Which of these agents have a socket connected now, on any process. A process that
    serves no sockets (`run.py worker`) cannot tell: nobody, as far as it knows."""
    sio = ctx.events.sio
    if sio is None or not user_ids or not hasattr(sio, "manager"):
        return set()
    rooms = {user_room(u): u for u in user_ids}
    occupied = getattr(sio.manager, "occupied", None)  # several processes (Redis)
    if occupied is not None:
        return {rooms[room] for room in await occupied(NAMESPACE, list(rooms))}
    return {user for room, user in rooms.items()
            if any(True for _ in sio.manager.get_participants(NAMESPACE, room))}


# --- who else is in a ticket (agents only) ---------------------------------------------------


async def remember(ctx: Ctx, *, sid: str, identity) -> None:
    """At an agent socket's connect: who it is, for viewers() on every process (with one
    process, the socket's own session says it)."""
    label = getattr(ctx.events.sio.manager, "label", None)
    if label is not None and identity.is_agent:
        await label(sid, f"{identity.id}|{identity.name}")


async def viewers(ctx: Ctx, *, ticket_id: object, leaving_sid: str | None = None) -> list[dict]:
    """The agents with the ticket open now ({id, name}, each once, by name), from the
    sockets in its room: no database read. `leaving_sid`: a socket on its way out."""
    sio = ctx.events.sio
    if sio is None:
        return []
    room = ticket_room(ticket_id)
    found: dict[str, str] = {}
    labelled = getattr(sio.manager, "labelled_members", None)  # several processes (Redis)
    if labelled is not None:
        for sid, label in (await labelled(NAMESPACE, room)).items():
            user_id, _, name = label.partition("|")
            if sid != leaving_sid:
                found[user_id] = name
    else:
        for sid, _ in list(sio.manager.get_participants(NAMESPACE, room)):
            if sid == leaving_sid:
                continue
            try:
                identity = (await sio.get_session(sid, namespace=NAMESPACE)).get("identity")
            except KeyError:  # gone meanwhile
                continue
            if identity is not None and identity.is_agent:
                found[identity.id] = identity.name
    return [{"id": user_id, "name": name} for user_id, name in sorted(found.items(), key=lambda i: i[1])]


async def announce_viewers(ctx: Ctx, *, ticket_id: object, leaving_sid: str | None = None) -> list[dict]:
    """Tell the agents in a ticket who has it open (after a join, a leave, a disconnect)."""
    found = await viewers(ctx, ticket_id=ticket_id, leaving_sid=leaving_sid)
    await ctx.events.viewers(ticket_id, found)
    return found


async def disconnect_user(ctx: Ctx, *, user_id: str) -> int:
    """Cut every socket of this agent (deactivation, password change), in whichever process
    holds it. Returns how many."""
    sids = await _sids_in_all(ctx, user_room(user_id))
    for sid in sids:
        # A sid held by another process: the Redis manager forwards the disconnect to it.
        await ctx.events.sio.disconnect(sid, namespace=NAMESPACE)
    return len(sids)
