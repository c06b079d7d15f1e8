"""The admin's pages in Chromium: the audit trail searched by person, action, ticket and
date, dense enough for fifteen events on a laptop screen, with new events arriving live; the
accounts at a glance with their dialogs; one top bar on every signed-in page; the error
pages. Each page is checked with axe and photographed at 390 and 1366 pixels."""

from __future__ import annotations

import asyncio

from playwright.async_api import Page, expect

from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot, sign_in_to
from tests.conftest import login, make_account

WAIT_MS = 5000

FIREFOX_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
                 "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")
EDGE_MAC = ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0")


async def open_signed_in(page: Page, server_url: str, account: dict, path: str) -> None:
    """Sign in and land on `path`, its scripts loaded: leaving a page while the server is
    still opening one of its files leaves that file to the garbage collector (aiohttp's
    FileResponse opens it in a thread that a cancelled request does not wait for), which the
    suite's warnings-as-errors turns into a failure."""
    await sign_in_to(page, server_url, account, path)
    await page.wait_for_load_state("load")


async def check(page: Page, name: str) -> None:
    """At 390 and at 1366 pixels: axe finds no serious or critical violation, then a
    full-page screenshot (`name-390.png`, `name-1366.png`); the page is left at 1366."""
    for view in (PHONE, DESKTOP):
        await page.set_viewport_size(view["viewport"])
        label = f"{name}-{view['viewport']['width']}"
        assert await axe_violations(page) == [], label
        await screenshot(page, label)


async def seed(http, live_server, admin, *, chats: int = 12) -> dict:
    """A morning at the help desk, through the product's own API: people signing in from
    their browsers, guests starting chats, agents answering and closing them, an admin
    renaming someone."""
    agents = [await make_account(live_server, role="agent", name=name, email=f"{name.split()[0].lower()}@example.com")
              for name in ("Alan Agent", "Bea Brown", "Cy Chen")]
    browsers = {}
    for account, agent_string in zip(agents, (FIREFOX_WINDOWS, SAFARI_IPHONE, EDGE_MAC), strict=True):
        session = http()
        session.headers["User-Agent"] = agent_string
        await login(session, account)
        browsers[account["email"]] = session
    tickets = []
    for n in range(chats):
        guest = http()
        async with guest.post("/api/guest/tickets", json={"name": f"Guest {n:02d}",
                                                          "message": f"Order {1000 + n} has not arrived"}) as resp:
            tickets.append((await resp.json())["ticket"])
    alan = browsers["alan@example.com"]
    for ticket in tickets[:8]:
        async with alan.patch(f"/api/tickets/{ticket['id']}", json={"priority": "high"}) as resp:
            assert resp.status == 200
    for ticket in tickets[:4]:
        async with alan.patch(f"/api/tickets/{ticket['id']}", json={"status": "closed"}) as resp:
            assert resp.status == 200
    boss = http()
    await login(boss, admin)
    async with boss.patch(f"/api/admin/users/{agents[1]['id']}", json={"name": "Bea Baker"}) as resp:
        assert resp.status == 200
    return {"agents": agents, "tickets": tickets}


def rows(page: Page):
    return page.locator("#events tr[data-event-id]")


async def rows_on_screen(page: Page) -> int:
    """Event rows whose whole box is inside the viewport."""
    return await page.evaluate("""() => [...document.querySelectorAll('#events tr[data-event-id]')]
        .filter((tr) => { const r = tr.getBoundingClientRect();
                          return r.top >= 0 && r.bottom <= window.innerHeight && r.height > 0; }).length""")


