"""Canned replies over HTTP: team replies managed by admins and offered to everyone, personal
ones managed and seen by their owner only; shortcuts unique per owner; placeholders
checked; every change audited; bad input refused with nothing written."""

from __future__ import annotations

import pytest

from tests.conftest import login, make_account

REFUND = {"shortcut": "refund", "title": "Refund approved",
          "body": "Hi {{guest.first_name}}, your refund is approved. {{agent.name}}"}


async def call(session, method: str, path: str, body=None) -> tuple[int, dict]:
    async with session.request(method, path, json=body) as resp:
        return resp.status, await resp.json()


@pytest.fixture
async def admin_session(http, admin):
    session = http()
    await login(session, admin)
    return session


async def test_a_team_reply_by_an_admin_is_offered_to_every_agent_and_audited(
        admin_session, agent_session, live_server):
    status, body = await call(admin_session, "POST", "/api/canned-replies", {**REFUND, "scope": "team"})
    assert status == 201
    reply = body["reply"]
    assert (reply["scope"], reply["shortcut"], reply["editable"]) == ("team", "refund", True)
    status, body = await call(agent_session, "GET", "/api/canned-replies")
    assert status == 200 and [(r["shortcut"], r["editable"]) for r in body["replies"]] == [("refund", False)]
    assert "guest.name" in body["placeholders"]
    # an agent cannot change or remove it
    assert (await call(agent_session, "PATCH", f"/api/canned-replies/{reply['id']}", {"title": "x"}))[0] == 403
    assert (await call(agent_session, "DELETE", f"/api/canned-replies/{reply['id']}"))[0] == 403
    assert (await call(agent_session, "POST", "/api/canned-replies", {**REFUND, "scope": "team"}))[0] == 403
    # the admin changes it, then removes it: each step is an audit event
    status, body = await call(admin_session, "PATCH", f"/api/canned-replies/{reply['id']}",
                              {"title": "Refund on its way"})
    assert status == 200 and body["reply"]["title"] == "Refund on its way"
    assert (await call(admin_session, "DELETE", f"/api/canned-replies/{reply['id']}"))[0] == 200
    events = await live_server.ctx.db.audit_events.find(
        {"entity.type": "canned_reply"}).sort("at", 1).to_list(None)
    assert [e["action"] for e in events] == [
        "canned_reply.create", "canned_reply.update", "canned_reply.delete"]
    assert events[1]["before"]["title"] == "Refund approved" and events[1]["after"]["title"] == "Refund on its way"
    assert events[2]["before"]["shortcut"] == "refund" and events[0]["actor"]["name"] == "Ada Admin"
    assert (await call(agent_session, "GET", "/api/canned-replies"))[1]["replies"] == []


async def test_personal_replies_are_their_owners_alone(agent_session, admin_session, http, live_server):
    status, body = await call(agent_session, "POST", "/api/canned-replies", REFUND)
    assert status == 201 and body["reply"]["scope"] == "personal" and body["reply"]["editable"]
    reply_id = body["reply"]["id"]
    # the same shortcut is free for the team and for another agent
    assert (await call(admin_session, "POST", "/api/canned-replies", {**REFUND, "scope": "team"}))[0] == 201
    other = http()
    await login(other, await make_account(live_server, role="agent", name="Olga", email="olga@example.com"))
    assert (await call(other, "POST", "/api/canned-replies", REFUND))[0] == 201
    # but not twice for one owner
    status, body = await call(agent_session, "POST", "/api/canned-replies", {**REFUND, "title": "Again"})
    assert status == 409 and body["error"]["field"] == "shortcut"
    # nobody else sees, changes or removes it, an admin neither
    listed = (await call(other, "GET", "/api/canned-replies"))[1]["replies"]
    assert [(r["scope"], r["editable"]) for r in listed] == [("personal", True), ("team", False)]
    for session in (other, admin_session):
        assert (await call(session, "PATCH", f"/api/canned-replies/{reply_id}", {"title": "x"}))[0] == 404
        assert (await call(session, "DELETE", f"/api/canned-replies/{reply_id}"))[0] == 404
    # its owner renames its shortcut
    status, body = await call(agent_session, "PATCH", f"/api/canned-replies/{reply_id}", {"shortcut": "/Money"})
    assert status == 200 and body["reply"]["shortcut"] == "money"


@pytest.mark.parametrize("body,field", [
    ({**REFUND, "shortcut": "has space"}, "shortcut"),
    ({**REFUND, "shortcut": "x" * 33}, "shortcut"),
    ({**REFUND, "shortcut": "$where"}, "shortcut"),
    ({**REFUND, "shortcut": ""}, "shortcut"),
    ({**REFUND, "title": "t" * 81}, "title"),
    ({**REFUND, "body": "b" * 5001}, "body"),
    ({**REFUND, "body": "Hi {{guest.password}}"}, "body"),
    ({**REFUND, "body": {"$ne": ""}}, "body"),
    ({**REFUND, "scope": "everyone"}, "scope"),
    ({**REFUND, "owner_key": "team"}, "owner_key"),
    ({"shortcut": "x", "title": "y"}, "body"),
])
async def test_bad_replies_answer_422_and_store_nothing(agent_session, live_server, body, field):
    status, answer = await call(agent_session, "POST", "/api/canned-replies", body)
    assert status == 422 and answer["error"]["field"] == field
    assert await live_server.ctx.db.canned_replies.count_documents({}) == 0


async def test_canned_replies_are_for_signed_in_agents(guest, http):
    for session in (guest.session, http()):
        assert (await call(session, "GET", "/api/canned-replies"))[0] == 401
        assert (await call(session, "POST", "/api/canned-replies", REFUND))[0] == 401
