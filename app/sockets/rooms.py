"""The services' view of the sockets (app/services/core/context.py's Sockets): who is in
which room, on any process; cutting a socket or a room.

The one place outside the managers that knows which manager runs. With one process the
answers come from the Socket.IO server's own rooms (AsyncManager.get_participants, the
sessions' identities). With REDIS_URL the manager is app/sockets/cluster.py's
ClusterManager, which keeps the members of the presence rooms in Redis for every process:
its shared_members, occupied, labelled_members and label answer for all of them, and a
disconnect or a room closed reaches sockets held by other processes through its queue. A
worker without sockets (`run.py worker`, REDIS_URL set) holds a write-only manager: it sees
nobody, and may publish to anyone."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from socketio.async_pubsub_manager import AsyncPubSubManager

NAMESPACE = "/"


class SocketRooms:
    """Answers for a Socket.IO server, or for a write-only manager (a worker's)."""

    def __init__(self, sio: Any) -> None:
        self.sio = sio
        self.server = sio if hasattr(sio, "manager") else None
        self.manager = sio.manager if self.server is not None else sio

    async def members(self, rooms: Iterable[str]) -> set[str]:
        rooms = list(rooms)
        shared = getattr(self.manager, "shared_members", None)  # several processes (Redis)
        if shared is not None:
            return await shared(NAMESPACE, rooms)
        if self.server is None:
            return set()
        found: set[str] | None = None
        for room in rooms:
            sids = {sid for sid, _ in self.manager.get_participants(NAMESPACE, room)}
            found = sids if found is None else found & sids
        return found or set()

    async def occupied(self, rooms: list[str]) -> set[str]:
        occupied = getattr(self.manager, "occupied", None)  # several processes (Redis)
        if occupied is not None:
            return await occupied(NAMESPACE, rooms)
        if self.server is None:
            return set()
        return {room for room in rooms
                if any(True for _ in self.manager.get_participants(NAMESPACE, room))}

    async def remember_agent(self, sid: str, *, user_id: str, name: str) -> None:
        # One process: the socket's own session says who it is (agents_in reads it).
        label = getattr(self.manager, "label", None)
        if label is not None:
            await label(sid, f"{user_id}|{name}")

    async def agents_in(self, room: str) -> dict[str, tuple[str, str]]:
        labelled = getattr(self.manager, "labelled_members", None)  # several processes (Redis)
        found: dict[str, tuple[str, str]] = {}
        if labelled is not None:
            for sid, label in (await labelled(NAMESPACE, room)).items():
                user_id, _, name = label.partition("|")
                found[sid] = (user_id, name)
            return found
        if self.server is None:
            return found
        for sid, _ in list(self.manager.get_participants(NAMESPACE, room)):
            try:
                identity = (await self.server.get_session(sid, namespace=NAMESPACE)).get("identity")
            except KeyError:  # gone meanwhile
                continue
            if identity is not None and identity.is_agent:
                found[sid] = (identity.id, identity.name)
        return found

    async def disconnect(self, sid: str) -> None:
        # A sid held by another process: the Redis manager forwards the disconnect to it.
        if self.server is not None:
            await self.server.disconnect(sid, namespace=NAMESPACE)

    async def close_room(self, room: str) -> None:
        # Closing a session room disconnects its members, here or on every process
        # (app/sockets/sessions.py, app/sockets/cluster.py).
        if self.server is not None:
            await self.server.close_room(room, namespace=NAMESPACE)
        else:
            await self.manager.close_room(room, namespace=NAMESPACE)

    def may_reach(self, room: str) -> bool:
        if isinstance(self.manager, AsyncPubSubManager):  # Redis: the room spans processes
            return True
        return bool(self.manager.rooms.get(NAMESPACE, {}).get(room))