async def test_audit_trail_is_dense_and_searched_by_person_action_ticket_and_date(
        pages, live_server, admin, http):
    world = await seed(http, live_server, admin)
    bea, order_1003 = world["agents"][1], world["tickets"][3]
    page = await pages.open(**DESKTOP)
    await open_signed_in(page, live_server.url, admin, "/admin/audit")
    await expect(rows(page).first).to_be_visible(timeout=WAIT_MS)
    await check(page, "audit")
    on_screen = await rows_on_screen(page)
    print(f"\naudit events fully on screen at 1366x800: {on_screen}")
    assert on_screen >= 15

    # Each row names who, what and on what in words, and the browser in short.
    renamed = rows(page).filter(has_text="Changed an account")
    await expect(renamed.locator("td").nth(1)).to_have_text("Ada Admin")
    await expect(renamed.locator("td").nth(3)).to_contain_text("Bea Baker")
    closed = rows(page).filter(has_text="Closed a ticket").filter(has_text="Order 1003 has not arrived")
    await expect(closed.get_by_role("link", name="Order 1003 has not arrived")).to_have_attribute(
        "href", f"/dashboard/tickets/{order_1003['id']}")
    await expect(closed.locator("td").nth(5).locator("summary")).to_have_text("Firefox on Windows")
    await expect(closed.locator(".client-details")).to_be_hidden()
    # ... and the rest on demand: the whole difference, the whole user agent.
    await renamed.locator("td").nth(4).locator("summary").click()
    await expect(renamed.locator(".diff__list")).to_contain_text("name: Bea Brown → Bea Baker")
    await closed.locator("td").nth(5).locator("summary").click()
    await expect(closed.locator(".client-details")).to_contain_text(FIREFOX_WINDOWS)
    await check(page, "audit-expanded")

    # A person, by what the admin knows of them.
    person = page.get_by_role("combobox", name="Person")
    await person.fill("zed")
    await expect(page.locator("#f-person-hint")).to_have_text("No one matches “zed”.")
    await person.fill("BEA")
    option = page.get_by_role("listbox", name="People").get_by_role("option").filter(has_text="Bea Baker")
    await expect(option).to_contain_text("bea@example.com")
    await check(page, "audit-suggestions")
    await option.click()
    await expect(rows(page)).to_have_count(1)
    await expect(rows(page).first).to_contain_text("Signed in")
    await expect(rows(page).first.locator("td").nth(5).locator("summary")).to_have_text("Safari on iPhone")
    assert f"actor={bea['id']}" in page.url
    await page.get_by_role("button", name="Clear filters").click()
    await expect(rows(page)).to_have_count(30)

    # An action, in words.
    await page.get_by_label("Action").select_option(label="Closed a ticket")
    await expect(rows(page)).to_have_count(4)
    await expect(page.locator("#events-status")).to_have_text("4 events, filtered.")
    await page.get_by_label("Action").select_option(label="Any action")

    # A ticket, by its guest's name: the keyboard takes the first suggestion.
    ticket = page.get_by_role("combobox", name="Ticket")
    await ticket.fill("guest 03")
    await expect(page.get_by_role("listbox", name="Tickets").get_by_role("option")).to_have_count(1)
    await ticket.press("Enter")
    await expect(ticket).to_have_value("Order 1003 has not arrived")
    await expect(rows(page)).to_have_count(3)  # started, priority raised, closed
    for n in range(3):
        await expect(rows(page).nth(n).locator("td").nth(3)).to_contain_text("Order 1003 has not arrived")
    assert "csv" in await page.locator("#csv-link").get_attribute("href")
    assert f"entity_id={order_1003['id']}" in await page.locator("#csv-link").get_attribute("href")
    await check(page, "audit-filtered")

    # Dates: presets, or a range.
    await page.get_by_label("When").select_option(label="Today")
    await expect(rows(page)).to_have_count(3)
    await page.get_by_label("When").select_option(label="Between dates…")
    await page.get_by_label("From").fill("2020-01-01")
    await page.get_by_label("To").fill("2020-01-31")
    await expect(page.locator("#events-status")).to_have_text("No events match these filters.")
    await expect(rows(page)).to_have_count(0)

    # A shared link opens the same view; a person's name opens their account row.
    await page.goto(f"{live_server.url}/admin/audit?ticket={order_1003['id']}")
    await expect(ticket).to_have_value("Order 1003 has not arrived")
    await expect(rows(page)).to_have_count(3)
    await page.goto(f"{live_server.url}/admin/audit?actor={bea['id']}&period=30d")
    await expect(person).to_have_value("Bea Baker")
    await expect(rows(page)).to_have_count(1)
    await rows(page).first.get_by_role("link", name="Bea Baker").first.click()
    await expect(page).to_have_url(f"{live_server.url}/admin/users?user={bea['id']}")
    await page.wait_for_load_state("load")
    await expect(page.locator(f'#users tr[data-user-id="{bea["id"]}"]')).to_have_attribute("data-focus", "")
    await expect(page.locator("#users tr")).to_have_count(1)
    assert pages.errors == []


