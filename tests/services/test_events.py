"""Queue refreshes while messages stream in: coalesced per ticket, newest state last.

The timing is forced step by step here (the end-to-end tests in tests/sockets cover the
same rule through a live server, but cannot pick which callback runs first)."""

import asyncio

from bson import ObjectId

from app.services.events import AGENTS_ROOM, Events


class RecordingServer:
    """Stands in for the Socket.IO server: records what would be emitted, in order."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict, object]] = []

    async def emit(self, event, payload, to=None, skip_sid=None):
        self.emitted.append((event, payload, to))


def ticket(oid: ObjectId, preview: str, status: str = "open") -> dict:
    return {"_id": oid, "status": status, "last_message_preview": preview}


async def test_a_message_between_window_end_and_trailing_send_never_ends_on_stale_state():
    server = RecordingServer()
    events = Events(sio=server, activity_window=60)  # the window closes only when we say
    oid = ObjectId()
    await events.ticket_activity(ticket(oid, "first"))  # sent at once
    await events.ticket_activity(ticket(oid, "second"))  # waits for the window
    events._window_closed(oid)  # the timer fires; its send is now a task, not yet run
    await events.ticket_activity(ticket(oid, "third"))  # arrives before that task runs
    await asyncio.sleep(0)  # the trailing send runs
    events._window_closed(oid)  # the next window ends
    await asyncio.sleep(0)
    previews = [p["last_message_preview"] for _, p, _ in server.emitted]
    assert previews == ["first", "second", "third"]  # one per window, the newest last
    assert all(to == AGENTS_ROOM for _, _, to in server.emitted)


async def test_a_ticket_change_drops_the_older_waiting_activity():
    server = RecordingServer()
    events = Events(sio=server, activity_window=60)
    oid = ObjectId()
    await events.ticket_activity(ticket(oid, "hello"))
    await events.ticket_activity(ticket(oid, "still open"))
    await events.ticket_updated(ticket(oid, "still open", status="closed"))
    events._window_closed(oid)
    await asyncio.sleep(0)
    to_agents = [p["status"] for _, p, to in server.emitted if to == AGENTS_ROOM]
    assert to_agents == ["open", "closed"]
