"""Who is calling: from the verified cookies, or for the JSON API from an API token in
`Authorization: Bearer` (never from the body or another header)."""

from __future__ import annotations

from aiohttp import web

from ..errors import Forbidden, Unauthorized
from ..keys import ctx_key, session_key, token_identity_key
from ..security import (
    GUEST_COOKIE,
    GUEST_TOKEN_HEADER,
    SESSION_COOKIE,
    Identity,
    verify_guest_cookie,
)
from ..services.conversations import payloads
from ..services.people import api_tokens, sessions

API_PREFIX = "/api/"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def bearer_token(request: web.Request) -> str | None:
    """The token of an `Authorization: Bearer` header on a JSON API request; "" for an
    Authorization header that is there but not a bearer token (refused, never ignored)."""
    if not request.path.startswith(API_PREFIX) or "Authorization" not in request.headers:
        return None
    scheme, _, token = request.headers["Authorization"].strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


async def api_token(request: web.Request) -> Identity | None:
    """The API token's identity, when the request sends one (then cookies are not read:
    a request is one caller). A bad or revoked token is 401; a read token asked to change
    something is 403; over the token's rate limit, 429. Looked up once per request."""
    if token_identity_key not in request:
        token = bearer_token(request)
        found = None
        if token is not None:
            found = await api_tokens.authenticate(request.app[ctx_key], token=token)
        request[token_identity_key] = found
    found = request[token_identity_key]
    if found is not None and found.scope != "read-write" and request.method not in READ_METHODS:
        raise Forbidden("This API token can only read.")
    return found


async def session(request: web.Request) -> sessions.Current | None:
    """The open sign-in session behind the cookie, at any stage (fully signed in, or
    waiting for a two-factor code or set-up); looked up once per request."""
    if bearer_token(request) is not None:
        return None  # a request with a token is the token's, not a browser's
    if session_key not in request:
        ctx = request.app[ctx_key]
        request[session_key] = await sessions.current(ctx.db, request.cookies.get(SESSION_COOKIE),
                                                      ctx.settings)
    return request[session_key]


async def agent(request: web.Request) -> Identity | None:
    """The signed-in agent, or the API token (which acts as an agent); None for a half-open
    session, which can do nothing but finish signing in."""
    token = await api_token(request)
    if token is not None:
        return token
    current = await session(request)
    if current is None or current.stage != sessions.ACTIVE:
        return None
    return current.identity


def guest(request: web.Request) -> Identity | None:
    """The guest of the guest cookie or, where the browser does not send that cookie (a
    framed widget whose cookie is blocked as a third party's), of the same signed value in
    the X-Guest-Token header, which the widget keeps in its own storage. A header is never
    sent by a page of another site without our consent (CORS), so it needs no CSRF check."""
    if bearer_token(request) is not None:
        return None  # a request with a token is the token's, not a browser's
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


async def require_person(request: web.Request) -> sessions.Current:
    """A signed-in person's own session, for what only people have (their password,
    sessions, two-factor sign-in): an API token is refused with 403."""
    if await api_token(request) is not None:
        raise Forbidden("API tokens cannot do this: it is for signed-in people only.")
    current = await session(request)
    if current is None or current.stage != sessions.ACTIVE:
        raise Unauthorized()
    return current


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
