
"""End to end in a real browser: a guest in the widget and an agent on the dashboard,
each in their own browser context, talking through the live server."""

from __future__ import annotations

import asyncio
import json
import re
import time
from datetime import UTC, datetime, timedelta

import pytest
from bson import ObjectId
from playwright.async_api import Page, expect
from pymongo.errors import NetworkTimeout

from app.keys import sio_key
from app.services.conversations import payloads
from app.store import tickets as stored_tickets
from tests.browser.conftest import sign_in_to
from tests.conftest import cookie_header, embedded_only
from tests.store.interleave import gate

WAIT_MS = 5000


async def sign_in(page: Page, server_url: str, account: dict) -> None:
    await sign_in_to(page, server_url, account, "/dashboard")
    await expect(page.locator("#agent-name")).to_have_text(account["name"])
    # The queue is fetched once the socket is in the agents' room: from here on, new
    # tickets can only reach this page live.
    await expect(page.locator("html")).to_have_attribute(
        "data-connection", "connected", timeout=WAIT_MS
    )
    await expect(page.locator("#queue-status")).to_have_text("No open tickets.", timeout=WAIT_MS)


async def start_chat(page: Page, server_url: str, *, name: str, message: str) -> None:
    await page.goto(f"{server_url}/widget")
    await expect(page.locator("#start-form")).to_be_visible(timeout=WAIT_MS)
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("How can we help?").fill(message)
    await page.get_by_role("button", name="Start chat").click()
    await expect(page.locator("#message-input")).to_be_enabled(timeout=WAIT_MS)


class CuttableLink:
    """A page's network that the test can take down and bring back: the browser goes
    offline (new connections fail) and its open Socket.IO WebSocket, routed through the
    test, is cut on both ends."""

    def __init__(self) -> None:
        self.page: Page | None = None
        self.routes: list = []

    async def attach(self, page: Page) -> None:
        self.page = page
        await page.route_web_socket(re.compile(r"/socket\.io/"), self._route)

    async def _route(self, ws) -> None:
        self.routes.append((ws, ws.connect_to_server()))

    async def cut(self) -> None:
        await self.page.context.set_offline(True)
        for ws, server in self.routes:
            await server.close()
            await ws.close()
        self.routes.clear()

    async def restore(self) -> None:
        await self.page.context.set_offline(False)


class SentEvents:
    """The Socket.IO events a page sends, read off its WebSocket frames as (name, payload).
    Attach before the page connects."""

    FRAME = re.compile(r"^42\d*(\[.*\])$", re.S)  # an EVENT packet, with or without an ack id

    def __init__(self, page: Page) -> None:
        self.events: list[tuple[str, dict | None]] = []
        page.on("websocket", lambda ws: ws.on("framesent", self._frame))

    def _frame(self, payload) -> None:
        match = self.FRAME.match(payload) if isinstance(payload, str) else None
        if match:
            name, *args = json.loads(match.group(1))
            self.events.append((name, args[0] if args else None))

    def history(self) -> list[dict]:
        """The `messages:history` requests sent so far."""
        return [payload for name, payload in self.events if name == "messages:history"]


async def eventually(check, timeout: float = WAIT_MS / 1000) -> None:
    """Wait until `check()` is true (polling), or fail."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


async def open_widget_as(pages, live_server, guest) -> tuple[Page, SentEvents]:
    """The widget in a browser holding the cookie of a guest made over HTTP (fixture
    `guest` / `start_chat`), showing that guest's conversation."""
    page = await pages.open()
    sent = SentEvents(page)
    await page.context.add_cookies(
        [
            {"name": c.key, "value": c.value, "url": live_server.url}
            for c in guest.session.cookie_jar
        ]
    )
    await page.goto(f"{live_server.url}/widget")
    await expect(page.locator("#message-input")).to_be_enabled(timeout=WAIT_MS)
    return page, sent


