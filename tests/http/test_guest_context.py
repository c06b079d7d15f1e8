"""Where and how a guest started: the widget's `context` on POST /api/guest/tickets,
checked and kept for agents; and the guest's other conversations (same guest or e-mail)."""

from __future__ import annotations

import pytest

FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
CONTEXT = {"page_url": "https://shop.example.com/checkout?step=2", "page_title": "Checkout · Shop",
           "user_agent": FIREFOX, "timezone": "America/Argentina/Salta", "locale": "es-AR"}


async def start(session, **body) -> tuple[int, dict]:
    async with session.post("/api/guest/tickets", json={"name": "Ann", "message": "Hi", **body}) as resp:
        return resp.status, await resp.json()


async def test_agents_see_where_and_how_the_guest_started_and_the_guest_does_not(http, agent_session):
    guest = http()
    status, body = await start(guest, context=CONTEXT)
    assert status == 201 and "context" not in body["ticket"]
    ticket_id = body["ticket"]["id"]
    async with agent_session.get(f"/api/tickets/{ticket_id}") as resp:
        context = (await resp.json())["ticket"]["context"]
    assert context == {**CONTEXT, "browser": "Firefox 128 on Windows"}
    async with guest.get(f"/api/tickets/{ticket_id}") as resp:
        assert "context" not in (await resp.json())["ticket"]


async def test_without_a_context_the_browser_is_the_requests_own(http, agent_session):
    guest = http()
    status, _body = await start(guest, context=None)
    assert status == 201
    iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
    async with guest.post("/api/guest/tickets", json={"name": "Bo", "message": "Hi"},
                          headers={"User-Agent": iphone}) as resp:
        ticket_id = (await resp.json())["ticket"]["id"]
    async with agent_session.get(f"/api/tickets/{ticket_id}") as resp:
        context = (await resp.json())["ticket"]["context"]
    assert context["browser"] == "Safari 17 on iOS" and context["page_url"] is None


@pytest.mark.parametrize("context,field", [
    ("https://shop.example.com", "context"),
    ({"page_url": "javascript:alert(1)"}, "context.page_url"),
    ({"page_url": "https://shop.example.com/" + "a" * 2000}, "context.page_url"),
    ({"page_url": "https://shop.example.com/a b"}, "context.page_url"),
    ({"page_title": "x" * 201}, "context.page_title"),
    ({"timezone": "../../etc/passwd"}, "context.timezone"),
    ({"locale": "en_US; drop"}, "context.locale"),
    ({"user_agent": {"$ne": ""}}, "context.user_agent"),
    ({"referrer": "https://x.example"}, "context.referrer"),
])
async def test_a_bad_context_answers_422_and_starts_nothing(http, live_server, context, field):
    status, body = await start(http(), context=context)
    assert status == 422 and body["error"]["field"] == field
    assert await live_server.ctx.db.tickets.count_documents({}) == 0


async def test_agents_find_the_guests_other_conversations_by_cookie_or_e_mail(http, agent_session, start_chat):
    first = await start_chat(name="Maria", email="maria@example.com", message="First")
    second = await start_chat(name="Maria", message="Second", session=first.session)  # same browser
    elsewhere = await start_chat(name="Maria L.", email="MARIA@example.com", message="From her phone")
    await start_chat(name="Someone else", email="other@example.com", message="Unrelated")
    async with agent_session.get(f"/api/tickets/{first.ticket_id}/related") as resp:
        related = (await resp.json())["tickets"]
    assert [t["id"] for t in related] == [elsewhere.ticket_id, second.ticket_id]
    async with agent_session.get(f"/api/tickets/{second.ticket_id}/related") as resp:
        assert [t["id"] for t in (await resp.json())["tickets"]] == [first.ticket_id]
    async with first.session.get(f"/api/tickets/{first.ticket_id}/related") as resp:
        assert resp.status == 401  # guests never list by guest id
