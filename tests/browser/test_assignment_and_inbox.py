"""In a real browser: the dashboard's status, priority and assignee controls, the queue
filters, the bell's live count, and the /notifications inbox."""

from __future__ import annotations

from playwright.async_api import expect

from tests.browser.conftest import sign_in_to
from tests.browser.test_chat_flow import WAIT_MS


async def test_assigning_from_the_dashboard_lights_the_assignees_bell_and_inbox(
        pages, live_server, agent, admin, start_chat):
    guest = await start_chat(name="Grace", message="My parcel is lost")

    admin_page = await pages.open()
    await sign_in_to(admin_page, live_server.url, admin, "/notifications")
    await expect(admin_page.locator("#inbox-status")).to_have_text("No notifications yet.", timeout=WAIT_MS)
    await expect(admin_page.locator("#bell-count")).to_be_hidden()

    page = await pages.open()
    await sign_in_to(page, live_server.url, agent, "/dashboard")
    await expect(page.locator("html")).to_have_attribute("data-connection", "connected", timeout=WAIT_MS)
    await page.locator(f'[data-ticket-id="{guest.ticket_id}"]').click()
    await expect(page.locator("#ticket-assignee")).to_be_enabled(timeout=WAIT_MS)

    await page.locator("#ticket-priority").select_option("urgent")
    await expect(page.locator("#messages")).to_contain_text("Alan Agent set priority to urgent", timeout=WAIT_MS)
    await expect(page.locator("#conversation-priority")).to_have_text("Urgent priority")
    await page.locator("#ticket-assignee").select_option(label="Ada Admin")
    await expect(page.locator("#messages")).to_contain_text("Alan Agent assigned this to Ada Admin",
                                                            timeout=WAIT_MS)

    # the admin's open inbox fills in live, and the bell counts it
    item = admin_page.locator("#inbox li").first
    await expect(item).to_contain_text("Alan Agent assigned “My parcel is lost” to you", timeout=WAIT_MS)
    await expect(admin_page.locator("#bell-count")).to_have_text("1", timeout=WAIT_MS)
    await item.get_by_role("button", name="Mark read").click()
    await expect(admin_page.locator("#bell-count")).to_be_hidden(timeout=WAIT_MS)
    await item.get_by_role("button", name="Mark unread").click()
    await expect(admin_page.locator("#bell-count")).to_have_text("1", timeout=WAIT_MS)

    # the agent's queue filters: not mine, but urgent
    await page.locator("#assignee-filter").select_option("me")
    await expect(page.locator("#queue-status")).to_have_text("No tickets match these filters.",
                                                             timeout=WAIT_MS)
    await page.locator("#assignee-filter").select_option("all")
    await page.locator("#priority-filter").select_option("urgent")
    await expect(page.locator(f'#queue [data-ticket-id="{guest.ticket_id}"]')).to_be_visible(timeout=WAIT_MS)

    # following the notification opens the conversation on the dashboard
    await item.get_by_role("link").click()
    await expect(admin_page).to_have_url(f"{live_server.url}/dashboard/tickets/{guest.ticket_id}",
                                         timeout=WAIT_MS)
    await expect(admin_page.locator("#conversation-title")).to_have_text("Grace", timeout=WAIT_MS)
    await expect(admin_page.locator("#ticket-assignee")).to_have_value(admin["id"], timeout=WAIT_MS)
    assert pages.errors == [] and pages.dialogs == []


async def test_the_bell_on_the_admin_pages_counts_new_notifications_live(
        pages, live_server, admin, agent_session, start_chat):
    guest = await start_chat(name="Grace", message="Refund please")
    page = await pages.open()
    await sign_in_to(page, live_server.url, admin, "/admin/users")
    await expect(page.locator("#bell-count")).to_be_hidden()

    async with agent_session.patch(f"/api/tickets/{guest.ticket_id}", json={"assignee_id": admin["id"]},
                                   headers={"X-Requested-With": "fetch"}) as resp:
        assert resp.status == 200
    await expect(page.locator("#bell-count")).to_have_text("1", timeout=WAIT_MS)
