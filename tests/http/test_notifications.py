"""Notifications: written by jobs, pushed live to the agent, read and marked in the inbox."""

from __future__ import annotations

from bson import ObjectId

from tests.conftest import cookie_header, login

FETCH = {"X-Requested-With": "fetch"}


async def patch(session, ticket_id: str, body: dict) -> dict:
    async with session.patch(f"/api/tickets/{ticket_id}", json=body, headers=FETCH) as resp:
        assert resp.status == 200, await resp.text()
        return (await resp.json())["ticket"]


async def get_json(session, path: str, **params) -> dict:
    async with session.get(path, params=params) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def post_json(session, path: str) -> tuple[int, dict]:
    async with session.post(path, headers=FETCH) as resp:
        return resp.status, await resp.json()


async def signed_in(http, account):
    session = http()
    await login(session, account)
    return session


async def test_an_assignment_reaches_the_assignee_live_and_in_the_inbox(
        guest, agent_session, admin, http, connect):
    admin_session = await signed_in(http, admin)
    tab1 = await connect(cookie_header(admin_session))
    tab2 = await connect(cookie_header(admin_session))
    await patch(agent_session, guest.ticket_id, {"assignee_id": admin["id"]})

    live = (await tab1.wait_for("notification:new"))[0]
    assert live["kind"] == "assigned" and live["ticket_id"] == guest.ticket_id
    assert live["text"] == "Alan Agent assigned “Hello, my order is late.” to you"
    assert live["read"] is False
    for tab in (tab1, tab2):
        assert (await tab.wait_for("notification:count"))[-1] == {"unread": 1}

    inbox = await get_json(admin_session, "/api/notifications")
    assert [n["id"] for n in inbox["notifications"]] == [live["id"]] and inbox["unread"] == 1
    assert (await get_json(admin_session, "/api/notifications/unread-count")) == {"unread": 1}

    status, body = await post_json(admin_session, f"/api/notifications/{live['id']}/read")
    assert status == 200 and body["unread"] == 0 and body["notification"]["read"] is True
    for tab in (tab1, tab2):  # every open tab's bell follows
        await tab.wait_for("notification:count", where=lambda c: c["unread"] == 0)
    assert (await get_json(admin_session, "/api/notifications/unread-count")) == {"unread": 0}

    status, body = await post_json(admin_session, f"/api/notifications/{live['id']}/unread")
    assert status == 200 and body["unread"] == 1 and body["notification"]["read"] is False
    await tab2.wait_for("notification:count", 3, where=lambda c: True)
    assert tab2.received("notification:count")[-1] == {"unread": 1}

    status, body = await post_json(admin_session, "/api/notifications/read-all")
    assert status == 200 and body == {"changed": 1, "unread": 0}
    await tab1.wait_for("notification:count", 4)
    assert tab1.received("notification:count")[-1] == {"unread": 0}


async def test_agents_see_and_mark_only_their_own_notifications(guest, agent_session, admin, http, connect):
    admin_session = await signed_in(http, admin)
    tab = await connect(cookie_header(admin_session))
    await patch(agent_session, guest.ticket_id, {"assignee_id": admin["id"]})
    mine = (await tab.wait_for("notification:new"))[0]
    assert (await get_json(agent_session, "/api/notifications"))["notifications"] == []
    status, body = await post_json(agent_session, f"/api/notifications/{mine['id']}/read")
    assert status == 404 and body["error"]["code"] == "not_found"
    assert (await get_json(admin_session, "/api/notifications/unread-count")) == {"unread": 1}
    assert (await post_json(agent_session, "/api/notifications/not-an-id/read"))[0] == 422
    async with guest.session.get("/api/notifications") as resp:
        assert resp.status == 401


async def test_the_inbox_pages_newest_first_and_filters_unread(start_chat, agent_session, admin, http, connect):
    admin_session = await signed_in(http, admin)
    tab = await connect(cookie_header(admin_session))
    chats = [await start_chat(name=f"G{i}", message=f"question {i}") for i in range(3)]
    for chat in chats:
        await patch(agent_session, chat.ticket_id, {"assignee_id": admin["id"]})
    await tab.wait_for("notification:new", 3)

    first = await get_json(admin_session, "/api/notifications", limit="2")
    assert [n["text"] for n in first["notifications"]] == [
        "Alan Agent assigned “question 2” to you", "Alan Agent assigned “question 1” to you"]
    rest = await get_json(admin_session, "/api/notifications", limit="2", before=first["next_cursor"])
    assert [n["text"] for n in rest["notifications"]] == ["Alan Agent assigned “question 0” to you"]
    assert rest["next_cursor"] is None

    await post_json(admin_session, f"/api/notifications/{first['notifications'][0]['id']}/read")
    unread = await get_json(admin_session, "/api/notifications", unread="1")
    assert len(unread["notifications"]) == 2 and unread["unread"] == 2
    async with admin_session.get("/api/notifications", params={"unread": "maybe"}) as resp:
        assert resp.status == 422


