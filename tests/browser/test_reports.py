"""The reports page in Chromium: charts drawn as SVG with their text alternatives, the
browser's time zone, the custom range, and an agent's own view."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.async_api import expect

from app import clock
from app.security import Identity
from app.services.conversations import messages, tickets
from app.store import tickets as stored_tickets
from tests.browser.conftest import DESKTOP, PHONE, axe_violations, screenshot, sign_in_to
from tests.conftest import make_account
from tests.fakeclock import FakeClock

# Conversations started on each of the last seven days (the last is today), and the
# minutes each waited for its first answer.
PER_DAY = (3, 5, 2, 6, 4, 1, 3)


@pytest.fixture
async def week(live_server, agent, admin, monkeypatch) -> None:
    """A week of conversations, told through the services with the clock moved back."""
    ctx = live_server.ctx
    bea = await make_account(live_server, role="agent", name="Bea Brook", email="bea@example.com")
    staff = [Identity(role="agent", id=a["id"], name=a["name"]) for a in (agent, bea)]
    # Each day's conversations start from its noon, or, today, before now (so that none
    # crosses into another day, whatever the hour the suite runs at: "3 hours ago" fell out
    # of the seven days between midnight and 03:00 UTC).
    now = clock.utcnow()
    noon = now.replace(hour=12, minute=0, second=0, microsecond=0)
    fake = FakeClock(monkeypatch, start=now)
    n = 0
    for back, count in zip(range(6, -1, -1), PER_DAY, strict=True):
        for i in range(count):
            n += 1
            start = noon if back else min(noon, now - timedelta(hours=2))
            fake.now = start - timedelta(days=back, minutes=10 * (count - i))
            ticket, _ = await tickets.start_by_guest(ctx, guest_id=f"week-{n}", name=f"Guest {n}",
                                                     email=None, body="Where is my order?")
            who = staff[n % 2]
            fake.now += timedelta(minutes=2 + 7 * (n % 5))
            await messages.send(ctx, identity=who, ticket_id=str(ticket["_id"]), body="Looking",
                                client_msg_id=f"w-{n}")
            fake.now += timedelta(minutes=1)
            changes = {"assignee_id": who.id}
            if n % 3 == 0:
                fake.now += timedelta(minutes=40 + 10 * (n % 4))
                changes["status"] = "resolved"
            await tickets.update(ctx, identity=who, ticket_id=str(ticket["_id"]), changes=changes)
            if n % 4 == 0:
                await stored_tickets.record_csat(ctx.db, ticket_id=ticket["_id"], rating=3 + n % 3,
                                                 comment="", at=fake.now)
    monkeypatch.undo()  # back to real time before anyone signs in


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366", "390"])
async def test_an_admin_reads_the_week_in_charts_and_tables(pages, live_server, admin, week, size):
    page = await pages.open(timezone_id="UTC", **size)
    await sign_in_to(page, live_server.url, admin, "/reports")
    await expect(page.get_by_role("heading", name="Team reports")).to_be_visible()
    await expect(page.locator(".stat__value").first).to_have_text(str(sum(PER_DAY)))
    per_day = page.get_by_role("img", name=re.compile(r"^Conversations started per day: 24 in 7 days"))
    await expect(per_day).to_be_visible()
    await expect(per_day.locator("rect.chart__column")).to_have_count(7)
    await expect(page.get_by_role("img", name=re.compile(r"^First response time over 24"))).to_be_visible()
    await expect(page.get_by_role("img", name=re.compile(r"^Backlog now"))).to_be_visible()
    # each chart's figures as a table too
    per_day_section = page.get_by_role("region", name="Conversations per day")
    await per_day_section.get_by_text("Data table").click()
    day_rows = per_day_section.locator("tbody tr")
    await expect(day_rows).to_have_count(7)
    await expect(day_rows.last.locator("td").last).to_have_text(str(PER_DAY[-1]))
    agents = page.get_by_role("table").filter(has_text="Median first response")
    await expect(agents.get_by_role("row").filter(has_text="Bea Brook")).to_contain_text("12")
    assert await axe_violations(page) == []
    await screenshot(page, f"reports-admin-{size['viewport']['width']}")
    await page.get_by_label("Period").select_option("30d")
    await expect(page.locator("rect.chart__column")).to_have_count(7)  # 23 days without any
    await expect(page.locator("text.chart__axis")).to_have_count(6)  # every fifth day, today too
    assert await axe_violations(page) == []
    await screenshot(page, f"reports-admin-30d-{size['viewport']['width']}")
    assert pages.errors == []


async def test_the_page_counts_days_in_the_browsers_time_zone_and_takes_custom_dates(
        pages, live_server, admin):
    page = await pages.open(timezone_id="Asia/Tokyo", **DESKTOP)
    await sign_in_to(page, live_server.url, admin, "/dashboard")
    await page.goto(f"{live_server.url}/reports")
    await expect(page).to_have_url(re.compile(r"tz=Asia%2FTokyo"))
    await expect(page.get_by_text("(days in Asia/Tokyo)")).to_be_visible()
    await expect(page.get_by_label("From")).to_be_hidden()
    await page.get_by_label("Period").select_option("custom")
    await page.get_by_label("From").fill("2025-01-01")
    await page.get_by_label("To").fill("2025-01-14")
    await page.get_by_role("button", name="Show").click()
    await expect(page).to_have_url(re.compile(r"range=custom&from=2025-01-01&to=2025-01-14&tz=Asia%2FTokyo"))
    await expect(page.get_by_text("started from 1 January 2025 to 14 January 2025")).to_be_visible()
    await expect(page.get_by_text("No ratings yet").first).to_be_visible()
    assert await axe_violations(page) == []
    await page.get_by_label("Period").select_option("30d")  # a preset shows at once
    await expect(page).to_have_url(re.compile(r"range=30d"))
    await expect(page.locator("rect.chart__column")).to_have_count(0)  # nothing in 30 days
    assert pages.errors == []


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366", "390"])
async def test_an_agent_sees_their_own_figures(pages, live_server, agent, week, size):
    page = await pages.open(timezone_id="UTC", **size)
    await sign_in_to(page, live_server.url, agent, "/reports")
    await expect(page.get_by_role("heading", name="Your reports")).to_be_visible()
    agents = page.get_by_role("table").filter(has_text="Median first response")
    await expect(agents.locator("tbody tr")).to_have_count(1)
    await expect(agents).to_contain_text("Alan Agent")
    assert await axe_violations(page) == []
    await screenshot(page, f"reports-agent-{size['viewport']['width']}")
    assert pages.errors == []


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366", "390"])
async def test_the_dashboard_links_to_the_reports(pages, live_server, agent, size):
    page = await pages.open(timezone_id="UTC", **size)
    await sign_in_to(page, live_server.url, agent, "/dashboard")
    if size is PHONE:  # the dashboard on a phone keeps the bar's links in the person's menu
        await page.locator("#user-menu summary").click()
    link = page.get_by_role("link", name="Reports")
    await expect(link).to_be_visible()
    assert await axe_violations(page) == []
    await screenshot(page, f"dashboard-reports-link-{size['viewport']['width']}")
    await link.click()
    await expect(page.get_by_role("heading", name="Your reports")).to_be_visible()
    assert pages.errors == []