async def test_new_events_arrive_live_at_the_top_or_behind_a_bar_when_scrolled_away(
        pages, live_server, admin, http, start_chat):
    await seed(http, live_server, admin, chats=20)
    page = await pages.open(**DESKTOP)
    await open_signed_in(page, live_server.url, admin, "/admin/audit")
    await expect(rows(page)).to_have_count(38)
    await expect(page.locator("html")).to_have_attribute("data-connection", "connected", timeout=WAIT_MS)

    await start_chat(name="Nadia Live", message="Is anyone there?")
    top = rows(page).first
    await expect(top).to_contain_text("Started a chat", timeout=WAIT_MS)
    await expect(top).to_contain_text("Nadia Live (guest)")
    await expect(top).to_contain_text("Is anyone there?")
    await expect(rows(page)).to_have_count(39)

    await page.mouse.wheel(0, 3000)
    # (wait_for_function compiles its predicate in the page, which the CSP forbids)
    for _ in range(100):
        if await page.evaluate("window.scrollY") > 400:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the page did not scroll")
    await start_chat(name="Omar Later", message="Hello again")
    await start_chat(name="Pia Later", message="Me too")
    bar = page.get_by_role("button", name="2 new events — show")
    await expect(bar).to_be_visible(timeout=WAIT_MS)
    await expect(rows(page)).to_have_count(39)  # nothing moved under the reader
    assert await axe_violations(page) == []
    await screenshot(page, "audit-new-bar-1366")
    await bar.click()
    await expect(bar).to_be_hidden()
    await expect(rows(page).nth(0)).to_contain_text("Pia Later (guest)")
    await expect(rows(page).nth(1)).to_contain_text("Omar Later (guest)")
    assert await page.evaluate("window.scrollY") < 120

    # A filtered view is not live: it shows what matches, on demand.
    await page.get_by_label("Action").select_option(label="Signed in")
    await expect(rows(page)).to_have_count(5)
    await start_chat(name="Quinn Filtered", message="Hi")
    await page.wait_for_timeout(300)  # a live event would have arrived by now; none may show
    await expect(rows(page)).to_have_count(5)
    await expect(page.locator("#new-bar")).to_be_hidden()
    assert pages.errors == []


