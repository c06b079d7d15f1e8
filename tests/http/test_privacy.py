"""Privacy requests: an admin exports everything held about a guest, and erases it; both
audited, erasure idempotent and told to open dashboards."""

from __future__ import annotations

import pytest

from tests.conftest import cookie_header, login

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
async def admin_session(http, admin):
    session = http()
    await login(session, admin)
    return session


@pytest.fixture
async def grace(start_chat, agent_session, connect):
    """Grace's two chats from one browser (an e-mail on the first), with an agent's reply and
    an internal note; and Bob's chat, which is not hers."""
    first = await start_chat(name="Grace Guest", message="My address is 1 Elm Street.",
                             email="Grace@Example.com")
    second = await start_chat(name="Grace G.", message="Another question", session=first.session)
    other = await start_chat(name="Bob Buyer", message="Bob's own question")
    ticket = f"/api/tickets/{first.ticket_id}"
    async with agent_session.post(f"{ticket}/messages", headers=FETCH,
                                  json={"body": "We will ship to Elm Street.", "client_msg_id": "r1"}) as resp:
        assert resp.status == 201
    async with agent_session.post(f"{ticket}/notes", headers=FETCH,
                                  json={"body": "Grace sounds upset", "client_msg_id": "n1"}) as resp:
        assert resp.status == 201
    return first, second, other


async def test_an_admin_exports_everything_held_about_a_guest_by_email(
        live_server, admin_session, grace, admin):
    first, second, _other = grace
    async with admin_session.get("/api/admin/privacy/export", params={"email": "grace@example.com"}) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Disposition"] == 'attachment; filename="guest-export.json"'
        exported = await resp.json()
    assert exported["guest"] == {"names": ["Grace G.", "Grace Guest"], "emails": ["grace@example.com"]}
    assert [t["id"] for t in exported["tickets"]] == [first.ticket_id, second.ticket_id]
    bodies = [m["body"] for m in exported["tickets"][0]["messages"]]
    # The agent's first reply comes with the line that told Grace who joined.
    assert bodies == ["My address is 1 Elm Street.", "Alan Agent from support joined",
                      "We will ship to Elm Street.", "Grace sounds upset"]
    assert [m["kind"] for m in exported["tickets"][0]["messages"]] == ["message", "system", "message",
                                                                       "note"]
    assert exported["tickets"][1]["messages"][0]["body"] == "Another question"
    actions = sorted(e["action"] for e in exported["audit_events"])
    assert actions == ["note.create", "ticket.create", "ticket.create"]
    assert exported["attachments"] == []
    assert "Bob" not in str(exported)
    audited = await live_server.ctx.db.audit_events.find({"action": "guest.export"}).to_list(None)
    assert len(audited) == 1 and audited[0]["actor"]["id"] == admin["id"]
    assert sorted(audited[0]["meta"]["tickets"]) == sorted([first.ticket_id, second.ticket_id])
    assert "grace" not in str(audited[0]).lower()


async def test_erasing_a_guest_removes_their_words_name_and_email_and_tells_dashboards(
        live_server, admin_session, grace, agent_session, connect, admin):
    first, second, _other = grace
    dashboard = await connect(cookie_header(agent_session))
    async with admin_session.post("/api/admin/privacy/erase", headers=FETCH,
                                  json={"ticket_id": second.ticket_id}) as resp:
        assert resp.status == 200, await resp.text()
        erased = await resp.json()
    assert sorted(t["id"] for t in erased["tickets"]) == sorted([first.ticket_id, second.ticket_id])
    assert erased["messages"] == 4 and erased["attachments"] == 0  # 3 in the first chat, 1 in the second
    for ticket in erased["tickets"]:
        assert (ticket["guest_name"], ticket["guest_email"], ticket["subject"]) == (
            "Erased guest", None, "[erased]")
        assert ticket["last_message_preview"] == "[erased]"
    first_after = next(t for t in erased["tickets"] if t["id"] == first.ticket_id)
    updates = await dashboard.wait_for("ticket:updated", where=lambda t: t["id"] == first.ticket_id
                                       and t["guest_name"] == "Erased guest")
    assert updates[-1]["version"] == first_after["version"] > first.ticket["version"]

    async with admin_session.get(f"/api/tickets/{first.ticket_id}/messages") as resp:
        messages = (await resp.json())["messages"]
    assert [(m["sender_name"], m["body"]) for m in messages if m["kind"] != "system"] == [
        ("Erased guest", "[erased]"), ("Alan Agent", "[erased]"), ("Alan Agent", "[erased]")]
    async with first.session.get("/api/guest/tickets") as resp:
        assert (await resp.json())["tickets"] == []  # the guest's cookie finds nothing now
    stored = await live_server.ctx.db.tickets.find_one({"guest_name": "Erased guest"})
    assert stored["guest_id"] is None and stored["erased_at"] is not None
    everything = str(await live_server.ctx.db.audit_events.find({}).to_list(None))
    everything += str(await live_server.ctx.db.messages.find({}).to_list(None))
    everything += str(await live_server.ctx.db.tickets.find({}).to_list(None))
    everything += str(await live_server.ctx.db.jobs.find({}).to_list(None))  # the reply's e-mail
    everything += str(await live_server.ctx.db.notifications.find({}).to_list(None))
    for trace in ("Elm Street", "grace@example.com", "Grace Guest", "Grace G.", "upset"):
        assert trace not in everything
    assert "Bob Buyer" in everything and "Bob's own question" in everything  # Bob is untouched

    actions = [e["action"] for e in await live_server.ctx.db.audit_events.find(
        {"action": {"$in": ["ticket.erase", "guest.erase"]}}).sort("at", 1).to_list(None)]
    assert actions == ["ticket.erase", "ticket.erase", "guest.erase"]

    # Again: nothing changes, versions stay; by e-mail nothing is found any more.
    async with admin_session.post("/api/admin/privacy/erase", headers=FETCH,
                                  json={"ticket_id": first.ticket_id}) as resp:
        again = await resp.json()
    assert again["messages"] == 0 and again["tickets"][0]["version"] == first_after["version"]
    async with admin_session.post("/api/admin/privacy/erase", headers=FETCH,
                                  json={"email": "grace@example.com"}) as resp:
        assert resp.status == 404


async def test_agents_may_not_export_or_erase(agent_session, grace):
    first, _, _ = grace
    async with agent_session.get("/api/admin/privacy/export", params={"ticket_id": first.ticket_id}) as resp:
        assert resp.status == 403
    async with agent_session.post("/api/admin/privacy/erase", headers=FETCH,
                                  json={"ticket_id": first.ticket_id}) as resp:
        assert resp.status == 403


@pytest.mark.parametrize("body,status", [
    ({}, 422), ({"email": "a@example.com", "ticket_id": "f" * 24}, 422), ({"email": "not-an-email"}, 422),
    ({"ticket_id": "nope"}, 422), ({"ticket_id": "f" * 24}, 404), ({"email": "nobody@example.com"}, 404),
])
async def test_a_privacy_request_names_one_guest_clearly(admin_session, guest, body, status):
    async with admin_session.post("/api/admin/privacy/erase", headers=FETCH, json=body) as resp:
        assert resp.status == status
    async with admin_session.get("/api/admin/privacy/export", params=body) as resp:
        assert resp.status == status
