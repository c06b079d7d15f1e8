"""GET /api/tickets/{id}/activity: an agent reads the audit events of the ticket they are in,
without addresses or user agents; that is the only audit an agent can read."""

from __future__ import annotations

from tests.http.test_ticket_update import patch


async def test_an_agent_reads_what_happened_to_the_ticket_newest_first(
        guest, start_chat, agent_session, agent_socket):
    other = await start_chat(name="Other", message="Unrelated")
    await patch(agent_session, guest.ticket_id, {"priority": "high"})
    await agent_socket.call("note:add", {"ticket_id": guest.ticket_id, "body": "VIP", "client_msg_id": "n1"})
    await patch(agent_session, guest.ticket_id, {"status": "closed"})
    await patch(agent_session, other.ticket_id, {"priority": "low"})

    async with agent_session.get(f"/api/tickets/{guest.ticket_id}/activity") as resp:
        assert resp.status == 200
        body = await resp.json()
    events = body["events"]
    assert [e["action"] for e in events] == ["ticket.close", "note.create", "ticket.update", "ticket.create"]
    assert events[0]["actor"] == {"name": "Alan Agent", "role": "agent"}
    assert events[2]["changes"] == [{"field": "priority", "before": "normal", "after": "high"}]
    assert events[3]["actor"]["name"] == "Grace Guest"
    assert all(set(e) == {"id", "at", "action", "actor", "changes"} for e in events)

    async with agent_session.get(f"/api/tickets/{guest.ticket_id}/activity", params={"limit": "2"}) as resp:
        first = await resp.json()
    async with agent_session.get(f"/api/tickets/{guest.ticket_id}/activity",
                                 params={"limit": "2", "before": first["next_cursor"]}) as resp:
        second = await resp.json()
    assert [e["id"] for e in first["events"] + second["events"]] == [e["id"] for e in events]


async def test_activity_is_for_agents_and_other_audit_stays_with_admins(guest, agent_session, http):
    async with guest.session.get(f"/api/tickets/{guest.ticket_id}/activity") as resp:
        assert resp.status == 401
    async with http().get(f"/api/tickets/{guest.ticket_id}/activity") as resp:
        assert resp.status == 401
    async with agent_session.get("/api/audit", params={"entity_id": guest.ticket_id}) as resp:
        assert resp.status == 403
    async with agent_session.get("/api/tickets/0123456789abcdef01234567/activity") as resp:
        assert resp.status == 404
    async with agent_session.get("/api/tickets/nope/activity") as resp:
        assert resp.status == 422