async def shown_numbers(page: Page) -> list[int]:
    """The numbers (`seq`) of the stored messages in the list, top to bottom."""
    return await page.locator("#messages [data-seq]").evaluate_all(
        "els => els.map(e => Number(e.dataset.seq))"
    )


def messages_from(page: Page, role: str):
    """The bodies of the (non-system, non-note) messages sent by `role`, in order."""
    return page.locator(f'#messages [data-kind="message"][data-role="{role}"] .msg__bubble')


def message_items(page: Page, role: str):
    return page.locator(f'#messages [data-kind="message"][data-role="{role}"]')


async def test_guest_and_agent_chat_live_until_the_agent_closes_the_ticket(
    pages, live_server, demo_agent
):
    agent = await pages.open()
    await sign_in(agent, live_server.url, demo_agent)

    guest = await pages.open()
    await start_chat(
        guest, live_server.url, name="Grace Guest", message="My parcel has not arrived."
    )
    await expect(messages_from(guest, "guest")).to_have_text(["My parcel has not arrived."])

    # The new ticket shows up in the agent's queue without a reload.
    row = agent.locator("#queue [data-ticket-id]").filter(has_text="Grace Guest")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(row).to_contain_text("My parcel has not arrived.")
    await expect(row).to_contain_text("Open")

    await row.click()
    await expect(messages_from(agent, "guest")).to_have_text(
        ["My parcel has not arrived."], timeout=WAIT_MS
    )
    await expect(agent.locator("#reply-input")).to_be_enabled(timeout=WAIT_MS)

    # Agent to guest (Enter sends).
    await agent.locator("#reply-input").fill("Sorry about that! Let me check.")
    await agent.locator("#reply-input").press("Enter")
    await expect(messages_from(guest, "agent")).to_have_text(
        ["Sorry about that! Let me check."], timeout=WAIT_MS
    )
    await expect(message_items(guest, "agent")).to_contain_text(demo_agent["name"])
    # Each side has the message once, confirmed by the server (it has an id).
    await expect(
        agent.locator("#messages [data-id]").filter(has_text="Let me check")
    ).to_have_count(1)

    # The guest's typing reaches the agent.
    await guest.locator("#message-input").press_sequentially("It was", delay=20)
    await expect(agent.locator("#typing-indicator")).to_have_text(
        "Grace Guest is typing…", timeout=WAIT_MS
    )

    # Guest to agent (the Send button).
    await guest.locator("#message-input").fill("It was order #1234.")
    await guest.locator("#send-button").click()
    await expect(messages_from(agent, "guest")).to_have_text(
        ["My parcel has not arrived.", "It was order #1234."], timeout=WAIT_MS
    )
    await expect(agent.locator("#typing-indicator")).to_be_hidden(timeout=WAIT_MS)
    await expect(messages_from(guest, "guest")).to_have_text(
        ["My parcel has not arrived.", "It was order #1234."]
    )
    await expect(guest.locator("#messages [data-id]").filter(has_text="order #1234")).to_have_count(
        1
    )

    # The agent closes the ticket (after the five seconds to undo it); the guest can no
    # longer write.
    await agent.locator("#close-ticket").click()
    await expect(agent.locator("#undo-bar")).to_be_visible()
    await expect(guest.locator("#closed-note")).to_be_visible(timeout=3 * WAIT_MS)
    await expect(guest.locator("#closed-note")).to_have_text("This conversation has been closed.")
    await expect(guest.locator("#message-input")).to_be_disabled()
    await expect(guest.locator("#send-button")).to_be_disabled()
    await expect(agent.locator("#reply-input")).to_be_disabled(timeout=WAIT_MS)
    await expect(agent.locator("#close-ticket")).to_be_hidden()
    await expect(agent.locator("#conversation-status")).to_have_text("Closed")
    # With the "open" filter, the closed ticket leaves the queue.
    await expect(row).to_have_count(0, timeout=WAIT_MS)

    # The guest starts over: a new ticket, their name remembered, the old one not shown.
    await guest.get_by_role("button", name="Start a new conversation").click()
    await expect(guest.get_by_label("Your name")).to_have_value("Grace Guest")
    await guest.get_by_label("How can we help?").fill("One more question.")
    await guest.get_by_role("button", name="Start chat").click()
    await expect(guest.locator("#message-input")).to_be_enabled(timeout=WAIT_MS)
    await expect(guest.locator("#closed-note")).to_be_hidden()
    await expect(messages_from(guest, "guest")).to_have_text(["One more question."])
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(row).to_contain_text("One more question.")

    assert pages.errors == []
    assert pages.dialogs == []


