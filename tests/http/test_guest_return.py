"""The guest comes back (issue 12), over HTTP: resume links, the guest token where the cookie
is blocked, ratings, the unread badge, opening hours and presence, widget settings."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import aiohttp

from app.security import GUEST_COOKIE, resume_token
from app.services.operations import mail
from tests.conftest import login
from tests.fakeclock import FakeClock


def resume_query(link: str) -> str:
    return link.split("/widget/resume", 1)[1]


async def test_a_resume_link_gives_another_browser_the_guests_identity_and_opens_the_conversation(
        start_chat, http, live_server):
    guest = await start_chat(name="Grace", message="Where is my parcel?", email="grace@example.com")
    ticket = await live_server.ctx.db.tickets.find_one({})
    link = mail.conversation_link(live_server.ctx, ticket)

    other = http()  # another browser: no cookie at all
    async with other.get("/widget/resume" + resume_query(link)) as resp:
        page = await resp.text()
        assert resp.status == 200 and resp.headers["Cache-Control"] == "no-store"
        assert resp.headers["Referrer-Policy"] == "no-referrer"
    assert f'data-resume-ticket="{guest.ticket_id}"' in page and "data-guest-token=" in page
    async with other.get("/api/guest/tickets") as resp:
        listed = (await resp.json())["tickets"]
    assert [t["id"] for t in listed] == [guest.ticket_id]


async def test_an_expired_or_altered_resume_link_says_so_and_fills_in_the_email(start_chat, http, live_server):
    guest = await start_chat(name="Grace", message="Hi", email="grace@example.com")
    ticket = await live_server.ctx.db.tickets.find_one({})
    long_ago = (datetime.now(UTC) - timedelta(days=31)).timestamp()
    expired = resume_token(ticket["guest_id"], guest.ticket_id, live_server.ctx.settings, now=long_ago)
    other = http()
    async with other.get("/widget/resume", params={"token": expired, "email": "grace@example.com"}) as resp:
        page = await resp.text()
    assert 'data-resume-problem="expired"' in page and 'value="grace@example.com"' in page
    assert not any(c.key == GUEST_COOKIE for c in other.cookie_jar)

    good = resume_token(ticket["guest_id"], guest.ticket_id, live_server.ctx.settings)
    altered = good[:-1] + ("0" if good[-1] != "0" else "1")
    async with other.get("/widget/resume", params={"token": altered, "email": "grace@example.com"}) as resp:
        page = await resp.text()
    assert 'data-resume-problem="invalid"' in page and "data-guest-token" not in page
    async with other.get("/api/guest/tickets") as resp:
        assert (await resp.json())["tickets"] == []


async def test_without_a_cookie_the_guest_token_in_a_header_and_the_handshake_is_the_guest(
        live_server, connect):
    async with aiohttp.ClientSession(base_url=live_server.url, cookie_jar=aiohttp.DummyCookieJar()) as cookieless:
        async with cookieless.post("/api/guest/tickets", json={"name": "Grace", "message": "Hi"}) as resp:
            assert resp.status == 201
            started = await resp.json()
        token = started["guest_token"]
        async with cookieless.get("/api/guest/tickets") as resp:
            assert (await resp.json())["tickets"] == []  # no cookie, no header: nobody
        async with cookieless.get("/api/guest/tickets", headers={"X-Guest-Token": token}) as resp:
            assert [t["id"] for t in (await resp.json())["tickets"]] == [started["ticket"]["id"]]
        async with cookieless.get("/api/guest/tickets", headers={"X-Guest-Token": token[:-2] + "00"}) as resp:
            assert (await resp.json())["tickets"] == []
    socket = await connect(None, auth={"as": "guest", "guest_token": token})
    joined = await socket.call("ticket:join", {"ticket_id": started["ticket"]["id"]})
    assert joined["ok"] and joined["messages"][0]["body"] == "Hi"


async def test_the_guests_conversations_list_open_ones_first(start_chat, http, agent_socket):
    session = http()
    first = await start_chat(message="First question", session=session)
    await agent_socket.call("ticket:close", {"ticket_id": first.ticket_id})
    second = await start_chat(message="Second question", session=session)
    async with session.get("/api/guest/tickets") as resp:
        listed = (await resp.json())["tickets"]
    assert [(t["id"], t["status"]) for t in listed] == [(second.ticket_id, "open"), (first.ticket_id, "closed")]


async def test_the_chat_start_keeps_the_page_it_was_started_on(http, live_server):
    session = http()
    context = {"page_url": "https://shop.example/cart", "page_title": "Your cart", "timezone": "Europe/Berlin",
               "locale": "de-DE", "user_agent": "Firefox"}
    async with session.post("/api/guest/tickets", json={"name": "G", "message": "Hi", "context": context}) as resp:
        assert resp.status == 201
    stored = await live_server.ctx.db.tickets.find_one({})
    assert stored["context"] == context
    for bad in ({"page_url": "javascript:alert(1)"}, {"page_title": "x" * 301}, {"other": "x"}, "text"):
        async with session.post("/api/guest/tickets", json={"name": "G", "message": "Hi", "context": bad}) as resp:
            assert resp.status == 422, bad
            assert (await resp.json())["error"]["field"].startswith("context")


# --- satisfaction -------------------------------------------------------------------------


async def test_after_a_close_the_guest_rates_once_changes_it_and_agents_see_it(
        guest, agent_socket, live_server, agent_session):
    path = f"/api/tickets/{guest.ticket_id}/csat"
    async with guest.session.post(path, json={"rating": 5}) as resp:
        assert resp.status == 409  # still open
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    await agent_socket.call("ticket:close", {"ticket_id": guest.ticket_id})
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": "5"}, {"rating": True}, {"rating": 4, "comment": "x" * 1001}):
        async with guest.session.post(path, json=bad) as resp:
            assert resp.status == 422, bad
    async with guest.session.post(path, json={"rating": 2, "comment": "Slow"}) as resp:
        assert resp.status == 200
        assert (await resp.json())["ticket"]["csat"]["rating"] == 2
    async with guest.session.post(path, json={"rating": 4, "comment": "Fine after all"}) as resp:
        assert (await resp.json())["ticket"]["csat"] == {
            "rating": 4, "comment": "Fine after all", "at": (await resp.json())["ticket"]["csat"]["at"]}
    stored = await live_server.ctx.db.tickets.find_one({})
    assert stored["csat"]["rating"] == 4 and stored["csat"]["comment"] == "Fine after all"
    async with agent_session.get(f"/api/tickets/{guest.ticket_id}") as resp:
        assert (await resp.json())["ticket"]["csat"]["rating"] == 4
    updated = await agent_socket.wait_for("ticket:updated", where=lambda t: (t.get("csat") or {}).get("rating") == 4)
    assert updated
    lines = await agent_socket.wait_for("message:new", where=lambda m: "rating to 4/5" in m["body"])
    assert lines[0]["kind"] == "system"
    events = await live_server.ctx.db.audit_events.find({"action": "ticket.csat"}).to_list(None)
    assert [e["after"]["csat"]["rating"] for e in events] == [2, 4]


async def test_a_rating_link_works_without_the_widget_for_seven_days(
        start_chat, agent_socket, http, live_server, monkeypatch):
    guest = await start_chat(email="grace@example.com")
    await agent_socket.call("ticket:close", {"ticket_id": guest.ticket_id})
    ticket = await live_server.ctx.db.tickets.find_one({})
    link = mail.rating_link(live_server.ctx, ticket)
    token = parse_qs(urlsplit(link).query)["token"][0]
    stranger = http()
    async with stranger.get(f"/rate?token={token}") as resp:
        assert resp.status == 200 and "Rate the conversation" in await resp.text()
    async with stranger.post("/api/csat", json={"token": token, "rating": 3}) as resp:
        assert resp.status == 200 and (await resp.json())["csat"]["rating"] == 3
    async with stranger.post("/api/csat", json={"token": token[:-1] + "x", "rating": 3}) as resp:
        assert resp.status == 404
    clock = FakeClock(monkeypatch)
    clock.advance(7 * 86400 + 1)
    async with stranger.post("/api/csat", json={"token": token, "rating": 5}) as resp:
        assert resp.status == 409
    assert (await live_server.ctx.db.tickets.find_one({}))["csat"]["rating"] == 3


# --- the launcher's badge -------------------------------------------------------------------


async def test_the_badge_counts_agent_replies_the_guest_has_not_seen(guest, agent_socket, connect, live_server):
    async with guest.session.get("/api/guest/tickets") as resp:
        badge = (await resp.json())["badge_token"]
    shop = aiohttp.ClientSession(base_url=live_server.url, headers={"Origin": "https://shop.example"})

    async def unread() -> int:
        async with shop.get("/api/guest/unread", params={"badge": badge}) as resp:
            assert resp.headers["Access-Control-Allow-Origin"] == "*"
            return (await resp.json())["unread"]

    assert await unread() == 0
    for n in range(2):
        answer = await agent_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": f"Reply {n}",
                                                          "client_msg_id": f"r{n}"})
        assert answer["ok"]
    assert await unread() == 2
    guest_socket = await connect(guest.cookie)
    joined = await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    newest = joined["messages"][-1]["seq"]
    assert (await guest_socket.call("ticket:read", {"ticket_id": guest.ticket_id, "seq": newest}))["ok"]
    assert await unread() == 0
    async with shop.get("/api/guest/unread", params={"badge": guest.cookie.split("=", 1)[1]}) as resp:
        assert resp.status == 401  # the guest's own token is not a badge token
    await shop.close()


# --- opening hours, presence and the widget's settings ------------------------------------------


def all_closed_hours() -> dict:
    return {"enabled": True, "timezone": "Europe/Berlin",
            "days": dict.fromkeys(("mon", "tue", "wed", "thu", "fri", "sat")) | {"sun": {"open": "00:00", "close": "00:01"}}}


async def test_while_the_team_is_away_an_email_is_required_and_an_automatic_reply_says_when_it_is_back(
        http, admin, live_server, connect):
    session = http()
    await login(session, admin)
    async with session.put("/api/admin/settings", json={"hours": all_closed_hours()}) as resp:
        assert resp.status == 200, await resp.text()
    guest = http()
    async with guest.get("/widget") as resp:
        page = await resp.text()
    assert 'data-online="false"' in page and 'data-email-required="true"' in page
    async with guest.post("/api/guest/tickets", json={"name": "Night owl", "message": "Hello?"}) as resp:
        assert resp.status == 422 and (await resp.json())["error"]["field"] == "email"
    async with guest.post("/api/guest/tickets", json={"name": "Night owl", "message": "Hello?",
                                                      "email": "owl@example.com"}) as resp:
        assert resp.status == 201
        ticket_id = (await resp.json())["ticket"]["id"]
    async with guest.get(f"/api/tickets/{ticket_id}/messages") as resp:
        bodies = [m["body"] for m in (await resp.json())["messages"]]
    assert bodies[0] == "Hello?"
    assert re.match(r"We're away right now\. We're back Sunday at 00:00 \(Europe/Berlin\)", bodies[1])
    events = await live_server.ctx.db.audit_events.find({"action": "settings.update"}).to_list(None)
    assert events and events[0]["after"]["hours"]["timezone"] == "Europe/Berlin"


async def test_the_header_promises_the_median_first_response_of_the_last_seven_days(
        start_chat, agent_socket, http, monkeypatch, live_server):
    clock = FakeClock(monkeypatch)
    for minutes in (2, 10, 30):
        guest = await start_chat()
        clock.advance(minutes * 60)
        assert (await agent_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "Hi",
                                                         "client_msg_id": f"m{minutes}"}))["ok"]
    async with http().get("/widget") as resp:
        assert 'data-reply-minutes="10"' in await resp.text()


async def test_admins_set_the_widgets_look_and_bad_settings_change_nothing(http, admin, agent, live_server):
    session = http()
    await login(session, admin)
    look = {"title": "Help desk", "greeting": "Ask us anything", "color": "#7c2d12", "email_required": True}
    async with session.put("/api/admin/settings", json={"widget": look}) as resp:
        assert resp.status == 200 and (await resp.json())["widget"] == look
    for bad in ({"widget": {**look, "color": "#fde047"}}, {"widget": {**look, "color": "red"}},
                {"hours": {**all_closed_hours(), "timezone": "Mars/Olympus"}},
                {"hours": {"enabled": True, "timezone": "UTC", "days": {"mon": {"open": "18:00", "close": "09:00"}}}},
                {"other": 1}):
        async with session.put("/api/admin/settings", json=bad) as resp:
            assert resp.status == 422, bad
    async with http().get("/widget") as resp:
        page = await resp.text()
    assert "Help desk" in page and "Ask us anything" in page and 'data-color="#7c2d12"' in page
    agent_session = http()
    await login(agent_session, agent)
    async with agent_session.put("/api/admin/settings", json={"widget": look}) as resp:
        assert resp.status == 403


# --- static files -----------------------------------------------------------------------------


async def test_static_files_are_compressed_and_versioned_urls_are_cached_forever(http, live_server):
    session = http()
    async with session.get("/widget") as resp:
        page = await resp.text()
    url = re.search(r'src="(/static/v/[0-9a-f]+/js/widget\.js)"', page).group(1)
    async with session.get(url, headers={"Accept-Encoding": "br, gzip"}, auto_decompress=False) as resp:
        assert resp.headers["Content-Encoding"] == "br" and "immutable" in resp.headers["Cache-Control"]
        etag = resp.headers["ETag"]
    async with session.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": etag[:-4] + '-gzip"'}) as resp:
        assert resp.status == 304
    async with session.get("/static/js/embed.js", headers={"Accept-Encoding": "gzip"}, auto_decompress=False) as resp:
        assert resp.headers["Content-Encoding"] == "gzip" and "immutable" not in resp.headers["Cache-Control"]
    for missing in ("/static/js/nothing.js", "/static/../app/config.py", "/static/v/x/../../run.py"):
        async with session.get(missing) as resp:
            assert resp.status == 404, missing