async def test_accounts_at_a_glance_searched_invited_edited_and_deactivated_after_a_confirmation(
        pages, live_server, admin, http):
    alan = await make_account(live_server, role="agent", name="Alan Agent", email="alan@example.com")
    bea = await make_account(live_server, role="agent", name="Bea Brown", email="bea@example.com")
    page = await pages.open(**DESKTOP)
    await open_signed_in(page, live_server.url, admin, "/admin/users")
    table = page.locator("#users")
    await expect(table.locator("tr")).to_have_count(3, timeout=WAIT_MS)
    headers = await page.locator(".accounts-table thead th").all_text_contents()
    assert headers == ["Name", "E-mail", "Role", "Capacity", "Status", "Last seen", "Two-factor", "Actions"]
    alan_row = table.locator(f'tr[data-user-id="{alan["id"]}"]')
    await expect(alan_row.locator("td").nth(4)).to_have_text("Active")
    await expect(alan_row.locator("td").nth(6)).to_have_text("Off")
    await check(page, "accounts")

    # Search, on the server, by any part of a name or an e-mail.
    await page.get_by_label("Search accounts by name or e-mail").fill("BROWN")
    await expect(table.locator("tr")).to_have_count(1)
    await expect(page.locator("#users-status")).to_have_text("1 account matching “BROWN”.")
    await page.get_by_label("Search accounts by name or e-mail").fill("")
    await expect(table.locator("tr")).to_have_count(3)

    # The empty invitation says what each field needs, on the field.
    await page.get_by_role("button", name="Invite someone").click()
    dialog = page.get_by_role("dialog", name="Invite someone")
    await dialog.get_by_role("button", name="Send invitation").click()
    name, email = dialog.get_by_label("Name"), dialog.get_by_label("E-mail")
    await expect(name).to_have_attribute("aria-invalid", "true")
    await expect(name).to_have_accessible_description("Give a name.")
    await expect(email).to_have_attribute("aria-invalid", "true")
    await expect(email).to_have_accessible_description("Give an e-mail address.")
    await expect(name).to_be_focused()
    await check(page, "accounts-invite-errors")
    await name.fill("Dana Invited")
    await expect(name).not_to_have_attribute("aria-invalid", "true")
    await email.fill("dana@")
    await dialog.get_by_role("button", name="Send invitation").click()
    await expect(email).to_have_accessible_description("This is not an e-mail address (like name@example.com).")
    await email.fill("BEA@example.com")  # taken: the server says so, on the field
    await dialog.get_by_role("button", name="Send invitation").click()
    await expect(email).to_have_accessible_description("An account with this e-mail already exists.")
    await email.fill("dana@example.com")
    await dialog.get_by_role("button", name="Send invitation").click()
    await expect(dialog).to_be_hidden()
    await expect(page.locator("#create-ok")).to_have_text("Invitation sent to dana@example.com.")
    dana = table.locator("tr", has_text="dana@example.com")
    await expect(dana.locator("td").nth(4)).to_have_text("Invited")
    await dana.get_by_role("button", name="Resend invitation").click()
    await expect(page.locator("#create-ok")).to_have_text("A new invitation is on its way to dana@example.com.")

    # Edit in a dialog that checks each field.
    bea_row = table.locator(f'tr[data-user-id="{bea["id"]}"]')
    await bea_row.get_by_role("button", name="Edit").click()
    edit = page.get_by_role("dialog", name="Edit Bea Brown")
    await edit.get_by_label("Name").fill("  ")
    await edit.get_by_role("button", name="Save changes").click()
    await expect(edit.get_by_label("Name")).to_have_accessible_description("Give a name.")
    await edit.get_by_label("Name").fill("Bea Baker")
    await edit.get_by_label("Role").select_option("admin")
    await edit.get_by_role("button", name="Save changes").click()
    await expect(edit).to_be_hidden()
    await expect(bea_row.locator("td").nth(0)).to_have_text("Bea Baker")
    await expect(bea_row.locator("td").nth(2)).to_have_text("Admin")

    # Deactivation asks first, naming the person.
    await alan_row.get_by_role("button", name="Deactivate").click()
    confirm = page.get_by_role("dialog", name="Deactivate Alan Agent?")
    await expect(confirm).to_contain_text("alan@example.com")
    await expect(confirm.get_by_role("button", name="Cancel")).to_be_focused()
    await check(page, "accounts-confirm")
    await confirm.get_by_role("button", name="Cancel").click()
    await expect(alan_row.locator("td").nth(4)).to_have_text("Active")
    await alan_row.get_by_role("button", name="Deactivate").click()
    await confirm.get_by_role("button", name="Deactivate Alan Agent").click()
    await expect(alan_row.locator("td").nth(4)).to_have_text("Deactivated")
    await expect(page.locator("#create-ok")).to_have_text("Alan Agent is deactivated.")
    await alan_row.get_by_role("button", name="Reactivate").click()
    await expect(alan_row.locator("td").nth(4)).to_have_text("Active")

    # Their activity is one click away.
    await alan_row.get_by_role("link", name="Activity of Alan Agent").click()
    await expect(page).to_have_url(f"{live_server.url}/admin/audit?actor={alan['id']}")
    await page.wait_for_load_state("load")
    await expect(page.get_by_role("combobox", name="Person")).to_have_value("Alan Agent")
    assert pages.errors == [] and pages.dialogs == []


PAGES = {"/dashboard": "Dashboard", "/notifications": None, "/account": None, "/two-factor": None,
         "/reports": "Reports", "/canned-replies": "Canned replies",
         "/admin/users": "Accounts", "/admin/audit": "Audit",
         # the admin's occasional pages are under "More", which is marked for them
         "/admin/jobs": "More", "/admin/webhooks": "More"}


