"""The guest's way back (issue 12): resume links, the rating link and form, the launcher's
unread badge, attachments (upload and download, for guests and agents), and the widget's
settings for admins."""

from __future__ import annotations

from urllib.parse import quote

import aiohttp_jinja2
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from ..errors import Invalid, Unauthorized
from ..keys import ctx_key
from ..security import (
    badge_token,
    guest_set_cookie,
    sign_guest_id,
    verify_badge_token,
    verify_resume_token,
)
from ..services.conversations import attachments, payloads, tickets
from ..services.core import validate
from ..services.guests import satisfaction, widget_settings
from . import identity
from .middleware import MalformedBody, read_json

routes = web.RouteTableDef()


def widget_context(view: widget_settings.WidgetView) -> dict:
    """What widget.html shows before its script runs (title, greeting, colour, presence)."""
    presence = view.presence
    return {
        "title": view.title, "greeting": view.greeting, "color": view.color,
        "email_required": view.email_required, "online": presence.online,
        "reply_minutes": presence.reply_minutes,
        "back_at": payloads.iso(presence.back_at),
    }


def guest_tokens(guest_id: str, settings) -> dict:
    """What the widget keeps in its own storage: its identity, signed exactly as the cookie
    is, and the narrower token the launcher on the shop's page may hold."""
    return {"guest_token": sign_guest_id(guest_id, settings), "badge_token": badge_token(guest_id, settings)}


# --- resume links -----------------------------------------------------------------------


@routes.get("/widget/resume", name="widget_resume")
async def resume(request: web.Request) -> web.Response:
    """A resume link from an e-mail: a valid one gives this browser the guest's identity (the
    cookie, and the token the widget keeps) and opens the conversation; an expired or altered
    one says so and offers the start form, the address filled in."""
    ctx = request.app[ctx_key]
    link = verify_resume_token(request.query.get("token"), ctx.settings)
    page = widget_context(await widget_settings.for_widget(ctx))
    if link is None or link.expired:
        page["resume_problem"] = "expired" if link is not None else "invalid"
        try:
            page["prefill_email"] = validate.optional_email(request.query.get("email", "")[:254]) or ""
        except Invalid:
            page["prefill_email"] = ""
        return aiohttp_jinja2.render_template("widget.html", request, page)
    page["resume"] = {"ticket_id": link.ticket_id, **guest_tokens(link.guest_id, ctx.settings)}
    response = aiohttp_jinja2.render_template("widget.html", request, page)
    response.headers.add("Set-Cookie", guest_set_cookie(sign_guest_id(link.guest_id, ctx.settings),
                                                        ctx.settings))
    return response


# --- satisfaction -------------------------------------------------------------------------


@routes.post("/api/tickets/{ticket_id}/csat", name="ticket_csat")
async def rate(request: web.Request) -> web.Response:
    caller = await identity.require_anyone(request)
    body = await read_json(request)
    ticket = await satisfaction.rate(request.app[ctx_key], identity=caller,
                                     ticket_id=request.match_info["ticket_id"],
                                     rating=body.get("rating"), comment=body.get("comment"))
    return web.json_response({"ticket": payloads.ticket_for(caller, ticket)})


@routes.post("/api/csat", name="csat_by_link")
async def rate_by_link(request: web.Request) -> web.Response:
    body = await read_json(request)
    ticket = await satisfaction.rate_by_link(request.app[ctx_key], token=body.get("token"),
                                             rating=body.get("rating"), comment=body.get("comment"))
    return web.json_response({"csat": payloads.csat(ticket.get("csat"))})


@routes.get("/rate", name="rate")
@aiohttp_jinja2.template("rate.html")
async def rate_page(request: web.Request) -> dict:
    """The closing e-mail's link: rate the conversation without opening the widget."""
    ctx = request.app[ctx_key]
    token = request.query.get("token", "")[:200]
    try:
        ticket = await satisfaction.ticket_of_link(ctx, token=token)
    except Exception:
        return {"problem": "invalid", "token": ""}
    until = satisfaction.open_until(ticket)
    from .. import clock

    problem = None if until and clock.utcnow() < until else ("late" if until else "open")
    return {"problem": problem, "token": token, "subject": ticket.get("subject", ""),
            "csat": payloads.csat(ticket.get("csat"))}


