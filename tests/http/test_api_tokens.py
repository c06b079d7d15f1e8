"""API tokens: an admin makes one, an integration calls the JSON API with it (no cookie, no
CSRF header), within its scope and its own rate limit; revoked, it stops at once."""

from __future__ import annotations

from dataclasses import replace

import aiohttp
import pytest

from app.store import api_tokens as stored_tokens
from tests.conftest import login
from tests.fakeclock import FakeClock

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def settings(settings):
    return replace(settings, rate_api_token="20/minute")


@pytest.fixture
async def admin_session(http, admin):
    session = http()
    await login(session, admin)
    return session


async def make_token(admin_session, *, name: str = "CRM sync", scope: str = "read-write") -> dict:
    async with admin_session.post("/api/admin/tokens", json={"name": name, "scope": scope}) as resp:
        assert resp.status == 201, await resp.text()
        return await resp.json()


@pytest.fixture
async def integration(live_server):
    """A client with no cookies and none of our pages' headers: another system."""
    sessions = []

    def open_with(token: str | None, **headers) -> aiohttp.ClientSession:
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        session = aiohttp.ClientSession(base_url=live_server.url, headers=headers)
        sessions.append(session)
        return session

    yield open_with
    for session in sessions:
        await session.close()


async def test_a_read_write_token_reads_changes_and_answers_a_ticket_without_cookie_or_csrf_header(
        live_server, admin_session, integration, guest, guest_socket, admin):
    made = await make_token(admin_session)
    secret = made["secret"]
    assert secret.startswith("sct_") and made["token"]["prefix"] == secret[:12]
    assert made["token"]["scope"] == "read-write" and made["token"]["last_used_at"] is None
    client = integration(secret)

    async with client.get("/api/tickets") as resp:
        assert resp.status == 200
        assert [t["id"] for t in (await resp.json())["tickets"]] == [guest.ticket_id]
    async with client.patch(f"/api/tickets/{guest.ticket_id}", json={"priority": "high"}) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["ticket"]["priority"] == "high"
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    async with client.post(f"/api/tickets/{guest.ticket_id}/messages",
                           json={"body": "Your parcel left today.", "client_msg_id": "crm-1"}) as resp:
        assert resp.status == 201, await resp.text()
        sent = (await resp.json())["message"]
    assert (sent["sender_name"], sent["sender_role"]) == ("CRM sync", "agent")
    seen = await guest_socket.wait_for("message:new", where=lambda m: m["id"] == sent["id"])
    assert seen[0]["body"] == "Your parcel left today."

    audited = await live_server.ctx.db.audit_events.find(
        {"action": {"$in": ["api_token.create", "ticket.update"]}}).sort("at", 1).to_list(None)
    assert [e["action"] for e in audited] == ["api_token.create", "ticket.update"]
    assert audited[0]["actor"]["id"] == admin["id"] and audited[0]["after"]["scope"] == "read-write"
    assert audited[1]["actor"] == {"id": made["token"]["id"], "role": "api", "name": "CRM sync"}
    assert "token_hash" not in str(audited[0]) and secret not in str(audited[0])

    async with admin_session.get("/api/admin/tokens") as resp:
        listed = (await resp.json())["tokens"]
    assert listed[0]["id"] == made["token"]["id"] and listed[0]["last_used_at"] is not None
    assert secret not in str(listed) and "token_hash" not in listed[0]


async def test_a_read_token_reads_but_is_refused_every_change_with_403(
        live_server, admin_session, integration, guest):
    client = integration((await make_token(admin_session, name="Reporting", scope="read"))["secret"])
    async with client.get(f"/api/tickets/{guest.ticket_id}/messages") as resp:
        assert resp.status == 200
        assert (await resp.json())["messages"][0]["body"] == guest.message["body"]
    async with client.patch(f"/api/tickets/{guest.ticket_id}", json={"status": "closed"}) as resp:
        assert resp.status == 403
        assert (await resp.json())["error"]["message"] == "This API token can only read."
    async with client.post(f"/api/tickets/{guest.ticket_id}/notes",
                           json={"body": "sneaky", "client_msg_id": "n1"}) as resp:
        assert resp.status == 403
    async with client.get(f"/api/tickets/{guest.ticket_id}") as resp:
        ticket = (await resp.json())["ticket"]
    assert ticket["status"] == "open" and ticket["version"] == guest.ticket["version"]