async def test_markup_in_a_message_is_shown_as_text_and_never_runs(pages, live_server, demo_agent):
    payload = "<img src=x onerror=alert(1)>"
    agent = await pages.open()
    await sign_in(agent, live_server.url, demo_agent)

    guest = await pages.open()
    await start_chat(guest, live_server.url, name="<b>Eve</b>", message=payload)
    await guest.locator("#message-input").fill(f"again: {payload}")
    await guest.locator("#message-input").press("Enter")
    await expect(messages_from(guest, "guest")).to_have_text([payload, f"again: {payload}"])
    await expect(guest.locator("#messages [data-id]")).to_have_count(2, timeout=WAIT_MS)

    row = agent.locator("#queue [data-ticket-id]").filter(has_text="<b>Eve</b>")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await row.click()
    await expect(messages_from(agent, "guest")).to_have_text(
        [payload, f"again: {payload}"], timeout=WAIT_MS
    )
    await expect(agent.locator("#conversation-title")).to_have_text("<b>Eve</b>")

    for page in (guest, agent):
        await expect(page.locator("#messages img")).to_have_count(0)
        await expect(page.locator("#queue b, #messages b, #conversation-title b")).to_have_count(0)
    assert pages.dialogs == []
    assert pages.errors == []


async def test_guest_catches_up_after_a_lost_connection_without_gaps_or_duplicates(
    pages, live_server, demo_agent
):
    agent = await pages.open()
    await sign_in(agent, live_server.url, demo_agent)

    guest = await pages.open()
    link = CuttableLink()
    await link.attach(guest)
    sent = SentEvents(guest)
    await start_chat(guest, live_server.url, name="Lin Offline", message="Are you there?")

    row = agent.locator("#queue [data-ticket-id]").filter(has_text="Lin Offline")
    await row.click()
    await expect(agent.locator("#reply-input")).to_be_enabled(timeout=WAIT_MS)
    await agent.locator("#reply-input").fill("Yes, hello!")
    await agent.locator("#reply-input").press("Enter")
    await expect(messages_from(guest, "agent")).to_have_text(["Yes, hello!"], timeout=WAIT_MS)
    held = (await shown_numbers(guest))[-1]
    await expect(guest.locator("#messages")).to_have_attribute("data-watermark", str(held))
    assert sent.history() == []

    # The connection drops.
    await link.cut()
    await expect(guest.locator("#connection-banner")).to_have_text("Reconnecting…", timeout=WAIT_MS)

    # While the guest is away the agent writes twice, and the guest writes once.
    for text in ("First while you were away.", "Second while you were away."):
        await agent.locator("#reply-input").fill(text)
        await agent.locator("#reply-input").press("Enter")
        await expect(agent.locator("#messages [data-id]").filter(has_text=text)).to_have_count(1)
    await guest.locator("#message-input").fill("Sent while offline.")
    await guest.locator("#message-input").press("Enter")
    pending = guest.locator('#messages [data-state="waiting"]')
    await expect(pending).to_contain_text("Sent while offline.")

    # Back online: the widget rejoins, catches up after its newest message, and resends.
    await link.restore()
    await expect(guest.locator("#connection-banner")).to_be_hidden(timeout=3 * WAIT_MS)
    await expect(messages_from(guest, "agent")).to_have_text(
        ["Yes, hello!", "First while you were away.", "Second while you were away."],
        timeout=WAIT_MS,
    )
    await expect(messages_from(agent, "guest")).to_have_text(
        ["Are you there?", "Sent while offline."], timeout=WAIT_MS
    )
    await expect(messages_from(guest, "guest")).to_have_text(
        ["Are you there?", "Sent while offline."]
    )
    await expect(guest.locator("#messages .msg--pending, #messages .msg--failed")).to_have_count(0)
    await expect(guest.locator("#messages [data-state]")).to_have_count(0)
    ids = await guest.locator("#messages [data-id]").evaluate_all(
        "els => els.map(e => e.dataset.id)"
    )
    assert len(ids) == len(set(ids))
    # It asked for what came after the last number it held, and now holds everything.
    assert [request["after"] for request in sent.history()] == [held]
    numbers = await shown_numbers(guest)
    assert numbers == list(range(1, len(numbers) + 1))
    await expect(guest.locator("#messages")).to_have_attribute("data-watermark", str(numbers[-1]))
    assert pages.errors == []


