"""The job queue: claim, retry with backoff, dead letters, dedupe, leases, graceful stop."""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import pytest

from app import db as db_module
from app.config import Settings
from app.jobs.worker import Worker
from app.services.conversations import NoEvents
from app.services.core import Ctx
from app.services.operations import jobs
from tests.fakeclock import FakeClock


@pytest.fixture
async def ctx():
    settings = Settings(secret_key="x" * 32, job_backoff_base=1.0, job_lease=30.0,
                        job_poll_interval=0.05, job_stop_timeout=1.0)
    database = db_module.connect(settings)
    await db_module.ensure_indexes(database)
    return Ctx(db=database, settings=settings, events=NoEvents())


async def test_a_job_is_claimed_run_and_marked_succeeded(ctx):
    seen = []

    async def handler(ctx, payload):
        seen.append(payload)

    job = await jobs.enqueue(ctx, "greet", {"name": "Ada"})
    assert job["status"] == "queued"
    worker = Worker(ctx, {"greet": handler}, worker_id="w1")
    assert await worker.run_once()
    assert seen == [{"name": "Ada"}]
    stored = await jobs.get(ctx, job["_id"])
    assert (stored["status"], stored["attempts"], stored["locked_by"]) == ("succeeded", 1, "w1")
    assert not await worker.run_once()  # nothing left


async def test_a_job_waits_for_its_run_at(ctx, monkeypatch):
    time = FakeClock(monkeypatch)
    await jobs.enqueue(ctx, "later", {}, run_at=time.now + timedelta(seconds=60))
    assert await jobs.claim(ctx, worker_id="w") is None
    time.advance(61)
    assert (await jobs.claim(ctx, worker_id="w"))["kind"] == "later"


@pytest.mark.logs_errors  # provokes it on purpose
async def test_a_failing_job_is_retried_with_growing_delays_then_dead_with_its_error(ctx, monkeypatch):
    time = FakeClock(monkeypatch)
    calls = []

    async def broken(ctx, payload):
        calls.append(time.now)
        raise ValueError(f"SMTP said no ({len(calls)})")

    job = await jobs.enqueue(ctx, "broken", {}, max_attempts=4)
    worker = Worker(ctx, {"broken": broken}, worker_id="w")
    delays = []
    for attempt in range(1, 4):
        assert await worker.run_once()
        stored = await jobs.get(ctx, job["_id"])
        assert (stored["status"], stored["attempts"]) == ("queued", attempt)
        assert stored["last_error"] == f"ValueError: SMTP said no ({attempt})"
        delay = (stored["run_at"] - time.now).total_seconds()
        delays.append(delay)
        assert not await worker.run_once()  # not due yet
        time.advance(delay)
    assert delays == sorted(delays) and delays[0] < delays[-1]
    assert 0.5 <= delays[0] <= 1 and 2 <= delays[2] <= 4  # base 1s, doubling, equal jitter
    assert await worker.run_once()
    dead = await jobs.get(ctx, job["_id"])
    assert (dead["status"], dead["attempts"]) == ("dead", 4)
    assert dead["last_error"] == "ValueError: SMTP said no (4)"
    assert len(calls) == 4
    time.advance(3600)
    assert not await worker.run_once()  # dead stays dead


@pytest.mark.logs_errors  # provokes it on purpose
async def test_a_job_of_unknown_kind_fails_instead_of_vanishing(ctx):
    job = await jobs.enqueue(ctx, "nobody-handles-this", {}, max_attempts=1)
    assert await Worker(ctx, {}, worker_id="w").run_once()
    dead = await jobs.get(ctx, job["_id"])
    assert dead["status"] == "dead" and "no handler" in dead["last_error"]


async def test_enqueue_with_the_same_dedupe_key_is_a_no_op(ctx):
    first = await jobs.enqueue(ctx, "email", {"n": 1}, dedupe_key="email:reply:1")
    second = await jobs.enqueue(ctx, "email", {"n": 2}, dedupe_key="email:reply:1")
    other = await jobs.enqueue(ctx, "email", {"n": 3}, dedupe_key="email:reply:2")
    assert second["_id"] == first["_id"] and second["payload"] == {"n": 1}
    assert other["_id"] != first["_id"]
    assert await ctx.db.jobs.count_documents({}) == 2
    # without a key, every enqueue is its own job
    await jobs.enqueue(ctx, "email", {})
    await jobs.enqueue(ctx, "email", {})
    assert await ctx.db.jobs.count_documents({}) == 4


