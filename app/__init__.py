"""The application factory: create_app(settings) wires routes, Socket.IO, the database."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import aiohttp_jinja2
import jinja2
from aiohttp import web

from . import db as db_module
from . import security, wirelog
from .config import Settings
from .db import Database
from .keys import (
    ctx_key,
    db_key,
    jobs_runtime_key,
    metrics_key,
    settings_key,
    sio_key,
    startup_notes_key,
)
from .services.conversations import Events
from .services.core import Ctx, ratelimit
from .services.operations import Metrics, audit
from .services.people import users
from .sockets import server as socket_server
from .sockets import sessions as socket_sessions
from .sockets.rooms import SocketRooms

log = logging.getLogger("app")

ROOT = Path(__file__).resolve().parent.parent
MAX_BODY_BYTES = 64 * 1024


def create_app(settings: Settings, *, database: Database | None = None) -> web.Application:
    """Build the application. Pass `database` to share one store between several apps
    (tests of several nodes); otherwise it is opened from the settings at start-up."""
    from . import inbound_smtp
    from .http import (
        account,
        admin,
        assets,
        auth,
        canned_replies,
        guest,
        integrations,
        metrics,
        notifications,
        openapi,
        pages,
        reports,
        tickets,
    )
    from .http.hardening import client_middleware, csrf_middleware, security_headers
    from .http.middleware import cors_middleware, error_middleware, input_middleware

    wirelog.library_logger(wirelog.HTTP_PARSER_LOGGER)  # requests aiohttp cannot parse: one line
    app = web.Application(
        # metrics first: it times the whole answer and sees its final status
        middlewares=[metrics.metrics_middleware, cors_middleware, client_middleware,
                     csrf_middleware, error_middleware, input_middleware],
        client_max_size=MAX_BODY_BYTES,
    )
    app[settings_key] = settings
    app[metrics_key] = Metrics(settings.process_name)
    app[startup_notes_key] = []
    app.on_response_prepare.append(security_headers)

    sio = socket_server.create_sio(settings)
    sio.attach(app)
    app[sio_key] = sio

    aiohttp_jinja2.setup(
        app,
        loader=jinja2.FileSystemLoader(str(ROOT / "templates")),
        autoescape=jinja2.select_autoescape(default=True),
    )
    assets.setup(app, ROOT / "static")
    app.add_routes(auth.routes)
    app.add_routes(tickets.routes)
    app.add_routes(notifications.routes)
    app.add_routes(pages.routes)
    app.add_routes(admin.routes)
    app.add_routes(account.routes)
    app.add_routes(metrics.routes)
    app.add_routes(reports.routes)
    app.add_routes(integrations.routes)
    app.add_routes(openapi.routes)
    app.add_routes(guest.routes)
    app.add_routes(canned_replies.routes)

    app.on_shutdown.append(_begin_stopping_jobs)
    app.on_shutdown.append(_close_sockets)
    app.cleanup_ctx.append(_database(database))
    app.cleanup_ctx.append(socket_server.message_queue)
    app.cleanup_ctx.append(socket_sessions.recheck_task)
    app.cleanup_ctx.append(_trust_tasks)
    app.cleanup_ctx.append(_jobs)
    app.cleanup_ctx.append(inbound_smtp.listener)
    return app


SOCKETS_CLOSE_TIMEOUT = 2.0


async def _begin_stopping_jobs(app: web.Application) -> None:
    """on_shutdown: the worker starts handing back its job now, while the sockets close and
    the web server lets its last requests finish; the cleanup waits for it."""
    running = app.get(jobs_runtime_key)
    if running is not None:
        running.begin_stop()


async def _close_sockets(app: web.Application) -> None:
    """on_shutdown: close every Socket.IO connection at once (each is told it was closed by
    the server, and reconnects elsewhere). Otherwise the web server waits for them to end
    by themselves, about a minute, and an orchestrator's grace period kills the process
    before the worker hands back its job and the audit backlog is written."""
    sio = app[sio_key]
    try:
        if sio.eio.sockets:
            await asyncio.wait_for(sio.eio.disconnect(), SOCKETS_CLOSE_TIMEOUT)
    except TimeoutError:
        log.warning("shutdown: some sockets did not close within %.0f s", SOCKETS_CLOSE_TIMEOUT)
    except ValueError:
        pass  # the last sockets closed by themselves meanwhile (engine.io waits on an empty set)
    await sio.shutdown()


async def _trust_tasks(app: web.Application):
    """Retries audit events whose write failed (services/operations/audit.py) until shutdown; then
    waits for e-mails being sent and closes the rate limiter's storage."""
    ctx = app[ctx_key]
    task = asyncio.create_task(audit.retry_backlog_forever(ctx))
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await audit.flush_at_shutdown(ctx)
    for pending in list(ctx.background):
        with contextlib.suppress(Exception):
            await asyncio.wait_for(pending, timeout=5)
    await ratelimit.close(ctx)


async def _jobs(app: web.Application):
    """The background worker and scheduler, inside the server unless JOBS_IN_PROCESS=0."""
    from .jobs import runtime

    settings = app[settings_key]
    if not settings.smtp_url:
        log.warning("SMTP_URL is not set: e-mails are written to the log (without their links), not sent.")
        app[startup_notes_key].append("e-mail: SMTP_URL is not set, e-mails go to the log without their links")
    if not settings.jobs_in_process:
        app[startup_notes_key].append("jobs: JOBS_IN_PROCESS=0, run `python3 run.py worker`")
        yield
        return
    running = runtime.start(app[ctx_key])
    app[jobs_runtime_key] = running
    yield
    await running.stop()


def _database(shared: Database | None):
    async def database_ctx(app: web.Application):
        settings = app[settings_key]
        database = shared or db_module.connect(settings)
        await db_module.prepare(database, settings)
        # Made now rather than at the first unknown e-mail, whose answer would be slower.
        await asyncio.to_thread(security.dummy_hash, settings.bcrypt_rounds)
        app[db_key] = database
        ctx = Ctx(db=database, settings=settings, events=Events(app[sio_key]),
                  sockets=SocketRooms(app[sio_key]), metrics=app[metrics_key])
        app[ctx_key] = ctx
        socket_server.register(app[sio_key], ctx)
        app[startup_notes_key].extend(await users.seed(database, settings))
        async with db_module.maintained(database):
            yield
        if shared is None:
            await database.close()

    return database_ctx
