from __future__ import annotations

from aiohttp import web

from ..keys import ctx_key
from ..security import SESSION_COOKIE, cookie_options
from ..services import payloads, users
from . import identity
from .middleware import read_json

routes = web.RouteTableDef()


@routes.post("/api/auth/login", name="login_api")
async def login(request: web.Request) -> web.Response:
    ctx = request.app[ctx_key]
    body = await read_json(request)
    signed_in = await users.sign_in(
        ctx.db, email=body.get("email"), password=body.get("password"), settings=ctx.settings
    )
    response = web.json_response({"user": payloads.user(signed_in.user)})
    response.set_cookie(
        SESSION_COOKIE, signed_in.token,
        **cookie_options(ctx.settings, max_age=ctx.settings.session_hours * 3600),
    )
    return response


@routes.post("/api/auth/logout", name="logout_api")
async def logout(request: web.Request) -> web.Response:
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/api/auth/me", name="me_api")
async def me(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    user = await users.get_user(request.app[ctx_key].db, user_id=caller.id)
    return web.json_response({"user": payloads.user(user)})
