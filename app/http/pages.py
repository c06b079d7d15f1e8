from __future__ import annotations

import re
from urllib.parse import unquote

import aiohttp_jinja2
from aiohttp import web

from ..keys import ctx_key
from ..services import health
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
    from ..services import widget_settings
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
async def dashboard_ticket(request: web.Request) -> web.Response:
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