async def test_one_top_bar_on_every_signed_in_page_with_the_pages_the_person_may_open(
        pages, live_server, admin, agent):
    page = await pages.open(**DESKTOP)
    await open_signed_in(page, live_server.url, admin, "/dashboard")
    for path, current in PAGES.items():
        await page.goto(f"{live_server.url}{path}")
        bar = page.locator("header.topbar")
        await expect(bar).to_have_count(1)
        nav = bar.get_by_role("navigation", name="Pages")
        await expect(nav.get_by_role("link")).to_have_text(
            ["Dashboard", "Reports", "Canned replies", "Accounts", "Audit"])
        await expect(nav.locator("#admin-menu summary")).to_have_text("More")
        if current:
            await expect(nav.locator('[aria-current="page"]:visible')).to_have_text(current)
        else:
            await expect(nav.locator('[aria-current="page"]:visible')).to_have_count(0)
        await expect(bar.locator("#bell")).to_be_visible()
        await expect(bar.locator("#user-menu summary")).to_have_accessible_name("Ada Admin, admin: your menu")
        await check(page, "topbar-" + path.strip("/").replace("/", "-"))

    await page.goto(f"{live_server.url}/admin/jobs")
    await page.locator("#user-menu summary").click()
    menu = page.locator("#user-menu .menu__panel")
    await expect(menu.get_by_role("link")).to_have_text(
        ["Your account and sessions", "Change password", "Two-factor sign-in", "Notifications"])
    await check(page, "topbar-menu")
    await page.keyboard.press("Escape")
    await expect(menu).to_be_hidden()
    await page.locator("#user-menu summary").click()
    await menu.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(f"{live_server.url}/login")
    await page.wait_for_load_state("load")
    await page.goto(f"{live_server.url}/admin/jobs")  # signed out for real: back to signing in
    await expect(page.get_by_role("heading", name="Sign in to the agent dashboard")).to_be_visible()

    agent_page = await pages.open(**DESKTOP)
    await open_signed_in(agent_page, live_server.url, agent, "/notifications")
    await expect(agent_page.get_by_role("navigation", name="Pages").get_by_role("link")).to_have_text(
        ["Dashboard", "Reports", "Canned replies"])
    await expect(agent_page.locator("#admin-menu")).to_have_count(0)
    await agent_page.goto(f"{live_server.url}/dashboard")
    await expect(agent_page.locator("#agent-name")).to_have_text("Alan Agent")
    await agent_page.locator("#user-menu summary").click()
    await agent_page.get_by_role("button", name="Sign out").click()  # the dashboard's own handler
    await expect(agent_page).to_have_url(f"{live_server.url}/login")
    await agent_page.wait_for_load_state("load")
    assert pages.errors == []


async def test_error_pages_in_the_products_style_with_a_way_back(pages, live_server, agent):
    page = await pages.open(**DESKTOP)
    await page.goto(f"{live_server.url}/no/such/page")
    await expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    await check(page, "error-404")
    await page.get_by_role("link", name="Go to the sign-in page").click()
    await expect(page).to_have_url(f"{live_server.url}/login")
    await page.wait_for_load_state("load")

    await open_signed_in(page, live_server.url, agent, "/dashboard")
    await page.goto(f"{live_server.url}/admin/audit")
    await expect(page.get_by_role("heading", name="You do not have access to this page")).to_be_visible()
    await expect(page.locator("header.topbar")).to_have_count(1)
    await check(page, "error-403")
    await page.get_by_role("link", name="Back to the dashboard").click()
    await expect(page).to_have_url(f"{live_server.url}/dashboard")
    await page.wait_for_load_state("load")
    assert pages.errors == []


async def test_the_admins_occasional_pages_open_from_more_and_on_a_phone_from_the_persons_menu(
        pages, live_server, admin):
    page = await pages.open(**DESKTOP)
    await open_signed_in(page, live_server.url, admin, "/admin/audit")
    nav = page.get_by_role("navigation", name="Pages")
    await nav.get_by_text("More", exact=True).click()
    more = page.locator("#admin-menu .menu__panel")
    await expect(more.get_by_role("link")).to_have_text(
        ["Widget and opening hours", "Failed jobs", "Webhooks", "API tokens", "Privacy"])
    box = await more.bounding_box()
    assert box and box["x"] >= 0 and box["x"] + box["width"] <= 1366  # not cut by the window
    assert await axe_violations(page) == []
    await screenshot(page, "topbar-more-1366")
    await more.get_by_role("link", name="Failed jobs").click()
    await expect(page).to_have_url(f"{live_server.url}/admin/jobs")

    await page.set_viewport_size(PHONE["viewport"])
    await expect(nav).to_be_hidden()  # no row of links cut at the edge
    await page.locator("#user-menu summary").click()
    menu = page.locator("#user-menu .menu__panel")
    await expect(menu.locator(".menu__pages").get_by_role("link")).to_have_text(
        ["Reports", "Canned replies", "Accounts", "Audit", "Widget and opening hours", "Failed jobs",
         "Webhooks", "API tokens", "Privacy"])
    await expect(menu.locator('.menu__pages [aria-current="page"]')).to_have_text("Failed jobs")
    assert await axe_violations(page) == []
    await screenshot(page, "topbar-phone-menu-390")
    await menu.get_by_role("link", name="Audit").click()
    await expect(page).to_have_url(f"{live_server.url}/admin/audit")
    assert pages.errors == []
