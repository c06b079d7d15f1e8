"""What other systems use, and what admins manage for them: API tokens, webhooks, and
privacy requests (a guest's export and erasure). Pages and JSON API, admins only."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ..keys import ctx_key
from ..services.conversations import payloads
from ..services.operations import privacy, webhooks
from ..services.people import api_tokens
from . import identity
from .middleware import read_json

routes = web.RouteTableDef()


# --- pages ----------------------------------------------------------------------------


@routes.get("/admin/webhooks", name="admin_webhooks")
@aiohttp_jinja2.template("admin_webhooks.html")
async def admin_webhooks_page(request: web.Request) -> dict:
    _, user = await identity.page_user(request, admin=True)
    return {"user": user, "events": webhooks.EVENTS}


@routes.get("/admin/tokens", name="admin_tokens")
@aiohttp_jinja2.template("admin_tokens.html")
async def admin_tokens_page(request: web.Request) -> dict:
    _, user = await identity.page_user(request, admin=True)
    return {"user": user, "scopes": api_tokens.SCOPES}


@routes.get("/admin/privacy", name="admin_privacy")
@aiohttp_jinja2.template("admin_privacy.html")
async def admin_privacy_page(request: web.Request) -> dict:
    _, user = await identity.page_user(request, admin=True)
    return {"user": user}


# --- API tokens -----------------------------------------------------------------------


@routes.get("/api/admin/tokens", name="admin_tokens_list")
async def list_tokens(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    found = await api_tokens.list_all(request.app[ctx_key], identity=caller)
    return web.json_response({"tokens": [payloads.api_token(t) for t in found]})


@routes.post("/api/admin/tokens", name="admin_tokens_create")
async def create_token(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    body = await read_json(request)
    doc, token = await api_tokens.create(request.app[ctx_key], identity=caller, name=body.get("name"),
                                         scope=body.get("scope"))
    return web.json_response({"token": payloads.api_token(doc), "secret": token}, status=201)


@routes.delete("/api/admin/tokens/{token_id}", name="admin_tokens_revoke")
async def revoke_token(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    doc = await api_tokens.revoke(request.app[ctx_key], identity=caller,
                                  token_id=request.match_info["token_id"])
    return web.json_response({"token": payloads.api_token(doc)})


# --- webhooks -------------------------------------------------------------------------


@routes.get("/api/admin/webhooks", name="admin_webhooks_list")
async def list_webhooks(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    found = await webhooks.list_all(request.app[ctx_key], identity=caller)
    return web.json_response({"webhooks": [payloads.webhook(w) for w in found]})


@routes.post("/api/admin/webhooks", name="admin_webhooks_create")
async def create_webhook(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    body = await read_json(request)
    doc, secret = await webhooks.create(
        request.app[ctx_key], identity=caller, url=body.get("url"), events=body.get("events"),
        include_notes=body.get("include_notes", False), description=body.get("description"))
    return web.json_response({"webhook": payloads.webhook(doc), "secret": secret}, status=201)


@routes.get("/api/admin/webhooks/{webhook_id}", name="admin_webhook_detail")
async def webhook_detail(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    doc = await webhooks.get(request.app[ctx_key], identity=caller,
                             webhook_id=request.match_info["webhook_id"])
    return web.json_response({"webhook": payloads.webhook(doc)})


@routes.patch("/api/admin/webhooks/{webhook_id}", name="admin_webhook_update")
async def update_webhook(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    body = await read_json(request)
    doc = await webhooks.update(request.app[ctx_key], identity=caller,
                                webhook_id=request.match_info["webhook_id"], changes=body)
    return web.json_response({"webhook": payloads.webhook(doc)})


@routes.delete("/api/admin/webhooks/{webhook_id}", name="admin_webhook_delete")
async def delete_webhook(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    await webhooks.delete(request.app[ctx_key], identity=caller,
                          webhook_id=request.match_info["webhook_id"])
    return web.json_response({"ok": True})


@routes.post("/api/admin/webhooks/{webhook_id}/secret", name="admin_webhook_secret")
async def rotate_webhook_secret(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    doc, secret = await webhooks.rotate_secret(request.app[ctx_key], identity=caller,
                                               webhook_id=request.match_info["webhook_id"])
    return web.json_response({"webhook": payloads.webhook(doc), "secret": secret})


@routes.get("/api/admin/webhooks/{webhook_id}/deliveries", name="admin_webhook_deliveries")
async def webhook_deliveries(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    page = await webhooks.deliveries(request.app[ctx_key], identity=caller,
                                     webhook_id=request.match_info["webhook_id"],
                                     before=request.query.get("before"), limit=request.query.get("limit"))
    return web.json_response({"deliveries": [payloads.webhook_delivery(d) for d in page.deliveries],
                              "next_cursor": page.next_cursor})


@routes.post("/api/admin/webhooks/{webhook_id}/deliveries/{attempt_id}/redeliver",
             name="admin_webhook_redeliver")
async def redeliver_webhook(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    await webhooks.redeliver(request.app[ctx_key], identity=caller,
                             webhook_id=request.match_info["webhook_id"],
                             attempt_id=request.match_info["attempt_id"])
    return web.json_response({"ok": True, "queued": True}, status=202)


# --- privacy --------------------------------------------------------------------------


@routes.get("/api/admin/privacy/export", name="admin_privacy_export")
async def privacy_export(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    document = await privacy.export(request.app[ctx_key], identity=caller,
                                    email=request.query.get("email"),
                                    ticket_id=request.query.get("ticket_id"))
    return web.json_response(document, headers={
        "Content-Disposition": 'attachment; filename="guest-export.json"',
        "Cache-Control": "no-store"})


@routes.post("/api/admin/privacy/erase", name="admin_privacy_erase")
async def privacy_erase(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    body = await read_json(request)
    erased = await privacy.erase(request.app[ctx_key], identity=caller, email=body.get("email"),
                                 ticket_id=body.get("ticket_id"))
    return web.json_response({
        "tickets": [payloads.ticket(t) for t in erased.tickets],
        "messages": erased.messages, "audit_events": erased.audit_events,
        "notifications": erased.notifications, "webhook_deliveries": erased.webhook_deliveries,
        "jobs": erased.jobs, "attachments": erased.attachments,
    })
