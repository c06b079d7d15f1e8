"""Browser fixtures: Debian's Chromium driven by Playwright (never `playwright install`)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, BrowserContext, Page, async_playwright, expect

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def _function_scoped_runner(_session_scoped_runner):
    """Every browser test, and every fixture it uses, runs on the event loop of this
    process's session, the loop the browser below was launched on: Playwright's objects
    belong to the loop that made them, and starting Playwright's driver and Chromium for
    each test cost about 1.5 s of CPU each, a fifth of a browser test. pytest-asyncio runs
    tests and their fixtures with its runner of this name; this overrides it for
    tests/browser only. (Were it renamed, these tests fail at once: their server and their
    browser on different loops.)"""
    return _session_scoped_runner


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def _chromium():
    """One Chromium for each test process (each pytest-xdist worker), launched when its
    first browser test starts; each test has contexts of its own (`pages`)."""
    if not CHROMIUM.exists():
        # CI installs it (.ci/run); there a missing browser is a failure, never a skip.
        if os.environ.get("CI"):
            pytest.fail(f"no Chromium at {CHROMIUM}: apt-get install chromium")
        pytest.skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    async with async_playwright() as playwright:
        launched: list[Browser] = []

        async def current() -> Browser:
            # A browser that crashed during a test is replaced for the tests after it.
            if not launched or not launched[-1].is_connected():
                launched.append(await playwright.chromium.launch(
                    executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS))
            return launched[-1]

        try:
            yield current
        finally:
            for browser in launched:
                await browser.close()


@pytest.fixture
async def browser(_chromium) -> Browser:
    return await _chromium()


@pytest.fixture(autouse=True)
async def _cancel_what_the_test_left_running(browser):
    """Once a browser test's other fixtures are done, the tasks it left on the shared loop
    (a closed server's socket still waiting for its queue, say) are cancelled, as the end
    of a test's own loop did. Left pending, such a task is destroyed by the garbage
    collector later, during another test, whose log then shows an ERROR. (Depends on
    `browser` so that Playwright's own tasks are there before and kept.)"""
    before = asyncio.all_tasks()
    yield
    left = asyncio.all_tasks() - before - {asyncio.current_task()}
    for task in left:
        task.cancel()
    if left:  # gathered, so that an exception one of them ends with is not logged later
        await asyncio.wait_for(asyncio.gather(*left, return_exceptions=True), 5)


# The policy the pages must live with: no inline script, no inline style, nothing from
# elsewhere. Added to every page the tests load, so that a slip fails a test.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'"
)


class Pages:
    """Opens pages, each in its own browser context (its own cookies, like another
    person's browser), and records uncaught script errors, CSP violations and dialogs."""

    def __init__(self, browser: Browser, origin: str) -> None:
        self.browser = browser
        self.origin = origin
        self.contexts: list[BrowserContext] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    async def open(self, *, csp: str | None = STRICT_CSP, **context_options) -> Page:
        context = await self.browser.new_context(**context_options)
        self.contexts.append(context)
        if csp:
            await context.route("**/*", _with_csp(csp))
            # A document answered by route.fulfill has no IP address, so Chromium counts it
            # as public and blocks its WebSocket to 127.0.0.1 (Local Network Access) unless
            # this is granted. Real pages come from the server and need nothing like it.
            await context.grant_permissions(["local-network-access"], origin=self.origin)
        page = await context.new_page()
        page.on("pageerror", lambda error: self.errors.append(f"{page.url}: {error}"))
        page.on("console", lambda message: self._on_console(page, message))
        page.on("dialog", self._on_dialog)
        return page

    def _on_console(self, page: Page, message) -> None:
        if "Content Security Policy" in message.text:
            self.errors.append(f"{page.url}: {message.text}")

    async def _on_dialog(self, dialog) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        await dialog.dismiss()

    async def close(self) -> None:
        for context in self.contexts:
            await context.close()


@pytest.fixture
async def pages(browser: Browser, live_server):
    # Depends on live_server so that the pages close before the server stops (a server
    # stopping under open WebSockets waits for them).
    opened = Pages(browser, live_server.url)
    yield opened
    await opened.close()


def _with_csp(policy: str):
    async def handle(route) -> None:
        if route.request.resource_type != "document":
            await route.continue_()
            return
        response = await route.fetch()
        headers = {**response.headers, "content-security-policy": policy}
        await route.fulfill(response=response, headers=headers)

    return handle


SIGN_IN_WAIT_MS = 5000


async def sign_in_to(page: Page, server_url: str, account: dict, path: str) -> None:
    """Sign in through /login and land on `path`, its page loaded, as a person would.
    The address changes before the page's scripts have run: a click then (on "Invite
    someone", say) reaches a button with nothing listening yet and opens nothing."""
    await page.goto(f"{server_url}/login?next={path}")
    await page.get_by_label("E-mail").fill(account["email"])
    await page.get_by_label("Password").fill(account["password"])
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{server_url}{path}", timeout=SIGN_IN_WAIT_MS)
    await page.wait_for_load_state("load")


# --- what a person sees: accessibility and screenshots --------------------------------

SERIOUS = ("serious", "critical")
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", "/tmp/support-chat-screenshots"))


# Waits, in one frame, until no transition or animation that ends is running, for at most
# `limit` ms; answers the ones still running then. getAnimations() applies pending style
# changes first, so a transition that the test's last step started is among them. One
# that repeats forever (a spinner, a pulsing dot) never ends and is not waited for.
SETTLE = """async (limit) => {
  const deadline = performance.now() + limit;
  for (;;) {
    const running = document.getAnimations().filter((a) => a.playState === "running"
      && a.effect && a.effect.getComputedTiming().endTime !== Infinity);
    const left = deadline - performance.now();
    if (running.length === 0 || left <= 0) {
      return running.map((a) => {
        const el = a.effect.target;
        const where = el ? (el.id ? "#" + el.id : el.tagName.toLowerCase()) : "?";
        return `${a.transitionProperty || a.animationName || "animation"} on ${where}`;
      });
    }
    const ended = Promise.all(running.map((a) => a.finished.catch(() => null)));
    await Promise.race([ended, new Promise((done) => setTimeout(done, left))]);
  }
}"""
SETTLE_MS = 5000


async def settle(page: Page) -> None:
    """Wait until the page's transitions and animations have ended, in every frame: axe
    measures colours as they are at that instant, and a button fading from its disabled
    colour has, for a moment, too little contrast."""
    for frame in page.frames:
        still = await frame.evaluate(SETTLE, SETTLE_MS)
        assert still == [], f"still moving after {SETTLE_MS} ms in {frame.url}: {still}"


async def axe_violations(page: Page, *, impacts: tuple[str, ...] = SERIOUS) -> list[str]:
    """Run axe-core on the page once its transitions have ended (settle); one line per
    serious or critical violation ("rule (impact): selector ..."), so that an assertion
    failure names what to fix."""
    from axe_playwright_python.async_playwright import Axe

    await settle(page)
    results = await Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation.get("impact") in impacts:
            targets = [" ".join(map(str, node["target"])) for node in violation["nodes"][:5]]
            found.append(f"{violation['id']} ({violation['impact']}): {violation['help']} at {targets}")
    return found


async def screenshot(page: Page, name: str) -> Path:
    """Save a full-page PNG under SCREENSHOT_DIR (default /tmp/support-chat-screenshots) to
    look at: browser tests take one at 390 px and one at 1366 px of every page they touch."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


PHONE = {"viewport": {"width": 390, "height": 844}}
DESKTOP = {"viewport": {"width": 1366, "height": 800}}
