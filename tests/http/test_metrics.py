"""/metrics: what Prometheus reads after real traffic, and who may read it."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app
from app.config import ConfigError, Settings
from app.jobs.worker import Worker
from app.services.conversations import escalation
from app.services.operations import jobs
from tests.conftest import cookie_header, free_port, login
from tests.fakeclock import FakeClock

PROCESS = "test-node:1"
TOKEN = "metrics-token-0123456789"


@pytest.fixture
def settings(settings):
    # The worker is driven by hand here, so that the queue holds exactly what the test made.
    return dataclasses.replace(settings, jobs_in_process=False, rate_chat_start_per_guest="1/hour",
                               process_name=PROCESS)


async def scrape(session, headers=None) -> dict:
    """Every sample as {(name, ((label, value), ...)): value}, the process label checked."""
    async with session.get("/metrics", headers=headers) as resp:
        assert resp.status == 200, await resp.text()
        assert resp.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = await resp.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if not sample.name.startswith("support_"):
                continue
            labels = dict(sample.labels)
            assert labels.pop("process") == PROCESS
            samples[(sample.name, tuple(sorted(labels.items())))] = sample.value
    return samples


def series(samples: dict, name: str) -> dict:
    """The samples of one metric, keyed by their labels (a single label: its value)."""
    found = {}
    for (sample_name, labels), value in samples.items():
        if sample_name == name:
            key = labels[0][1] if len(labels) == 1 else labels
            found[key] = value
    return found


async def wait_for_sockets(session, expected: dict) -> dict:
    for _ in range(100):
        sockets = series(await scrape(session), "support_sockets_connected")
        if sockets == expected:
            return sockets
        await asyncio.sleep(0.05)
    return sockets


@pytest.mark.logs_errors  # provokes it on purpose
async def test_metrics_count_sockets_messages_escalations_refusals_jobs_and_requests(
        start_chat, http, connect, agent, admin, live_server, monkeypatch):
    ctx = live_server.ctx
    time = FakeClock(monkeypatch)
    metrics = http()

    # A job that fails its only attempt is dead.
    await jobs.enqueue(ctx, "email", {"to": "nobody"}, max_attempts=1)

    async def failing(ctx, payload):
        raise RuntimeError("SMTP is down")

    assert await Worker(ctx, {"email": failing}).run_once()

    guest = await start_chat()
    async with guest.session.post("/api/guest/tickets", json={"name": "G", "message": "again"}) as resp:
        assert resp.status == 429  # one chat per hour for this guest
    guest_socket = await connect(guest.cookie)
    agent_session, admin_session = http(), http()
    await login(agent_session, agent)
    await login(admin_session, admin)
    agent_socket = await connect(cookie_header(agent_session))
    await connect(cookie_header(admin_session))
    async with agent_session.get(f"/api/tickets/{guest.ticket_id}") as resp:
        assert resp.status == 200
    async with agent_session.get("/no/such/page") as resp:
        assert resp.status == 404

    joined = await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    assert joined["ok"]  # says "Alan Agent joined the conversation": a system line
    time.advance(16 * 60)
    assert len(await escalation.sweep_escalations(ctx)) == 1  # a line, and every admin notified
    sent = await agent_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "Hello",
                                                    "client_msg_id": "m-1"})
    noted = await agent_socket.call("note:add", {"ticket_id": guest.ticket_id, "body": "VIP",
                                                 "client_msg_id": "n-1"})
    assert sent["ok"] and noted["ok"]
    time.advance(30)

    samples = await scrape(metrics)
    assert series(samples, "support_sockets_connected") == {"guest": 1, "agent": 1, "admin": 1}
    assert series(samples, "support_messages_stored_total") == {"message": 2, "note": 1, "system": 2}
    assert series(samples, "support_escalations_total") == {"high": 1}
    assert series(samples, "support_rate_limit_refusals_total") == {"chat_start_guest": 1}
    assert series(samples, "support_jobs_queued") == {"notify": 1, "email": 0, "webhook": 0}
    assert series(samples, "support_jobs_oldest_queued_age_seconds") == {
        "notify": 30.0, "email": 0.0, "webhook": 0.0}
    assert series(samples, "support_jobs_dead") == {"notify": 0, "email": 1, "webhook": 0}
    assert series(samples, "support_dependency_ready") == {"mongodb": 1}  # no Redis configured

    acks = series(samples, "support_event_ack_seconds_count")
    assert acks == {"message:send": 1, "note:add": 1}
    buckets = series(samples, "support_event_ack_seconds_bucket")
    assert buckets[(("event", "message:send"), ("le", "+Inf"))] == 1
    assert 0 < series(samples, "support_event_ack_seconds_sum")["message:send"] < 5

    requests = series(samples, "support_http_request_duration_seconds_count")
    assert requests == {
        (("method", "POST"), ("route", "/api/guest/tickets"), ("status", "201")): 1,
        (("method", "POST"), ("route", "/api/guest/tickets"), ("status", "429")): 1,
        (("method", "POST"), ("route", "/api/auth/login"), ("status", "200")): 2,
        # the ticket's path template, never its id
        (("method", "GET"), ("route", "/api/tickets/{ticket_id}"), ("status", "200")): 1,
        (("method", "GET"), ("route", "unmatched"), ("status", "404")): 1,
    }

    # A closed socket is no longer counted.
    await guest_socket.sio.disconnect()
    assert await wait_for_sockets(metrics, {"guest": 0, "agent": 1, "admin": 1}) == {
        "guest": 0, "agent": 1, "admin": 1}
    # and the first scrape is itself a request now
    requests = series(await scrape(metrics), "support_http_request_duration_seconds_count")
    assert requests[(("method", "GET"), ("route", "/metrics"), ("status", "200"))] >= 1


async def other_server(aiohttp_server, settings, **changes) -> aiohttp.ClientSession:
    """A server of its own (beside the live one), with these settings changed."""
    port = free_port()
    changed = dataclasses.replace(settings, port=port, **changes)
    server = await aiohttp_server(create_app(changed), host="127.0.0.1", port=port)
    return aiohttp.ClientSession(base_url=str(server.make_url("")))


async def test_metrics_ask_for_the_token_when_one_is_set(aiohttp_server, settings):
    async with await other_server(aiohttp_server, settings, metrics_token=TOKEN) as session:
        async with session.get("/metrics") as resp:
            assert resp.status == 401
            assert resp.headers["WWW-Authenticate"].startswith("Bearer")
            assert "support_" not in await resp.text()
        wrong = {"Authorization": "Bearer wrong-token-0123456789"}
        async with session.get("/metrics", headers=wrong) as resp:
            assert resp.status == 401
        samples = await scrape(session, headers={"Authorization": f"Bearer {TOKEN}"})
        assert series(samples, "support_dependency_ready") == {"mongodb": 1}


async def test_metrics_are_not_served_in_production_without_a_token(aiohttp_server, settings):
    async with await other_server(aiohttp_server, settings, app_env="production") as session:
        async with session.get("/metrics") as resp:
            assert resp.status == 404
            assert "support_" not in await resp.text()


async def test_metrics_are_served_in_production_with_the_token(aiohttp_server, settings):
    async with await other_server(aiohttp_server, settings, app_env="production",
                                  metrics_token=TOKEN) as session:
        samples = await scrape(session, headers={"Authorization": f"Bearer {TOKEN}"})
        assert series(samples, "support_sockets_connected") == {"guest": 0, "agent": 0, "admin": 0}


async def test_a_worker_alone_serves_its_own_metrics_on_metrics_port():
    import signal
    import sys

    from tests.test_config import ROOT, run_env

    port = free_port()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), "worker", cwd=ROOT,
        env=run_env(METRICS_PORT=str(port), PROCESS_NAME="worker-1", METRICS_TOKEN=TOKEN),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        assert b"running" in await asyncio.wait_for(proc.stdout.readline(), 30)
        async with aiohttp.ClientSession(base_url=f"http://127.0.0.1:{port}") as session:
            async with session.get("/metrics") as resp:
                assert resp.status == 401
            async with session.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}) as resp:
                assert resp.status == 200
                text = await resp.text()
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0
    assert "# TYPE support_escalations_total counter" in text  # what its sweeps escalate
    assert 'support_jobs_queued{kind="email",process="worker-1"} 0.0' in text
    assert 'support_dependency_ready{dependency="mongodb",process="worker-1"} 1.0' in text


@pytest.mark.parametrize("env, fragment", [
    ({"METRICS_TOKEN": "short"}, "METRICS_TOKEN must be at least 16"),
    ({"METRICS_TOKEN": "sixteen chars with spaces"}, "METRICS_TOKEN must be at least 16"),
    ({"PROCESS_NAME": "web 1"}, "PROCESS_NAME must be"),
    ({"METRICS_PORT": "ninety"}, "METRICS_PORT must be a port"),
    ({"METRICS_PORT": "70000"}, "METRICS_PORT must be a port"),
])
def test_bad_metrics_settings_are_one_clear_error(env, fragment):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)
