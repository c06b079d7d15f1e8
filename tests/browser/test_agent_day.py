"""The agent's working day in Chromium: per-ticket drafts, an address per ticket, search,
the guest's details, canned replies, tags, who else is here, alerts and unread counts,
keyboard shortcuts, closing with undo and reopening, and what the guest reads."""

from __future__ import annotations

import dataclasses
import re

import pytest
from bson import ObjectId
from playwright.async_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot, sign_in_to
from tests.browser.test_chat_flow import WAIT_MS, messages_from, open_widget_as
from tests.conftest import login, make_account
from tests.http.test_guest_context import CONTEXT
from tests.http.test_ticket_update import patch

ANN_REPLY = "Hi Ann, your refund of EUR 120 to the card ending 4242 is approved."


async def dashboard(pages, live_server, account, path: str = "/dashboard", **options) -> Page:
    page = await pages.open(**options)
    await sign_in_to(page, live_server.url, account, path)
    await expect(page.locator("html")).to_have_attribute("data-connection", "connected", timeout=WAIT_MS)
    return page


def row(page: Page, ticket_id: str):
    return page.locator(f'#queue [data-ticket-id="{ticket_id}"]')


async def open_ticket(page: Page, ticket_id: str) -> None:
    await row(page, ticket_id).click()
    await expect(page.locator("#reply-input")).to_be_enabled(timeout=WAIT_MS)


async def test_a_reply_stays_with_its_ticket_and_note_mode_too(pages, live_server, agent, start_chat):
    ann = await start_chat(name="Ann", message="Where is my refund?")
    bob = await start_chat(name="Bob", message="My parcel is late")
    page = await dashboard(pages, live_server, agent)
    reply = page.locator("#reply-input")

    await open_ticket(page, ann.ticket_id)
    await reply.fill(ANN_REPLY)
    await open_ticket(page, bob.ticket_id)
    await expect(reply).to_have_value("")  # Ann's text did not follow to Bob
    await expect(page.locator("#note-toggle")).to_have_attribute("aria-pressed", "false")
    await page.locator("#note-toggle").click()
    await reply.fill("Bob: check the courier")
    await open_ticket(page, ann.ticket_id)
    await expect(reply).to_have_value(ANN_REPLY)
    await expect(page.locator("#note-toggle")).to_have_attribute("aria-pressed", "false")

    # a reload keeps both drafts, each with its mode
    await page.reload()
    await expect(page).to_have_url(f"{live_server.url}/dashboard/tickets/{ann.ticket_id}")
    await expect(reply).to_be_enabled(timeout=WAIT_MS)
    await expect(reply).to_have_value(ANN_REPLY)
    await open_ticket(page, bob.ticket_id)
    await expect(page.locator("#note-toggle")).to_have_attribute("aria-pressed", "true")
    await expect(reply).to_have_value("Bob: check the courier")
    # a note sent: its draft is gone and the box is back to replying
    await reply.press("Enter")
    await expect(page.locator('#messages [data-kind="note"][data-id]')).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#note-toggle")).to_have_attribute("aria-pressed", "false")
    await expect(reply).to_have_value("")
    # Ann's reply sent: gone too, after a reload as well
    await open_ticket(page, ann.ticket_id)
    await reply.press("Enter")
    await expect(messages_from(page, "agent")).to_have_text([ANN_REPLY], timeout=WAIT_MS)
    await page.reload()
    await expect(reply).to_be_enabled(timeout=WAIT_MS)
    await expect(reply).to_have_value("")
    # nothing of it stays in the browser after signing out
    await reply.fill("half a thought")
    await page.locator("#user-menu summary").click()
    await page.locator("#sign-out").click()
    await expect(page).to_have_url(re.compile(r"/login"))
    kept = await page.evaluate("() => Object.keys(localStorage).filter((k) => k.includes('draft'))")
    assert kept == []
    assert pages.errors == []


