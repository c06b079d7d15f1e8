"""End to end in a real browser: a guest in the widget and an agent on the dashboard,
each in their own browser context, talking through the live server."""

from __future__ import annotations

from playwright.async_api import Page, expect

WAIT_MS = 5000


async def sign_in(page: Page, server_url: str, account: dict) -> None:
    await page.goto(f"{server_url}/login?next=/dashboard")
    await page.get_by_label("E-mail").fill(account["email"])
    await page.get_by_label("Password").fill(account["password"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{server_url}/dashboard", timeout=WAIT_MS)
    await expect(page.locator("#agent-name")).to_have_text(account["name"])
    # The queue is fetched once the socket is in the agents' room: from here on, new
    # tickets can only reach this page live.
    await expect(page.locator("html")).to_have_attribute("data-connection", "connected", timeout=WAIT_MS)
    await expect(page.locator("#queue-status")).to_have_text("No open tickets.", timeout=WAIT_MS)


async def start_chat(page: Page, server_url: str, *, name: str, message: str) -> None:
    await page.goto(f"{server_url}/widget")
    await expect(page.locator("#start-form")).to_be_visible(timeout=WAIT_MS)
    await page.get_by_label("Your name").fill(name)
    await page.get_by_label("How can we help?").fill(message)
    await page.get_by_role("button", name="Start chat").click()
    await expect(page.locator("#message-input")).to_be_enabled(timeout=WAIT_MS)


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
    await start_chat(guest, live_server.url, name="Grace Guest", message="My parcel has not arrived.")
    await expect(messages_from(guest, "guest")).to_have_text(["My parcel has not arrived."])

    # The new ticket shows up in the agent's queue without a reload.
    row = agent.locator("#queue [data-ticket-id]").filter(has_text="Grace Guest")
    await expect(row).to_have_count(1, timeout=WAIT_MS)
    await expect(row).to_contain_text("My parcel has not arrived.")
    await expect(row).to_contain_text("Open")

    await row.click()
    await expect(messages_from(agent, "guest")).to_have_text(["My parcel has not arrived."], timeout=WAIT_MS)
    await expect(agent.locator("#reply-input")).to_be_enabled(timeout=WAIT_MS)

    # Agent to guest (Enter sends).
    await agent.locator("#reply-input").fill("Sorry about that! Let me check.")
    await agent.locator("#reply-input").press("Enter")
    await expect(messages_from(guest, "agent")).to_have_text(
        ["Sorry about that! Let me check."], timeout=WAIT_MS
    )
    await expect(message_items(guest, "agent")).to_contain_text(demo_agent["name"])
    # Each side has the message once, confirmed by the server (it has an id).
    await expect(agent.locator("#messages [data-id]").filter(has_text="Let me check")).to_have_count(1)

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
    await expect(guest.locator("#messages [data-id]").filter(has_text="order #1234")).to_have_count(1)

    # The agent closes the ticket; the guest can no longer write.
    await agent.locator("#close-ticket").click()
    await expect(guest.locator("#closed-note")).to_be_visible(timeout=WAIT_MS)
    await expect(guest.locator("#closed-note")).to_have_text("This conversation has been closed.")
    await expect(guest.locator("#message-input")).to_be_disabled()
    await expect(guest.locator("#send-button")).to_be_disabled()
    await expect(agent.locator("#reply-input")).to_be_disabled(timeout=WAIT_MS)
    await expect(agent.locator("#close-ticket")).to_be_disabled()
    # With the "open" filter, the closed ticket leaves the queue.
    await expect(row).to_have_count(0, timeout=WAIT_MS)

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
