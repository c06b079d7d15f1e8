"""Webhooks as an integration sees them: a real receiver on 127.0.0.1 (WEBHOOK_ALLOW_PRIVATE
is on for these tests) gets signed JSON for the events its hook chose, retried with backoff
until it answers 2xx; every attempt is in the hook's delivery log, and admins redeliver."""

from __future__ import annotations

import asyncio
import itertools
import socket
import statistics
from dataclasses import replace
from datetime import datetime

import pytest

from app.services.operations import egress, webhooks
from tests.conftest import login
from tests.receiver import HANG, Receiver, verify

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def settings(settings):
    return replace(settings, webhook_allow_private=True, webhook_backoff_base=0.05,
                   job_poll_interval=0.05, webhook_timeout=2.0)


@pytest.fixture
async def admin_session(http, admin):
    session = http()
    await login(session, admin)
    return session


@pytest.fixture
async def receiver():
    started = await Receiver().start()
    yield started
    await started.stop()


async def register(admin_session, url: str, events: list[str], **extra) -> dict:
    async with admin_session.post("/api/admin/webhooks", json={"url": url, "events": events, **extra}) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


async def delivery_log(admin_session, hook_id: str) -> list[dict]:
    async with admin_session.get(f"/api/admin/webhooks/{hook_id}/deliveries") as resp:
        assert resp.status == 200
        return (await resp.json())["deliveries"]


