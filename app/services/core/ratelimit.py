"""Rate limits: sliding-window counters kept in this process (MemoryWindows, counting as the
`limits` library does), or in Redis through `limits` (async API) when REDIS_URL is set, so
that every process shares the counters.

Sliding-window counters, not moving windows: a moving window keeps one entry per hit, and
the in-memory storage sweeps them with a task per hit that hops to a thread once per key;
on the message path that sweeping cost more than the limiting. A counter is two numbers
per key and allows the same counts (exact within a window, weighted across its edge).

Each rule is a Settings field ("10/10 minutes"); a bucket is the rule plus a key (an IP,
an e-mail, a guest), so one key's limit never blocks another's."""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass

from limits import RateLimitItem, WindowStats, parse
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from limits.storage import storage_from_string

from ...config import Settings
from ...errors import RateLimited, wait_message
from .context import Ctx

log = logging.getLogger(__name__)

RULES = {
    "login_ip": "rate_login_per_ip",
    "login_email": "rate_login_per_email",
    "chat_start_guest": "rate_chat_start_per_guest",
    "chat_start_ip": "rate_chat_start_per_ip",
    "message": "rate_messages_per_ticket",
    # Typing hints per sender per ticket: over it they are dropped, not refused.
    "typing": "rate_typing",
    # Password-reset e-mails use the login's per-e-mail and per-IP rules, in their own buckets.
    "reset_email": "rate_login_per_email",
    "reset_ip": "rate_login_per_ip",
    # Guessing the current password through the change-password form: same rule as logins.
    "password_change": "rate_login_per_email",
    # Two-factor codes (sign-in, enrolment, turning it off), per account: same rule as logins.
    "code": "rate_login_per_email",
    # Requests per API token (services/people/api_tokens.py), whatever they ask for.
    "api_token": "rate_api_token",
}


def storage_uri(settings: Settings) -> str:
    url = settings.redis_url
    if not url:
        return "async+memory://"
    if url.startswith("unix://"):
        return "async+redis+unix://" + url[len("unix://"):]
    return "async+" + url  # redis:// or rediss://


