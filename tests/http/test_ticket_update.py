"""Assignment, priority and status: PATCH /api/tickets/{id}, the ticket:update event, the
assignee list and the queue filters."""

from __future__ import annotations

import pytest
from bson import ObjectId

from tests.conftest import make_account

FETCH = {"X-Requested-With": "fetch"}


async def patch(session, ticket_id: str, body) -> tuple[int, dict]:
    async with session.patch(f"/api/tickets/{ticket_id}", json=body, headers=FETCH) as resp:
        return resp.status, await resp.json()


async def bodies(live_server, ticket_id: str, kind: str = "system") -> list[str]:
    docs = await live_server.ctx.db.messages.find(
        {"ticket_id": ObjectId(ticket_id), "kind": kind}).sort("created_at", 1).to_list(None)
    return [d["body"] for d in docs]


async def test_an_agent_sets_priority_status_and_assignee_and_everyone_is_told(
        guest, guest_socket, agent, admin, agent_session, agent_socket, live_server):
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    status, body = await patch(agent_session, guest.ticket_id,
                               {"priority": "high", "assignee_id": admin["id"], "status": "pending"})
    assert status == 200
    ticket = body["ticket"]
    assert (ticket["priority"], ticket["assignee_id"], ticket["status"]) == ("high", admin["id"], "pending")
    assert await bodies(live_server, guest.ticket_id) == [
        "Alan Agent assigned this to Ada Admin",
        "Ada Admin from support joined",
        "Alan Agent set priority to high",
        "Alan Agent marked this pending",
    ]
    # the guest is told who joined, in plain words (triage and status wording are for agents:
    # see below), and ticket:updated reaches the room and every agent
    lines = await guest_socket.wait_for("message:new", where=lambda m: m["kind"] == "system")
    assert [m["body"] for m in lines] == ["Ada Admin from support joined"]
    updates = await agent_socket.wait_for("ticket:updated", where=lambda t: t["status"] == "pending")
    assert updates[-1]["priority"] == "high" and updates[-1]["assignee_id"] == admin["id"]
    await guest_socket.wait_for("ticket:updated", where=lambda t: t["status"] == "pending")
    stored = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(guest.ticket_id)})
    assert stored["assignee_id"] == ObjectId(admin["id"])
    # one audit event with what changed, before and after, and who did it
    events = await live_server.ctx.db.audit_events.find({"action": "ticket.update"}).to_list(None)
    assert len(events) == 1
    event = events[0]
    assert event["actor"]["id"] == agent["id"] and event["entity"] == {"type": "ticket", "id": guest.ticket_id}
    assert event["before"] == {"priority": "normal", "assignee_id": None, "status": "open"}
    assert event["after"] == {"priority": "high", "assignee_id": admin["id"], "status": "pending"}


async def test_setting_the_same_values_again_changes_and_says_nothing(guest, agent_session, live_server):
    await patch(agent_session, guest.ticket_id, {"priority": "urgent"})
    status, body = await patch(agent_session, guest.ticket_id, {"priority": "urgent", "status": "open"})
    assert status == 200 and body["ticket"]["priority"] == "urgent"
    assert await bodies(live_server, guest.ticket_id) == ["Alan Agent set priority to urgent"]


async def test_unassigning_and_assigning_oneself_are_said_plainly(guest, agent, admin, agent_session, live_server):
    await patch(agent_session, guest.ticket_id, {"assignee_id": agent["id"]})
    await patch(agent_session, guest.ticket_id, {"assignee_id": None})
    await patch(agent_session, guest.ticket_id, {"assignee_id": agent["id"]})
    # the guest is told once that Alan joined, however often he is assigned
    assert await bodies(live_server, guest.ticket_id) == [
        "Alan Agent assigned this to themselves", "Alan Agent from support joined",
        "Alan Agent unassigned Alan Agent", "Alan Agent assigned this to themselves"]


async def test_closing_through_patch_is_the_same_as_ticket_close(guest, guest_socket, agent_session, live_server):
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    status, body = await patch(agent_session, guest.ticket_id, {"status": "closed"})
    assert status == 200 and body["ticket"]["status"] == "closed" and body["ticket"]["closed_at"]
    assert await bodies(live_server, guest.ticket_id) == ["Alan Agent closed the conversation"]
    answer = await guest_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "hello?",
                                                      "client_msg_id": "after-close"})
    assert answer["error"]["code"] == "closed"
    # and an agent can reopen it
    status, body = await patch(agent_session, guest.ticket_id, {"status": "open"})
    assert body["ticket"]["status"] == "open" and body["ticket"]["closed_at"] is None


