"""Is this process able to serve: MongoDB answers, and Redis when REDIS_URL is set. Read by
/readyz (for load balancers) and by /metrics (as gauges), the same way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from ..core import Ctx


async def _check(probe: Callable[[], Awaitable[bool]], failing: str, timeout: float | None) -> str:
    try:
        ok = await asyncio.wait_for(probe(), timeout) if timeout else await probe()
    except Exception as exc:
        return f"failing: {type(exc).__name__}"
    return "ok" if ok else failing


async def readiness(ctx: Ctx, *, redis_ping: Callable[[], Awaitable[bool]] | None,
                    timeout: float | None = None) -> dict[str, str]:
    """{"mongodb": "ok" | "failing...", "redis": ...}; redis only when this process uses it."""
    checks = {"mongodb": await _check(ctx.db.ping, "failing", timeout)}
    if redis_ping is not None:
        checks["redis"] = await _check(redis_ping, "failing: not subscribed", timeout)
    return checks
