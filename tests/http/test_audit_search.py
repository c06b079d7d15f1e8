"""The audit trail searched by what people know: rows that name their actor and entity in
words (one lookup per page, not per row), suggestions for people and tickets, and accounts
found by name or e-mail."""

import json

import pytest

from app.store.engine import Operation
from tests.conftest import embedded_only, login, make_account

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"


@pytest.fixture
async def admin_session(http, admin):
    session = http()
    await login(session, admin)
    return session


async def get(session, path, **params):
    async with session.get(path, params=params) as resp:
        return resp.status, await resp.json()


async def test_each_row_names_its_actor_action_entity_and_browser_in_words_with_links(
        admin_session, http, agent, admin, start_chat):
    guest = await start_chat(name="Grace Guest", message="Where is my parcel?")
    alan = http()
    alan.headers["User-Agent"] = FIREFOX_WINDOWS
    await login(alan, agent)
    async with alan.patch(f"/api/tickets/{guest.ticket_id}", json={"status": "closed"}) as resp:
        assert resp.status == 200
    async with admin_session.patch(f"/api/admin/users/{agent['id']}", json={"name": "Alan Renamed"}) as resp:
        assert resp.status == 200

    status, body = await get(admin_session, "/api/audit")
    assert status == 200
    by_action = {e["action"]: e for e in body["events"]}
    closed = by_action["ticket.close"]
    assert closed["action_label"] == "Closed a ticket"
    # The name as it is now (the event's snapshot says "Alan Agent"), linked to the account row.
    assert closed["actor"]["name"] == "Alan Agent" and closed["actor_label"] == "Alan Renamed"
    assert closed["actor_href"] == f"/admin/users?user={agent['id']}"
    assert (closed["entity_label"], closed["entity_detail"]) == ("Where is my parcel?", "Grace Guest")
    assert closed["entity_href"] == f"/dashboard/tickets/{guest.ticket_id}"
    assert closed["client"] == "Firefox on Windows" and closed["user_agent"] == FIREFOX_WINDOWS

    started = by_action["ticket.create"]
    assert (started["actor_label"], started["actor_href"]) == ("Grace Guest (guest)", None)
    renamed = by_action["user.update"]
    assert (renamed["actor_label"], renamed["entity_label"], renamed["entity_detail"]) == (
        "Ada Admin", "Alan Renamed", agent["email"])
    assert renamed["changes"] == [{"field": "name", "before": "Alan Agent", "after": "Alan Renamed"}]


async def test_a_page_of_events_names_everyone_with_one_query_per_collection(
        admin_session, http, live_server, start_chat):
    embedded_only(live_server.ctx.db)
    for n in range(6):
        person = await make_account(live_server, role="agent", name=f"Agent {n}", email=f"agent{n}@example.com")
        session = http()
        await login(session, person)
        guest = await start_chat(name=f"Guest {n}", message=f"Question {n}")
        async with session.patch(f"/api/tickets/{guest.ticket_id}", json={"priority": "high"}) as resp:
            assert resp.status == 200
    reads: list[Operation] = []

    async def count(operation: Operation) -> None:
        if operation.collection in ("users", "tickets") and operation.method == "find":
            reads.append(operation)

    live_server.ctx.db.client.hooks.append(count)
    try:
        status, body = await get(admin_session, "/api/audit", limit="50")
    finally:
        live_server.ctx.db.client.hooks.remove(count)
    assert status == 200 and len(body["events"]) == 19  # 7 sign-ins, 6 chats, 6 changes
    assert {e["actor_label"] for e in body["events"] if e["action"] == "ticket.update"} == {
        f"Agent {n}" for n in range(6)}
    assert sorted(op.collection for op in reads) == ["tickets", "users"]


async def test_an_account_or_ticket_gone_from_the_store_is_still_named_from_the_event(
        admin_session, live_server, start_chat):
    guest = await start_chat(name="Gone Guest", message="Short-lived")
    from app.store import tickets as store_tickets

    await store_tickets.delete(live_server.ctx.db, ticket_id=guest.ticket_id)
    _, body = await get(admin_session, "/api/audit", action="ticket.create")
    [event] = body["events"]
    assert (event["entity_label"], event["entity_detail"]) == ("Short-lived", "Gone Guest")


