from __future__ import annotations

import re
from urllib.parse import unquote

import aiohttp_jinja2
from aiohttp import web

from ..keys import ctx_key, session_key
from ..services.conversations import payloads
from ..services.operations import health
from ..services.people import sessions
from . import identity
from .metrics import redis_ping

routes = web.RouteTableDef()


@routes.get("/", name="home")
async def home(request: web.Request) -> web.Response:
    if await identity.agent(request):
        raise web.HTTPFound(request.app.router["dashboard"].url_for())
    if identity.guest(request):
        raise web.HTTPFound(request.app.router["widget"].url_for())
    raise web.HTTPFound(request.app.router["login"].url_for())


@routes.get("/widget", name="widget")
@aiohttp_jinja2.template("widget.html")
async def widget(request: web.Request) -> dict:
    from ..services.guests import widget_settings
    from .guest import widget_context

    return widget_context(await widget_settings.for_widget(request.app[ctx_key]))


# A path on this site: "/" then printable ASCII (no spaces, no control characters), and not
# "//" or "/\\", which browsers read as another host. Browsers drop tabs and newlines from
# URLs, so "/\t/evil.example" would become "//evil.example".
_LOCAL_PATH = re.compile(r"/(?![/\\])[\x21-\x7e]{0,2000}")
_UNSAFE_DECODED = re.compile(r"^/[/\\]|[\x00-\x1f\x7f\\]")


def local_path(value: object, *, fallback: str) -> str:
    """`value` if it is a path on this site that stays one however it is read (also after
    one round of percent-decoding: "/%2F/evil.example"), else `fallback`. The login page's
    script checks the same again (static/js/next.js)."""
    if not isinstance(value, str) or not _LOCAL_PATH.fullmatch(value) or "\\" in value:
        return fallback
    if _UNSAFE_DECODED.search(unquote(value)):
        return fallback
    return value


@routes.get("/login", name="login")
@aiohttp_jinja2.template("login.html")
async def login(request: web.Request) -> dict:
    # Only a local path, so the login page cannot send anyone to another site.
    dashboard = str(request.app.router["dashboard"].url_for())
    return {"next": local_path(request.query.get("next"), fallback=dashboard)}


@routes.get("/dashboard", name="dashboard")
@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict:
    _, user = await identity.page_user(request)
    return {"user": user, "assignment": request.app[ctx_key].settings.assignment}


@routes.get("/dashboard/tickets/{ticket_id}", name="dashboard_ticket")
async def dashboard_ticket(request: web.Request) -> web.StreamResponse:
    """A ticket's own address: the dashboard, which opens it (reload, back and forward, and
    links shared or sent in notifications)."""
    return await dashboard(request)


@routes.get("/healthz", name="healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz", name="readyz")
async def readyz(request: web.Request) -> web.Response:
    checks = await health.readiness(request.app[ctx_key], redis_ping=redis_ping(request.app))
    ready = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if ready else "unavailable", "checks": checks},
                             status=200 if ready else 503)


# What an error page says, by status; anything else 4xx gets the generic words.
ERROR_WORDS = {
    404: ("Page not found", "There is nothing at this address. The link may be mistyped, or the page "
                            "may have moved."),
    403: ("You do not have access to this page", "Your account cannot open this page. If you need it, "
                                                 "ask an admin."),
    500: ("Something went wrong on our side", "The error has been logged. Try again in a moment; if it "
                                              "keeps happening, tell your admin."),
}
GENERIC_WORDS = ("This request could not be handled", "The address or what was sent with it is not "
                                                      "something this page can answer.")
PATH_SHOWN = 120


async def error_page(request: web.Request, status: int, message: str | None) -> web.Response:
    """An error page in the product's style, with the top bar for someone signed in and a way
    back. A 500 never reads the database (it may be what failed): only a session already
    looked up for this request counts."""
    heading, text = ERROR_WORDS.get(status, GENERIC_WORDS if status < 500 else ERROR_WORDS[500])
    if status == 403 and message and message not in ("Forbidden", "403: Forbidden"):
        text = message
    user = None
    try:
        current = request.get(session_key) if status >= 500 else await identity.session(request)
        if current is not None and current.stage == sessions.ACTIVE:
            user = payloads.user(current.user)
    except Exception:
        user = None
    path = request.path if status == 404 else None
    if path and len(path) > PATH_SHOWN:
        path = path[:PATH_SHOWN] + "…"
    return aiohttp_jinja2.render_template(
        "error.html", request,
        {"status": status, "heading": heading, "text": text, "path": path, "user": user},
        status=status)