async def test_older_messages_load_when_scrolling_to_the_top(
    pages, live_server, demo_agent, guest, guest_socket
):
    sent = [f"Message number {n}" for n in range(1, 71)]
    for n, body in enumerate(sent):
        answer = await guest_socket.call(
            "message:send",
            {"ticket_id": guest.ticket_id, "body": body, "client_msg_id": f"seed-{n}"},
        )
        assert answer["ok"], answer
    everything = [guest.message["body"], *sent]

    page, requests = await open_widget_as(pages, live_server, guest)
    bubbles = messages_from(page, "guest")
    await expect(bubbles.last).to_have_text("Message number 70", timeout=WAIT_MS)
    first_page = await bubbles.count()
    assert first_page < len(everything)

    scroller = page.locator("#message-scroller")
    # Where a message's text sits in the scroller's visible box (0 = its top edge). The text,
    # not the row: the row's sender line folds away once same-sender messages land above it.
    offset_of = """(el, id) => el.querySelector(`[data-id="${id}"] .msg__bubble`).getBoundingClientRect().top
                   - el.getBoundingClientRect().top"""
    for _ in range(10):
        shown = await bubbles.count()
        if shown == len(everything):
            break
        oldest_id = await page.locator("#messages [data-id]").first.get_attribute("data-id")
        # Scroll and measure in one synchronous step: the page the scroll asks for cannot
        # land between the two (under load it did, and the test measured after the insert).
        before = await scroller.evaluate(
            f"(el, id) => {{ el.scrollTop = 0; return ({offset_of})(el, id); }}", oldest_id)
        await expect(bubbles).not_to_have_count(shown, timeout=WAIT_MS)
        # The older page went in above without moving what the reader was looking at.
        after = await scroller.evaluate(offset_of, oldest_id)
        assert abs(after - before) < 2, (before, after)
    await expect(bubbles).to_have_text(everything)
    await expect(page.locator("#load-older")).to_be_hidden()
    ids = await page.locator("#messages [data-id]").evaluate_all(
        "els => els.map(e => e.dataset.id)"
    )
    assert len(ids) == len(set(ids))
    assert await shown_numbers(page) == list(range(1, len(everything) + 1))
    # Each older page was asked before the oldest number held, and nothing needed catching up.
    befores = [request["before"] for request in requests.history()]
    assert befores and all(isinstance(n, int) for n in befores), befores
    assert befores == sorted(befores, reverse=True) and befores[-1] > 1, befores
    assert all("after" not in request for request in requests.history())
    assert pages.errors == []


