"""Who is calling, from the verified cookies (never from the body or a header)."""

from __future__ import annotations

from aiohttp import web

from ..errors import Forbidden, Unauthorized
from ..keys import ctx_key, session_key
from ..security import (
    GUEST_COOKIE,
    GUEST_TOKEN_HEADER,
    SESSION_COOKIE,
    Identity,
    verify_guest_cookie,
)
from ..services import payloads, sessions


async def session(request: web.Request) -> sessions.Current | None:
    """The open sign-in session behind the cookie, at any stage (fully signed in, or
    waiting for a two-factor code or set-up); looked up once per request."""
    if session_key not in request:
        ctx = request.app[ctx_key]
        request[session_key] = await sessions.current(ctx.db, request.cookies.get(SESSION_COOKIE),
                                                      ctx.settings)
    return request[session_key]


async def agent(request: web.Request) -> Identity | None:
    """The signed-in agent; None for a half-open session, which can do nothing but finish
    signing in."""
    current = await session(request)
    if current is None or current.stage != sessions.ACTIVE:
        return None
    return current.identity


def guest(request: web.Request) -> Identity | None:
    """The guest of the guest cookie or, where the browser does not send that cookie (a
    framed widget whose cookie is blocked as a third party's), of the same signed value in
    the X-Guest-Token header, which the widget keeps in its own storage. A header is never
    sent by a page of another site without our consent (CORS), so it needs no CSRF check."""
    settings = request.app[ctx_key].settings
    guest_id = verify_guest_cookie(request.cookies.get(GUEST_COOKIE), settings)
    if guest_id is None:
        guest_id = verify_guest_cookie(request.headers.get(GUEST_TOKEN_HEADER), settings)
    return Identity(role="guest", id=guest_id, name="") if guest_id else None


async def require_agent(request: web.Request) -> Identity:
    identity = await agent(request)
    if identity is None:
        raise Unauthorized()
    return identity


async def require_admin(request: web.Request) -> Identity:
    identity = await require_agent(request)
    if not identity.is_admin:
        raise Forbidden("Only admins can do this.")
    return identity


async def require_anyone(request: web.Request) -> Identity:
    """An agent, or else the guest of the guest cookie."""
    identity = await agent(request) or guest(request)
    if identity is None:
        raise Unauthorized()
    return identity


async def page_user(request: web.Request, *, admin: bool = False) -> tuple[Identity, dict]:
    """For a page: the signed-in agent and their account as a payload. A visitor who is not
    signed in goes to the login page and comes back here after; an agent on an admin page
    gets 403."""
    current = await session(request)
    if current is None or current.stage != sessions.ACTIVE:
        login = request.app.router["login"].url_for().with_query(next=request.path_qs)
        raise web.HTTPFound(login)
    caller = current.identity
    if admin and not caller.is_admin:
        raise web.HTTPForbidden(text="Only admins can open this page.")
    return caller, payloads.user(current.user)
