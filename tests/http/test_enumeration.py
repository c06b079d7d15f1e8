"""Which e-mails have accounts must not show, neither in the answer nor in its timing."""

import statistics
import time

import pytest

from app import security
from app.config import Settings
from tests.conftest import login, make_account


async def test_an_unknown_email_is_checked_against_a_hash_of_the_configured_cost(
        http, agent, live_server, monkeypatch):
    checked = []
    real_check = security._check_sync

    def spy(password, stored):
        checked.append(stored)
        return real_check(password, stored)

    monkeypatch.setattr(security, "_check_sync", spy)
    session = http()
    for email in ("nobody@example.com", agent["email"]):
        async with session.post("/api/auth/login", json={"email": email, "password": "wrong-password"}) as resp:
            assert resp.status == 401
    unknown, known = checked
    rounds = live_server.ctx.settings.bcrypt_rounds
    assert security.hash_cost(unknown) == security.hash_cost(known) == rounds
    assert security.hash_cost(security.dummy_hash(rounds)) == rounds
    assert unknown.startswith(security.PREHASHED)  # the same pre-hash work as a real one


def test_production_hashes_passwords_at_cost_12():
    assert Settings().bcrypt_rounds == 12
    assert Settings.from_env({}).bcrypt_rounds == 12


@pytest.fixture
def settings(settings):
    """This module's server hashes at production's cost (the other tests use 4)."""
    from dataclasses import replace

    return replace(settings, bcrypt_rounds=12, rate_login_per_ip="100/minute",
                   rate_login_per_email="100/minute")


async def test_at_cost_12_a_wrong_password_and_an_unknown_email_take_as_long(http, live_server):
    account = await make_account(live_server, role="agent", name="Tim", email="tim@example.com")
    session = http()
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    for _ in range(4):  # interleaved, so that other load on the machine hits both alike
        for kind, email in (("known", account["email"]), ("unknown", "nobody@example.com")):
            started = time.perf_counter()
            async with session.post("/api/auth/login", json={"email": email, "password": "wrong-pw-1"}) as resp:
                assert resp.status == 401
            timings[kind].append(time.perf_counter() - started)
    known, unknown = min(timings["known"]), min(timings["unknown"])
    print(f"cost 12: known {statistics.median(timings['known']):.3f}s, "
          f"unknown {statistics.median(timings['unknown']):.3f}s (median of 4)")
    assert known > 0.05  # really cost 12 (about 0.2 s here); cost 4 is about 1 ms
    assert 0.5 < unknown / known < 2.0
    await login(http(), account)
