"""`next` after signing in is followed only to paths on this site, by the login page's
script too (the server checks it first: tests/http/test_pages.py)."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

WAIT_MS = 5000
NEXT_CASES = {
    # value: where the page script may go (None: nowhere but the fallback)
    "/dashboard": "/dashboard",
    "/admin/users?x=1#top": "/admin/users?x=1#top",
    "/notifications": "/notifications",
    "//evil.example": None,
    "/\\evil.example": None,
    "\\\\evil.example": None,
    "/\t/evil.example": None,
    "/\n/evil.example": None,
    "/ /evil.example": None,
    "/%09/evil.example": None,
    "/%2F/evil.example": None,
    "/%5Cevil.example": None,
    "/%0d%0a/evil.example": None,
    "https://evil.example/": None,
    "http:evil.example": None,
    "javascript:alert(1)": None,
    "evil.example": None,
    "/\u2028/evil.example": None,
    "": None,
}


async def test_the_login_page_script_follows_next_only_to_paths_on_this_site(pages, live_server):
    page = await pages.open()
    await page.goto(f"{live_server.url}/login")
    results = await page.evaluate(
        """async (values) => {
            const { safeNext } = await import("/static/js/next.js");
            return values.map((value) => safeNext(value, "FALLBACK"));
        }""", list(NEXT_CASES))
    for (value, expected), got in zip(NEXT_CASES.items(), results, strict=True):
        assert got == (expected or "FALLBACK"), value


@pytest.mark.parametrize("target", ["/%09/evil.example", "https://evil.example"])
async def test_signing_in_with_a_hostile_next_lands_on_the_dashboard(pages, live_server, agent, target):
    page = await pages.open()
    await page.goto(f"{live_server.url}/login?next={target}")
    await page.get_by_label("E-mail").fill(agent["email"])
    await page.get_by_label("Password").fill(agent["password"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{live_server.url}/dashboard", timeout=WAIT_MS)
