"""GET /metrics for Prometheus, and the middleware that times every HTTP request."""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable

from aiohttp import web

from ..jobs.handlers import HANDLERS
from ..keys import ctx_key, metrics_key, settings_key, sio_key
from ..services.operations import metrics as counted
from ..sockets.cluster import ClusterManager

routes = web.RouteTableDef()

# Socket.IO's own requests (a WebSocket lasts the whole connection; a long poll waits up
# to 25 s by design) would only blur the request latencies: sockets have their own metrics.
UNTIMED_PREFIX = "/socket.io/"


def route_label(request: web.Request) -> str:
    """The route's path template (`/api/tickets/{ticket_id}`), never the raw path, so that ids
    do not make a series each; `unmatched` for a path no route serves."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else "unmatched"


@web.middleware
def metrics_middleware(request: web.Request, handler) -> Awaitable[web.StreamResponse]:
    if request.path.startswith(UNTIMED_PREFIX):
        # Returned, not awaited: no frame of this middleware stays for a WebSocket's life.
        return handler(request)
    return _timed(request, handler)


async def _timed(request: web.Request, handler) -> web.StreamResponse:
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        request.app[metrics_key].http_request(request.method, route_label(request), status,
                                              time.perf_counter() - started)


def redis_ping(app: web.Application):
    """The Redis check of /readyz and /metrics, when this process uses Redis."""
    sio = app.get(sio_key)  # a worker's metrics app has no Socket.IO server
    manager = sio.manager if sio is not None else None
    return manager.ping if isinstance(manager, ClusterManager) else None


def _allowed(request: web.Request) -> None:
    """With METRICS_TOKEN: only `Authorization: Bearer <token>`. Without it: open in
    development, and absent (404) in production, where figures are not for everyone."""
    settings = request.app[settings_key]
    token = settings.metrics_token
    if token is None:
        if settings.production:
            raise web.HTTPNotFound(text="Not found. Set METRICS_TOKEN to serve /metrics.")
        return
    given = request.headers.get("Authorization", "")
    scheme, _, credentials = given.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(),
                                                             token.encode()):
        raise web.HTTPUnauthorized(text="A bearer token is required.",
                                   headers={"WWW-Authenticate": 'Bearer realm="metrics"'})


def worker_app(ctx, settings) -> web.Application:
    """What `run.py worker` serves on METRICS_PORT: /metrics alone (the worker's own counters,
    escalations among them, and the job queue as every process sees it)."""
    app = web.Application()
    app[settings_key] = settings
    app[ctx_key] = ctx
    app[metrics_key] = ctx.metrics
    app.add_routes(routes)
    return app


@routes.get("/metrics", name="metrics")
async def metrics(request: web.Request) -> web.Response:
    _allowed(request)
    body = await request.app[metrics_key].scrape(request.app[ctx_key], kinds=HANDLERS,
                                                 redis_ping=redis_ping(request.app))
    return web.Response(body=body, headers={"Content-Type": counted.CONTENT_TYPE,
                                            "Cache-Control": "no-store"})