async def test_two_workers_racing_over_200_jobs_run_each_exactly_once(ctx):
    total = 200
    runs: Counter = Counter()
    by_worker: Counter = Counter()
    all_done = asyncio.Event()
    running_now: set = set()
    overlaps = []

    def handler_for(name):
        async def handler(ctx, payload):
            n = payload["n"]
            if n in running_now:
                overlaps.append(n)
            running_now.add(n)
            await asyncio.sleep(0)  # let the other worker in
            runs[n] += 1
            by_worker[name] += 1
            running_now.discard(n)
            if sum(runs.values()) >= total:
                all_done.set()
        return handler

    for n in range(total):
        await jobs.enqueue(ctx, "count", {"n": n})
    workers = [Worker(ctx, {"count": handler_for(f"w{i}")}, worker_id=f"w{i}").start() for i in (1, 2)]
    try:
        await asyncio.wait_for(all_done.wait(), 30)
    finally:
        for worker in workers:
            await worker.stop()
    assert runs == Counter(dict.fromkeys(range(total), 1))
    assert not overlaps
    assert by_worker["w1"] > 0 and by_worker["w2"] > 0
    assert await ctx.db.jobs.count_documents({"status": "succeeded"}) == total


async def test_a_job_whose_worker_vanished_runs_again_after_its_lease(ctx, monkeypatch):
    time = FakeClock(monkeypatch)
    ran = []

    async def handler(ctx, payload):
        ran.append(payload)

    job = await jobs.enqueue(ctx, "work", {"x": 1})
    lost = await jobs.claim(ctx, worker_id="vanished")  # claimed, then its process died
    assert lost["_id"] == job["_id"]
    rescuer = Worker(ctx, {"work": handler}, worker_id="rescuer")
    assert not await rescuer.run_once()  # the lease still holds
    time.advance(ctx.settings.job_lease + 1)
    assert await rescuer.run_once()
    assert ran == [{"x": 1}]
    done = await jobs.get(ctx, job["_id"])
    assert (done["status"], done["locked_by"], done["attempts"]) == ("succeeded", "rescuer", 2)
    # the vanished worker, should it come back, can no longer mark or fail the job
    assert not await jobs.complete(ctx, lost, worker_id="vanished")
    assert await jobs.fail(ctx, lost, worker_id="vanished", error="late") is None


async def test_an_idle_worker_wakes_at_once_when_a_job_is_enqueued(ctx):
    ran = asyncio.Event()

    async def handler(ctx, payload):
        ran.set()

    worker = Worker(ctx, {"ping": handler}, poll_interval=60).start()
    try:
        await asyncio.wait_for(worker.idle.wait(), 2)  # found the queue empty, waits
        await jobs.enqueue(ctx, "ping", {})
        await asyncio.wait_for(ran.wait(), 2)  # long before the 60 s poll
    finally:
        await worker.stop()


async def test_stopping_a_worker_lets_a_short_job_finish(ctx):
    started, release = asyncio.Event(), asyncio.Event()

    async def handler(ctx, payload):
        started.set()
        await release.wait()

    job = await jobs.enqueue(ctx, "short", {})
    worker = Worker(ctx, {"short": handler}).start()
    await asyncio.wait_for(started.wait(), 2)
    stopping = asyncio.create_task(worker.stop(timeout=5))
    release.set()
    await stopping
    assert (await jobs.get(ctx, job["_id"]))["status"] == "succeeded"


async def test_stopping_a_worker_gives_back_a_job_that_does_not_finish_in_time(ctx):
    started = asyncio.Event()

    async def stuck(ctx, payload):
        started.set()
        await asyncio.Event().wait()

    job = await jobs.enqueue(ctx, "stuck", {})
    worker = Worker(ctx, {"stuck": stuck}).start()
    await asyncio.wait_for(started.wait(), 2)
    await worker.stop(timeout=0.05)
    back = await jobs.get(ctx, job["_id"])
    assert (back["status"], back["locked_by"], back["locked_until"], back["attempts"]) == (
        "queued", None, None, 0)
    assert await jobs.claim(ctx, worker_id="next") is not None  # at once, not after a lease


