"""Signing in, in Chromium: two-factor set-up and a sign-in with a code computed here,
forced set-up under REQUIRE_2FA, the sessions on /account, the invitation page, and the
accounts page. Every page is checked with axe and photographed at 390 and 1366 pixels
(SCREENSHOT_DIR). `next` has its own module, test_next.py."""

from __future__ import annotations

import dataclasses
import re

import pyotp
import pytest
from playwright.async_api import Page, expect

from app import clock
from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot, sign_in_to
from tests.conftest import login
from tests.http.test_accounts import Inbox, welcome_link

WAIT_MS = 5000


async def check(page: Page, name: str) -> None:
    """At 390 and at 1366 pixels: axe finds no serious or critical violation, then a
    full-page screenshot (`name-390.png`, `name-1366.png`). The page is resized rather than
    walked through twice; it is left at the width it had."""
    before = page.viewport_size
    for view in (PHONE, DESKTOP):
        await page.set_viewport_size(view["viewport"])
        label = f"{name}-{view['viewport']['width']}"
        assert await axe_violations(page) == [], label
        await screenshot(page, label)
    await page.set_viewport_size(before)


async def enrol_on_page(page: Page, name: str) -> tuple[str, list[str]]:
    """On /two-factor: read the key, confirm with a code, return the key and backup codes."""
    await expect(page.locator("#qr svg")).to_be_visible(timeout=WAIT_MS)
    secret = (await page.locator("#secret").text_content()).replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    await check(page, f"{name}-setup")
    await page.get_by_label("Code from the app").fill(pyotp.TOTP(secret).now())
    await page.get_by_role("button", name="Turn on two-factor sign-in").click()
    codes = page.locator("#backup-codes li")
    await expect(codes).to_have_count(10, timeout=WAIT_MS)
    await check(page, f"{name}-backup-codes")
    return secret, await codes.all_text_contents()


async def test_two_factor_enrolment_then_a_sign_in_with_a_code(pages, live_server, agent):
    page = await pages.open(**DESKTOP)
    await sign_in_to(page, live_server.url, agent, "/account")
    await expect(page.locator("#sessions li")).to_have_count(1, timeout=WAIT_MS)
    await check(page, "account-2fa-off")
    await page.get_by_role("link", name="Set up two-factor sign-in").click()
    await expect(page).to_have_url(f"{live_server.url}/two-factor")
    secret, _ = await enrol_on_page(page, "two-factor")
    await page.get_by_role("button", name="I have saved them, continue").click()
    await expect(page).to_have_url(f"{live_server.url}/account")
    await expect(page.locator(".badge--on").first).to_have_text("On")

    phone = await pages.open(**PHONE)
    await phone.goto(f"{live_server.url}/login?next=/account")
    await check(phone, "login")
    await phone.get_by_label("E-mail").fill(agent["email"])
    await phone.get_by_label("Password").fill(agent["password"])
    await phone.get_by_role("button", name="Sign in").click()
    code_input = phone.get_by_label("Code", exact=True)
    await expect(code_input).to_be_focused(timeout=WAIT_MS)
    await expect(phone.get_by_role("heading", level=1)).to_have_text("Two-factor sign-in")
    await code_input.fill("000000")
    await phone.get_by_role("button", name="Verify").click()
    await expect(phone.locator("#code-error")).to_have_text(re.compile("not right"), timeout=WAIT_MS)
    await check(phone, "login-code")
    # The next step's code: the current one was spent confirming the set-up.
    await code_input.fill(pyotp.TOTP(secret).at(clock.utcnow(), counter_offset=1))
    await phone.get_by_role("button", name="Verify").click()
    await expect(phone).to_have_url(f"{live_server.url}/account", timeout=WAIT_MS)
    await expect(phone.locator("#sessions li")).to_have_count(2, timeout=WAIT_MS)
    await expect(phone.locator("#sessions li", has_text="This browser")).to_have_count(1)
    await check(phone, "account-2fa-on")
    assert pages.errors == [] and pages.dialogs == []


@pytest.fixture
def inbox():
    box = Inbox()
    box.controller.start()
    yield box
    box.controller.stop()


@pytest.fixture
def settings(settings, request, inbox):
    """REQUIRE_2FA as a test asks (off unless parametrized), and e-mail to a real SMTP inbox."""
    return dataclasses.replace(settings, require_2fa=getattr(request, "param", "off"),
                               smtp_url=f"smtp://127.0.0.1:{inbox.port}")


