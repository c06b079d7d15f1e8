"""The signed-in person's own account: /account (password, sessions)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ..keys import ctx_key
from ..security import SESSION_COOKIE
from ..services import accounts, payloads
from . import identity

routes = web.RouteTableDef()


# --- pages ----------------------------------------------------------------------------


@routes.get("/account", name="account")
@aiohttp_jinja2.template("account.html")
async def account_page(request: web.Request) -> dict:
    _, user = await identity.page_user(request)
    return {"user": user}


# --- sessions -------------------------------------------------------------------------


@routes.get("/api/account/sessions", name="sessions_list")
async def list_sessions(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    found = await accounts.list_sessions(request.app[ctx_key], identity=caller)
    return web.json_response({"sessions": [payloads.session(s, current_id=caller.session_id) for s in found]})


@routes.delete("/api/account/sessions/{session_id}", name="sessions_end")
async def end_session(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    session_id = request.match_info["session_id"]
    await accounts.end_session(request.app[ctx_key], identity=caller, session_id=session_id)
    response = web.json_response({"ok": True, "signed_out": session_id == caller.session_id})
    if session_id == caller.session_id:
        response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.post("/api/account/sessions/end-all", name="sessions_end_all")
async def end_all_sessions(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    await accounts.sign_out_everywhere(request.app[ctx_key], identity=caller)
    response = web.json_response({"ok": True, "signed_out": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response
