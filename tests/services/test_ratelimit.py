"""The in-process rate-limit counters (services/core/ratelimit.py MemoryWindows) answer as the
`limits` library's sliding-window counters over its own memory storage, hit by hit, and
forget what has expired."""

from __future__ import annotations

import asyncio
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from limits import parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import SlidingWindowCounterRateLimiter

from app.services.core import ratelimit

RULES = [parse("3/minute"), parse("2/10 seconds"), parse("5/hour")]
STEPS = st.lists(st.tuples(
    st.sampled_from([0.0, 0.1, 1.7, 4.0, 9.5, 30.0, 61.0, 200.0]),  # seconds that pass first
    st.integers(0, len(RULES) - 1), st.sampled_from(["a", "b"]), st.sampled_from([1, 1, 1, -1, 2])),
    min_size=1, max_size=25)


class Clock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.25

    def __call__(self) -> float:
        return self.now


@settings(max_examples=200, deadline=None, database=None)
@given(steps=STEPS)
def test_the_counters_answer_as_limits_own_storage_does(steps):
    clock = Clock()

    async def replay() -> None:
        ours = ratelimit.MemoryWindows()
        theirs = SlidingWindowCounterRateLimiter(MemoryStorage())
        for passed, rule, key, cost in steps:
            clock.now += passed
            item = RULES[rule]
            assert await ours.hit(item, "r", key, cost=cost) == await theirs.hit(item, "r", key, cost=cost)
            mine, reference = await ours.get_window_stats(item, "r", key), await theirs.get_window_stats(
                item, "r", key)
            assert mine.remaining == reference.remaining
            assert abs(mine.reset_time - reference.reset_time) < 1e-6

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(time, "time", clock)
        asyncio.run(replay())


async def test_the_rule_refuses_over_its_count_and_a_give_back_frees_a_place():
    windows = ratelimit.MemoryWindows()
    item = parse("3/minute")
    assert [await windows.hit(item, "message", "k") for _ in range(5)] == [True, True, True, False, False]
    assert await windows.hit(item, "message", "other")  # another key's bucket
    await windows.hit(item, "message", "k", cost=-1)  # ratelimit.succeeded
    assert await windows.hit(item, "message", "k")
    assert not await windows.hit(item, "message", "k")
    stats = await windows.get_window_stats(item, "message", "k")
    assert stats.remaining == 0 and 0 < stats.reset_time - time.time() <= 60


async def test_keys_with_nothing_in_their_windows_are_forgotten(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(time, "time", clock)
    windows = ratelimit.MemoryWindows()
    item = parse("1/second")
    for n in range(100):
        assert await windows.hit(item, "typing", f"old{n}")
    clock.now += 2.5 + windows.SWEEP_INTERVAL  # two windows on: nothing of theirs counts
    assert await windows.hit(item, "typing", "new")
    assert list(windows._windows) == [item.key_for("typing", "new")]