async def test_people_are_suggested_by_any_part_of_their_name_or_email_in_any_case(
        admin_session, live_server, agent):
    await make_account(live_server, role="agent", name="Adalbert Ng", email="bert@example.org")
    await make_account(live_server, role="agent", name="Zoe Quinn", email="zq@adaworks.io")
    _, body = await get(admin_session, "/api/audit/people", q="ADA")
    assert [p["name"] for p in body["people"]] == ["Ada Admin", "Adalbert Ng", "Zoe Quinn"]
    assert body["people"][0] == {"id": body["people"][0]["id"], "name": "Ada Admin", "email": "ada@example.com",
                                 "role": "admin", "active": True}
    _, body = await get(admin_session, "/api/audit/people", q="example.org")
    assert [p["name"] for p in body["people"]] == ["Adalbert Ng"]
    _, body = await get(admin_session, "/api/audit/people", q="a.b")  # text, not a pattern
    assert body["people"] == []


async def test_tickets_are_suggested_by_subject_or_guest_name_most_recent_first(admin_session, start_chat):
    first = await start_chat(name="Grace Hopper", message="Compiler question")
    second = await start_chat(name="Alan Turing", message="Question about grace periods")
    await start_chat(name="Someone", message="Nothing to do with it")
    _, body = await get(admin_session, "/api/audit/tickets", q="grace")
    assert [t["id"] for t in body["tickets"]] == [second.ticket_id, first.ticket_id]
    assert body["tickets"][1]["guest_name"] == "Grace Hopper" and body["tickets"][1]["status"] == "open"
    _, body = await get(admin_session, "/api/audit", entity_type="ticket", entity_id=first.ticket_id)
    assert [e["action"] for e in body["events"]] == ["ticket.create"]


@pytest.mark.parametrize("path", ["/api/audit/people", "/api/audit/tickets"])
async def test_suggestions_are_for_admins_and_need_some_text(http, agent_session, admin_session, path):
    async with agent_session.get(path, params={"q": "a"}) as resp:
        assert resp.status == 403
    async with http().get(path, params={"q": "a"}) as resp:
        assert resp.status == 401
    for params in ({}, {"q": ""}, {"q": "x" * 81}):
        status, body = await get(admin_session, path, **params)
        assert status == 422 and body["error"]["field"] == "q"


async def test_accounts_are_searched_by_name_or_email_and_paged(admin_session, live_server):
    for n in range(5):
        await make_account(live_server, role="agent", name=f"Support {n}", email=f"s{n}@help.example")
    await make_account(live_server, role="agent", name="Other", email="other@example.com")
    status, body = await get(admin_session, "/api/admin/users", q="HELP.example", limit="3")
    assert status == 200 and [u["name"] for u in body["users"]] == ["Support 0", "Support 1", "Support 2"]
    _, rest = await get(admin_session, "/api/admin/users", q="help.example", limit="3", after=body["next_cursor"])
    assert [u["name"] for u in rest["users"]] == ["Support 3", "Support 4"] and rest["next_cursor"] is None
    _, body = await get(admin_session, "/api/admin/users", q="supp")
    assert len(body["users"]) == 5
    status, body = await get(admin_session, "/api/admin/users", q="y" * 81)
    assert status == 422


async def test_one_account_is_read_by_id(admin_session, agent_session, agent):
    status, body = await get(admin_session, f"/api/admin/users/{agent['id']}")
    assert status == 200 and body["user"]["email"] == agent["email"] and "password_hash" not in json.dumps(body)
    status, body = await get(admin_session, "/api/admin/users/0123456789abcdef01234567")
    assert status == 404 and body["error"]["code"] == "not_found"
    status, body = await get(admin_session, "/api/admin/users/nope")
    assert status == 422
    status, _ = await get(agent_session, f"/api/admin/users/{agent['id']}")
    assert status == 403
