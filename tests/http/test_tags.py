"""Tags on a ticket: added and removed by agents (PATCH or ticket:update), suggested from the
tags in use, filtering the queue; said in an internal line and audited."""

from __future__ import annotations

import asyncio

import pytest
from bson import ObjectId

from tests.http.test_ticket_update import bodies, patch


async def stored_tags(live_server, ticket_id: str) -> list[str]:
    return (await live_server.ctx.db.tickets.find_one({"_id": ObjectId(ticket_id)}))["tags"]


async def test_an_agent_tags_a_ticket_and_only_agents_hear_of_it(
        guest, guest_socket, agent_session, agent_socket, live_server):
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    status, body = await patch(agent_session, guest.ticket_id, {"add_tags": ["Refund", "late delivery"]})
    assert status == 200 and body["ticket"]["tags"] == ["refund", "late-delivery"]
    line = await agent_socket.wait_for("message:new", where=lambda m: "(tags)" in m["body"])
    assert line[0]["body"] == "Alan Agent added late-delivery, refund (tags)"

    answer = await agent_socket.call("ticket:update", {"ticket_id": guest.ticket_id, "remove_tags": ["refund"]})
    assert answer["ok"] and answer["ticket"]["tags"] == ["late-delivery"]
    assert await bodies(live_server, guest.ticket_id) == [
        "Alan Agent added late-delivery, refund (tags)", "Alan Agent removed refund (tags)"]
    # the guest's conversation has neither the lines nor the tags
    history = await guest_socket.call("messages:history", {"ticket_id": guest.ticket_id})
    assert [m["kind"] for m in history["messages"]] == ["message"]
    assert all("tags" not in t for t in guest_socket.received("ticket:updated"))
    # audited: who, before and after
    events = await live_server.ctx.db.audit_events.find(
        {"action": "ticket.update", "entity.id": guest.ticket_id}).sort("at", 1).to_list(None)
    assert [(e["before"], e["after"]) for e in events] == [
        ({"tags": []}, {"tags": ["refund", "late-delivery"]}),
        ({"tags": ["refund", "late-delivery"]}, {"tags": ["late-delivery"]})]
    assert events[0]["actor"]["name"] == "Alan Agent"


async def test_two_agents_tagging_at_once_both_keep_their_tag(guest, agent_session, admin, http, live_server):
    from tests.conftest import login

    other = http()
    await login(other, admin)
    results = await asyncio.gather(
        patch(agent_session, guest.ticket_id, {"add_tags": ["refund"]}),
        patch(other, guest.ticket_id, {"add_tags": ["vip"]}))
    assert [status for status, _ in results] == [200, 200]
    assert sorted(await stored_tags(live_server, guest.ticket_id)) == ["refund", "vip"]


async def test_the_queue_filters_by_tag_and_suggestions_list_the_tags_in_use(
        start_chat, agent_session, guest):
    other = await start_chat(name="Bob", message="Where is it?")
    await patch(agent_session, guest.ticket_id, {"tags": ["refund", "vip"]})
    await patch(agent_session, other.ticket_id, {"tags": ["shipping"]})
    async with agent_session.get("/api/tickets", params={"tag": "refund", "status": "all"}) as resp:
        assert resp.status == 200
        assert [t["id"] for t in (await resp.json())["tickets"]] == [guest.ticket_id]
    async with agent_session.get("/api/tags") as resp:
        assert (await resp.json())["tags"] == ["refund", "shipping", "vip"]
    async with guest.session.get("/api/tags") as resp:
        assert resp.status == 401


@pytest.mark.parametrize("change,field", [
    ({"add_tags": ["x" * 33]}, "add_tags"),
    ({"add_tags": ["$where"]}, "add_tags"),
    ({"add_tags": ["a.*"]}, "add_tags"),
    ({"add_tags": [""]}, "add_tags"),
    ({"add_tags": "refund"}, "add_tags"),
    ({"add_tags": [{"$ne": 1}]}, "add_tags"),
    ({"tags": [f"t{i}" for i in range(21)]}, "tags"),
    ({"tags": ["a"], "add_tags": ["b"]}, "tags"),
])
async def test_bad_tags_answer_422_and_change_nothing(guest, agent_session, live_server, change, field):
    status, body = await patch(agent_session, guest.ticket_id, change)
    assert status == 422 and body["error"]["field"] == field
    assert await stored_tags(live_server, guest.ticket_id) == []
    async with agent_session.get("/api/tickets", params={"tag": "a.*"}) as resp:
        assert resp.status == 422


async def test_a_ticket_holds_at_most_twenty_tags(guest, agent_session, live_server):
    assert (await patch(agent_session, guest.ticket_id, {"tags": [f"t{i}" for i in range(20)]}))[0] == 200
    status, body = await patch(agent_session, guest.ticket_id, {"add_tags": ["one-more"]})
    assert status == 422 and "at most 20" in body["error"]["message"]
    assert len(await stored_tags(live_server, guest.ticket_id)) == 20