@pytest.mark.parametrize("change,field", [
    ({"status": "done"}, "status"),
    ({"status": None}, "status"),
    ({"priority": "critical"}, "priority"),
    ({"priority": ["high"]}, "priority"),
    ({"assignee_id": "not-an-id"}, "assignee_id"),
    ({"assignee_id": str(ObjectId())}, "assignee_id"),  # nobody
    ({"assignee_id": 12}, "assignee_id"),
    ({"subject": "renamed"}, "subject"),
    ({"status": "open", "guest_id": "someone-else"}, "guest_id"),
])
async def test_invalid_changes_answer_422_and_write_nothing(guest, agent_session, live_server, change, field):
    before = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(guest.ticket_id)})
    status, body = await patch(agent_session, guest.ticket_id, change)
    assert status == 422, body
    assert body["error"]["code"] == "invalid" and body["error"]["field"] == field
    assert await live_server.ctx.db.tickets.find_one({"_id": ObjectId(guest.ticket_id)}) == before
    assert await bodies(live_server, guest.ticket_id) == []
    assert await live_server.ctx.db.jobs.count_documents({}) == 0


async def test_an_inactive_agent_cannot_be_assigned(guest, agent_session, live_server):
    gone = await make_account(live_server, role="agent", name="Gone Agent", email="gone@example.com")
    await live_server.ctx.db.users.update_one({"_id": ObjectId(gone["id"])}, {"$set": {"active": False}})
    status, body = await patch(agent_session, guest.ticket_id, {"assignee_id": gone["id"]})
    assert status == 422 and body["error"]["field"] == "assignee_id"
    assert await bodies(live_server, guest.ticket_id) == []


async def test_an_empty_or_malformed_body_is_refused(guest, agent_session):
    assert (await patch(agent_session, guest.ticket_id, {}))[0] == 422
    async with agent_session.patch(f"/api/tickets/{guest.ticket_id}", data="status=open",
                                   headers=FETCH) as resp:
        assert resp.status == 400
    assert (await patch(agent_session, str(ObjectId()), {"status": "open"}))[0] == 404


async def test_guests_and_strangers_cannot_change_a_ticket(guest, guest_socket, http, live_server):
    assert (await patch(guest.session, guest.ticket_id, {"status": "resolved"}))[0] == 401
    assert (await patch(http(), guest.ticket_id, {"status": "resolved"}))[0] == 401
    answer = await guest_socket.call("ticket:update", {"ticket_id": guest.ticket_id, "status": "resolved"})
    assert answer["ok"] is False and answer["error"]["code"] == "forbidden"
    stored = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(guest.ticket_id)})
    assert stored["status"] == "open"
    assert await bodies(live_server, guest.ticket_id) == []


async def test_the_socket_event_calls_the_same_rule(guest, agent_socket, live_server):
    answer = await agent_socket.call("ticket:update", {"ticket_id": guest.ticket_id, "priority": "low"})
    assert answer["ok"] and answer["ticket"]["priority"] == "low"
    assert await bodies(live_server, guest.ticket_id) == ["Alan Agent set priority to low"]
    bad = await agent_socket.call("ticket:update", {"ticket_id": guest.ticket_id, "priority": "meh"})
    assert bad["error"]["code"] == "invalid"
    missing = await agent_socket.call("ticket:update", {"ticket_id": guest.ticket_id})
    assert missing["error"]["code"] == "invalid"


async def test_the_assignee_list_holds_active_agents_only(agent, admin, agent_session, guest, http, live_server):
    gone = await make_account(live_server, role="agent", name="Gone Agent", email="gone@example.com")
    await live_server.ctx.db.users.update_one({"_id": ObjectId(gone["id"])}, {"$set": {"active": False}})
    async with agent_session.get("/api/agents") as resp:
        listed = (await resp.json())["agents"]
    assert listed == [
        {"id": admin["id"], "name": "Ada Admin", "role": "admin"},
        {"id": agent["id"], "name": "Alan Agent", "role": "agent"},
    ]
    async with guest.session.get("/api/agents") as resp:
        assert resp.status == 401


