"""`python3 run.py worker`: the worker and scheduler alone, without the web server.

Live events still reach sockets when REDIS_URL is set: they are published through a
write-only Socket.IO Redis manager that the web servers listen to. Without Redis a lone
worker cannot push live events (notifications are still stored, e-mails still sent)."""

from __future__ import annotations

import asyncio
import logging
import signal

import socketio
from aiohttp import web

from .. import db as db_module
from ..config import Settings
from ..http.metrics import worker_app
from ..services.conversations import Events, NoEvents
from ..services.core import Ctx
from ..services.operations import Metrics
from ..sockets.rooms import SocketRooms
from . import runtime

log = logging.getLogger("worker")


def events_for(settings: Settings) -> Events:
    if settings.redis_url:
        return Events(socketio.AsyncRedisManager(settings.redis_url, write_only=True))
    log.warning("REDIS_URL is not set: this worker cannot push live events to sockets; "
                "notifications are stored and shown on the next page load.")
    return NoEvents()


async def main(settings: Settings, *, stop: asyncio.Event | None = None) -> None:
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
        except (NotImplementedError, RuntimeError):  # not the main thread
            pass
    if settings.embedded_db:
        log.warning("MONGODB_URI is not set: this worker has its own EMBEDDED IN-MEMORY store and "
                    "sees no server's jobs. Set MONGODB_URI to share the queue.")
    if not settings.smtp_url:
        log.warning("SMTP_URL is not set: e-mails are written to the log, not sent.")
    database = db_module.connect(settings)
    try:
        await db_module.prepare(database, settings)
        events = events_for(settings)
        ctx = Ctx(db=database, settings=settings, events=events,
                  sockets=SocketRooms(events.sio) if events.sio is not None else None,
                  metrics=Metrics(settings.process_name))
        metrics_site = await _serve_metrics(ctx, settings)
        running = runtime.start(ctx)
        log.info("worker %s started", running.worker.id)
        print(f"worker {running.worker.id} running (press Ctrl+C to stop)", flush=True)
        await stop.wait()
        log.info("stopping: finishing the job in hand (up to %ss)", settings.job_stop_timeout)
        await running.stop()
        if metrics_site is not None:
            await metrics_site.cleanup()
    finally:
        await database.close()


async def _serve_metrics(ctx: Ctx, settings: Settings):
    """With METRICS_PORT: /metrics on HOST:METRICS_PORT, so that Prometheus counts what this
    worker did (escalations); the runner to clean up, or None."""
    if settings.metrics_port is None:
        return None
    runner = web.AppRunner(worker_app(ctx, settings), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.host, settings.metrics_port).start()
    log.info("metrics on http://%s:%d/metrics", settings.host, settings.metrics_port)
    return runner
