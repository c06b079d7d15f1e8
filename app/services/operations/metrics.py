"""Prometheus metrics: what this process counted, and what the database says at scrape time.

One `Metrics` per app (made in create_app, reached through `metrics_key` and `ctx.metrics`),
each with its own `CollectorRegistry`: prometheus_client's default REGISTRY is global, and
tests run several apps in one process.

Counting is on the hot path (every message), so a count is a plain addition to a dict entry:
no database call, no lock (prometheus_client's own Counter takes a threading.Lock on every
inc). Everything runs on the event loop's one thread, so nothing else can interleave with an
addition. The figures become Prometheus metric families only when /metrics is scraped,
through a custom collector. Gauges that come from the database (jobs) and the readiness of
MongoDB and Redis are read at scrape time (`scrape()`), never kept up to date by writes.

Several processes: every series carries a `process` label (PROCESS_NAME, else
hostname:pid), so each process's counters are its own series and `sum` over them is the
total; the library's multiprocess mode would need a directory shared by every process,
which servers on several machines do not have (README "Metrics")."""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import CollectorRegistry, ProcessCollector, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

from ... import clock
from . import health, jobs

log = logging.getLogger(__name__)

# The classic text format: every Prometheus version reads it, and the names here need no more.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
PREFIX = "support_"
ROLES = ("guest", "agent", "admin")
MESSAGE_KINDS = ("message", "note", "system")
# Socket events whose answer time is measured (from the event's arrival to its answer).
TIMED_EVENTS = ("message:send", "note:add")
ACK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
READINESS_TIMEOUT = 5.0