@pytest.mark.logs_errors  # provokes it on purpose
async def test_a_job_lost_by_workers_too_often_is_dead(ctx, monkeypatch):
    time = FakeClock(monkeypatch)
    job = await jobs.enqueue(ctx, "crashy", {}, max_attempts=2)
    for _ in range(2):
        assert await jobs.claim(ctx, worker_id="crashing") is not None
        time.advance(ctx.settings.job_lease + 1)

    async def handler(ctx, payload):
        raise AssertionError("must not run a third time")

    assert await Worker(ctx, {"crashy": handler}, worker_id="w").run_once()
    dead = await jobs.get(ctx, job["_id"])
    assert dead["status"] == "dead" and "stopped answering" in dead["last_error"]


def test_backoff_grows_and_stays_within_its_jitter():
    ctx = Ctx(db=None, settings=replace(Settings(secret_key="x" * 32), job_backoff_base=2.0),
              events=NoEvents())
    for attempts, (low, high) in {1: (1, 2), 2: (2, 4), 5: (16, 32)}.items():
        for _ in range(20):
            assert low <= jobs.backoff(ctx, attempts) <= high


async def test_a_job_slower_than_its_lease_keeps_it_and_runs_once(ctx):
    """The worker renews the lease while the job runs: a second worker polling all along
    never gets it, though the job takes three leases."""
    fast_lease = replace(ctx.settings, job_lease=0.3)
    slow_ctx = Ctx(db=ctx.db, settings=fast_lease, events=NoEvents())
    runs = Counter()

    async def slow(ctx, payload):
        runs[payload["n"]] += 1
        await asyncio.sleep(1.0)

    job = await jobs.enqueue(slow_ctx, "slow", {"n": 1})
    first = Worker(slow_ctx, {"slow": slow}, worker_id="first", poll_interval=0.05).start()
    second = Worker(slow_ctx, {"slow": slow}, worker_id="second", poll_interval=0.05).start()
    try:
        for _ in range(100):
            await asyncio.sleep(0.05)
            if (await jobs.get(slow_ctx, job["_id"]))["status"] == "succeeded":
                break
    finally:
        await first.stop()
        await second.stop()
    done = await jobs.get(slow_ctx, job["_id"])
    assert done["status"] == "succeeded" and done["attempts"] == 1
    assert runs == Counter({1: 1})


@pytest.mark.logs_errors  # provokes it on purpose
async def test_finished_jobs_are_deleted_after_their_retention_and_dead_ones_later(ctx, monkeypatch):
    time = FakeClock(monkeypatch)

    async def ok(ctx, payload):
        return None

    async def broken(ctx, payload):
        raise RuntimeError("no")

    done = await jobs.enqueue(ctx, "ok", {})
    dead = await jobs.enqueue(ctx, "broken", {}, max_attempts=1)
    waiting = await jobs.enqueue(ctx, "ok", {}, run_at=time.now + timedelta(days=60))
    worker = Worker(ctx, {"ok": ok, "broken": broken}, worker_id="w")
    assert await worker.run_once() and await worker.run_once()
    retention, dead_retention = ctx.settings.job_retention, ctx.settings.dead_job_retention
    assert (await jobs.get(ctx, done["_id"]))["expire_at"] == time.now + timedelta(seconds=retention)
    assert (await jobs.get(ctx, dead["_id"]))["expire_at"] == time.now + timedelta(seconds=dead_retention)
    monkeypatch.setattr("app.store.engine.datetime", _shifted(time.now + timedelta(seconds=retention + 1)))
    await ctx.db.client.purge_expired()
    assert await jobs.get(ctx, done["_id"]) is None
    assert await jobs.get(ctx, dead["_id"]) is not None  # admins still see it
    assert await jobs.get(ctx, waiting["_id"]) is not None  # never finished: never expires
    monkeypatch.setattr("app.store.engine.datetime", _shifted(time.now + timedelta(seconds=dead_retention + 1)))
    await ctx.db.client.purge_expired()
    assert await jobs.get(ctx, dead["_id"]) is None


def _shifted(now):
    """A datetime class whose now() is `now`: the TTL pass's clock, moved."""
    from datetime import datetime

    class Shifted(datetime):
        @classmethod
        def now(cls, tz=None):
            return now

    return Shifted
