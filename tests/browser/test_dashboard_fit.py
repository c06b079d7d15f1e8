"""The dashboard fits and reads well: at 390 px the queue and the conversation are two
screens with nothing overlapping; at 1366 px each label stays beside its control; axe-core
finds no serious or critical violation on the queue, an open ticket, a search and the
canned-reply manager. Each state is photographed at both widths (SCREENSHOT_DIR)."""

from __future__ import annotations

from playwright.async_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot, sign_in_to
from tests.browser.test_chat_flow import WAIT_MS
from tests.http.test_guest_context import CONTEXT
from tests.http.test_ticket_update import patch

AXE_COUNTS: dict[str, int] = {}


async def overlaps(page: Page, selector: str) -> list[str]:
    """Pairs of visible elements among `selector` whose boxes overlap (by more than a pixel)."""
    return await page.evaluate(
        """(selector) => {
          const boxes = [...document.querySelectorAll(selector)]
            .filter((el) => el.offsetParent !== null && el.getClientRects().length)
            .map((el) => [el, el.getBoundingClientRect()]);
          const found = [];
          for (let i = 0; i < boxes.length; i++) {
            for (let j = i + 1; j < boxes.length; j++) {
              const [a, ra] = boxes[i], [b, rb] = boxes[j];
              if (a.contains(b) || b.contains(a)) continue;
              const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
              const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
              if (x > 1 && y > 1) found.push(`${a.id || a.className} / ${b.id || b.className}`);
            }
          }
          return found;
        }""",
        selector,
    )


async def labels_away_from_controls(page: Page, selector: str) -> list[str]:
    """Labels (wrapping a control) whose text is neither on the control's line just before
    it, nor right above it."""
    return await page.evaluate(
        """(selector) => [...document.querySelectorAll(selector)]
          .filter((label) => label.offsetParent !== null)
          .filter((label) => {
            const text = label.querySelector(".field__label").getBoundingClientRect();
            const control = label.querySelector("select, input").getBoundingClientRect();
            const middle = text.top + text.height / 2;
            const beside = middle >= control.top && middle <= control.bottom
              && text.right <= control.left + 1 && control.left - text.right < 16;
            const above = text.bottom <= control.top + 1 && control.top - text.bottom < 8
              && text.left >= control.left - 1 && text.left < control.right;
            return !(beside || above);
          })
          .map((label) => label.textContent.trim().split(" ")[0])""",
        selector,
    )


async def check(page: Page, name: str, *, width: int) -> None:
    found = await axe_violations(page)
    AXE_COUNTS[f"{name}-{width}"] = len(found)
    assert found == [], name
    await screenshot(page, f"{name}-{width}")
    # The top bar's parts never sit on each other (the bell on the title, the name cut).
    assert await overlaps(page, ".topbar .brand, .topbar .bell, .topbar .avatar, .topbar__who, "
                                ".topbar__nav, #sign-out") == []
    name_box = await page.locator("#agent-name").bounding_box()
    assert name_box and name_box["width"] > 30, "the agent's name is cut short"


async def test_the_dashboard_fits_a_phone_and_a_desktop_and_axe_finds_nothing_serious(
        pages, live_server, agent, admin, agent_session, start_chat, http):
    maria = await start_chat(name="Maria Lopez", email="maria@example.com",
                             message="Hi, the blender I ordered arrived broken. Can I get a refund?")
    async with maria.session.post("/api/guest/tickets", json={
            "name": "Maria Lopez", "email": "maria@example.com", "message": "And the invoice is wrong too",
            "context": CONTEXT}) as resp:
        assert resp.status == 201
        second = (await resp.json())["ticket"]["id"]
    await start_chat(name="Bob Smith", message="Where is parcel 7731? It was due on Monday.")
    await patch(agent_session, second, {"add_tags": ["refund", "vip"], "priority": "high"})
    async with agent_session.post("/api/canned-replies", json={
            "shortcut": "refund", "title": "Refund approved",
            "body": "Hi {{guest.first_name}}, your refund is approved."}) as resp:
        assert resp.status == 201

    for size in (DESKTOP, PHONE):
        width = size["viewport"]["width"]
        page = await pages.open(**size)
        await sign_in_to(page, live_server.url, agent, "/dashboard")
        await expect(page.locator("html")).to_have_attribute("data-connection", "connected", timeout=WAIT_MS)
        await expect(page.locator("#queue [data-ticket-id]")).to_have_count(3, timeout=WAIT_MS)
        await check(page, "dashboard-queue", width=width)

        await page.locator(f'#queue [data-ticket-id="{second}"]').click()
        await expect(page.locator("#reply-input")).to_be_enabled(timeout=WAIT_MS)
        await expect(page.locator("#related li")).to_have_count(1, timeout=WAIT_MS)
        if width == 390:
            # two screens: the queue is gone, the conversation fills the screen
            await expect(page.locator(".queue-pane")).to_be_hidden()
            head = await page.locator(".conversation__head").bounding_box()
            assert head["height"] < 0.25 * 844, f"the ticket header takes {head['height']} px"
        else:
            assert await labels_away_from_controls(page, ".ticket-controls__field, .queue-pane__filters .filter") == []
            await expect(page.locator("#details")).to_be_visible()
        await check(page, "dashboard-ticket", width=width)
        assert await overlaps(page, ".conversation__top > *, #ticket-settings, #presence, "
                                    ".conversation__subject") == []
        # the canned replies list over the reply box, the activity, the undo bar, the help
        await page.locator("#reply-input").press_sequentially("/re")
        await expect(page.locator("#canned-options [role=option]")).to_have_count(1, timeout=WAIT_MS)
        await check(page, "dashboard-canned-menu", width=width)
        await page.locator("#reply-input").press("Escape")
        await page.locator("#reply-input").fill("")
        if width != 390:
            await page.locator("#activity-load").click()
            await expect(page.locator("#activity li.activity__item")).to_have_count(2, timeout=WAIT_MS)
        await page.locator("#close-ticket").click()
        await expect(page.locator("#undo-bar")).to_be_visible()
        await check(page, "dashboard-undo-activity", width=width)
        await page.locator("#undo-close").click()
        await page.keyboard.press("?")
        await expect(page.locator("#shortcuts")).to_be_visible()
        await check(page, "dashboard-shortcuts", width=width)
        await page.keyboard.press("Escape")

        if width == 390:
            await page.locator("#settings-toggle").click()
            await expect(page.locator("#ticket-status")).to_be_visible()
            assert await overlaps(page, ".ticket-controls__field, .tags") == []
            await check(page, "dashboard-ticket-settings", width=width)
            await page.locator("#details-toggle").click()
            await expect(page.locator("#details")).to_be_visible()
            await check(page, "dashboard-details", width=width)
            await page.locator("#details-close").click()
            await page.locator("#back-to-queue").click()
            await expect(page.locator(".queue-pane")).to_be_visible()

        await page.locator("#search-input").fill("maria@example")
        await expect(page.locator("#search-list [data-ticket-id]")).to_have_count(2, timeout=WAIT_MS)
        await check(page, "dashboard-search", width=width)

        manager = await pages.open(**size)
        await manager.context.add_cookies(await page.context.cookies())
        await manager.goto(f"{live_server.url}/canned-replies")
        await expect(manager.locator("#my-replies li")).to_have_count(1, timeout=WAIT_MS)
        found = await axe_violations(manager)
        AXE_COUNTS[f"canned-replies-{width}"] = len(found)
        assert found == []
        await screenshot(manager, f"canned-replies-{width}")
    print("\naxe serious/critical violations per page:", AXE_COUNTS)
    assert pages.errors == []
