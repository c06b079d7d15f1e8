"""Request hardening: who is calling from where (for audit and rate limits), CSRF checks on
cookie-authenticated mutations, and the security headers on every answer."""

from __future__ import annotations

from collections.abc import Awaitable
from urllib.parse import urlsplit

from aiohttp import web

from ..errors import MESSAGES
from ..keys import settings_key
from ..security import GUEST_COOKIE, SESSION_COOKIE
from ..services.core import client
from .identity import bearer_token
from .middleware import json_error

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
CSRF_HEADER = ("X-Requested-With", "fetch")
FRAMEABLE_PATHS = frozenset({"/widget"})
# Engine.IO's polling POSTs: the Socket.IO server checks their Origin itself.
SOCKET_IO_PATH = "/socket.io/"
NO_REFERRER_PATHS = frozenset({"/reset-password", "/welcome", "/widget/resume", "/rate"})  # their URLs hold a token


def client_info(request: web.Request) -> client.ClientInfo:
    return client.resolve(
        remote=request.remote,
        forwarded_for=request.headers.get("X-Forwarded-For"),
        user_agent=request.headers.get("User-Agent"),
        trust_proxy=request.app[settings_key].trust_proxy,
    )


@web.middleware
def client_middleware(request: web.Request, handler) -> Awaitable[web.StreamResponse]:
    if request.path.startswith(SOCKET_IO_PATH):
        # Bound for the socket's connect handler and left so: the handler's awaitable is
        # returned, not awaited, so no frame of this middleware stays for a WebSocket's
        # life. The next request on the connection binds its own; socket events bind
        # the session's.
        client.bind(client_info(request))
        return handler(request)
    return _bound(request, handler)


async def _bound(request: web.Request, handler) -> web.StreamResponse:
    token = client.bind(client_info(request))
    try:
        return await handler(request)
    finally:
        client.reset(token)


def _origin_of(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def own_origins(request: web.Request) -> set[str]:
    settings = request.app[settings_key]
    scheme = request.scheme
    if settings.trust_proxy:
        scheme = request.headers.get("X-Forwarded-Proto", scheme).split(",")[0].strip() or scheme
    origins = {f"{scheme}://{request.host}".lower(), *(o.lower() for o in settings.allowed_origins)}
    public = _origin_of(settings.public_url)
    if public:
        origins.add(public)
    return origins


@web.middleware
def csrf_middleware(request: web.Request, handler) -> Awaitable[web.StreamResponse]:
    """A request that carries our cookies and changes something must come from our own pages'
    JavaScript: the custom header (which a cross-site form cannot send, and a cross-site
    fetch cannot send without a CORS preflight we refuse) and an Origin (else Referer) of
    this server or ALLOWED_ORIGINS. A JSON API request with an API token
    (`Authorization: Bearer`) is the token's, whatever cookies come with it (identity.py
    reads none of them), and a page on another site cannot send that header without a CORS
    preflight we refuse: it needs neither."""
    if request.path.startswith(SOCKET_IO_PATH):
        return handler(request)  # not awaited here: no frame kept for a WebSocket's life
    return _csrf_checked(request, handler)


async def _csrf_checked(request: web.Request, handler) -> web.StreamResponse:
    if request.method in UNSAFE_METHODS and (
        SESSION_COOKIE in request.cookies or GUEST_COOKIE in request.cookies
    ) and bearer_token(request) is None:
        name, value = CSRF_HEADER
        origin = request.headers.get("Origin")
        origin = _origin_of(origin) if origin and origin != "null" else None
        origin = origin or _origin_of(request.headers.get("Referer"))
        if request.headers.get(name) != value or origin not in own_origins(request):
            return json_error("forbidden", MESSAGES["csrf"], 403)
    return await handler(request)


def content_security_policy(request: web.Request) -> str:
    settings = request.app[settings_key]
    host = request.host
    if request.path in FRAMEABLE_PATHS:
        ancestors = " ".join(["'self'", *settings.widget_allowed_origins])
    else:
        ancestors = "'none'"
    return "; ".join([
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",  # blob: attachments the widget fetched with its token
        "font-src 'self'",
        f"connect-src 'self' ws://{host} wss://{host}",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        f"frame-ancestors {ancestors}",
    ])


def _apply_headers(request: web.Request, response: web.StreamResponse) -> None:
    headers = response.headers
    headers["Content-Security-Policy"] = content_security_policy(request)
    headers["X-Content-Type-Options"] = "nosniff"
    if request.path in NO_REFERRER_PATHS:
        headers["Referrer-Policy"] = "no-referrer"  # the URL holds a token
        headers["Cache-Control"] = "no-store"
    else:
        headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    if request.path not in FRAMEABLE_PATHS:
        headers["X-Frame-Options"] = "DENY"
    if request.app[settings_key].production:
        headers["Strict-Transport-Security"] = "max-age=31536000"


async def security_headers(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every answer, streamed ones and error pages included, gets the
    security headers just before its headers are sent."""
    _apply_headers(request, response)