async def test_dashboard_catches_up_after_a_lost_connection_and_marks_new_activity(
    pages, live_server, demo_agent
):
    agent = await pages.open()
    link = CuttableLink()
    await link.attach(agent)
    sent = SentEvents(agent)
    await sign_in(agent, live_server.url, demo_agent)

    ann = await pages.open()
    await start_chat(ann, live_server.url, name="Ann", message="Question one.")
    ann_row = agent.locator("#queue [data-ticket-id]").filter(has_text="Ann")
    await ann_row.click()
    await expect(messages_from(agent, "guest")).to_have_text(["Question one."], timeout=WAIT_MS)
    await expect(ann_row).to_have_attribute("aria-current", "true")
    # Opening it tells the guest nothing: the one line is the guest's question.
    await expect(agent.locator("#messages")).to_have_attribute("data-watermark", "1")

    # Activity on a ticket that is not open marks its row.
    ben = await pages.open()
    await start_chat(ben, live_server.url, name="Ben", message="Question two.")
    ben_row = agent.locator("#queue [data-ticket-id]").filter(has_text="Ben")
    await expect(ben_row).to_have_class(re.compile(r"ticket-row--unread"), timeout=WAIT_MS)
    await expect(ann_row).not_to_have_class(re.compile(r"ticket-row--unread"))
    await expect(agent.locator("#queue [data-ticket-id]")).to_have_count(2)

    # The agent's connection drops; meanwhile Ann writes and a third guest arrives.
    await link.cut()
    await expect(agent.locator("#connection-banner")).to_be_visible(timeout=WAIT_MS)
    await ann.locator("#message-input").fill("Hello? Anyone?")
    await ann.locator("#message-input").press("Enter")
    await expect(ann.locator("#messages [data-id]").filter(has_text="Anyone?")).to_have_count(1)
    cy = await pages.open()
    await start_chat(cy, live_server.url, name="Cy", message="Question three.")

    await link.restore()
    await expect(agent.locator("#connection-banner")).to_be_hidden(timeout=3 * WAIT_MS)
    await expect(messages_from(agent, "guest")).to_have_text(
        ["Question one.", "Hello? Anyone?"], timeout=WAIT_MS
    )
    await expect(agent.locator("#messages")).to_have_attribute("data-watermark", "2")
    assert [request["after"] for request in sent.history()] == [1]
    await expect(agent.locator("#queue [data-ticket-id]").filter(has_text="Cy")).to_have_count(
        1, timeout=WAIT_MS
    )
    # Newest activity first.
    await expect(agent.locator("#queue [data-ticket-id] .ticket-row__name")).to_have_text(
        ["Cy", "Ann", "Ben"]
    )
    ids = await agent.locator("#messages [data-id]").evaluate_all(
        "els => els.map(e => e.dataset.id)"
    )
    assert len(ids) == len(set(ids))

    # Opening Ben's ticket (from the keyboard: arrows move between rows, Enter opens)
    # clears its mark; live messages keep flowing after the reconnect.
    await ann_row.focus()
    await agent.keyboard.press("ArrowDown")
    await expect(ben_row).to_be_focused()
    await agent.keyboard.press("Enter")
    await expect(ben_row).not_to_have_class(re.compile(r"ticket-row--unread"))
    await expect(messages_from(agent, "guest")).to_have_text(["Question two."], timeout=WAIT_MS)
    await ben.locator("#message-input").fill("Thanks for picking this up.")
    await ben.locator("#message-input").press("Enter")
    await expect(messages_from(agent, "guest")).to_have_text(
        ["Question two.", "Thanks for picking this up."], timeout=WAIT_MS
    )
    assert pages.errors == []


def on_insert_of(body: str):
    """Matches the database write that stores the message with this body."""
    return lambda op: (
        op.collection == "messages" and op.method == "insert_one" and op.document.get("body") == body
    )


