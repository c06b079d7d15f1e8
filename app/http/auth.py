"""Signing in (password, then a two-factor code or set-up where needed), signing out, and
the signed-in person's password."""

from __future__ import annotations

from aiohttp import web

from ..keys import ctx_key
from ..security import SESSION_COOKIE, cookie_options
from ..services.conversations import payloads
from ..services.people import accounts, sessions
from . import identity
from .middleware import read_json

routes = web.RouteTableDef()


def with_session_cookie(response: web.Response, request: web.Request,
                         signed_in: accounts.SignIn) -> web.Response:
    settings = request.app[ctx_key].settings
    response.set_cookie(SESSION_COOKIE, signed_in.token,
                        **cookie_options(settings, max_age=signed_in.started.max_age))
    return response


def signed_in_answer(signed_in: accounts.SignIn, **extra) -> web.Response:
    """`stage` says what the page does next: "active" (signed in), "code" (ask for a
    two-factor code) or "enrol" (set two-factor sign-in up first)."""
    body: dict = {"stage": signed_in.stage, **extra}
    if signed_in.stage == sessions.ACTIVE:
        body["user"] = payloads.user(signed_in.user)
    return web.json_response(body)


@routes.post("/api/auth/login", name="login_api")
async def login(request: web.Request) -> web.Response:
    ctx = request.app[ctx_key]
    body = await read_json(request)
    signed_in = await accounts.sign_in(ctx, email=body.get("email"), password=body.get("password"))
    return with_session_cookie(signed_in_answer(signed_in), request, signed_in)


@routes.post("/api/auth/code", name="code_api")
async def code(request: web.Request) -> web.Response:
    """The second step of signing in: a code from the authenticator app, or a backup code."""
    body = await read_json(request)
    signed_in = await accounts.finish_with_code(
        request.app[ctx_key], token=request.cookies.get(SESSION_COOKIE), code=body.get("code"))
    return with_session_cookie(signed_in_answer(signed_in), request, signed_in)


@routes.post("/api/auth/logout", name="logout_api")
async def logout(request: web.Request) -> web.Response:
    await accounts.sign_out(request.app[ctx_key], current=await identity.session(request))
    response = web.json_response({"ok": True})
    response.del_cookie(SESSION_COOKIE, path="/")
    return response


@routes.get("/api/auth/me", name="me_api")
async def me(request: web.Request) -> web.Response:
    current = await identity.require_person(request)
    return web.json_response({"user": payloads.user(current.user)})


@routes.post("/api/auth/password", name="password_api")
async def change_password(request: web.Request) -> web.Response:
    caller = (await identity.require_person(request)).identity
    body = await read_json(request)
    signed_in = await accounts.change_password(
        request.app[ctx_key], identity=caller, old_password=body.get("old_password"),
        new_password=body.get("new_password"),
    )
    return with_session_cookie(signed_in_answer(signed_in), request, signed_in)


@routes.post("/api/auth/forgot-password", name="forgot_password_api")
async def forgot_password(request: web.Request) -> web.Response:
    body = await read_json(request)
    await accounts.request_password_reset(request.app[ctx_key], email=body.get("email"))
    # The same answer whether or not the e-mail has an account.
    return web.json_response({"ok": True, "message": "If this e-mail has an account, a reset link is on its way."})


@routes.post("/api/auth/reset-password", name="reset_password_api")
async def reset_password(request: web.Request) -> web.Response:
    body = await read_json(request)
    await accounts.reset_password(request.app[ctx_key], token=body.get("token"), password=body.get("password"))
    return web.json_response({"ok": True})


@routes.post("/api/auth/accept-invitation", name="accept_invitation_api")
async def accept_invitation(request: web.Request) -> web.Response:
    body = await read_json(request)
    user = await accounts.accept_invitation(request.app[ctx_key], token=body.get("token"),
                                            password=body.get("password"))
    return web.json_response({"ok": True, "email": user["email"]})
