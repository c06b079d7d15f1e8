"""Admins see the jobs that gave up, with their last error, and retry one (audited)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from aiosmtpd.controller import Controller

from app.services.operations import jobs
from tests.conftest import free_port, login
from tests.jobs.test_email import Inbox

FETCH = {"X-Requested-With": "fetch"}
SMTP_PORT = free_port()


@pytest.fixture
def settings(settings):
    # Nothing listens on this port until the test starts a mail server there.
    return replace(settings, smtp_url=f"smtp://127.0.0.1:{SMTP_PORT}", job_poll_interval=0.05)


async def _dead_email(live_server) -> dict:
    job = await jobs.enqueue(live_server.ctx, "email", {
        "to": "grace@example.com", "subject": "Re: your order", "body": "It ships today."},
        max_attempts=1)
    for _ in range(200):
        stored = await jobs.get(live_server.ctx, job["_id"])
        if stored["status"] == "dead":
            return stored
        await asyncio.sleep(0.05)
    raise AssertionError(f"the job never died: {stored}")


@pytest.mark.logs_errors  # provokes it on purpose
async def test_an_admin_sees_a_dead_email_fixes_the_mail_server_and_retries_it(
        live_server, http, admin):
    dead = await _dead_email(live_server)
    session = http()
    await login(session, admin)
    async with session.get("/api/admin/jobs", params={"status": "dead"}) as resp:
        assert resp.status == 200
        listed = await resp.json()
    assert listed["total"] == 1
    job = listed["jobs"][0]
    assert (job["id"], job["kind"], job["to"], job["attempts"]) == (str(dead["_id"]), "email",
                                                                    "grace@example.com", 1)
    assert "Connect" in job["last_error"] or "refused" in job["last_error"].lower()
    assert "body" not in job  # an e-mail's text is not shown on the admin page

    inbox = Inbox(loop=asyncio.get_running_loop())
    controller = Controller(inbox, hostname="127.0.0.1", port=SMTP_PORT)
    controller.start()
    try:
        async with session.post(f"/api/admin/jobs/{job['id']}/retry", headers=FETCH) as resp:
            assert resp.status == 200
            assert (await resp.json())["job"]["status"] == "queued"
        (_, recipients, email), = await inbox.wait()
        assert recipients == ["grace@example.com"] and email["Subject"] == "Re: your order"
    finally:
        controller.stop()
    for _ in range(100):
        if (await jobs.get(live_server.ctx, dead["_id"]))["status"] == "succeeded":
            break
        await asyncio.sleep(0.05)
    assert (await jobs.get(live_server.ctx, dead["_id"]))["status"] == "succeeded"
    audited = await live_server.ctx.db.audit_events.find({"action": "job.retry"}).to_list(None)
    assert len(audited) == 1 and audited[0]["actor"]["id"] == admin["id"]
    assert audited[0]["entity"] == {"type": "job", "id": job["id"]}

    async with session.post(f"/api/admin/jobs/{job['id']}/retry", headers=FETCH) as resp:
        assert resp.status == 409  # only a dead job can be retried


@pytest.mark.logs_errors  # provokes it on purpose
async def test_agents_may_not_see_or_retry_jobs(live_server, agent_session):
    dead = await _dead_email(live_server)
    async with agent_session.get("/api/admin/jobs") as resp:
        assert resp.status == 403
    async with agent_session.post(f"/api/admin/jobs/{dead['_id']}/retry", headers=FETCH) as resp:
        assert resp.status == 403
    assert (await jobs.get(live_server.ctx, dead["_id"]))["status"] == "dead"


async def test_retrying_an_unknown_or_malformed_job_answers_clearly(live_server, http, admin):
    session = http()
    await login(session, admin)
    async with session.post("/api/admin/jobs/ffffffffffffffffffffffff/retry", headers=FETCH) as resp:
        assert resp.status == 404
    async with session.post("/api/admin/jobs/nope/retry", headers=FETCH) as resp:
        assert resp.status == 422
    async with session.get("/api/admin/jobs", params={"status": "queued"}) as resp:
        assert resp.status == 422