async def first_reply(tab, guest) -> None:
    """The agent's first reply, which takes two numbers: 2 for the line telling the guest
    who joined, 3 for the reply itself. The tests below number from there."""
    answer = await tab.call("message:send", {
        "ticket_id": guest.ticket_id, "body": "Hi, I am on it.", "client_msg_id": "r-0"})
    assert answer["ok"] and answer["message"]["seq"] == 3, answer


async def test_a_message_stored_late_takes_its_place_before_a_later_one_on_the_guest_page(
    pages, live_server, guest, connect, agent_session
):
    # Two tabs of one agent (one socket's sends are handled one at a time).
    first_tab = await connect(cookie_header(agent_session))
    second_tab = await connect(cookie_header(agent_session))
    await first_reply(first_tab, guest)
    page, sent = await open_widget_as(pages, live_server, guest)
    await expect(page.locator("#messages")).to_have_attribute("data-watermark", "3")

    # The first reply's write is held in the database while the second is stored and sent.
    held = gate(live_server.ctx.db, on_insert_of("Let me look that up."))
    try:
        first = asyncio.create_task(first_tab.call("message:send", {
            "ticket_id": guest.ticket_id, "body": "Let me look that up.", "client_msg_id": "r-1",
        }, timeout=15))
        await held.wait_reached()
        answer = await second_tab.call("message:send", {
            "ticket_id": guest.ticket_id, "body": "Found it: it ships today.", "client_msg_id": "r-2",
        })
        assert answer["ok"], answer

        # The guest sees number 5 with 4 missing, asks for what follows 3, and gets 5 again:
        # number 4 is not there yet, which is a reason to wait, not to give up on it.
        await expect(messages_from(page, "agent")).to_have_text(
            ["Hi, I am on it.", "Found it: it ships today."], timeout=WAIT_MS
        )
        await eventually(lambda: len(sent.history()) == 1)
        assert sent.history()[0]["after"] == 3
        await expect(page.locator("#messages")).to_have_attribute("data-watermark", "3")
    finally:
        held.open()
    assert (await first)["ok"]

    # The late one arrives and goes in above the later one; nothing is missing.
    await expect(messages_from(page, "agent")).to_have_text(
        ["Hi, I am on it.", "Let me look that up.", "Found it: it ships today."], timeout=WAIT_MS
    )
    await expect(page.locator("#messages")).to_have_attribute("data-watermark", "5")
    assert await shown_numbers(page) == [1, 2, 3, 4, 5]
    assert len(sent.history()) == 1
    assert pages.errors == []


async def test_a_message_the_server_answers_too_late_is_shown_as_sent_once_it_is_stored(
    pages, live_server, guest
):
    # A fake clock in the page, so that its 10-second wait for an answer passes at once.
    page = await pages.open()
    await page.clock.install()
    sent = SentEvents(page)
    await page.context.add_cookies(
        [{"name": c.key, "value": c.value, "url": live_server.url} for c in guest.session.cookie_jar]
    )
    await page.goto(f"{live_server.url}/widget")
    await expect(page.locator("#message-input")).to_be_enabled(timeout=WAIT_MS)

    # The server is slow: the guest's message is held on its way into the database while
    # the page gives up waiting for the answer.
    def sends() -> list[dict]:
        return [payload for name, payload in sent.events if name == "message:send"]

    held = gate(live_server.ctx.db, on_insert_of("Has it shipped yet?"))
    try:
        await page.locator("#message-input").fill("Has it shipped yet?")
        await page.locator("#message-input").press("Enter")
        await held.wait_reached()
        await page.clock.fast_forward(11_000)
        # The page has given up on that answer: it asks again, or shows the message as not sent.
        failed = page.locator('#messages [data-state="failed"]')
        deadline = time.monotonic() + WAIT_MS / 1000
        while len(sends()) < 2 and await failed.count() == 0:
            assert time.monotonic() < deadline, "the page is still waiting for its answer"
            await asyncio.sleep(0.05)
    finally:
        held.open()

    # It was stored, and the agents have it: the guest sees it sent, in its place, once (the
    # second ask, with the same client_msg_id, was answered with the stored message).
    mine = message_items(page, "guest")
    await expect(mine.last).to_have_attribute("data-seq", "2", timeout=WAIT_MS)
    await expect(mine.last).not_to_have_attribute("data-state", "failed")
    assert [send["client_msg_id"] for send in sends()] == [sends()[0]["client_msg_id"]] * 2
    await expect(messages_from(page, "guest")).to_have_text(["Hello, my order is late.", "Has it shipped yet?"])
    assert await shown_numbers(page) == [1, 2]
    assert pages.errors == []


