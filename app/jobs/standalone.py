"""`python3 run.py worker`: the worker and scheduler alone, without the web server.

Live events still reach sockets when REDIS_URL is set: they are published through a
write-only Socket.IO Redis manager that the web servers listen to. Without Redis a lone
worker cannot push live events (notifications are still stored, e-mails still sent)."""

from __future__ import annotations

import asyncio
import logging
import signal

from .. import db as db_module
from ..config import Settings
from ..services.context import Ctx
from ..services.events import Events, NoEvents
from . import runtime

log = logging.getLogger("worker")


def events_for(settings: Settings) -> Events:
    if settings.redis_url:
        import socketio

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
        ctx = Ctx(db=database, settings=settings, events=events_for(settings))
        running = runtime.start(ctx)
        log.info("worker %s started", running.worker.id)
        print(f"worker {running.worker.id} running (press Ctrl+C to stop)", flush=True)
        await stop.wait()
        log.info("stopping: finishing the job in hand (up to %ss)", settings.job_stop_timeout)
        await running.stop()
    finally:
        await database.close()
