"""One place that turns errors into JSON answers: domain errors to their status, anything
unexpected to a 500 without a stack trace."""

from __future__ import annotations

import logging
from collections.abc import Awaitable

from aiohttp import web

from ..errors import HTTP_STATUS, MESSAGES, DomainError, Invalid, NotFound
from ..services.core import validate

log = logging.getLogger(__name__)

_CODE_FOR_STATUS = {status: code for code, status in HTTP_STATUS.items() if code != "closed"}
_CODE_FOR_STATUS.update({400: "invalid", 405: "method_not_allowed", 409: "conflict"})


def json_error(code: str, message: str, status: int, **extra) -> web.Response:
    error = {"code": code, "message": message, **extra}
    return web.json_response({"error": error}, status=status)


@web.middleware
async def error_middleware(request: web.Request, handler) -> web.StreamResponse:
    """JSON errors under /api/; pages get an error page in the product's style instead
    (pages.error_page), with a way back."""
    try:
        return await handler(request)
    except DomainError as exc:
        status = getattr(exc, "http_status", exc.status)
        if _is_page(request):
            return await _error_page(request, status, exc.message, headers=getattr(exc, "headers", None))
        return web.json_response({"error": exc.to_dict()}, status=status, headers=getattr(exc, "headers", None))
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        if _is_page(request):
            kept = {name: exc.headers[name] for name in _KEPT_HEADERS if name in exc.headers} or None
            return await _error_page(request, exc.status, exc.text if exc.status == 403 else None, headers=kept)
        if not request.path.startswith("/api/"):
            raise
        code = _CODE_FOR_STATUS.get(exc.status, "invalid" if exc.status < 500 else "internal")
        message = MESSAGES.get(code, exc.reason)
        return json_error(code, message, exc.status)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        if request.path.startswith("/api/"):
            return json_error("internal", MESSAGES["internal"], 500)
        if _is_page(request):
            return await _error_page(request, 500, None)
        return web.Response(status=500, text="Something went wrong on our side.")


# Not pages: the JSON API, files, the Socket.IO endpoint and the metrics a scraper reads
# answer errors their own way.
_NOT_PAGES = ("/api/", "/static/", "/socket.io/", "/metrics")
# What an error page keeps of the error's headers: what the client needs to act on it.
_KEPT_HEADERS = ("Allow", "WWW-Authenticate", "Retry-After")


def _is_page(request: web.Request) -> bool:
    return not request.path.startswith(_NOT_PAGES)


async def _error_page(request: web.Request, status: int, message: str | None, *,
                      headers: dict | None = None) -> web.StreamResponse:
    from .pages import error_page

    try:
        response = await error_page(request, status, message)
    except Exception:
        log.exception("the error page for %s %s failed", request.method, request.path)
        return web.Response(status=status, text=MESSAGES["internal"] if status >= 500 else f"Error {status}")
    response.headers.update(headers or {})
    return response


class MalformedBody(Invalid):
    http_status = 400


# No route and no static file has a longer path or path segment: the file system refuses
# a name over 255 bytes (ENAMETOOLONG) and the static handler would fail on it.
PATH_MAX = 1024
SEGMENT_MAX = 255


@web.middleware
def input_middleware(request: web.Request, handler) -> Awaitable[web.StreamResponse]:
    """What every route may read besides the body, checked once for all of them: a path no
    longer than any we serve (404), headers that are UTF-8 text (400: aiohttp hands bytes
    that are not as lone surrogates, which would reach the cookie checks and the audit
    trail), and query and path parameters that encode as text (422 naming the parameter)."""
    path = request.path
    if len(path) > PATH_MAX or any(len(segment) > SEGMENT_MAX for segment in path.split("/")):
        raise NotFound()
    for name, value in request.headers.items():
        if not _is_text(name) or not _is_text(value):
            raise MalformedBody("A request header is not valid UTF-8 text.")
    for params in (request.query, request.match_info):
        for name, value in params.items():
            if not _is_text(name) or not _is_text(value):
                field = name.encode("utf-8", "backslashreplace").decode("utf-8")[:64]
                raise Invalid(f"{field} contains characters that are not valid text.", field=field)
    # Checks only: the handler's awaitable is returned, so that no frame of this middleware
    # stays for a WebSocket's life (a refusal above is raised into error_middleware's await).
    return handler(request)


def _is_text(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


class UnsupportedCharset(Invalid):
    http_status = 415


# JSON exchanged between systems is UTF-8 (RFC 8259); any other charset is refused rather
# than looked up, so an unknown name cannot reach the codec registry.
JSON_CHARSETS = frozenset({"utf-8", "utf8"})


async def read_json(request: web.Request) -> dict:
    """The request's JSON object, checked once for every route (validate.storable): 400 for a
    body that is not a JSON object, 415 for a charset other than UTF-8, 422 naming the field
    for a value no service could store (text with lone surrogates, numbers out of range,
    nesting too deep), 413 above client_max_size."""
    if request.content_type != "application/json":
        raise MalformedBody("Send a JSON object with Content-Type: application/json.")
    if (request.charset or "utf-8").lower() not in JSON_CHARSETS:
        raise UnsupportedCharset("Send JSON encoded as UTF-8.")
    raw = await request.read()
    try:
        body = validate.loads(raw.decode("utf-8"))
    except ValueError:  # also UnicodeDecodeError and JSONDecodeError
        raise MalformedBody("The body is not valid JSON.") from None
    except RecursionError:
        raise MalformedBody("The body is nested too deeply.") from None
    if not isinstance(body, dict):
        raise MalformedBody("The body must be a JSON object.")
    return validate.storable(body)


CORS_HEADERS = "Content-Type, X-Requested-With"
CORS_METHODS = "GET, POST, PATCH, DELETE, OPTIONS"


@web.middleware
def cors_middleware(request: web.Request, handler) -> Awaitable[web.StreamResponse]:
    """CORS for the JSON API, for the origins in ALLOWED_ORIGINS only (none by default:
    the pages are served from this origin and need none)."""
    if not request.path.startswith("/api/"):
        return handler(request)  # not awaited here: no frame kept for a WebSocket's life
    return _cors(request, handler)


async def _cors(request: web.Request, handler) -> web.StreamResponse:
    from ..keys import settings_key

    origin = request.headers.get("Origin")
    allowed = origin in request.app[settings_key].allowed_origins
    if allowed and request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        response: web.StreamResponse = web.Response(status=204)
        response.headers["Access-Control-Allow-Methods"] = CORS_METHODS
        response.headers["Access-Control-Allow-Headers"] = CORS_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    else:
        response = await handler(request)
    if allowed and origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Allow-Credentials"] = "true"
        response.headers.add("Vary", "Origin")
    return response
