"""The integration pages as an admin uses them (webhooks, API tokens, privacy) and the API
docs page, at phone and desktop widths, with axe's serious and critical checks."""

from __future__ import annotations

from dataclasses import replace

import pytest
from playwright.async_api import expect

from tests.browser.conftest import (
    DESKTOP,
    PHONE,
    SCREENSHOTS,
    axe_violations,
    screenshot,
    sign_in_to,
)
from tests.receiver import Receiver

SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366", "390"])


@pytest.fixture
def settings(settings):
    return replace(settings, webhook_allow_private=True, webhook_backoff_base=0.05,
                   job_poll_interval=0.05)


@pytest.fixture
async def receiver():
    started = await Receiver(answer=lambda received, n: 500 if n == 1 else 200).start()
    yield started
    await started.stop()


def width(size: dict) -> int:
    return size["viewport"]["width"]


@SIZES
async def test_an_admin_adds_a_webhook_sees_its_secret_once_and_reads_its_delivery_log(
        pages, live_server, admin, receiver, start_chat, size):
    page = await pages.open(**size)
    await sign_in_to(page, live_server.url, admin, "/admin/webhooks")
    await expect(page.locator("#hooks-summary")).to_have_text("No webhooks yet.")
    await page.get_by_label("URL").fill(receiver.url)
    await page.get_by_label("Description").fill("CRM")
    await page.get_by_role("button", name="Add webhook").click()
    secret = page.locator("#secret-value")
    await expect(secret).to_contain_text("whsec_")
    hook = page.get_by_role("article", name=receiver.url)
    await expect(hook).to_contain_text("Active · ticket.created, message.created, ticket.updated, ticket.closed")

    await start_chat(message="Is my order on its way?")
    await receiver.wait_for(4)  # ticket.created and message.created, each a 500 then a 200
    await hook.get_by_role("button", name="Deliveries").click()
    await expect(hook.get_by_role("row").filter(has_text="Delivered")).to_have_count(2)
    failed = hook.get_by_role("row").filter(has_text="Failed").filter(has_text="ticket.created")
    await expect(failed).to_contain_text("500")
    assert await axe_violations(page) == []
    await screenshot(page, f"admin-webhooks-{width(size)}")

    await failed.get_by_role("button", name="Redeliver").click()
    await receiver.wait_for(5)
    await expect(hook.get_by_role("row").filter(has_text="(redelivery)")).to_contain_text("Delivered")
    await hook.get_by_role("button", name="Pause").click()
    await expect(page.get_by_role("article", name=receiver.url)).to_contain_text("Paused")
    assert pages.errors == []


@SIZES
async def test_an_admin_makes_a_token_copies_it_once_and_revokes_it(pages, live_server, admin, size):
    page = await pages.open(**size)
    await sign_in_to(page, live_server.url, admin, "/admin/tokens")
    await page.get_by_label("Name").fill("CRM sync")
    await page.get_by_label("Scope").select_option("read")
    await page.get_by_role("button", name="Make token").click()
    await expect(page.locator("#secret-value")).to_contain_text("sct_")
    row = page.get_by_role("row").filter(has_text="CRM sync")
    await expect(row).to_contain_text("Never")
    await expect(row).to_contain_text("Active")
    assert await axe_violations(page) == []
    await screenshot(page, f"admin-tokens-{width(size)}")
    await row.get_by_role("button", name="Revoke CRM sync").click()
    await expect(page.get_by_role("row").filter(has_text="CRM sync")).to_contain_text("Revoked")
    assert pages.errors == []


@SIZES
async def test_an_admin_downloads_a_guests_data_then_erases_it(pages, live_server, admin, start_chat, size):
    await start_chat(name="Grace Guest", message="My phone is 555-0100", email="grace@example.com")
    page = await pages.open(accept_downloads=True, **size)
    await sign_in_to(page, live_server.url, admin, "/admin/privacy")
    await page.get_by_label("E-mail or conversation id").fill("grace@example.com")
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Download export").click()
    assert (await download.value).suggested_filename == "guest-export.json"
    await expect(page.locator("#privacy-ok")).to_have_text("Downloaded: 1 conversation, 1 audit event.")

    await page.get_by_role("button", name="Erase…").click()
    go = page.get_by_role("button", name="Erase this guest")
    await expect(go).to_be_disabled()
    await page.get_by_label("I understand").check()
    assert await axe_violations(page) == []
    await screenshot(page, f"admin-privacy-{width(size)}")
    await go.click()
    await expect(page.locator("#privacy-ok")).to_have_text("Erased: 1 conversation, 1 message.")
    assert pages.errors == []


@SIZES
async def test_the_api_docs_page_reads_at_both_widths(pages, live_server, size):
    page = await pages.open(**size)
    await page.goto(f"{live_server.url}/api/docs")
    await expect(page.get_by_role("heading", name="Support chat API")).to_be_visible()
    article = page.locator("#post_admin_webhooks")
    await expect(article).to_contain_text("Register a webhook")
    await article.get_by_text("Request body (JSON)").click()
    await expect(article.locator("pre").first).to_contain_text('"events"')
    assert await axe_violations(page) == []
    await screenshot(page, f"api-docs-{width(size)}")
    await article.scroll_into_view_if_needed()  # and one screenful around an operation, to read
    await page.screenshot(path=str(SCREENSHOTS / f"api-docs-operation-{width(size)}.png"))
    assert pages.errors == []