async def test_each_ticket_has_an_address_that_reload_back_forward_and_links_open(
        pages, live_server, agent, start_chat):
    ann = await start_chat(name="Ann", message="First")
    bob = await start_chat(name="Bob", message="Second")
    page = await dashboard(pages, live_server, agent)
    title = page.locator("#conversation-title")
    await open_ticket(page, ann.ticket_id)
    await expect(page).to_have_url(f"{live_server.url}/dashboard/tickets/{ann.ticket_id}")
    await open_ticket(page, bob.ticket_id)
    await expect(page).to_have_url(f"{live_server.url}/dashboard/tickets/{bob.ticket_id}")
    await page.go_back()
    await expect(title).to_have_text("Ann", timeout=WAIT_MS)
    await page.go_forward()
    await expect(title).to_have_text("Bob", timeout=WAIT_MS)
    await page.go_back()
    await page.go_back()
    await expect(page.locator("#conversation-empty")).to_be_visible(timeout=WAIT_MS)
    # a shared link opens the ticket (through sign-in for someone signed out)
    other = await pages.open()
    await sign_in_to(other, live_server.url, agent, f"/dashboard/tickets/{bob.ticket_id}")
    await expect(other.locator("#conversation-title")).to_have_text("Bob", timeout=WAIT_MS)
    # and the older ?ticket= links of notifications still do, at the new address
    await other.goto(f"{live_server.url}/dashboard?ticket={ann.ticket_id}")
    await expect(other.locator("#conversation-title")).to_have_text("Ann", timeout=WAIT_MS)
    await expect(other).to_have_url(f"{live_server.url}/dashboard/tickets/{ann.ticket_id}")
    assert pages.errors == []


async def test_search_finds_an_old_conversation_by_email_and_text(pages, live_server, agent, start_chat, agent_socket):
    old = await start_chat(name="Maria", email="maria@example.com", message="The blender is broken")
    await agent_socket.call("message:send", {"ticket_id": old.ticket_id, "client_msg_id": "x",
                                             "body": "We sent a new blender, tracking ZX-81."})
    await start_chat(name="Maria L.", email="maria@example.com", message="Hello again")
    page = await dashboard(pages, live_server, agent)
    await page.keyboard.press("/")
    await expect(page.locator("#search-input")).to_be_focused()
    await page.keyboard.type("zx-81")
    results = page.locator("#search-list [data-ticket-id]")
    await expect(results).to_have_count(1, timeout=WAIT_MS)
    await expect(results).to_contain_text("Message: We sent a new blender, tracking ZX-81.")
    await expect(results.locator("mark")).to_have_text("ZX-81")
    await expect(page.locator("#queue")).to_be_hidden()
    await page.locator("#search-input").fill("maria@example.com")
    await expect(results).to_have_count(2, timeout=WAIT_MS)
    await results.first.click()
    await expect(page.locator("#conversation-title")).to_have_text("Maria L.", timeout=WAIT_MS)
    await page.locator("#search-input").press("Escape")
    await expect(page.locator("#queue")).to_be_visible()
    await page.locator("#search-input").fill("$ne (.*")
    await expect(page.locator("#queue-status")).to_have_text("Nothing found for “$ne (.*”.", timeout=WAIT_MS)
    assert pages.errors == []


async def test_the_guests_details_sit_beside_the_conversation(pages, live_server, agent, http, agent_session):
    guest = http()
    async with guest.post("/api/guest/tickets", json={"name": "Maria", "email": "maria@example.com",
                                                      "message": "First", "context": CONTEXT}) as resp:
        first = (await resp.json())["ticket"]["id"]
    async with guest.post("/api/guest/tickets", json={"name": "Maria", "message": "Second",
                                                      "context": CONTEXT}) as resp:
        second = (await resp.json())["ticket"]["id"]
    await patch(agent_session, second, {"priority": "high"})
    page = await dashboard(pages, live_server, agent, f"/dashboard/tickets/{second}")
    details = page.locator("#details")
    await expect(details).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#detail-browser")).to_have_text("Firefox 128 on Windows")
    await expect(page.locator("#detail-page a")).to_have_text("Checkout · Shop")
    await expect(page.locator("#detail-page a")).to_have_attribute("href", CONTEXT["page_url"])
    await expect(page.locator("#detail-time")).to_contain_text("(America/Argentina/Salta)")
    await expect(page.locator("#detail-locale")).to_have_text("es-AR")
    await expect(page.locator("#related li")).to_have_count(1, timeout=WAIT_MS)
    await page.locator("#activity-load").click()
    await expect(page.locator("#activity li.activity__item")).to_have_count(2, timeout=WAIT_MS)
    await expect(page.locator("#activity")).to_contain_text("Alan Agent changed")
    await expect(page.locator("#activity")).to_contain_text("priority: normal → high")
    await page.locator("#related a").click()
    await expect(page).to_have_url(f"{live_server.url}/dashboard/tickets/{first}")
    await expect(page.locator("#detail-email")).to_have_text("maria@example.com", timeout=WAIT_MS)
    assert pages.errors == []


