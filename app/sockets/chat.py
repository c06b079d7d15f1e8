"""The chat events of the real-time protocol (design.md). Each one parses its payload,
calls one service and shapes the answer; the rules live in app/services."""

from __future__ import annotations

import socketio

from ..security import Identity
from ..services.conversations import (
    Events,
    guest_ticket_room,
    messages,
    payloads,
    presence,
    staff_room,
    ticket_room,
    tickets,
)
from ..services.core import Ctx, validate


def _server(ctx: Ctx) -> socketio.AsyncServer:
    """The Socket.IO server the live events go through (this process serves sockets)."""
    events = ctx.events
    assert isinstance(events, Events)
    return events.sio


async def ticket_join(ctx: Ctx, sid: str, identity: Identity, data: dict) -> dict:
    sio = _server(ctx)

    async def subscribe(ticket: dict) -> None:
        await sio.enter_room(sid, ticket_room(ticket["_id"]))
        if identity.is_agent:
            await sio.enter_room(sid, staff_room(ticket["_id"]))
        else:
            await sio.enter_room(sid, guest_ticket_room(ticket["_id"]))

    joined = await tickets.join(
        ctx, identity=identity, ticket_id=data.get("ticket_id"), subscribe=subscribe,
        limit=data.get("limit"),
    )
    answer = {
        "ticket": payloads.ticket_for(identity, joined.ticket),
        "messages": [payloads.message_for(identity, m) for m in joined.page.messages],
        "next_cursor": joined.page.next_cursor,
    }
    if identity.is_agent:  # who else has it open (they hear of this one too)
        answer["viewers"] = await presence.announce_viewers(ctx, ticket_id=joined.ticket["_id"])
    return answer


async def ticket_leave(ctx: Ctx, sid: str, identity: Identity, data: dict) -> dict:
    ticket_id = validate.object_id(data.get("ticket_id"), "ticket_id")
    sio = _server(ctx)
    was_in = ticket_room(ticket_id) in sio.rooms(sid)
    await sio.leave_room(sid, ticket_room(ticket_id))
    await sio.leave_room(sid, staff_room(ticket_id))
    await sio.leave_room(sid, guest_ticket_room(ticket_id))
    if identity.is_agent and was_in:
        await presence.announce_viewers(ctx, ticket_id=ticket_id, leaving_sid=sid)
    return {}


async def left_everything(ctx: Ctx, sid: str, identity: Identity) -> None:
    """An agent socket disconnecting: the tickets it had open hear who is left."""
    if not identity.is_agent:
        return
    for room in _server(ctx).rooms(sid):
        if room.startswith("ticket:") and room.endswith(":staff"):
            await presence.announce_viewers(ctx, ticket_id=room.split(":")[1], leaving_sid=sid)


async def message_send(ctx: Ctx, sid: str, identity: Identity, data: dict) -> dict:
    sent = await messages.send(
        ctx, identity=identity, ticket_id=data.get("ticket_id"), body=data.get("body"),
        client_msg_id=data.get("client_msg_id"), skip_sid=sid,
    )
    return {"message": payloads.message_for(identity, sent.message), "duplicate": not sent.created}


async def note_add(ctx: Ctx, sid: str, identity: Identity, data: dict) -> dict:
    """An internal note: agents only, and only agent sockets hear of it (services/conversations/events.py)."""
    sent = await messages.send(
        ctx, identity=identity, ticket_id=data.get("ticket_id"), body=data.get("body"),
        client_msg_id=data.get("client_msg_id"), kind="note", skip_sid=sid,
    )
    return {"message": payloads.message_for(identity, sent.message), "duplicate": not sent.created}


async def messages_history(ctx: Ctx, sid: str, identity: Identity, data: dict) -> dict:
    page = await messages.history(
        ctx, identity=identity, ticket_id=data.get("ticket_id"), before=data.get("before"),
        after=data.get("after"), limit=data.get("limit"),
    )
    return {
        "messages": [payloads.message_for(identity, m) for m in page.messages],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    }


async def typing(ctx: Ctx, sid: str, identity: Identity, data: dict) -> dict:
    await tickets.typing(
        ctx, identity=identity, ticket_id=data.get("ticket_id"), typing=data.get("typing"),
        skip_sid=sid, note=data.get("note"),
    )
    return {}


async def ticket_close(ctx: Ctx, sid: str, identity: Identity, data: dict) -> dict:
    ticket = await tickets.close(ctx, identity=identity, ticket_id=data.get("ticket_id"))
    return {"ticket": payloads.ticket(ticket)}


async def ticket_update(ctx: Ctx, sid: str, identity: Identity, data: dict) -> dict:
    changes = {k: v for k, v in data.items() if k != "ticket_id"}
    ticket = await tickets.update(ctx, identity=identity, ticket_id=data.get("ticket_id"), changes=changes)
    return {"ticket": payloads.ticket(ticket)}


async def ticket_read(ctx: Ctx, sid: str, identity: Identity, data: dict) -> dict:
    """The guest has seen their conversation up to message `seq` (the launcher's badge)."""
    await tickets.mark_read(ctx, identity=identity, ticket_id=data.get("ticket_id"), seq=data.get("seq"))
    return {}


HANDLERS = {
    "ticket:join": ticket_join,
    "ticket:leave": ticket_leave,
    "message:send": message_send,
    "note:add": note_add,
    "messages:history": messages_history,
    "typing": typing,
    "ticket:close": ticket_close,
    "ticket:update": ticket_update,
    "ticket:read": ticket_read,
}
