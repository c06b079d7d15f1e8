from __future__ import annotations

from aiohttp import web

from ..keys import ctx_key
from ..security import guest_set_cookie, new_guest_id, sign_guest_id
from ..services.conversations import assignment, messages, payloads, tickets
from ..services.guests import widget_settings
from ..services.operations import audit
from ..services.people import users
from . import identity
from .middleware import read_json

routes = web.RouteTableDef()


@routes.post("/api/guest/tickets", name="guest_tickets_create")
async def start_chat(request: web.Request) -> web.Response:
    ctx = request.app[ctx_key]
    body = await read_json(request)
    guest = identity.guest(request)
    guest_id = guest.id if guest else new_guest_id()
    ticket, message = await widget_settings.start_chat(
        ctx, guest_id=guest_id, name=body.get("name"), email=body.get("email"),
        body=body.get("message"), context=body.get("context"),
    )
    from .guest import guest_tokens

    response = web.json_response(
        {"ticket": payloads.guest_ticket(ticket), "message": payloads.message(message, for_guest=True),
         **guest_tokens(guest_id, ctx.settings)},
        status=201
    )
    response.headers.add("Set-Cookie", guest_set_cookie(sign_guest_id(guest_id, ctx.settings), ctx.settings))
    return response


@routes.get("/api/guest/tickets", name="guest_tickets_list")
async def guest_tickets(request: web.Request) -> web.Response:
    guest = identity.guest(request)
    if guest is None:
        return web.json_response({"tickets": []})
    ctx = request.app[ctx_key]
    found = await tickets.list_for_guest(ctx, guest_id=guest.id)
    from .guest import guest_tokens

    return web.json_response({"tickets": [payloads.guest_ticket(t) for t in found],
                              "badge_token": guest_tokens(guest.id, ctx.settings)["badge_token"]})


@routes.get("/api/tickets", name="tickets_list")
async def list_tickets(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    page = await tickets.list_for_agents(
        request.app[ctx_key], identity=caller, status=request.query.get("status"),
        before=request.query.get("before"), limit=request.query.get("limit"),
        assignee=request.query.get("assignee"), priority=request.query.get("priority"),
        tag=request.query.get("tag"),
    )
    return web.json_response(
        {"tickets": [payloads.ticket(t) for t in page.tickets], "next_cursor": page.next_cursor}
    )


@routes.get("/api/tickets/{ticket_id}", name="ticket_detail")
async def ticket_detail(request: web.Request) -> web.Response:
    caller = await identity.require_anyone(request)
    ticket = await tickets.get_accessible(
        request.app[ctx_key], identity=caller, ticket_id=request.match_info["ticket_id"]
    )
    return web.json_response({"ticket": payloads.ticket_for(caller, ticket)})


@routes.patch("/api/tickets/{ticket_id}", name="ticket_update")
async def ticket_update(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    body = await read_json(request)
    ticket = await tickets.update(
        request.app[ctx_key], identity=caller, ticket_id=request.match_info["ticket_id"], changes=body
    )
    return web.json_response({"ticket": payloads.ticket(ticket)})


@routes.put("/api/me/availability", name="availability_set")
async def availability_set(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    body = await read_json(request)
    user = await assignment.set_availability(request.app[ctx_key], identity=caller,
                                             availability=body.get("availability"))
    return web.json_response({"availability": user.get("availability", "online")})


@routes.get("/api/agents", name="agents_list")
async def agents_list(request: web.Request) -> web.Response:
    await identity.require_agent(request)
    found = await users.list_active_agents(request.app[ctx_key].db)
    return web.json_response({"agents": [payloads.agent_option(a) for a in found]})


@routes.get("/api/search", name="search")
async def search(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    page = await tickets.search(request.app[ctx_key], identity=caller, text=request.query.get("q"),
                                before=request.query.get("before"), limit=request.query.get("limit"))
    return web.json_response({"results": [payloads.search_hit(h) for h in page.hits],
                              "next_cursor": page.next_cursor})


@routes.get("/api/tags", name="tags_list")
async def tags_list(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    found = await tickets.known_tags(request.app[ctx_key], identity=caller)
    return web.json_response({"tags": found})


@routes.get("/api/tickets/{ticket_id}/related", name="ticket_related")
async def ticket_related(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    found = await tickets.related(request.app[ctx_key], identity=caller,
                                  ticket_id=request.match_info["ticket_id"])
    return web.json_response({"tickets": [payloads.ticket(t) for t in found]})


@routes.get("/api/tickets/{ticket_id}/activity", name="ticket_activity")
async def ticket_activity(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    page = await audit.for_ticket(request.app[ctx_key], identity=caller,
                                  ticket_id=request.match_info["ticket_id"],
                                  before=request.query.get("before"), limit=request.query.get("limit"))
    return web.json_response({"events": [audit.activity_payload(e) for e in page.events],
                              "next_cursor": page.next_cursor})


@routes.get("/api/tickets/{ticket_id}/messages", name="ticket_messages")
async def ticket_messages(request: web.Request) -> web.Response:
    caller = await identity.require_anyone(request)
    page = await messages.history(
        request.app[ctx_key], identity=caller, ticket_id=request.match_info["ticket_id"],
        before=request.query.get("before"), after=request.query.get("after"),
        limit=request.query.get("limit"),
    )
    return web.json_response({
        "messages": [payloads.message_for(caller, m) for m in page.messages],
        "next_cursor": page.next_cursor,
        "has_more": page.has_more,
    })


@routes.post("/api/tickets/{ticket_id}/notes", name="ticket_notes_create")
async def add_note(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    body = await read_json(request)
    sent = await messages.send(
        request.app[ctx_key], identity=caller, ticket_id=request.match_info["ticket_id"],
        body=body.get("body"), client_msg_id=body.get("client_msg_id"), kind="note",
    )
    return web.json_response({"message": payloads.message_for(caller, sent.message)},
                             status=201 if sent.created else 200)


@routes.post("/api/tickets/{ticket_id}/messages", name="ticket_messages_create")
async def add_reply(request: web.Request) -> web.Response:
    """An agent's (or a read-write API token's) reply to the guest: the same service as the
    socket's message:send, so it is numbered, stored, sent to the room and e-mailed alike."""
    caller = await identity.require_agent(request)
    body = await read_json(request)
    sent = await messages.send(
        request.app[ctx_key], identity=caller, ticket_id=request.match_info["ticket_id"],
        body=body.get("body"), client_msg_id=body.get("client_msg_id"), kind="message",
    )
    return web.json_response({"message": payloads.message_for(caller, sent.message)},
                             status=201 if sent.created else 200)