async def test_a_slash_opens_canned_replies_and_inserts_one_with_its_placeholders_filled(
        pages, live_server, agent, agent_session, start_chat):
    ann = await start_chat(name="Ann Lee", message="Refund?")
    for body in ({"shortcut": "refund", "title": "Refund approved",
                  "body": "Hi {{guest.first_name}}, your refund is approved. {{agent.name}}"},
                 {"shortcut": "hello", "title": "Greeting", "body": "Hello!"}):
        async with agent_session.post("/api/canned-replies", json=body) as resp:
            assert resp.status == 201
    page = await dashboard(pages, live_server, agent)
    await open_ticket(page, ann.ticket_id)
    reply = page.locator("#reply-input")
    await reply.press_sequentially("/ref")
    options = page.locator("#canned-options [role=option]")
    await expect(options).to_have_count(1, timeout=WAIT_MS)
    await expect(options).to_contain_text("/refund")
    await reply.press("Enter")  # inserts, does not send
    await expect(reply).to_have_value("Hi Ann, your refund is approved. Alan Agent")
    await expect(page.locator("#canned-menu")).to_be_hidden()
    await expect(page.locator('#messages [data-role="agent"]')).to_have_count(0)
    await reply.fill("")
    await reply.press_sequentially("/")
    await expect(options).to_have_count(2)
    await reply.press("ArrowDown")
    await expect(options.nth(1)).to_have_attribute("aria-selected", "true")
    await reply.press("Escape")
    await expect(page.locator("#canned-menu")).to_be_hidden()
    await expect(reply).to_have_value("/")
    assert pages.errors == []


async def test_tags_are_added_with_suggestions_shown_in_rows_and_filter_the_queue(
        pages, live_server, agent, agent_session, start_chat):
    ann = await start_chat(name="Ann", message="Refund?")
    bob = await start_chat(name="Bob", message="Late")
    await patch(agent_session, bob.ticket_id, {"add_tags": ["shipping"]})
    page = await dashboard(pages, live_server, agent)
    await open_ticket(page, ann.ticket_id)
    await expect(page.locator("#tag-suggestions option")).to_have_count(1, timeout=WAIT_MS)
    await page.locator("#tag-input").fill("Late Delivery")
    await page.locator("#tag-input").press("Enter")
    await expect(page.locator("#tag-list")).to_contain_text("late-delivery", timeout=WAIT_MS)
    await expect(row(page, ann.ticket_id).locator(".ticket-row__tags")).to_have_text("late-delivery")
    await expect(page.locator("#messages")).to_contain_text("Alan Agent added late-delivery (tags)")
    await page.locator("#tag-filter").select_option("shipping")
    await expect(page.locator("#queue [data-ticket-id]")).to_have_count(1, timeout=WAIT_MS)
    await expect(row(page, bob.ticket_id)).to_be_visible()
    await page.locator("#tag-filter").select_option("")
    await page.get_by_role("button", name="Remove tag late-delivery").click()
    await expect(page.locator("#tag-list li")).to_have_count(0, timeout=WAIT_MS)
    await page.locator("#tag-input").fill("no spaces $allowed")
    await page.locator("#tag-input").press("Enter")
    await expect(page.locator("#conversation-error")).to_contain_text("letters, digits")
    assert pages.errors == []


async def test_agents_see_who_else_is_in_the_ticket_and_who_is_writing(
        pages, live_server, agent, start_chat):
    bea = await make_account(live_server, role="agent", name="Bea Agent", email="bea@example.com")
    ann = await start_chat(name="Ann", message="Hello?")
    alan_page = await dashboard(pages, live_server, agent)
    bea_page = await dashboard(pages, live_server, bea)
    await open_ticket(alan_page, ann.ticket_id)
    await expect(alan_page.locator("#presence")).to_be_hidden()
    await open_ticket(bea_page, ann.ticket_id)
    await expect(alan_page.locator("#presence")).to_have_text("Also here: Bea Agent.", timeout=WAIT_MS)
    await expect(bea_page.locator("#presence")).to_have_text("Also here: Alan Agent.", timeout=WAIT_MS)
    await bea_page.locator("#reply-input").press_sequentially("Hi Ann", delay=20)
    await expect(alan_page.locator("#presence")).to_have_text(
        "Also here: Bea Agent. Bea Agent is typing a reply…", timeout=WAIT_MS)
    await bea_page.locator("#reply-input").fill("")
    await bea_page.locator("#note-toggle").click()
    await bea_page.locator("#reply-input").press_sequentially("Check this", delay=20)
    await expect(alan_page.locator("#presence")).to_have_text(
        "Also here: Bea Agent. Bea Agent is writing a note…", timeout=WAIT_MS)
    await bea_page.close()
    await expect(alan_page.locator("#presence")).to_be_hidden(timeout=WAIT_MS)
    assert pages.errors == []