class MemoryWindows:
    """Sliding-window counters in this process, answering as limits'
    SlidingWindowCounterRateLimiter over its memory storage does (the previous window's
    count weighted by the part of it still in the sliding window, plus the current one's;
    tests/services/test_ratelimit.py compares them hit by hit), kept in one dict. limits'
    storage takes two counters, a lock and several awaits per hit and starts a task that
    walks every key of the process after each one: at 500 messages a second that cost more
    than the limiting. No await happens between reading a count and raising it, so two
    hits cannot both take the last place."""

    storage = None  # nothing to close at shutdown
    SWEEP_INTERVAL = 10.0

    def __init__(self) -> None:
        # key -> [window index, count, previous window's count, window seconds]
        self._windows: dict[str, list] = {}
        self._next_sweep = 0.0

    def _window(self, key: str, expiry: int, now: float) -> tuple[list, float]:
        """The key's counts, moved on to the window `now` falls in; and seconds into it."""
        index, into = divmod(now, expiry)
        window = self._windows.get(key)
        if window is None or window[0] < index - 1:
            window = self._windows[key] = [index, 0, 0, expiry]
        elif window[0] == index - 1:
            window[0], window[1], window[2] = index, 0, window[1]
        return window, into

    async def hit(self, item: RateLimitItem, *identifiers: str, cost: int = 1) -> bool:
        if cost > item.amount:
            return False
        now = time.time()
        if now >= self._next_sweep:
            self._sweep(now)
        expiry = item.get_expiry()
        window, into = self._window(item.key_for(*identifiers), expiry, now)
        previous_ttl = expiry - into if window[2] else 0.0
        if math.floor(window[2] * previous_ttl / expiry + window[1]) + cost > item.amount:
            return False
        window[1] += cost
        return True

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        now = time.time()
        expiry = item.get_expiry()
        window, into = self._window(item.key_for(*identifiers), expiry, now)
        _, current, previous, _ = window
        previous_ttl = expiry - into if previous else 0.0
        remaining = max(0, item.amount - math.floor(previous * previous_ttl / expiry + current))
        if not (previous or current):
            return WindowStats(now, remaining)
        previous_reset_in = previous_ttl % (expiry / previous) if previous else math.inf
        current_reset_in = (2 * expiry - into) % expiry if current else math.inf
        return WindowStats(now + min(previous_reset_in, current_reset_in), remaining)

    def _sweep(self, now: float) -> None:
        """Forget the keys with nothing in the current or the previous window."""
        self._next_sweep = now + self.SWEEP_INTERVAL
        stale = [key for key, (index, _, _, expiry) in self._windows.items() if index < now // expiry - 1]
        for key in stale:
            del self._windows[key]


@dataclass
class Limiter:
    strategy: SlidingWindowCounterRateLimiter | MemoryWindows
    items: dict[str, RateLimitItem]


def _limiter(ctx: Ctx) -> Limiter:
    if ctx.limiter is None:
        items = {name: parse(getattr(ctx.settings, field)) for name, field in RULES.items()}
        if ctx.settings.redis_url:
            storage = storage_from_string(storage_uri(ctx.settings), implementation="redispy")
            ctx.limiter = Limiter(strategy=SlidingWindowCounterRateLimiter(storage), items=items)
        else:
            ctx.limiter = Limiter(strategy=MemoryWindows(), items=items)
    return ctx.limiter


async def hit(ctx: Ctx, rule: str, key: str | None) -> None:
    """Count one attempt against the rule's bucket for this key; RateLimited (with the
    seconds to wait) when the bucket is full. No key (unknown IP): not limited."""
    if not key:
        return
    limiter = _limiter(ctx)
    item = limiter.items[rule]
    try:
        if await limiter.strategy.hit(item, rule, key):
            return
        stats = await limiter.strategy.get_window_stats(item, rule, key)
    except Exception as exc:
        # The counters' store (Redis) is unreachable. Refusing every message and sign-in
        # until it is back would turn a limiter outage into a chat outage: let it through.
        _warn_unavailable(exc)
        return
    ctx.metrics.refused(rule)
    raise RateLimited(retry_after=math.ceil(max(1.0, stats.reset_time - time.time())))


async def allow(ctx: Ctx, rule: str, key: str) -> bool:
    """Count one attempt; False when over the limit (for what is dropped silently)."""
    limiter = _limiter(ctx)
    try:
        allowed = await limiter.strategy.hit(limiter.items[rule], rule, key)
    except Exception as exc:
        _warn_unavailable(exc)
        return True
    if not allowed:
        ctx.metrics.refused(rule)
    return allowed


@dataclass(frozen=True)
class Attempt:
    """One attempt counted against a bucket until it turns out to have succeeded."""

    rule: str
    key: str | None
    counted: bool


async def attempt(ctx: Ctx, rule: str, key: str | None) -> Attempt:
    """Count an attempt whose outcome is not known yet (a password, a code); RateLimited
    (saying how many minutes to wait) when the bucket is full. Call `succeeded` if it did,
    so that only failures count.

    Counting first and giving back on success, rather than counting each failure after
    it, is what stops a burst of parallel guesses: they all count while they are checked."""
    if not key:
        return Attempt(rule, key, counted=False)
    try:
        await hit(ctx, rule, key)
    except RateLimited as exc:
        exc.message = wait_message(exc.retry_after)
        raise
    return Attempt(rule, key, counted=True)


async def succeeded(ctx: Ctx, *attempts: Attempt) -> None:
    """These attempts succeeded: take them off their counters. (A give-back that lands
    after its window rolled over leaves the new window one lower: at most one extra try.)"""
    limiter = _limiter(ctx)
    for done in attempts:
        if not done.counted or done.key is None:  # a counted attempt always has a key
            continue
        try:
            await limiter.strategy.hit(limiter.items[done.rule], done.rule, done.key, cost=-1)
        except Exception as exc:
            _warn_unavailable(exc)


_last_warning = 0.0


def _warn_unavailable(exc: Exception) -> None:
    global _last_warning  # a log throttle only; no state that matters
    now = time.monotonic()
    if now - _last_warning > 10:
        _last_warning = now
        log.warning("rate limits not enforced: their store is unreachable (%s)", exc)


async def close(ctx: Ctx) -> None:
    """Release the storage's connections (Redis) at shutdown."""
    limiter, ctx.limiter = ctx.limiter, None
    if limiter is None:
        return
    storage = limiter.strategy.storage
    bridge = getattr(storage, "bridge", None)
    client = getattr(bridge, "storage", None)
    aclose = getattr(client, "aclose", None)
    if aclose is not None:
        await aclose()
