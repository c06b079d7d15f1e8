"""The agent's notification inbox: the JSON API and the /notifications page. People only:
an API token has no inbox."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ..keys import ctx_key
from ..services.conversations import payloads
from ..services.operations import notifications
from . import identity

routes = web.RouteTableDef()


@routes.get("/api/notifications", name="notifications_list")
async def list_notifications(request: web.Request) -> web.Response:
    caller = (await identity.require_person(request)).identity
    ctx = request.app[ctx_key]
    page = await notifications.list_for(
        ctx, identity=caller, before=request.query.get("before"),
        limit=request.query.get("limit"), unread=request.query.get("unread"),
    )
    return web.json_response({
        "notifications": [payloads.notification(n) for n in page.notifications],
        "next_cursor": page.next_cursor,
        "unread": await notifications.count_for(ctx, identity=caller),
    })


@routes.get("/api/notifications/unread-count", name="notifications_unread_count")
async def unread_count(request: web.Request) -> web.Response:
    caller = (await identity.require_person(request)).identity
    return web.json_response({"unread": await notifications.count_for(request.app[ctx_key], identity=caller)})


@routes.post("/api/notifications/read-all", name="notifications_read_all")
async def read_all(request: web.Request) -> web.Response:
    caller = (await identity.require_person(request)).identity
    changed, unread = await notifications.mark_all_read(request.app[ctx_key], identity=caller)
    return web.json_response({"changed": changed, "unread": unread})


async def _mark(request: web.Request, read: bool) -> web.Response:
    caller = (await identity.require_person(request)).identity
    doc, unread = await notifications.mark(
        request.app[ctx_key], identity=caller, notification_id=request.match_info["notification_id"],
        read=read,
    )
    return web.json_response({"notification": payloads.notification(doc), "unread": unread})


@routes.post("/api/notifications/{notification_id}/read", name="notification_read")
async def mark_read(request: web.Request) -> web.Response:
    return await _mark(request, True)


@routes.post("/api/notifications/{notification_id}/unread", name="notification_unread")
async def mark_unread(request: web.Request) -> web.Response:
    return await _mark(request, False)


@routes.get("/notifications", name="notifications_page")
@aiohttp_jinja2.template("notifications.html")
async def inbox_page(request: web.Request) -> dict:
    _, user = await identity.page_user(request)
    return {"user": user}