NOTIFICATIONS_STUB = """
window.__shown = [];
window.Notification = class {
  static permission = "default";
  static async requestPermission() { window.Notification.permission = "granted"; return "granted"; }
  constructor(title, options) { window.__shown.push({ title, body: options?.body }); }
  close() {}
};
window.AudioContext = class {
  constructor() { this.currentTime = 0; this.destination = {}; window.__beeps = (window.__beeps ?? 0) + 1; }
  createOscillator() { return { frequency: {}, connect: (n) => n, start() {}, stop() {} }; }
  createGain() { return { gain: { setValueAtTime() {}, exponentialRampToValueAtTime() {} }, connect: (n) => n }; }
};
Document.prototype.hasFocus = () => false;
"""


async def test_a_new_chat_alerts_and_unread_counts_show_in_the_queue_and_title(
        pages, live_server, agent, start_chat, connect):
    page = await pages.open()
    await page.add_init_script(NOTIFICATIONS_STUB)
    await sign_in_to(page, live_server.url, agent, "/dashboard")
    await expect(page.locator("html")).to_have_attribute("data-connection", "connected", timeout=WAIT_MS)
    await page.locator("#alerts summary").click()
    await page.locator("#alert-sound").check()
    await page.locator("#alert-desktop").click()  # the browser asks on this click only
    await expect(page.locator("#alert-desktop-state")).to_have_text("Desktop notifications are on.")
    await page.locator("#alerts summary").click()

    guest = await start_chat(name="Nina", message="Is anyone there?")
    await expect(row(page, guest.ticket_id).locator(".unread-count")).to_have_text("1 new message",
                                                                                  timeout=WAIT_MS)
    shown = await page.evaluate("() => window.__shown")
    assert shown == [{"title": "New chat from Nina", "body": "Is anyone there?"}]
    assert await page.evaluate("() => window.__beeps") >= 1
    socket = await connect(guest.cookie)
    await socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "Hello??", "client_msg_id": "g2"})
    await expect(row(page, guest.ticket_id).locator(".unread-count")).to_have_text("2 new messages",
                                                                                  timeout=WAIT_MS)
    await expect(page).to_have_title("(2) Dashboard · Support")
    await open_ticket(page, guest.ticket_id)
    await expect(row(page, guest.ticket_id).locator(".unread-count")).to_be_hidden()
    await expect(page).to_have_title("Dashboard · Support")
    assert pages.errors == []


async def test_keyboard_shortcuts_move_reply_note_search_help_and_send(pages, live_server, agent, start_chat):
    ann = await start_chat(name="Ann", message="One")
    bob = await start_chat(name="Bob", message="Two")
    page = await dashboard(pages, live_server, agent)
    await expect(row(page, bob.ticket_id)).to_be_visible(timeout=WAIT_MS)
    title = page.locator("#conversation-title")
    await page.keyboard.press("j")
    await expect(title).to_have_text("Bob", timeout=WAIT_MS)
    await page.keyboard.press("j")
    await expect(title).to_have_text("Ann", timeout=WAIT_MS)
    await page.keyboard.press("k")
    await expect(title).to_have_text("Bob", timeout=WAIT_MS)
    await expect(page.locator("#reply-input")).to_be_enabled(timeout=WAIT_MS)
    await page.keyboard.press("n")
    await expect(page.locator("#reply-input")).to_be_focused()
    await expect(page.locator("#note-toggle")).to_have_attribute("aria-pressed", "true")
    await page.keyboard.press("Escape")
    await page.keyboard.press("r")
    await expect(page.locator("#note-toggle")).to_have_attribute("aria-pressed", "false")
    await page.keyboard.type("Sent with control and enter")
    await page.keyboard.press("Control+Enter")
    await expect(messages_from(page, "agent")).to_have_text(["Sent with control and enter"], timeout=WAIT_MS)
    await page.keyboard.press("Escape")
    await page.keyboard.press("?")
    await expect(page.locator("#shortcuts")).to_be_visible()
    await expect(page.locator("#shortcuts")).to_contain_text("Next / previous ticket")
    await page.keyboard.press("Escape")
    await expect(page.locator("#shortcuts")).to_be_hidden()
    await page.keyboard.press("e")
    await expect(page.locator("#undo-bar")).to_be_visible()
    await page.locator("#undo-close").click()
    assert ann.ticket_id != bob.ticket_id
    assert pages.errors == []


