"""End to end in a real browser: a guest in the widget and an agent on the dashboard,
each in their own browser context, talking through the live server."""

from __future__ import annotations

import re

from playwright.async_api import Page, expect

from tests.browser.conftest import sign_in_to

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

    # The agent closes the ticket; the guest can no longer write.
    await agent.locator("#close-ticket").click()
    await expect(guest.locator("#closed-note")).to_be_visible(timeout=WAIT_MS)
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
    await start_chat(guest, live_server.url, name="Lin Offline", message="Are you there?")

    row = agent.locator("#queue [data-ticket-id]").filter(has_text="Lin Offline")
    await row.click()
    await expect(agent.locator("#reply-input")).to_be_enabled(timeout=WAIT_MS)
    await agent.locator("#reply-input").fill("Yes, hello!")
    await agent.locator("#reply-input").press("Enter")
    await expect(messages_from(guest, "agent")).to_have_text(["Yes, hello!"], timeout=WAIT_MS)

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

    page = await pages.open()
    await page.context.add_cookies(
        [
            {"name": c.key, "value": c.value, "url": live_server.url}
            for c in guest.session.cookie_jar
        ]
    )
    await page.goto(f"{live_server.url}/widget")
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
        await scroller.evaluate("el => { el.scrollTop = 0; }")
        before = await scroller.evaluate(offset_of, oldest_id)
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
    assert pages.errors == []


async def test_dashboard_catches_up_after_a_lost_connection_and_marks_new_activity(
    pages, live_server, demo_agent
):
    agent = await pages.open()
    link = CuttableLink()
    await link.attach(agent)
    await sign_in(agent, live_server.url, demo_agent)

    ann = await pages.open()
    await start_chat(ann, live_server.url, name="Ann", message="Question one.")
    ann_row = agent.locator("#queue [data-ticket-id]").filter(has_text="Ann")
    await ann_row.click()
    await expect(messages_from(agent, "guest")).to_have_text(["Question one."], timeout=WAIT_MS)
    await expect(ann_row).to_have_attribute("aria-current", "true")

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