def default_process_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Histogram:
    """Bucket counts, a count and a sum: one bisect and three additions per observation."""

    __slots__ = ("bounds", "counts", "count", "sum")

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one is +Inf
        self.count = 0
        self.sum = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect_left(self.bounds, value)] += 1
        self.count += 1
        self.sum += value

    def cumulative(self) -> list[tuple[str, int]]:
        out, running = [], 0
        for bound, n in zip((*map(_float_text, self.bounds), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


def _float_text(value: float) -> str:
    return repr(float(value))


@dataclass
class Scraped:
    """What is read at scrape time: per kind of job, and per dependency 1 or 0."""

    jobs_queued: dict[str, int] = field(default_factory=dict)
    jobs_oldest_age: dict[str, float] = field(default_factory=dict)
    jobs_dead: dict[str, int] = field(default_factory=dict)
    ready: dict[str, int] = field(default_factory=dict)


class Metrics:
    """This process's counters, and the registry that shows them."""

    def __init__(self, process: str | None = None) -> None:
        self.process = process or default_process_name()
        self.sockets: dict[str, int] = dict.fromkeys(ROLES, 0)
        self.messages: dict[str, int] = dict.fromkeys(MESSAGE_KINDS, 0)
        self.escalations: dict[str, int] = defaultdict(int)
        self.refusals: dict[str, int] = defaultdict(int)
        self.acks: dict[str, Histogram] = {name: Histogram(ACK_BUCKETS) for name in TIMED_EVENTS}
        self.http: dict[tuple[str, str, str], Histogram] = {}
        self.scraped = Scraped()
        self.registry = CollectorRegistry(auto_describe=False)
        self.registry.register(_Collector(self))
        ProcessCollector(registry=self.registry)

    # --- counting (one call at the place where the thing happens) ------------------------

    def socket_connected(self, role: str) -> None:
        self.sockets[role] = self.sockets.get(role, 0) + 1

    def socket_disconnected(self, role: str) -> None:
        self.sockets[role] = self.sockets.get(role, 0) - 1

    def message_stored(self, kind: str) -> None:
        self.messages[kind] = self.messages.get(kind, 0) + 1

    def escalated(self, priority: str) -> None:
        self.escalations[priority] += 1

    def refused(self, rule: str) -> None:
        self.refusals[rule] += 1

    def answered(self, event: str, seconds: float) -> None:
        self.acks[event].observe(seconds)

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method if method in METHODS else "other", route, str(status))
        histogram = self.http.get(key)
        if histogram is None:
            histogram = self.http[key] = Histogram(HTTP_BUCKETS)
        histogram.observe(seconds)

    def timed(self, event: str, handler: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        """A socket event handler whose answer time (arrival to answer) is observed."""
        if event not in self.acks:
            return handler

        async def timed_handler(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return await handler(*args, **kwargs)
            finally:
                self.acks[event].observe(time.perf_counter() - started)

        return timed_handler

    # --- scraping ---------------------------------------------------------------------------

    async def scrape(self, ctx: Any, *, kinds: Iterable[str],
                     redis_ping: Callable[[], Awaitable[bool]] | None) -> bytes:
        """Read the database's gauges (the queue's jobs of these kinds, readiness), then render
        every metric in Prometheus's text format."""
        scraped = Scraped()
        try:
            stats = await asyncio.wait_for(jobs.queue_stats(ctx, kinds=tuple(kinds)), READINESS_TIMEOUT)
        except Exception as exc:  # the database is away: its readiness says so below
            log.warning("metrics: could not read the job queue (%s)", type(exc).__name__)
            stats = None
        if stats is not None:
            now = clock.utcnow()
            for kind, row in stats.items():
                scraped.jobs_queued[kind] = row.queued
                scraped.jobs_dead[kind] = row.dead
                scraped.jobs_oldest_age[kind] = _age(now, row.oldest_due)
        checks = await health.readiness(ctx, redis_ping=redis_ping, timeout=READINESS_TIMEOUT)
        scraped.ready = {name: int(state == "ok") for name, state in checks.items()}
        self.scraped = scraped
        return generate_latest(self.registry)


def _age(now: datetime, oldest_due: datetime | None) -> float:
    """Seconds since the oldest queued job became due; 0 when none is due yet."""
    if oldest_due is None:
        return 0.0
    return max(0.0, (now - oldest_due).total_seconds())


class _Collector:
    """Turns the counters into metric families when the registry is collected."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterable[Any]:
        m, p = self.metrics, self.metrics.process

        def gauge(name: str, doc: str, label: str, values: dict) -> GaugeMetricFamily:
            family = GaugeMetricFamily(PREFIX + name, doc, labels=["process", label])
            for key in sorted(values):
                family.add_metric([p, key], values[key])
            return family

        def counter(name: str, doc: str, label: str, values: dict) -> CounterMetricFamily:
            family = CounterMetricFamily(PREFIX + name, doc, labels=["process", label])
            for key in sorted(values):
                family.add_metric([p, key], values[key])
            return family

        yield gauge("sockets_connected", "Socket.IO connections open in this process, by role.",
                    "role", m.sockets)
        yield counter("messages_stored", "Messages stored by this process, by kind.", "kind",
                      m.messages)
        acks = HistogramMetricFamily(
            PREFIX + "event_ack_seconds",
            "Seconds from a socket event's arrival to its answer (message:send, note:add).",
            labels=["process", "event"])
        for event, histogram in m.acks.items():
            acks.add_metric([p, event], histogram.cumulative(), histogram.sum)
        yield acks
        http = HistogramMetricFamily(
            PREFIX + "http_request_duration_seconds",
            "Seconds to answer an HTTP request, by method, route (its path template) and status.",
            labels=["process", "method", "route", "status"])
        for (method, route, status), histogram in sorted(m.http.items()):
            http.add_metric([p, method, route, status], histogram.cumulative(), histogram.sum)
        yield http
        yield counter("escalations", "Tickets escalated by this process's sweeps, by new priority.",
                      "priority", m.escalations)
        yield counter("rate_limit_refusals", "Attempts refused (or typing hints dropped) by a "
                      "rate limit, by rule.", "rule", m.refusals)
        scraped = m.scraped
        yield gauge("jobs_queued", "Jobs waiting in the queue (due or scheduled), by kind; the "
                    "same figure from every process.", "kind", scraped.jobs_queued)
        yield gauge("jobs_oldest_queued_age_seconds", "Seconds since the oldest queued job became "
                    "due (0: none is due), by kind.", "kind", scraped.jobs_oldest_age)
        yield gauge("jobs_dead", "Jobs that failed every attempt and are kept for admins, by kind.",
                    "kind", scraped.jobs_dead)
        yield gauge("dependency_ready", "1 when this process reaches the dependency (as /readyz), "
                    "else 0.", "dependency", scraped.ready)