async def wait_log(admin_session, hook_id: str, done, timeout: float = 10.0) -> list[dict]:
    """The delivery log once `done(log)` holds (the worker writes it in the background)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        log = await delivery_log(admin_session, hook_id)
        if done(log):
            return log
        if loop.time() > end:
            raise AssertionError(f"the delivery log never got there: {log}")
        await asyncio.sleep(0.05)


async def test_a_receiver_that_fails_twice_gets_the_event_on_the_third_attempt_signed_and_logged(
        live_server, admin_session, receiver, start_chat):
    receiver.answer = lambda received, n: 500 if n <= 2 else 200
    made = await register(admin_session, receiver.url, ["ticket.created"])
    hook, secret = made["webhook"], made["secret"]
    assert secret.startswith("whsec_")

    guest = await start_chat(name="Grace Guest", message="Where is my parcel?", email="grace@example.com")
    log = await wait_log(admin_session, hook["id"], lambda log: any(d["status"] == "succeeded" for d in log))
    attempts = sorted(log, key=lambda d: d["attempt"])
    assert [(d["attempt"], d["status"], d["response_code"]) for d in attempts] == [
        (1, "failed", 500), (2, "failed", 500), (3, "succeeded", 200)]
    assert attempts[0]["error"] == "the receiver answered 500" and attempts[2]["error"] is None
    assert len({d["delivery_id"] for d in attempts}) == 1

    requests = receiver.requests
    assert len(requests) == 3
    assert [r.headers["X-Support-Attempt"] for r in requests] == ["1", "2", "3"]
    assert {r.headers["X-Support-Delivery"] for r in requests} == {attempts[0]["delivery_id"]}
    for request in requests:
        assert request.event == "ticket.created"
        assert request.headers["Content-Type"] == "application/json"
        assert verify(secret, request.headers["X-Support-Signature"], request.raw)
        assert not verify("whsec_wrong", request.headers["X-Support-Signature"], request.raw)
    body = requests[-1].body
    assert body["id"] == attempts[0]["delivery_id"] and body["event"] == "ticket.created"
    assert body["data"]["ticket"]["id"] == guest.ticket_id
    assert body["data"]["ticket"]["guest_email"] == "grace@example.com"
    assert body["data"]["message"]["body"] == "Where is my parcel?"
    assert body["actor"]["type"] == "guest" and body["actor"]["id"].startswith("guest:")

    durations = [d["duration_ms"] for d in attempts]
    times = [datetime.fromisoformat(d["at"].replace("Z", "+00:00")) for d in attempts]
    gaps = [round((b - a).total_seconds() * 1000) for a, b in itertools.pairwise(times)]
    print("\nwebhook delivery, receiver failing twice: attempts", [d["attempt"] for d in attempts],
          "codes", [d["response_code"] for d in attempts], "durations ms", durations,
          f"(median {statistics.median(durations):.1f} ms); ms between attempts", gaps,
          "(backoff base 0.05 s in this test, 30 s in production)")


async def test_notes_and_internal_lines_reach_only_a_hook_that_asked_for_them(
        live_server, admin_session, receiver, guest, agent_session):
    plain = await register(admin_session, receiver.url + "?plain", ["message.created", "ticket.updated"])
    notes = await register(admin_session, receiver.url + "?notes", ["message.created", "ticket.updated"],
                           include_notes=True)
    ticket = f"/api/tickets/{guest.ticket_id}"
    async with agent_session.post(f"{ticket}/notes", headers=FETCH,
                                  json={"body": "VIP customer, refund fast", "client_msg_id": "n1"}) as resp:
        assert resp.status == 201
    async with agent_session.patch(ticket, headers=FETCH, json={"priority": "urgent"}) as resp:
        assert resp.status == 200
    async with agent_session.post(f"{ticket}/messages", headers=FETCH,
                                  json={"body": "Refund is on its way.", "client_msg_id": "m1"}) as resp:
        assert resp.status == 201

    # The notes hook: the note, the internal priority line, the join line, the reply, and
    # ticket.updated; the plain one: the join line, the reply and ticket.updated.
    await receiver.wait_for(5, where=lambda r: r.path.endswith("?notes"))
    await receiver.wait_for(3, where=lambda r: r.path.endswith("?plain"))
    await _settled(live_server)
    by_hook = {name: [r.body for r in receiver.requests if r.path.endswith(f"?{name}")]
               for name in ("plain", "notes")}
    plain_messages = [b["data"]["message"] for b in by_hook["plain"] if b["event"] == "message.created"]
    note_messages = [b["data"]["message"] for b in by_hook["notes"] if b["event"] == "message.created"]
    assert [m["body"] for m in plain_messages] == ["Alan Agent from support joined", "Refund is on its way."]
    assert sorted(m["body"] for m in note_messages) == sorted([
        "VIP customer, refund fast", "Alan Agent set priority to urgent",
        "Alan Agent from support joined", "Refund is on its way."])
    assert "VIP customer" not in str(by_hook["plain"]) and "set priority" not in str(by_hook["plain"])
    updated = [b for b in by_hook["plain"] if b["event"] == "ticket.updated"]
    assert updated[0]["data"]["changes"] == {"priority": {"before": "normal", "after": "urgent"}}
    assert updated[0]["actor"]["name"] == "Alan Agent"
    assert plain["webhook"]["include_notes"] is False and notes["webhook"]["include_notes"] is True


async def _settled(live_server) -> None:
    """Wait until the queue has nothing left to run."""
    for _ in range(200):
        if await live_server.ctx.db.jobs.count_documents({"status": {"$in": ["queued", "processing"]}}) == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("jobs never settled")


async def test_closing_a_ticket_sends_ticket_updated_and_ticket_closed(
        live_server, admin_session, receiver, guest, agent_session):
    await register(admin_session, receiver.url, ["ticket.updated", "ticket.closed"])
    async with agent_session.patch(f"/api/tickets/{guest.ticket_id}", headers=FETCH,
                                   json={"status": "closed"}) as resp:
        assert resp.status == 200
        version = (await resp.json())["ticket"]["version"]
    got = await receiver.wait_for(2)
    assert sorted(r.event for r in got) == ["ticket.closed", "ticket.updated"]
    for received in got:
        data = received.body["data"]
        assert data["ticket"]["status"] == "closed" and data["ticket"]["version"] == version
        assert data["changes"]["status"] == {"before": "open", "after": "closed"}


async def test_a_rating_is_sent_as_csat_submitted(live_server, admin_session, receiver, guest,
                                                  agent_socket):
    await register(admin_session, receiver.url, ["csat.submitted"])
    assert (await agent_socket.call("ticket:close", {"ticket_id": guest.ticket_id}))["ok"]
    async with guest.session.post(f"/api/tickets/{guest.ticket_id}/csat",
                                  json={"rating": 5, "comment": "Quick and kind"}) as resp:
        assert resp.status == 200
        rated = (await resp.json())["ticket"]["csat"]
    (received,) = await receiver.wait_for(1)
    assert received.event == "csat.submitted"
    assert received.body["data"]["csat"] == {"rating": 5, "comment": "Quick and kind",
                                             "submitted_at": rated["at"]}


async def test_a_receiver_that_hangs_is_cut_at_the_timeout_and_retried(
        live_server, admin_session, receiver, start_chat):
    live_server.ctx.settings = replace(live_server.ctx.settings, webhook_timeout=0.3)
    receiver.answer = lambda received, n: HANG if n == 1 else 204
    hook = (await register(admin_session, receiver.url, ["ticket.created"]))["webhook"]
    await start_chat()
    log = await wait_log(admin_session, hook["id"], lambda log: any(d["status"] == "succeeded" for d in log))
    first, second = sorted(log, key=lambda d: d["attempt"])
    assert (first["status"], first["response_code"], first["error"]) == ("failed", None,
                                                                          "no answer within 0.3 s")
    assert (second["status"], second["response_code"]) == ("succeeded", 204)


@pytest.mark.parametrize("url", [
    "http://localhost/hook", "http://127.0.0.1:8080/", "http://127.1/", "http://2130706433/",
    "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/", "http://10.1.2.3/",
    "http://192.168.0.10/", "http://172.16.5.4/", "http://169.254.169.254/latest/meta-data",
    "http://[fe80::1]/", "http://[fd00::1]/", "http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/",
    "http://[ff02::1]/", "http://100.64.0.1/", "http://240.0.0.1/", "http://[2002:7f00:1::]/",
])
async def test_private_and_local_targets_are_refused_at_registration(live_server, admin_session, url):
    live_server.ctx.settings = replace(live_server.ctx.settings, webhook_allow_private=False)
    async with admin_session.post("/api/admin/webhooks", json={"url": url, "events": ["ticket.created"]}) as resp:
        assert resp.status == 422, url
        error = (await resp.json())["error"]
    assert error["field"] == "url" and "not a public address" in error["message"]
    assert await live_server.ctx.db.webhooks.count_documents({}) == 0


@pytest.mark.parametrize("url,fragment", [
    ("ftp://files.example.com/", "http:// or https://"), ("javascript:alert(1)", "http:// or https://"),
    ("https://user:secret@hooks.example.com/", "user name or password"),
    ("https://@hooks.example.com/", "user name or password"),
    ("https://hooks.example.com/#frag", "fragment"), ("https://" + "a" * 2000 + ".com/", "at most 2000"),
    ("https://hooks.example.com/a b", "ASCII without spaces"), ("https:///nohost", "http:// or https://"),
    ("", "http:// or https://"), ("https://hooks.example.com:99999/", "not a valid URL"),
])
async def test_malformed_urls_are_refused_with_a_clear_error(admin_session, url, fragment):
    async with admin_session.post("/api/admin/webhooks", json={"url": url, "events": ["ticket.created"]}) as resp:
        assert resp.status == 422
        error = (await resp.json())["error"]
    assert error["field"] == "url" and fragment in error["message"], error


@pytest.mark.logs_errors  # the refused delivery dies: that is the point
async def test_the_target_is_checked_again_at_delivery_with_its_dns_answers(
        live_server, admin_session, receiver, start_chat):
    hook = (await register(admin_session, f"http://localhost:{receiver.port}/hooks/support",
                           ["ticket.created"]))["webhook"]
    live_server.ctx.settings = replace(live_server.ctx.settings, webhook_allow_private=False,
                                       webhook_max_attempts=1)
    await start_chat()
    (attempt,) = await wait_log(admin_session, hook["id"], lambda log: len(log) == 1)
    assert attempt["status"] == "failed" and attempt["response_code"] is None
    assert attempt["error"].startswith("refused: localhost resolves to 127.0.0.1, not a public address")
    assert receiver.requests == []


async def test_the_connection_goes_to_the_address_that_was_checked_not_a_second_dns_answer(
        live_server, admin_session, receiver, start_chat, monkeypatch):
    """DNS rebinding: the name answers 127.0.0.1 (where the receiver is) once, and then
    127.0.0.2 (where nothing listens). One lookup per delivery, and the connection uses it."""
    answers: list[str] = []

    async def rebinding(host: str, port: int):
        assert host == "rebind.test"
        address = "127.0.0.1" if len(answers) % 2 == 0 else "127.0.0.2"
        answers.append(address)
        return [(socket.AF_INET, address)]

    monkeypatch.setattr(egress, "lookup", rebinding)
    hook = (await register(admin_session, f"http://rebind.test:{receiver.port}/hooks/support",
                           ["ticket.created"]))["webhook"]
    assert answers == ["127.0.0.1"]  # the check at registration
    await start_chat()
    log = await wait_log(admin_session, hook["id"], lambda log: any(d["status"] == "succeeded" for d in log))
    # One lookup per attempt, and each attempt connected to its own checked answer: the
    # first to 127.0.0.2 (refused there: nothing listens), the second to 127.0.0.1.
    assert answers == ["127.0.0.1", "127.0.0.2", "127.0.0.1"]
    first, second = sorted(log, key=lambda d: d["attempt"])
    assert first["status"] == "failed" and "127.0.0.2" in first["error"]
    assert second["status"] == "succeeded" and len(receiver.requests) == 1
    assert receiver.requests[0].headers["Host"] == f"rebind.test:{receiver.port}"


async def test_an_admin_redelivers_a_logged_delivery_with_a_fresh_signature(
        live_server, admin_session, receiver, start_chat, admin):
    made = await register(admin_session, receiver.url, ["ticket.created"])
    hook = made["webhook"]
    await start_chat()
    (first,) = await receiver.wait_for(1)
    (logged,) = await wait_log(admin_session, hook["id"], lambda log: len(log) == 1)
    async with admin_session.post(f"/api/admin/webhooks/{hook['id']}/deliveries/{logged['id']}/redeliver",
                                  headers=FETCH) as resp:
        assert resp.status == 202
    _, again = await receiver.wait_for(2)
    assert again.raw == first.raw and again.headers["X-Support-Delivery"] == first.headers["X-Support-Delivery"]
    assert verify(made["secret"], again.headers["X-Support-Signature"], again.raw)
    log = await wait_log(admin_session, hook["id"], lambda log: len(log) == 2)
    assert log[0]["redelivery"] is True and log[0]["status"] == "succeeded"
    audited = await live_server.ctx.db.audit_events.find({"action": "webhook.redeliver"}).to_list(None)
    assert len(audited) == 1 and audited[0]["actor"]["id"] == admin["id"]
    async with admin_session.post(f"/api/admin/webhooks/{hook['id']}/deliveries/{'f' * 24}/redeliver",
                                  headers=FETCH) as resp:
        assert resp.status == 404


async def test_admins_manage_hooks_the_secret_is_shown_once_and_every_change_is_audited(
        live_server, admin_session, receiver, agent_session):
    made = await register(admin_session, receiver.url, ["ticket.created", "ticket.closed"],
                          description="CRM")
    hook = made["webhook"]
    assert hook["events"] == ["ticket.created", "ticket.closed"] and hook["active"] is True
    async with admin_session.get("/api/admin/webhooks") as resp:
        listed = (await resp.json())["webhooks"]
    assert [h["id"] for h in listed] == [hook["id"]] and made["secret"] not in str(listed)
    assert "secret" not in str(listed)
    async with admin_session.patch(f"/api/admin/webhooks/{hook['id']}", headers=FETCH,
                                   json={"events": ["message.created"], "active": False}) as resp:
        assert resp.status == 200
        changed = (await resp.json())["webhook"]
    assert changed["events"] == ["message.created"] and changed["active"] is False
    async with admin_session.post(f"/api/admin/webhooks/{hook['id']}/secret", headers=FETCH) as resp:
        rotated = (await resp.json())["secret"]
    assert rotated.startswith("whsec_") and rotated != made["secret"]
    async with admin_session.patch(f"/api/admin/webhooks/{hook['id']}", headers=FETCH,
                                   json={"events": ["nope"]}) as resp:
        assert resp.status == 422
    async with admin_session.patch(f"/api/admin/webhooks/{hook['id']}", headers=FETCH,
                                   json={"secret_seed": "x"}) as resp:
        assert resp.status == 422
    async with agent_session.get("/api/admin/webhooks") as resp:
        assert resp.status == 403
    async with admin_session.delete(f"/api/admin/webhooks/{hook['id']}", headers=FETCH) as resp:
        assert resp.status == 200
    async with admin_session.get(f"/api/admin/webhooks/{hook['id']}") as resp:
        assert resp.status == 404
    actions = [e["action"] for e in await live_server.ctx.db.audit_events.find(
        {"entity.type": "webhook"}).sort("at", 1).to_list(None)]
    assert actions == ["webhook.create", "webhook.update", "webhook.rotate_secret", "webhook.delete"]
    assert made["secret"] not in str(await live_server.ctx.db.audit_events.find({}).to_list(None))


async def test_nothing_is_queued_when_no_hook_wants_the_event(live_server, admin_session, receiver,
                                                              start_chat):
    await register(admin_session, receiver.url, ["csat.submitted"])
    await start_chat()
    assert await live_server.ctx.db.jobs.count_documents({"kind": webhooks.JOB_KIND}) == 0