async def test_closing_offers_five_seconds_to_undo_and_an_agent_reopens_a_closed_ticket(
        pages, live_server, agent, guest):
    page = await dashboard(pages, live_server, agent)
    await open_ticket(page, guest.ticket_id)
    await page.locator("#close-ticket").click()
    await expect(page.locator("#undo-bar")).to_contain_text("Closing this conversation in")
    await page.locator("#undo-close").click()
    await expect(page.locator("#undo-bar")).to_be_hidden()
    await page.wait_for_timeout(5500)  # past the five seconds: nothing was sent
    ticket = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(guest.ticket_id)})
    assert ticket["status"] == "open"
    assert await live_server.ctx.db.audit_events.count_documents({"action": "ticket.close"}) == 0

    await page.locator("#close-ticket").click()
    await expect(page.locator("#closed-bar")).to_be_visible(timeout=3 * WAIT_MS)
    await expect(page.locator("#conversation-status")).to_have_text("Closed")
    await page.get_by_role("button", name="Reopen").click()
    await expect(page.locator("#conversation-status")).to_have_text("Open", timeout=WAIT_MS)
    await expect(page.locator("#reply-input")).to_be_enabled()
    await expect(page.locator("#messages")).to_contain_text("Alan Agent reopened the conversation")
    assert pages.errors == []


async def test_the_guest_reads_who_joined_in_plain_words_and_no_triage(pages, live_server, agent, guest,
                                                                       agent_session):
    widget, _ = await open_widget_as(pages, live_server, guest)
    page = await dashboard(pages, live_server, agent)
    await open_ticket(page, guest.ticket_id)
    await page.locator("#ticket-status").select_option("pending")
    await page.locator("#ticket-priority").select_option("urgent")
    await page.locator("#reply-input").fill("Let me check.")
    await page.locator("#reply-input").press("Enter")
    await expect(messages_from(widget, "agent")).to_have_text(["Let me check."], timeout=WAIT_MS)
    lines = widget.locator('#messages [data-kind="system"]')
    await expect(lines).to_have_count(1)
    await expect(lines).to_contain_text("Alan Agent from support joined")
    body = await widget.locator("#messages").inner_text()
    assert "pending" not in body and "priority" not in body and "joined the conversation" not in body
    assert pages.errors == []


@pytest.fixture
def settings(settings, request):
    if "round_robin" in request.node.name:
        return dataclasses.replace(settings, assignment="round_robin")
    return settings


async def test_with_round_robin_an_agent_goes_away_and_back_from_the_dashboard(
        pages, live_server, agent, start_chat, http):
    page = await dashboard(pages, live_server, agent)
    toggle = page.get_by_role("switch")
    await expect(toggle).to_have_attribute("aria-checked", "true")
    for size in (PHONE, DESKTOP):  # the switch fits the queue's head at both widths
        await page.set_viewport_size(size["viewport"])
        assert await axe_violations(page) == []
        await screenshot(page, f"dashboard-availability-{size['viewport']['width']}")
        head = await page.locator(".queue-pane__head").bounding_box()
        switch = await toggle.bounding_box()
        assert switch["x"] + switch["width"] <= head["x"] + head["width"]
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-checked", "false")
    await expect(toggle).to_contain_text("Away")
    waiting = await start_chat(name="Waits", message="Hello")
    assert (await live_server.ctx.db.tickets.find_one({"_id": ObjectId(waiting.ticket_id)}))["assignee_id"] is None
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-checked", "true")
    await page.locator("#assignee-filter").select_option("me")
    await expect(row(page, waiting.ticket_id)).to_be_visible(timeout=WAIT_MS)
    await expect(page.locator("#bell-count")).to_have_text("1", timeout=WAIT_MS)
    session = http()
    await login(session, agent)
    assert pages.errors == []
