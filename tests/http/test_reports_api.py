"""/api/reports (JSON) and /api/reports/{report}.csv: who may read what, and what they get."""

from __future__ import annotations

import csv
import io

from tests.conftest import cookie_header, login, make_account


async def signed_in(http, account):
    session = http()
    await login(session, account)
    return session


async def test_an_admin_reads_the_teams_figures_as_json(http, guest, agent, admin, connect):
    agent_socket = await connect(cookie_header(await signed_in(http, agent)))
    answer = await agent_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "Hi",
                                                      "client_msg_id": "r-1"})
    assert answer["ok"]
    session = await signed_in(http, admin)
    async with session.get("/api/reports", params={"range": "7d", "tz": "Europe/Paris"}) as resp:
        assert resp.status == 200
        report = await resp.json()
    assert report["scope"] == "team"
    assert report["range"]["preset"] == "7d" and report["range"]["tz"] == "Europe/Paris"
    assert report["conversations"]["total"] == 1
    assert len(report["conversations"]["per_day"]) == 7
    assert report["conversations"]["per_day"][-1]["count"] == 1  # today
    assert report["first_response"]["count"] == 1
    assert report["first_response"]["median_seconds"] >= 0
    assert report["resolution"] == {"count": 0, "median_seconds": None, "p90_seconds": None}
    assert report["satisfaction"] == {"count": 0, "average": None}
    assert report["backlog"] == {"open": 1, "pending": 0}
    rows = {row["name"]: row for row in report["agents"]}
    assert rows["Alan Agent"]["first_responses"] == 1 and rows["Alan Agent"]["assigned"] == 0


async def test_an_agent_gets_only_their_own_figures(http, guest, agent, admin):
    session = await signed_in(http, agent)
    async with session.get("/api/reports") as resp:
        report = await resp.json()
    assert report["scope"] == "own"
    assert report["conversations"]["total"] == 0  # the guest's ticket is nobody's yet
    assert [row["name"] for row in report["agents"]] == ["Alan Agent"]


async def test_reports_need_an_agent(http, guest):
    async with http().get("/api/reports") as resp:
        assert resp.status == 401
    async with guest.session.get("/api/reports") as resp:
        assert resp.status == 401
    async with guest.session.get("/api/reports/agents.csv") as resp:
        assert resp.status == 401


async def test_a_bad_range_answers_invalid_with_the_field(http, agent):
    session = await signed_in(http, agent)
    for params, field in (({"range": "custom", "from": "2025-13-01", "to": "2025-12-01"}, "from"),
                          ({"tz": "Nowhere/Atlantis"}, "tz"), ({"range": "1y"}, "range")):
        async with session.get("/api/reports", params=params) as resp:
            assert resp.status == 422
            assert (await resp.json())["error"]["field"] == field
    async with session.get("/api/reports/salaries.csv") as resp:
        assert resp.status == 422


async def test_each_report_downloads_as_csv_without_spreadsheet_formulas(http, live_server, admin, guest):
    await make_account(live_server, role="agent", name="=HYPERLINK(\"http://evil\")",
                       email="evil@example.com")
    session = await signed_in(http, admin)
    params = {"range": "custom", "from": "2025-03-01", "to": "2025-03-03", "tz": "UTC"}
    async with session.get("/api/reports/agents.csv", params=params) as resp:
        assert resp.status == 200
        assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
        assert resp.headers["Content-Disposition"] == (
            'attachment; filename="agents-2025-03-01-to-2025-03-03.csv"')
        rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows[0] == ["agent", "assigned", "resolved", "first_responses",
                       "median_first_response_seconds"]
    assert ["'=HYPERLINK(\"http://evil\")", "0", "0", "0", ""] in rows
    async with session.get("/api/reports/conversations.csv", params=params) as resp:
        rows = list(csv.reader(io.StringIO(await resp.text())))
    assert rows == [["day", "conversations"], ["2025-03-01", "0"], ["2025-03-02", "0"],
                    ["2025-03-03", "0"]]
    for name in ("first_response", "resolution", "satisfaction", "backlog"):
        async with session.get(f"/api/reports/{name}.csv", params=params) as resp:
            assert resp.status == 200 and len(list(csv.reader(io.StringIO(await resp.text())))) >= 2
