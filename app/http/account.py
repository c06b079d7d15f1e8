"""The signed-in person's own account: /account (password, sessions, two-factor sign-in),
setting up two-factor sign-in (/two-factor), and the invitation page (/welcome)."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ..errors import MESSAGES, Forbidden, Unauthorized
from ..keys import ctx_key
from ..security import SESSION_COOKIE
from ..services.conversations import payloads
from ..services.people import accounts, sessions, twofactor
from . import identity
from .auth import signed_in_answer, with_session_cookie
from .middleware import read_json
from .pages import local_path

routes = web.RouteTableDef()


# --- pages ----------------------------------------------------------------------------


@routes.get("/account", name="account")
@aiohttp_jinja2.template("account.html")
async def account_page(request: web.Request) -> dict:
    caller, user = await identity.page_user(request)
    settings = request.app[ctx_key].settings
    return {"user": user, "two_factor_required": twofactor.required(settings, {"role": caller.role})}


@routes.get("/two-factor", name="two_factor")
@aiohttp_jinja2.template("two_factor.html")
async def two_factor_page(request: web.Request) -> dict:
    """Setting up two-factor sign-in: from /account, or right after the password when
    REQUIRE_2FA asks for it (then the session is half open and this is all it can do)."""
    current = await identity.session(request)
    target = local_path(request.query.get("next"), fallback="/account")
    if current is None or current.stage == sessions.CODE:
        login = request.app.router["login"].url_for().with_query(next=request.path_qs)
        raise web.HTTPFound(login)
    if twofactor.enabled(current.user):
        raise web.HTTPFound(request.app.router["account"].url_for())
    forced = current.stage == sessions.ENROL
    return {"user": None if forced else payloads.user(current.user), "forced": forced,
            "next": target if forced else "/account"}


@routes.get("/welcome", name="welcome")
@aiohttp_jinja2.template("welcome.html")
async def welcome_page(request: web.Request) -> dict:
    return {"token": request.query.get("token", "")[:128]}


# --- sessions -------------------------------------------------------------------------


@routes.get("/api/account/sessions", name="sessions_list")
async def list_sessions(request: web.Request) -> web.Response:
    caller = (await identity.require_person(request)).identity
    found = await accounts.list_sessions(request.app[ctx_key], identity=caller)
    return web.json_response({"sessions": [payloads.session(s, current_id=caller.session_id) for s in found]})


@routes.delete("/api/account/sessions/{session_id}", name="sessions_end")
async def end_session(request: web.Request) -> web.Response:
    caller = (await identity.require_person(request)).identity
    session_id = request.match_info["session_id"]
    await accounts.end_session(request.app[ctx_key], identity=caller, session_id=session_id)
    response = web.json_response({"ok": True, "signed_out": session_id == caller.session_id})
    if session_id == caller.session_id:
        response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.post("/api/account/sessions/end-all", name="sessions_end_all")
async def end_all_sessions(request: web.Request) -> web.Response:
    caller = (await identity.require_person(request)).identity
    await accounts.sign_out_everywhere(request.app[ctx_key], identity=caller)
    response = web.json_response({"ok": True, "signed_out": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


# --- two-factor sign-in ---------------------------------------------------------------


async def _enrolling(request: web.Request) -> sessions.Current:
    """Signed in, or half signed in with set-up as the step left (REQUIRE_2FA)."""
    if await identity.api_token(request) is not None:
        raise Forbidden("API tokens cannot do this: it is for signed-in people only.")
    current = await identity.session(request)
    if current is None or current.stage not in (sessions.ACTIVE, sessions.ENROL):
        raise Unauthorized(MESSAGES["sign_in_expired"] if current else None)
    return current


@routes.post("/api/account/two-factor/setup", name="two_factor_setup")
async def two_factor_setup(request: web.Request) -> web.Response:
    current = await _enrolling(request)
    enrolment = await twofactor.begin(request.app[ctx_key], user=current.user)
    return web.json_response({"secret": enrolment.secret, "uri": enrolment.uri, "qr_svg": enrolment.qr_svg})


@routes.post("/api/account/two-factor/enable", name="two_factor_enable")
async def two_factor_enable(request: web.Request) -> web.Response:
    current = await _enrolling(request)
    body = await read_json(request)
    ctx = request.app[ctx_key]
    if current.stage == sessions.ENROL:  # this finishes signing in: a full session starts
        signed_in, codes = await accounts.finish_enrolment(
            ctx, token=request.cookies.get(SESSION_COOKIE), code=body.get("code"))
        return with_session_cookie(signed_in_answer(signed_in, backup_codes=codes), request, signed_in)
    codes = await twofactor.confirm(ctx, user=current.user, actor=current.identity, code=body.get("code"))
    return web.json_response({"stage": sessions.ACTIVE, "backup_codes": codes})


@routes.post("/api/account/two-factor/disable", name="two_factor_disable")
async def two_factor_disable(request: web.Request) -> web.Response:
    caller = (await identity.require_person(request)).identity
    body = await read_json(request)
    await twofactor.disable(request.app[ctx_key], identity=caller, password=body.get("password"),
                            code=body.get("code"))
    return web.json_response({"ok": True})