@pytest.mark.logs_errors  # provokes it on purpose
async def test_a_number_lost_to_a_failed_write_holds_back_nothing_and_is_asked_about_once(
    pages, live_server, guest, agent_socket
):
    embedded_only(live_server.ctx.db)  # the write is made to fail through the engine's hooks
    await first_reply(agent_socket, guest)
    page, sent = await open_widget_as(pages, live_server, guest)
    await expect(page.locator("#messages")).to_have_attribute("data-watermark", "3")

    async def lose_once(op) -> None:
        if on_insert_of("This reply is lost.")(op):
            live_server.ctx.db.client.hooks.remove(lose_once)
            raise NetworkTimeout("the write timed out")

    # The reply takes number 4, then its write fails: number 4 stays a hole forever.
    live_server.ctx.db.client.hooks.append(lose_once)
    lost = await agent_socket.call("message:send", {
        "ticket_id": guest.ticket_id, "body": "This reply is lost.", "client_msg_id": "lost",
    })
    assert lost["error"]["code"] == "internal", lost
    reply = {"ticket_id": guest.ticket_id, "body": "Sorry, here I am.", "client_msg_id": "r-3"}
    assert (await agent_socket.call("message:send", reply))["ok"]

    # The guest shows number 5 at once; the watermark passes the hole a few seconds later,
    # after one history answer without it.
    await expect(messages_from(page, "agent")).to_have_text(["Hi, I am on it.", "Sorry, here I am."],
                                                            timeout=WAIT_MS)
    await expect(page.locator("#messages")).to_have_attribute("data-watermark", "5", timeout=2 * WAIT_MS)
    assert [request["after"] for request in sent.history()] == [3]

    # Later messages are complete as they arrive, and nothing asks again.
    reply = {"ticket_id": guest.ticket_id, "body": "Your parcel ships today.", "client_msg_id": "r-4"}
    assert (await agent_socket.call("message:send", reply))["ok"]
    await expect(messages_from(page, "agent")).to_have_text(
        ["Hi, I am on it.", "Sorry, here I am.", "Your parcel ships today."], timeout=WAIT_MS
    )
    await expect(page.locator("#messages")).to_have_attribute("data-watermark", "6")
    await asyncio.sleep(1)
    assert len(sent.history()) == 1
    assert await shown_numbers(page) == [1, 2, 3, 5, 6]

    # Opened afresh, the widget finds the hole inside its first page: the server's answer
    # already says number 4 is missing, so it waits out the hole without asking.
    again, sent_again = await open_widget_as(pages, live_server, guest)
    await expect(messages_from(again, "agent")).to_have_text(
        ["Hi, I am on it.", "Sorry, here I am.", "Your parcel ships today."]
    )
    await expect(again.locator("#messages")).to_have_attribute("data-watermark", "6", timeout=2 * WAIT_MS)
    assert sent_again.history() == []
    assert pages.errors == []