async def test_status_changes_and_unassignment_tell_the_former_and_current_assignee(
        guest, agent, agent_session, admin, http, connect):
    admin_session = await signed_in(http, admin)
    tab = await connect(cookie_header(admin_session))
    await patch(agent_session, guest.ticket_id, {"assignee_id": admin["id"]})
    await patch(agent_session, guest.ticket_id, {"status": "pending"})
    await patch(agent_session, guest.ticket_id, {"assignee_id": agent["id"]})
    got = await tab.wait_for("notification:new", 3)
    assert [n["kind"] for n in got] == ["assigned", "status", "unassigned"]
    assert got[1]["text"] == "Alan Agent marked “Hello, my order is late.” pending"
    # changes an agent makes on their own ticket notify nobody
    await patch(agent_session, guest.ticket_id, {"status": "open"})
    assert (await get_json(agent_session, "/api/notifications/unread-count")) == {"unread": 0}


async def test_a_guest_message_notifies_an_assignee_who_is_not_in_the_room(
        guest, guest_socket, agent, agent_session, agent_socket, live_server):
    await patch(agent_session, guest.ticket_id, {"assignee_id": agent["id"]})
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    sent = await guest_socket.call("message:send", {
        "ticket_id": guest.ticket_id, "body": "Anyone there?", "client_msg_id": "g-1"})
    live = (await agent_socket.wait_for("notification:new"))[0]
    assert (live["kind"], live["text"]) == ("guest_message", "Grace Guest: Anyone there?")

    # once the assignee is in the room, a guest message queues nothing at all
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    sent = await guest_socket.call("message:send", {
        "ticket_id": guest.ticket_id, "body": "Ah, hello!", "client_msg_id": "g-2"})
    assert sent["ok"]
    assert await live_server.ctx.db.jobs.count_documents(
        {"dedupe_key": f"notify:message:{sent['message']['id']}"}) == 0
    assert await live_server.ctx.db.jobs.count_documents({"kind": "notify"}) == 1  # the first one


async def test_unassigned_tickets_notify_nobody_on_guest_messages(guest, guest_socket, live_server):
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    sent = await guest_socket.call("message:send", {
        "ticket_id": guest.ticket_id, "body": "still here", "client_msg_id": "g-3"})
    assert sent["ok"]
    assert await live_server.ctx.db.jobs.count_documents({}) == 0
    assert await live_server.ctx.db.notifications.count_documents({}) == 0


async def test_a_retried_notify_job_writes_no_second_notification(guest, agent_session, admin, live_server):
    from app.services.operations import notifications

    await patch(agent_session, guest.ticket_id, {"assignee_id": admin["id"]})
    job = await live_server.ctx.db.jobs.find_one({"kind": "notify"})
    await notifications.deliver(live_server.ctx, job["payload"])
    await notifications.deliver(live_server.ctx, job["payload"])
    assert await live_server.ctx.db.notifications.count_documents({"user_id": ObjectId(admin["id"])}) == 1


async def test_read_notifications_are_deleted_after_their_retention_unread_ones_never(
        guest, agent_session, admin, http, connect, live_server, monkeypatch):
    from datetime import timedelta

    from app import clock
    from tests.conftest import embedded_only
    from tests.services.test_jobs import _shifted

    embedded_only(live_server.ctx.db)  # it moves the TTL pass's clock
    admin_session = await signed_in(http, admin)
    tab = await connect(cookie_header(admin_session))
    await patch(agent_session, guest.ticket_id, {"assignee_id": admin["id"]})
    first = (await tab.wait_for("notification:new"))[0]
    await patch(agent_session, guest.ticket_id, {"status": "pending"})
    await tab.wait_for("notification:new", count=2)
    status, _ = await post_json(admin_session, f"/api/notifications/{first['id']}/read")
    assert status == 200

    retention = live_server.ctx.settings.notification_retention
    later = clock.utcnow() + timedelta(seconds=retention + 60)
    monkeypatch.setattr("app.store.engine.datetime", _shifted(later))
    await live_server.ctx.db.client.purge_expired()
    admin_session = await signed_in(http, admin)  # a month later: the old session expired too
    inbox = await get_json(admin_session, "/api/notifications")
    assert [n["read"] for n in inbox["notifications"]] == [False]  # the unread one stays
    assert first["id"] not in [n["id"] for n in inbox["notifications"]]
