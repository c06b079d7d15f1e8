from __future__ import annotations

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
    return {}


@routes.get("/login", name="login")
@aiohttp_jinja2.template("login.html")
async def login(request: web.Request) -> dict:
    target = request.query.get("next", "")
    # Only a local path, so the login page cannot send anyone to another site.
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = str(request.app.router["dashboard"].url_for())
    return {"next": target}


@routes.get("/dashboard", name="dashboard")
@aiohttp_jinja2.template("dashboard.html")
async def dashboard(request: web.Request) -> dict:
    _, user = await identity.page_user(request)
    return {"user": user}


@routes.get("/healthz", name="healthz")
async def healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


@routes.get("/readyz", name="readyz")
async def readyz(request: web.Request) -> web.Response:
    checks = await health.readiness(request.app[ctx_key], redis_ping=redis_ping(request.app))
    ready = all(v == "ok" for v in checks.values())
    return web.json_response({"status": "ok" if ready else "unavailable", "checks": checks},
                             status=200 if ready else 503)
