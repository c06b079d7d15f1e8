"""The in-process rate-limit counters: limits' own memory storage, sweeping what expired at
most once a second instead of after every hit (services/ratelimit.py)."""

from __future__ import annotations

import asyncio

from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from app.services import ratelimit


def test_the_private_sweep_hook_is_still_where_it_was_read():
    # MemoryCounters overrides limits' name-mangled __schedule_expiry: an upgrade that
    # renames it would silently bring back a sweep per hit.
    assert callable(getattr(MemoryStorage, "_MemoryStorage__schedule_expiry", None))
    assert callable(getattr(MemoryStorage, "_MemoryStorage__expire_events", None))


async def test_hits_on_many_keys_start_one_sweep_not_one_each(monkeypatch):
    sweeps = []
    sweep = MemoryStorage._MemoryStorage__expire_events

    async def counted(self):
        sweeps.append(len(self.expirations))
        await sweep(self)

    monkeypatch.setattr(MemoryStorage, "_MemoryStorage__expire_events", counted)
    limiter = SlidingWindowCounterRateLimiter(ratelimit.MemoryCounters())
    item = parse("5/minute")
    for n in range(300):
        assert await limiter.hit(item, "message", f"guest:{n}")
        await asyncio.sleep(0)  # let a sweep that was started run
    assert len(sweeps) == 1


async def test_the_counters_allow_and_refuse_as_limits_own_storage_does():
    item = parse("3/minute")
    ours = SlidingWindowCounterRateLimiter(ratelimit.MemoryCounters())
    theirs = SlidingWindowCounterRateLimiter(MemoryStorage())
    answers = [(await ours.hit(item, "message", "k"), await theirs.hit(item, "message", "k")) for _ in range(6)]
    assert [a for a, _ in answers] == [b for _, b in answers] == [True, True, True, False, False, False]
    await ours.hit(item, "message", "k", cost=-1)  # a give-back (ratelimit.succeeded)
    assert await ours.hit(item, "message", "k")


async def test_expired_counters_are_still_swept_away():
    storage = ratelimit.MemoryCounters()
    limiter = SlidingWindowCounterRateLimiter(storage)
    item = parse("1/second")
    assert await limiter.hit(item, "typing", "old")
    assert not await limiter.hit(item, "typing", "old")
    await asyncio.sleep(2.2)  # the counter lives two windows, then a sweep may drop it
    assert await limiter.hit(item, "typing", "new")  # starts a sweep (over a second since the last)
    await asyncio.sleep(0.05)
    assert not any("old" in key for key in storage.storage)
    assert any("new" in key for key in storage.storage)
