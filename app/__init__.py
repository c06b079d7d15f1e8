"""The application factory: create_app(settings) wires routes, Socket.IO, the database."""

from __future__ import annotations

import logging
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from . import db as db_module
from .config import Settings
from .db import Database
from .keys import ctx_key, db_key, settings_key, sio_key, startup_notes_key
from .services import users
from .services.context import Ctx
from .services.events import Events
from .sockets import server as socket_server

log = logging.getLogger("app")

ROOT = Path(__file__).resolve().parent.parent
MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings, *, database: Database | None = None) -> web.Application:
    """Build the application. Pass `database` to share one store between several apps
    (tests of several nodes); otherwise it is opened from the settings at start-up."""
    from .http import auth, pages, tickets
    from .http.middleware import error_middleware

    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[settings_key] = settings
    app[startup_notes_key] = []

    sio = socket_server.create_sio(settings)
    sio.attach(app)
    app[sio_key] = sio

    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(ROOT / "templates")),
        autoescape=jinja2.select_autoescape(default=True),
    )
    app.router.add_static("/static", ROOT / "static", name="static")
    app.add_routes(auth.routes)
    app.add_routes(tickets.routes)
    app.add_routes(pages.routes)

    app.cleanup_ctx.append(_database(database))
    app.cleanup_ctx.append(socket_server.message_queue)
    return app


def _database(shared: Database | None):
    async def database_ctx(app: web.Application):
        settings = app[settings_key]
        database = shared or db_module.connect(settings)
        await db_module.ensure_indexes(database)
        app[db_key] = database
        ctx = Ctx(db=database, settings=settings, events=Events(app[sio_key]))
        app[ctx_key] = ctx
        socket_server.register(app[sio_key], ctx)
        app[startup_notes_key].extend(await users.seed(database, settings))
        yield
        if shared is None:
            await database.close()

    return database_ctx
