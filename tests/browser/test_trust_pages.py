"""In Chromium: message bodies are text, never HTML; internal notes from the dashboard
stay with agents; the admin pages work under the Content-Security-Policy."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.test_chat_flow import WAIT_MS, messages_from, sign_in, start_chat

XSS = "<img src=x onerror=alert(1)>"


async def test_a_message_body_with_html_shows_as_text_and_runs_nothing(pages, live_server, demo_agent):
    agent = await pages.open()
    await sign_in(agent, live_server.url, demo_agent)
    guest = await pages.open()
    await start_chat(guest, live_server.url, name="Mallory", message=XSS)

    await expect(messages_from(guest, "guest")).to_have_text([XSS], timeout=WAIT_MS)
    row = agent.locator("#queue [data-ticket-id]").filter(has_text="Mallory")
    await row.click()
    await expect(messages_from(agent, "guest")).to_have_text([XSS], timeout=WAIT_MS)
    await agent.locator("#reply-input").fill(XSS)
    await agent.locator("#reply-input").press("Enter")
    await expect(messages_from(guest, "agent")).to_have_text([XSS], timeout=WAIT_MS)

    for page in (guest, agent):
        assert await page.locator("#messages img").count() == 0
    assert await agent.locator("#queue img").count() == 0
    assert pages.dialogs == [] and pages.errors == []


async def test_a_note_from_the_dashboard_reaches_agents_only(pages, live_server, demo_agent):
    agent = await pages.open()
    await sign_in(agent, live_server.url, demo_agent)
    guest = await pages.open()
    await start_chat(guest, live_server.url, name="Nora", message="Hello there")
    await agent.locator("#queue [data-ticket-id]").filter(has_text="Nora").click()
    await expect(agent.locator("#note-toggle")).to_be_enabled(timeout=WAIT_MS)

    await agent.locator("#note-toggle").click()
    await expect(agent.locator("#note-toggle")).to_have_attribute("aria-pressed", "true")
    await agent.locator("#reply-input").fill("Internal: check the warehouse")
    await agent.locator("#reply-input").press("Enter")
    note = agent.locator('#messages [data-kind="note"][data-id]')
    await expect(note).to_have_count(1, timeout=WAIT_MS)
    await expect(note).to_contain_text("Internal note")
    assert "msg--note" in (await note.get_attribute("class"))

    # a note is a one-off: the box is back to replying
    await expect(agent.locator("#note-toggle")).to_have_attribute("aria-pressed", "false")
    await agent.locator("#reply-input").fill("We are on it")
    await agent.locator("#reply-input").press("Enter")
    await expect(messages_from(guest, "agent")).to_have_text(["We are on it"], timeout=WAIT_MS)
    assert await guest.get_by_text("warehouse").count() == 0
    assert await guest.locator('[data-kind="note"]').count() == 0
    assert pages.errors == []


async def test_admin_pages_work_under_the_csp(pages, live_server, admin, agent):
    page = await pages.open()
    csp_violations: list[str] = []
    page.on("console", lambda msg: csp_violations.append(msg.text) if "Content Security Policy" in msg.text else None)
    await sign_in(page, live_server.url, admin)
    await expect(page.get_by_role("link", name="Accounts")).to_be_visible()

    await page.goto(f"{live_server.url}/admin/users")
    await expect(page.locator(f'#users tr[data-user-id="{agent["id"]}"]')).to_have_count(1, timeout=WAIT_MS)
    await page.get_by_role("button", name="Invite someone").click()
    invite = page.get_by_role("dialog", name="Invite someone")
    await invite.get_by_label("Name", exact=True).fill("Cleo Created")
    await invite.get_by_label("E-mail").fill("cleo@example.com")
    await invite.get_by_role("button", name="Send invitation").click()
    await expect(page.locator("#users")).to_contain_text("cleo@example.com", timeout=WAIT_MS)
    await expect(page.locator("#create-ok")).to_have_text("Invitation sent to cleo@example.com.")
    agent_row = page.locator(f'#users tr[data-user-id="{agent["id"]}"]')
    await agent_row.get_by_role("button", name="Deactivate").click()
    await page.get_by_role("dialog").get_by_role("button", name=f"Deactivate {agent['name']}").click()
    await expect(agent_row).to_contain_text("Deactivated", timeout=WAIT_MS)

    await page.goto(f"{live_server.url}/admin/audit")
    await expect(page.locator("#events")).to_contain_text("Deactivated an account", timeout=WAIT_MS)
    await page.get_by_label("Action").select_option(label="Created an account")
    await expect(page.locator("#events tr")).to_have_count(1, timeout=WAIT_MS)
    await expect(page.locator("#events")).to_contain_text("Cleo Created")
    assert "action=user.create" in await page.locator("#csv-link").get_attribute("href")
    assert pages.errors == [] and csp_violations == []
