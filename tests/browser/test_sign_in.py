"""Signing in, in Chromium: the sessions on /account. Every page is checked with axe and
photographed at 390 and 1366 pixels (SCREENSHOT_DIR)."""

from __future__ import annotations

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot, sign_in_to

WAIT_MS = 5000


async def check(page: Page, name: str) -> None:
    """axe finds no serious or critical violation; then a full-page screenshot. (After
    the page's transitions end: a button fading in has, for a moment, too little contrast.)"""
    await page.evaluate("() => Promise.all(document.getAnimations().map((a) => a.finished.catch(() => null)))")
    assert await axe_violations(page) == [], name
    await screenshot(page, name)


def width(options: dict) -> int:
    return options["viewport"]["width"]


@pytest.mark.parametrize("view", [PHONE, DESKTOP], ids=["390", "1366"])
async def test_signing_out_another_browser_and_then_everywhere_from_the_account_page(
        pages, live_server, agent, http, view):
    other = http()
    async with other.post("/api/auth/login", json={"email": agent["email"], "password": agent["password"]},
                          headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
                                                 "AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1"}):
        pass
    page = await pages.open(**view)
    await sign_in_to(page, live_server.url, agent, "/account")
    sessions = page.locator("#sessions li")
    await expect(sessions).to_have_count(2, timeout=WAIT_MS)
    await expect(sessions.filter(has_text="Safari on iPhone")).to_have_count(1)
    await check(page, f"account-sessions-{width(view)}")
    await sessions.filter(has_text="Safari on iPhone").get_by_role("button").click()
    await expect(sessions).to_have_count(1, timeout=WAIT_MS)
    async with other.get("/api/auth/me") as resp:
        assert resp.status == 401
    await page.get_by_role("button", name="Sign out everywhere").click()
    await expect(page).to_have_url(f"{live_server.url}/login", timeout=WAIT_MS)
    await page.wait_for_load_state("load")  # leaving mid-load would abort its scripts' downloads
    await page.goto(f"{live_server.url}/account")  # answered with the sign-in page
    await expect(page.get_by_role("heading", name="Sign in to the agent dashboard")).to_be_visible()
    assert await page.locator("#login-form").get_attribute("data-next") == "/account"
    assert pages.errors == []
