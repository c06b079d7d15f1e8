"""The failed-jobs page, as an admin uses it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from playwright.async_api import expect

from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot, sign_in_to
from tests.conftest import free_port
from tests.http.test_jobs_admin import _dead_email


@pytest.fixture
def settings(settings):
    return replace(settings, smtp_url=f"smtp://127.0.0.1:{free_port()}", job_poll_interval=0.05)


@pytest.mark.logs_errors  # provokes it on purpose
@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366", "390"])
async def test_an_admin_finds_a_failed_email_and_retries_it(pages, live_server, admin, size):
    await _dead_email(live_server)
    page = await pages.open(**size)
    await sign_in_to(page, live_server.url, admin, "/admin/jobs")
    row = page.get_by_role("row").filter(has_text="E-mail to grace@example.com")
    await expect(row).to_be_visible()
    await expect(page.locator("#jobs-summary")).to_have_text("1 failed job.")
    await expect(row).to_contain_text("1")  # attempts
    assert await axe_violations(page) == []
    await screenshot(page, f"admin-jobs-{size['viewport']['width']}")
    await row.get_by_role("button", name="Retry").click()
    await expect(row).to_have_count(0)
    await expect(page.locator("#jobs-summary")).to_have_text("Queued again: E-mail to grace@example.com.")
    assert pages.errors == []