async def test_a_revoked_token_is_refused_at_once_and_the_revocation_is_audited(
        live_server, admin_session, integration, admin):
    made = await make_token(admin_session)
    client = integration(made["secret"])
    async with client.get("/api/tickets") as resp:
        assert resp.status == 200
    async with admin_session.delete(f"/api/admin/tokens/{made['token']['id']}") as resp:
        assert resp.status == 200
        assert (await resp.json())["token"]["active"] is False
    async with client.get("/api/tickets") as resp:
        assert resp.status == 401
        assert "revoked" in (await resp.json())["error"]["message"]
    async with admin_session.delete(f"/api/admin/tokens/{made['token']['id']}") as resp:
        assert resp.status == 409
    revoked = await live_server.ctx.db.audit_events.find({"action": "api_token.revoke"}).to_list(None)
    assert len(revoked) == 1 and revoked[0]["actor"]["id"] == admin["id"]


@pytest.mark.parametrize("header", [
    "Bearer sct_" + "x" * 43, "Bearer nonsense", "Bearer ", "Basic YWRtaW46cGFzcw==", "sct_abc",
])
async def test_a_wrong_or_malformed_token_is_401_and_never_falls_back_to_a_cookie(
        live_server, admin_session, header):
    async with admin_session.get("/api/tickets", headers={"Authorization": header}) as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"


async def test_a_token_never_has_admin_or_personal_powers(
        live_server, admin_session, integration, guest):
    client = integration((await make_token(admin_session))["secret"])
    for method, path in (("GET", "/api/admin/users"), ("GET", "/api/audit"), ("GET", "/api/admin/tokens"),
                         ("POST", "/api/admin/tokens"), ("GET", "/api/admin/webhooks"),
                         ("GET", "/api/auth/me"), ("GET", "/api/account/sessions"),
                         ("GET", "/api/notifications"), ("POST", "/api/auth/password"),
                         ("GET", "/api/admin/privacy/export?ticket_id=" + guest.ticket_id)):
        async with client.request(method, path, json={} if method == "POST" else None) as resp:
            assert resp.status == 403, (method, path, resp.status)


async def test_agents_cannot_make_or_see_tokens(agent_session):
    async with agent_session.post("/api/admin/tokens", json={"name": "x", "scope": "read"}) as resp:
        assert resp.status == 403
    async with agent_session.get("/api/admin/tokens") as resp:
        assert resp.status == 403


@pytest.mark.parametrize("body,field", [
    ({"name": "", "scope": "read"}, "name"), ({"name": "x" * 81, "scope": "read"}, "name"),
    ({"name": "ok", "scope": "admin"}, "scope"), ({"name": "ok"}, "scope"),
])
async def test_a_token_needs_a_name_and_a_known_scope(admin_session, body, field):
    async with admin_session.post("/api/admin/tokens", json=body) as resp:
        assert resp.status == 422
        assert (await resp.json())["error"]["field"] == field


async def test_each_token_has_its_own_rate_limit(live_server, admin_session, integration):
    busy = integration((await make_token(admin_session, name="Busy"))["secret"])
    calm = integration((await make_token(admin_session, name="Calm"))["secret"])
    for _ in range(20):
        async with busy.get("/api/agents") as resp:
            assert resp.status == 200
    async with busy.get("/api/agents") as resp:
        assert resp.status == 429
        assert int(resp.headers["Retry-After"]) >= 1
        assert (await resp.json())["error"]["code"] == "rate_limited"
    async with calm.get("/api/agents") as resp:
        assert resp.status == 200


async def test_last_use_is_written_at_most_once_a_minute(live_server, admin_session, integration,
                                                         monkeypatch):
    made = await make_token(admin_session)
    client = integration(made["secret"])
    clock = FakeClock(monkeypatch)
    token_id = made["token"]["id"]

    async def last_used():
        return (await stored_tokens.get(live_server.ctx.db, token_id=token_id))["last_used_at"]

    async with client.get("/api/agents"):
        pass
    first = await last_used()
    assert first == clock.now
    clock.advance(59)
    async with client.get("/api/agents"):
        pass
    assert await last_used() == first
    clock.advance(2)
    async with client.get("/api/agents"):
        pass
    assert await last_used() == clock.now