async def test_an_older_ticket_state_arriving_late_changes_neither_the_queue_row_nor_the_header(
    pages, live_server, demo_agent, guest, http
):
    agent = await pages.open()
    await sign_in_to(agent, live_server.url, demo_agent, "/dashboard")
    row = agent.locator(f'#queue [data-ticket-id="{guest.ticket_id}"]')
    await row.click()
    await expect(agent.locator("#ticket-priority")).to_be_enabled(timeout=WAIT_MS)
    await agent.locator("#ticket-priority").select_option("high")
    await expect(agent.locator("#conversation-priority")).to_have_text(
        "High priority", timeout=WAIT_MS
    )
    await expect(row).to_have_class(re.compile(r"ticket-row--urgent"))

    # A state from before the change arrives late: later times, but a lower version.
    stored = await stored_tickets.get(live_server.ctx.db, ticket_id=ObjectId(guest.ticket_id))
    current = payloads.ticket(stored)
    later = payloads.iso(datetime.now(UTC) + timedelta(minutes=5))
    older = {
        **current, "version": current["version"] - 1, "priority": "normal", "status": "pending",
        "last_message_preview": "An older preview", "updated_at": later, "last_message_at": later,
    }
    await live_server.app[sio_key].emit("ticket:updated", older, to="agents")
    await live_server.app[sio_key].emit("queue:updated", {"tickets": [older]}, to="agents")
    # Then another guest writes in: once their row shows, the page has handled the older
    # state too (one socket's events arrive in order).
    async with http().post("/api/guest/tickets", json={"name": "Next Guest", "message": "Hi"}) as resp:
        assert resp.status == 201
    await expect(agent.locator("#queue [data-ticket-id]").filter(has_text="Next Guest")).to_have_count(
        1, timeout=WAIT_MS
    )

    await expect(row).to_have_count(1)
    await expect(row).to_have_class(re.compile(r"ticket-row--urgent"))
    await expect(row.locator(".badge")).to_have_text("Open")
    await expect(row.locator(".ticket-row__preview")).to_have_text(current["last_message_preview"])
    await expect(agent.locator("#conversation-priority")).to_have_text("High priority")
    await expect(agent.locator("#conversation-status")).to_have_text("Open")
    await expect(agent.locator("#ticket-priority")).to_have_value("high")
    assert pages.errors == []


async def test_messages_on_tickets_the_agent_has_not_open_move_their_rows_live(
    pages, live_server, demo_agent, http, connect
):
    """Message activity reaches the queue in batches (queue:updated): every row that moved
    shows its newest preview, the newest on top, marked unread."""
    agent = await pages.open()
    await sign_in(agent, live_server.url, demo_agent)
    guests = {}
    for name in ("Ann", "Ben"):
        session = http()
        async with session.post("/api/guest/tickets", json={"name": name, "message": f"Hi, {name}."}) as resp:
            assert resp.status == 201, await resp.text()
            ticket_id = (await resp.json())["ticket"]["id"]
        socket = await connect(cookie_header(session))
        assert (await socket.call("ticket:join", {"ticket_id": ticket_id}))["ok"]
        guests[name] = (ticket_id, socket)
    names = agent.locator("#queue [data-ticket-id] .ticket-row__name")
    await expect(names).to_have_text(["Ben", "Ann"], timeout=WAIT_MS)
    for name, texts in (("Ben", ["b1", "b2"]), ("Ann", ["a1", "a2", "a3"])):
        ticket_id, socket = guests[name]
        for text in texts:
            answer = await socket.call("message:send", {"ticket_id": ticket_id, "body": text, "client_msg_id": text})
            assert answer["ok"], answer
    ann_row = agent.locator(f'#queue [data-ticket-id="{guests["Ann"][0]}"]')
    ben_row = agent.locator(f'#queue [data-ticket-id="{guests["Ben"][0]}"]')
    await expect(ann_row.locator(".ticket-row__preview")).to_have_text("a3", timeout=WAIT_MS)
    await expect(ben_row.locator(".ticket-row__preview")).to_have_text("b2", timeout=WAIT_MS)
    await expect(names).to_have_text(["Ann", "Ben"])  # the newest activity on top
    await expect(ann_row).to_have_class(re.compile(r"ticket-row--unread"))
    assert pages.errors == []
