"""Queue refreshes while messages stream in: batched for all tickets, newest state of each.

The timing is forced step by step here (the end-to-end tests in tests/sockets cover the
same rule through a live server, but cannot pick which callback runs first)."""

import asyncio

from bson import ObjectId

from app.services.conversations import AGENTS_ROOM, Events


class RecordingServer:
    """Stands in for the Socket.IO server: records what would be emitted, in order."""

    def __init__(self) -> None:
        self.emitted: list[tuple[str, dict, object]] = []

    async def emit(self, event, payload, to=None, skip_sid=None):
        self.emitted.append((event, payload, to))


def ticket(oid: ObjectId, preview: str, version: int, status: str = "open") -> dict:
    return {"_id": oid, "status": status, "last_message_preview": preview, "version": version}


def batches(server: RecordingServer) -> list[list[tuple[str, str]]]:
    return [[(t["id"], t["last_message_preview"]) for t in payload["tickets"]]
            for event, payload, _ in server.emitted if event == "queue:updated"]


async def test_activity_of_many_tickets_goes_out_as_one_frame_per_interval():
    server = RecordingServer()
    events = Events(sio=server, queue_interval=60)  # the interval ends only when we say
    a, b, c = ObjectId(), ObjectId(), ObjectId()
    await events.ticket_activity(ticket(a, "a1", 2))  # after a quiet spell: at once
    for n in range(2, 6):
        await events.ticket_activity(ticket(a, f"a{n}", n + 1))
        await events.ticket_activity(ticket(b, f"b{n}", n))
        await events.ticket_activity(ticket(c, f"c{n}", n))
    events._window_closed()
    await asyncio.sleep(0)
    assert batches(server) == [[(str(a), "a1")], [(str(a), "a5"), (str(b), "b5"), (str(c), "c5")]]
    assert all(to == AGENTS_ROOM for _, _, to in server.emitted)
    events._window_closed()  # a quiet interval: nothing sent, the next activity goes at once
    await events.ticket_activity(ticket(b, "b6", 7))
    assert batches(server)[-1] == [(str(b), "b6")]


async def test_activity_between_window_end_and_batch_send_never_ends_on_stale_state():
    server = RecordingServer()
    events = Events(sio=server, queue_interval=60)
    oid = ObjectId()
    await events.ticket_activity(ticket(oid, "first", 1))  # sent at once
    await events.ticket_activity(ticket(oid, "second", 2))  # waits for the interval
    events._window_closed()  # the timer fires; its send is now a task, not yet run
    await events.ticket_activity(ticket(oid, "third", 3))  # arrives before that task runs
    await asyncio.sleep(0)  # the batch goes out
    events._window_closed()  # the next interval ends
    await asyncio.sleep(0)
    previews = [p for batch in batches(server) for _, p in batch]
    assert previews[0] == "first" and previews[-1] == "third"  # the newest last
    assert len(previews) <= 3


async def test_an_older_activity_never_replaces_a_newer_one_in_the_batch():
    server = RecordingServer()
    events = Events(sio=server, queue_interval=60)
    oid = ObjectId()
    await events.ticket_activity(ticket(oid, "opens the window", 1))
    await events.ticket_activity(ticket(oid, "newer", 5))
    await events.ticket_activity(ticket(oid, "older, written first, arrived late", 4))
    events._window_closed()
    await asyncio.sleep(0)
    assert batches(server)[-1] == [(str(oid), "newer")]


async def test_a_ticket_change_drops_the_older_waiting_activity():
    server = RecordingServer()
    events = Events(sio=server, queue_interval=60)
    oid = ObjectId()
    await events.ticket_activity(ticket(oid, "hello", 1))
    await events.ticket_activity(ticket(oid, "still open", 2))
    await events.ticket_updated(ticket(oid, "still open", 3, status="closed"))
    events._window_closed()
    await asyncio.sleep(0)
    to_agents = [(event, p.get("status") or [t["status"] for t in p["tickets"]])
                 for event, p, to in server.emitted if to == AGENTS_ROOM]
    assert to_agents == [("queue:updated", ["open"]), ("ticket:updated", "closed")]
