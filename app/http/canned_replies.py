"""Canned replies: the manager page and its API (services/people/canned_replies.py)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ..keys import ctx_key
from ..services.conversations import payloads
from ..services.people import canned_replies
from . import identity
from .middleware import read_json

routes = web.RouteTableDef()


@routes.get("/canned-replies", name="canned_replies_page")
@aiohttp_jinja2.template("canned_replies.html")
async def canned_replies_page(request: web.Request) -> dict:
    _, user = await identity.page_user(request)
    return {"user": user, "placeholders": canned_replies.PLACEHOLDERS}


@routes.get("/api/canned-replies", name="canned_replies_list")
async def list_replies(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    found = await canned_replies.list_for(request.app[ctx_key], identity=caller)
    return web.json_response({"replies": [payloads.canned_reply(r, caller) for r in found],
                              "placeholders": list(canned_replies.PLACEHOLDERS)})


@routes.post("/api/canned-replies", name="canned_replies_create")
async def create_reply(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    reply = await canned_replies.create(request.app[ctx_key], identity=caller, data=await read_json(request))
    return web.json_response({"reply": payloads.canned_reply(reply, caller)}, status=201)


@routes.patch("/api/canned-replies/{reply_id}", name="canned_replies_update")
async def update_reply(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    reply = await canned_replies.update(request.app[ctx_key], identity=caller,
                                        reply_id=request.match_info["reply_id"],
                                        changes=await read_json(request))
    return web.json_response({"reply": payloads.canned_reply(reply, caller)})


@routes.delete("/api/canned-replies/{reply_id}", name="canned_replies_delete")
async def delete_reply(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    await canned_replies.delete(request.app[ctx_key], identity=caller, reply_id=request.match_info["reply_id"])
    return web.json_response({}, status=200)