@pytest.mark.parametrize("settings", ["admins"], indirect=True)
async def test_an_admin_required_to_use_two_factor_sets_it_up_before_getting_in(pages, live_server, admin):
    page = await pages.open(**PHONE)
    await page.goto(f"{live_server.url}/login?next=/admin/users")
    await page.get_by_label("E-mail").fill(admin["email"])
    await page.get_by_label("Password").fill(admin["password"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(re.compile(r"/two-factor\?next=%2Fadmin%2Fusers$"), timeout=WAIT_MS)
    await expect(page.get_by_text("Your team asks for a second step")).to_be_visible()
    assert await page.locator(".topbar").count() == 0  # not signed in yet: nowhere else to go
    await enrol_on_page(page, "two-factor-forced")
    await page.get_by_role("button", name="I have saved them, continue").click()
    await expect(page).to_have_url(f"{live_server.url}/admin/users", timeout=WAIT_MS)
    assert pages.errors == []


async def test_signing_out_another_browser_and_then_everywhere_from_the_account_page(
        pages, live_server, agent, http):
    other = http()
    async with other.post("/api/auth/login", json={"email": agent["email"], "password": agent["password"]},
                          headers={"User-Agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) "
                                                 "AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1"}):
        pass
    page = await pages.open(**DESKTOP)
    await sign_in_to(page, live_server.url, agent, "/account")
    sessions = page.locator("#sessions li")
    await expect(sessions).to_have_count(2, timeout=WAIT_MS)
    await expect(sessions.filter(has_text="Safari on iPhone")).to_have_count(1)
    await check(page, "account-sessions")
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


async def test_an_invited_person_chooses_a_password_on_the_welcome_page(pages, live_server, admin, http,
                                                                        inbox):
    admin_session = http()
    await login(admin_session, admin)
    async with admin_session.post("/api/admin/users", json={"email": "bea@example.com", "name": "Bea",
                                                            "role": "agent"}) as resp:
        assert resp.status == 201
    _, message = await inbox.next()
    link = welcome_link(message)

    page = await pages.open(**PHONE)
    await page.goto(link)
    await expect(page).to_have_url(f"{live_server.url}/welcome")  # the token left the address bar
    await check(page, "welcome")
    await page.get_by_label("Your password").fill("Bea's pässword 1")
    await page.get_by_role("button", name="Set password").click()
    await expect(page.locator("#welcome-ok")).to_be_visible(timeout=WAIT_MS)
    await check(page, "welcome-done")
    await page.get_by_role("link", name="Sign in").click()
    await sign_in_to(page, live_server.url, {"email": "bea@example.com", "password": "Bea's pässword 1"},
                     "/dashboard")
    assert pages.errors == []


async def test_admins_invite_resend_and_reset_two_factor_from_the_accounts_page(
        pages, live_server, admin, agent, http, inbox):
    agent_browser = http()
    await login(agent_browser, agent)
    async with agent_browser.post("/api/account/two-factor/setup", json={}) as resp:
        secret = (await resp.json())["secret"]
    async with agent_browser.post("/api/account/two-factor/enable", json={"code": pyotp.TOTP(secret).now()}) as resp:
        assert resp.status == 200

    page = await pages.open(**DESKTOP)
    await sign_in_to(page, live_server.url, admin, "/admin/users")
    await page.get_by_role("button", name="Invite someone").click()
    invite = page.get_by_role("dialog", name="Invite someone")
    await invite.get_by_label("Name", exact=True).fill("Dana Invited")
    await invite.get_by_label("E-mail").fill("dana@example.com")
    await invite.get_by_role("button", name="Send invitation").click()
    dana = page.locator("#users tr", has_text="dana@example.com")
    await expect(dana).to_contain_text("Invited", timeout=WAIT_MS)
    await inbox.next()
    await dana.get_by_role("button", name="Resend invitation").click()
    await expect(page.locator("#create-ok")).to_have_text("A new invitation is on its way to dana@example.com.",
                                                          timeout=WAIT_MS)
    await inbox.next()
    alan = page.locator(f'#users tr[data-user-id="{agent["id"]}"]')
    await expect(alan.locator("td").nth(6)).to_have_text("On")
    await check(page, "admin-users")
    await alan.get_by_role("button", name="Reset two-factor").click()
    await page.get_by_role("dialog", name=f"Reset two-factor sign-in for {agent['name']}?").get_by_role(
        "button", name="Reset two-factor").click()
    await expect(page.locator(f'#users tr[data-user-id="{agent["id"]}"] td').nth(6)).to_have_text("Off",
                                                                                                 timeout=WAIT_MS)
    assert pages.errors == [] and pages.dialogs == []


async def test_a_half_finished_sign_in_shows_on_the_account_page_and_can_be_signed_out(
        pages, live_server, agent, http):
    """Someone who has the password but not the phone shows up on /account, waiting."""
    owner = http()
    await login(owner, agent)
    async with owner.post("/api/account/two-factor/setup", json={}) as resp:
        secret = (await resp.json())["secret"]
    async with owner.post("/api/account/two-factor/enable", json={"code": pyotp.TOTP(secret).now()}) as resp:
        assert resp.status == 200
    intruder = http()
    async with intruder.post("/api/auth/login", json={"email": agent["email"], "password": agent["password"]}) as resp:
        assert (await resp.json()) == {"stage": "code"}

    page = await pages.open(**DESKTOP)
    await page.goto(f"{live_server.url}/login?next=/account")
    await page.get_by_label("E-mail").fill(agent["email"])
    await page.get_by_label("Password").fill(agent["password"])
    await page.get_by_role("button", name="Sign in").click()
    await page.get_by_label("Code", exact=True).fill(pyotp.TOTP(secret).at(clock.utcnow(), counter_offset=1))
    await page.get_by_role("button", name="Verify").click()
    await expect(page).to_have_url(f"{live_server.url}/account", timeout=WAIT_MS)
    waiting = page.locator("#sessions li", has_text="Waiting for a two-factor code")
    await expect(waiting).to_have_count(1, timeout=WAIT_MS)
    await check(page, "account-half-signed-in")
    await waiting.get_by_role("button", name="Sign out").click()
    await expect(waiting).to_have_count(0, timeout=WAIT_MS)
    async with intruder.post("/api/auth/code", json={"code": pyotp.TOTP(secret).now()}) as resp:
        assert resp.status == 401