# --- the launcher's badge -----------------------------------------------------------------


@routes.get("/api/guest/unread", name="guest_unread")
async def unread(request: web.Request) -> web.Response:
    """Unread agents' messages, for the launcher on the shop's page (another origin, which
    holds only the badge token: a simple GET, readable by any origin, revealing a count)."""
    ctx = request.app[ctx_key]
    guest_id = verify_badge_token(request.query.get("badge"), ctx.settings)
    if guest_id is None:
        raise Unauthorized("This badge token is not valid.")
    look = await widget_settings.look(ctx)
    count = await tickets.unread_for_guest(ctx, guest_id=guest_id)
    response = web.json_response({"unread": count, "color": look["color"]})
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cache-Control"] = "no-store"
    return response


# --- attachments ------------------------------------------------------------------------


@routes.post("/api/tickets/{ticket_id}/attachments", name="ticket_attachments_create")
async def upload(request: web.Request) -> web.Response:
    """multipart/form-data: `client_msg_id`, then `file`. The one route that reads more than
    64 KiB: the file is read in pieces up to MAX_UPLOAD_MB (413 past it), never whole from
    an unbounded body."""
    ctx = request.app[ctx_key]
    caller = await identity.require_anyone(request)
    ticket_id = request.match_info["ticket_id"]
    await attachments.check_upload(ctx, identity=caller, ticket_id=ticket_id)
    limit = attachments.max_bytes(ctx)
    if request.content_length is not None and request.content_length > limit + 64 * 1024:
        raise attachments.too_large(ctx)
    if request.content_type != "multipart/form-data":
        raise MalformedBody("Send the file as multipart/form-data.")
    client_msg_id = filename = data = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                raise MalformedBody("Nested multipart bodies are not taken.")
            if part.name == "client_msg_id":
                client_msg_id = (await part.read(decode=False))[:100].decode("utf-8", "replace")
            elif part.name == "file" and data is None:
                filename = part.filename
                data = await _read_limited(part, limit, ctx)
            else:
                await part.release()
    except (ValueError, AssertionError, RuntimeError, UnicodeError, HttpProcessingError):
        raise MalformedBody("The upload is not a valid multipart/form-data body.") from None
    if data is None:
        raise Invalid("Choose a file to send.", field="file")
    sent = await attachments.upload(ctx, identity=caller, ticket_id=ticket_id, filename=filename,
                                    data=data, client_msg_id=client_msg_id)
    return web.json_response({"message": payloads.message_for(caller, sent.message)},
                             status=201 if sent.created else 200)


async def _read_limited(part: BodyPartReader, limit: int, ctx) -> bytes:
    chunks, size = [], 0
    while chunk := await part.read_chunk(64 * 1024):
        size += len(chunk)
        if size > limit:
            raise attachments.too_large(ctx)
        chunks.append(chunk)
    return b"".join(chunks)


@routes.get("/api/attachments/{attachment_id}", name="attachment_download")
async def download(request: web.Request) -> web.Response:
    caller = await identity.require_anyone(request)
    found = await attachments.download(request.app[ctx_key], identity=caller,
                                       attachment_id=request.match_info["attachment_id"])
    disposition = "inline" if found.inline else "attachment"
    ascii_name = found.name.encode("ascii", "replace").decode().replace('"', "'").replace("\\", "_")
    return web.Response(body=found.data, headers={
        "Content-Type": found.type,
        "Content-Disposition": f"{disposition}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(found.name)}",
        "Cache-Control": "private, max-age=86400",
    })


# --- admin: the widget's settings -----------------------------------------------------------


@routes.get("/admin/settings", name="admin_settings")
@aiohttp_jinja2.template("admin_settings.html")
async def settings_page(request: web.Request) -> dict:
    _, user = await identity.page_user(request, admin=True)
    return {"user": user}


@routes.get("/api/admin/settings", name="admin_settings_get")
async def settings_get(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    return web.json_response(await widget_settings.for_admin(request.app[ctx_key], identity=caller))


@routes.put("/api/admin/settings", name="admin_settings_put")
async def settings_put(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    body = await read_json(request)
    return web.json_response(await widget_settings.save(request.app[ctx_key], identity=caller,
                                                        changes=body))
