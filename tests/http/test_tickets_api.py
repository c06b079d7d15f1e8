"""The guest and agent ticket endpoints."""

from bson import ObjectId

from app.security import GUEST_COOKIE


async def test_starting_a_chat_answers_201_sets_the_guest_cookie_and_reaches_agents_live(
        http, agent_socket, live_server):
    session = http()
    async with session.post("/api/guest/tickets", json={
            "name": "  Grace  ", "email": "Grace@Example.com", "message": "My order #42 is late"}) as resp:
        assert resp.status == 201
        body = await resp.json()
        cookie = resp.cookies[GUEST_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert int(cookie["max-age"]) > 30 * 86400
    ticket, message = body["ticket"], body["message"]
    assert (ticket["guest_name"], ticket["guest_email"], ticket["status"]) == ("Grace", "grace@example.com", "open")
    assert ticket["subject"] == "My order #42 is late"
    assert "guest_id" not in ticket
    assert (message["body"], message["sender_role"], message["ticket_id"]) == (
        "My order #42 is late", "guest", ticket["id"])
    live = await agent_socket.wait_for("ticket:updated", where=lambda t: t["id"] == ticket["id"])
    assert live[0]["status"] == "open"


async def test_a_returning_guest_keeps_their_id_and_sees_only_their_tickets(start_chat, http):
    alice = await start_chat(name="Alice", message="first")
    await start_chat(name="Alice", message="second", session=alice.session)
    bob = await start_chat(name="Bob", message="bob's")
    async with alice.session.get("/api/guest/tickets") as resp:
        mine = (await resp.json())["tickets"]
    assert [t["subject"] for t in mine] == ["second", "first"]
    async with bob.session.get("/api/guest/tickets") as resp:
        assert [t["subject"] for t in (await resp.json())["tickets"]] == ["bob's"]
    async with http().get("/api/guest/tickets") as resp:
        assert (await resp.json()) == {"tickets": []}


async def test_invalid_chat_starts_answer_422_and_store_nothing(http, live_server):
    session = http()
    cases = [
        {"message": "no name"},
        {"name": "", "message": "empty name"},
        {"name": "x" * 81, "message": "long name"},
        {"name": "G", "message": "   "},
        {"name": "G", "message": "x" * 5001},
        {"name": "G", "message": "bad e-mail", "email": "not-an-email"},
        {"name": ["G"], "message": "list name"},
        {"name": "G", "message": {"$gt": ""}},
    ]
    for case in cases:
        async with session.post("/api/guest/tickets", json=case) as resp:
            assert resp.status == 422, case
            assert (await resp.json())["error"]["code"] == "invalid"
            assert GUEST_COOKIE not in resp.cookies
    assert await live_server.ctx.db.tickets.count_documents({}) == 0
    assert await live_server.ctx.db.messages.count_documents({}) == 0


async def test_oversized_and_malformed_bodies_get_clear_errors(http, live_server):
    session = http()
    async with session.post("/api/guest/tickets", data=b"x" * (200 * 1024),
                            headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413
        assert (await resp.json())["error"]["code"] == "too_large"
    async with session.post("/api/guest/tickets", data="name=G", headers={"Content-Type": "text/plain"}) as resp:
        assert resp.status == 400
    assert await live_server.ctx.db.tickets.count_documents({}) == 0


async def test_ticket_list_is_for_agents_only(http, guest):
    async with http().get("/api/tickets") as resp:
        assert resp.status == 401
    async with guest.session.get("/api/tickets") as resp:
        assert resp.status == 401


async def test_agents_filter_tickets_by_status_and_page_by_cursor(start_chat, agent_session, agent_socket):
    started = [await start_chat(name=f"G{i}", message=f"question {i}") for i in range(7)]
    await agent_socket.call("ticket:close", {"ticket_id": started[0].ticket_id})
    await agent_socket.call("ticket:close", {"ticket_id": started[3].ticket_id})

    seen, cursor = [], None
    while True:
        query = {"status": "open", "limit": "2"} | ({"before": cursor} if cursor else {})
        async with agent_session.get("/api/tickets", params=query) as resp:
            assert resp.status == 200
            page = await resp.json()
        assert len(page["tickets"]) <= 2
        seen += page["tickets"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert all(t["status"] == "open" for t in seen)
    assert [t["guest_name"] for t in seen] == ["G6", "G5", "G4", "G2", "G1"]  # newest activity first
    async with agent_session.get("/api/tickets", params={"status": "closed"}) as resp:
        assert {t["guest_name"] for t in (await resp.json())["tickets"]} == {"G0", "G3"}
    async with agent_session.get("/api/tickets", params={"status": "bogus"}) as resp:
        assert resp.status == 422
    async with agent_session.get("/api/tickets", params={"limit": "1000"}) as resp:
        assert resp.status == 422


async def test_ticket_detail_and_messages_for_owner_and_agents(guest, agent_session, http):
    async with agent_session.get(f"/api/tickets/{guest.ticket_id}") as resp:
        assert (await resp.json())["ticket"]["id"] == guest.ticket_id
    async with guest.session.get(f"/api/tickets/{guest.ticket_id}/messages", params={"limit": "5"}) as resp:
        page = await resp.json()
    assert [m["body"] for m in page["messages"]] == ["Hello, my order is late."]
    assert page["next_cursor"] is None and page["has_more"] is False
    async with http().get(f"/api/tickets/{guest.ticket_id}") as resp:
        assert resp.status == 401
    async with agent_session.get(f"/api/tickets/{ObjectId()}") as resp:
        assert resp.status == 404 and (await resp.json())["error"]["code"] == "not_found"
    async with agent_session.get("/api/tickets/not-an-id") as resp:
        assert resp.status == 422


async def test_health_and_readiness(http):
    async with http().get("/healthz") as resp:
        assert resp.status == 200 and (await resp.json())["status"] == "ok"
    async with http().get("/readyz") as resp:
        assert resp.status == 200
        assert (await resp.json())["checks"] == {"mongodb": "ok"}


async def test_readiness_fails_when_the_database_does_not_answer(http, live_server, monkeypatch):
    async def down():
        raise ConnectionError("no primary")

    monkeypatch.setattr(live_server.ctx.db, "ping", down)
    async with http().get("/readyz") as resp:
        assert resp.status == 503
        assert (await resp.json())["checks"]["mongodb"].startswith("failing")


async def test_unknown_api_paths_answer_json(http):
    async with http().get("/api/nothing-here") as resp:
        assert resp.status == 404
        assert (await resp.json())["error"]["code"] == "not_found"


async def test_cors_is_granted_to_allowed_origins_only(http, live_server):
    session = http()
    preflight = {"Origin": live_server.origin, "Access-Control-Request-Method": "POST"}
    async with session.options("/api/guest/tickets", headers=preflight) as resp:
        assert resp.status == 204
        assert resp.headers["Access-Control-Allow-Origin"] == live_server.origin
        assert resp.headers["Access-Control-Allow-Credentials"] == "true"
        assert "POST" in resp.headers["Access-Control-Allow-Methods"]
    async with session.get("/api/guest/tickets", headers={"Origin": live_server.origin}) as resp:
        assert resp.headers["Access-Control-Allow-Origin"] == live_server.origin
    foreign = {"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    async with session.options("/api/guest/tickets", headers=foreign) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers
    async with session.get("/api/guest/tickets", headers={"Origin": "https://evil.example"}) as resp:
        assert "Access-Control-Allow-Origin" not in resp.headers