async def test_the_queue_filters_by_assignee_and_priority(start_chat, agent, admin, agent_session):
    mine, admins, _nobodys = [await start_chat(name=n, message=n) for n in ("Mine", "Admins", "Nobodys")]
    await patch(agent_session, mine.ticket_id, {"assignee_id": agent["id"], "priority": "urgent"})
    await patch(agent_session, admins.ticket_id, {"assignee_id": admin["id"]})

    async def names(**query) -> list[str]:
        async with agent_session.get("/api/tickets", params=query) as resp:
            assert resp.status == 200, await resp.text()
            return sorted(t["guest_name"] for t in (await resp.json())["tickets"])

    assert await names(assignee="me") == ["Mine"]
    assert await names(assignee="none") == ["Nobodys"]
    assert await names(assignee=admin["id"]) == ["Admins"]
    assert await names(priority="urgent") == ["Mine"]
    assert await names(priority="normal", assignee="none") == ["Nobodys"]
    assert await names(status="active") == ["Admins", "Mine", "Nobodys"]
    async with agent_session.get("/api/tickets", params={"assignee": "someone"}) as resp:
        assert resp.status == 422
    async with agent_session.get("/api/tickets", params={"priority": "meh"}) as resp:
        assert resp.status == 422


async def test_triage_lines_reach_agents_but_never_the_guest(
        guest, guest_socket, admin, agent_session, agent_socket, live_server):
    """Priority and assignment are the team's business: the guest's conversation shows the
    status line, not who was assigned or how urgent the team thinks it is."""
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    status, _ = await patch(agent_session, guest.ticket_id,
                            {"priority": "urgent", "assignee_id": admin["id"], "status": "pending"})
    assert status == 200
    staff_lines = await agent_socket.wait_for("message:new", 3, where=lambda m: m["kind"] == "system"
                                              and "joined" not in m["body"])
    assert [m["body"] for m in staff_lines] == [
        "Alan Agent assigned this to Ada Admin", "Alan Agent set priority to urgent",
        "Alan Agent marked this pending"]
    await guest_socket.wait_for("message:new", where=lambda m: m["body"] == "Ada Admin from support joined")
    seen = [m["body"] for m in guest_socket.received("message:new")]
    assert not any("priority" in b or "assigned" in b or "pending" in b for b in seen)
    history = await guest_socket.call("messages:history", {"ticket_id": guest.ticket_id})
    async with guest.session.get(f"/api/tickets/{guest.ticket_id}/messages") as resp:
        over_http = (await resp.json())["messages"]
    for page in (history["messages"], over_http):
        bodies = [m["body"] for m in page]
        assert "Ada Admin from support joined" in bodies
        assert not any("priority" in b or "assigned" in b or "pending" in b for b in bodies)
    agent_history = await agent_socket.call("messages:history", {"ticket_id": guest.ticket_id})
    assert "Alan Agent set priority to urgent" in [m["body"] for m in agent_history["messages"]]


TRIAGE_FIELDS = {"priority", "assignee_id", "tags", "escalated_at", "first_response_at"}


async def test_guests_get_the_ticket_without_the_teams_triage_fields(
        guest, guest_socket, admin, agent_session, agent_socket):
    joined = await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    await patch(agent_session, guest.ticket_id, {"priority": "urgent", "assignee_id": admin["id"],
                                                 "status": "pending"})
    live = await guest_socket.wait_for("ticket:updated", where=lambda t: t["status"] == "pending")
    async with guest.session.get("/api/guest/tickets") as resp:
        listed = (await resp.json())["tickets"]
    async with guest.session.get(f"/api/tickets/{guest.ticket_id}") as resp:
        detail = (await resp.json())["ticket"]
    for seen in (guest.ticket, joined["ticket"], live[-1], listed[0], detail):
        assert not TRIAGE_FIELDS & set(seen), seen
        assert seen["id"] == guest.ticket_id and seen["guest_name"] == "Grace Guest"
    assert live[-1]["status"] == "pending"
    # agents keep the whole ticket, once per change (not a second, guest-shaped copy)
    staff = await agent_socket.wait_for("ticket:updated", where=lambda t: t["status"] == "pending")
    assert staff[-1]["priority"] == "urgent" and staff[-1]["assignee_id"] == admin["id"]
    assert all(set(t) >= TRIAGE_FIELDS for t in agent_socket.received("ticket:updated"))


async def test_an_assigned_agent_is_announced_once_and_not_again_at_their_first_reply(
        guest, guest_socket, agent, agent_session, agent_socket, live_server):
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    await patch(agent_session, guest.ticket_id, {"assignee_id": agent["id"]})
    reply = await agent_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "On it",
                                                     "client_msg_id": "first"})
    assert reply["ok"]
    got = await guest_socket.wait_for("message:new", where=lambda m: m["body"] == "On it")
    told = [m["body"] for m in guest_socket.received("message:new")]
    assert told == ["Alan Agent from support joined", "On it"]
    # the guest's numbering has no hole: the reply took one number, not two
    assert got[0]["seq"] == 3
