"""The reports page (/reports), its JSON (/api/reports) and CSV exports
(/api/reports/{report}.csv): admins see the team, agents their own conversations."""

from __future__ import annotations

from urllib.parse import urlencode

import aiohttp_jinja2
from aiohttp import web

from ..errors import Invalid
from ..keys import ctx_key
from ..services.operations import reports
from . import charts, identity

routes = web.RouteTableDef()

CSV_TITLES = {
    "conversations": "Conversations per day",
    "first_response": "First response time",
    "resolution": "Resolution time",
    "satisfaction": "Satisfaction",
    "backlog": "Backlog",
    "agents": "Agents",
}


def _query(period: reports.Range) -> dict:
    query = {"range": period.preset, "tz": period.tz}
    if period.preset == "custom":
        query.update({"from": period.first.isoformat(), "to": period.last.isoformat()})
    return query


@routes.get("/reports", name="reports")
@aiohttp_jinja2.template("reports.html")
async def reports_page(request: web.Request) -> dict:
    caller, user = await identity.page_user(request)
    error = None
    try:
        period = reports.parse_range(request.query)
    except Invalid as exc:  # a hand-edited address: say so, and show the last 7 days
        error = exc.message
        period = reports.parse_range({"tz": "UTC"})
    report = await reports.build(request.app[ctx_key], identity=caller, period=period)
    return _view(report, user=user, error=error)


def _view(report: reports.Report, *, user: dict, error: str | None) -> dict:
    first, resolution = report.first_response, report.resolution
    csv_query = urlencode(_query(report.range))
    return {
        "user": user,
        "error": error,
        "report": report,
        "csv": {name: f"/api/reports/{name}.csv?{csv_query}" for name in reports.REPORTS},
        "per_day_chart": charts.columns_per_day(report.per_day, what="Conversations started per day"),
        "first_response_chart": charts.bars([
            ("Median", first.median_seconds, charts.duration(first.median_seconds), "bar--median"),
            ("90th percentile", first.p90_seconds, charts.duration(first.p90_seconds), "bar--p90"),
        ], what=f"First response time over {first.count} answered conversations"),
        "resolution_chart": charts.bars([
            ("Median", resolution.median_seconds, charts.duration(resolution.median_seconds),
             "bar--median"),
            ("90th percentile", resolution.p90_seconds, charts.duration(resolution.p90_seconds),
             "bar--p90"),
        ], what=f"Resolution time over {resolution.count} resolved conversations"),
        "backlog_chart": charts.bars(
            [(status.capitalize(), count, str(count), f"bar--{status}")
             for status, count in report.backlog.items()],
            what="Backlog now, by status"),
        "duration": charts.duration,
    }


@routes.get("/api/reports", name="reports_api")
async def reports_json(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    period = reports.parse_range(request.query)
    report = await reports.build(request.app[ctx_key], identity=caller, period=period)
    return web.json_response(reports.payload(report))


@routes.get("/api/reports/{report}.csv", name="reports_csv")
async def reports_csv(request: web.Request) -> web.Response:
    caller = await identity.require_agent(request)
    which = request.match_info["report"]
    if which not in reports.REPORTS:
        raise Invalid(f"report must be one of {', '.join(reports.REPORTS)}.", field="report")
    period = reports.parse_range(request.query)
    report = await reports.build(request.app[ctx_key], identity=caller, period=period)
    return web.Response(
        text=reports.csv_text(report, which), content_type="text/csv", charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{reports.filename(report, which)}"'})
