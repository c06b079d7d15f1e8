"""Reports: how the team (admins) or one agent (their own figures) is doing over a date range.

The range is a number of whole days in one time zone (an IANA name: the browser's, sent by
the reports page, else UTC): the last 7 or 30 days up to today, or custom dates. Every
figure is about the conversations *started* in that range:

- conversations per day (by the day each started, in that time zone);
- first response time: creation to the first agent answer, median and 90th percentile;
- resolution time: creation to resolved (or closed, when it was never resolved), for those
  resolved or closed now;
- satisfaction: the average rating (1-5) and how many rated, where the guest rated;
- per agent: conversations assigned to them and how many are resolved, and the median first
  response of those they answered first.

The backlog (open and pending, by status) is now, whatever the range. An agent sees only the
conversations assigned to them, and their own row of the table."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bson import ObjectId

from ... import clock
from ...errors import Forbidden, Invalid
from ...security import Identity
from ...store import reports as stored
from ...store import users as stored_users
from ..core import Ctx

PRESETS = {"7d": 7, "30d": 30}
RANGE_MAX_DAYS = 366
BACKLOG_STATUSES = ("open", "pending")
REPORTS = ("conversations", "first_response", "resolution", "satisfaction", "backlog", "agents")
_ZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")


@dataclass(frozen=True)
class Range:
    preset: str  # 7d, 30d or custom
    first: date  # the first day, inclusive
    last: date  # the last day, inclusive
    tz: str

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.tz)

    def days(self) -> list[date]:
        return [self.first + timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def day_start(self, day: date) -> datetime:
        """Midnight of that day in the range's time zone, as a UTC instant."""
        return datetime.combine(day, time(0), tzinfo=self.zone).astimezone(UTC)

    @property
    def start(self) -> datetime:
        return self.day_start(self.first)

    @property
    def end(self) -> datetime:
        return self.day_start(self.last + timedelta(days=1))


@dataclass(frozen=True)
class Durations:
    count: int
    median_seconds: float | None
    p90_seconds: float | None


@dataclass(frozen=True)
class Satisfaction:
    count: int
    average: float | None


@dataclass(frozen=True)
class AgentRow:
    agent_id: str
    name: str
    assigned: int
    resolved: int
    first_responses: int
    median_first_response_seconds: float | None


@dataclass(frozen=True)
class Report:
    scope: str  # team (admins) or own (an agent)
    range: Range
    per_day: list[tuple[date, int]]
    first_response: Durations
    resolution: Durations
    satisfaction: Satisfaction
    backlog: dict[str, int]
    agents: list[AgentRow]

    @property
    def conversations(self) -> int:
        return sum(count for _, count in self.per_day)


# --- the range ---------------------------------------------------------------------------


def _zone_name(value: object) -> str:
    if value in (None, ""):
        return "UTC"
    if not isinstance(value, str) or len(value) > 64 or not _ZONE.match(value):
        raise Invalid("tz must be a time zone name such as Europe/Paris.", field="tz")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise Invalid(f"{value} is not a time zone this server knows.", field="tz") from None
    return value


def _day(value: object, field: str) -> date:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        raise Invalid(f"{field} must be a date as YYYY-MM-DD.", field=field)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{field} is not a date.", field=field) from None


def parse_range(query: Mapping[str, str]) -> Range:
    """range=7d|30d|custom (default 7d), from/to (YYYY-MM-DD, inclusive) for custom, tz."""
    tz = _zone_name(query.get("tz"))
    preset = query.get("range") or "7d"
    today = clock.utcnow().astimezone(ZoneInfo(tz)).date()
    if preset in PRESETS:
        return Range(preset=preset, first=today - timedelta(days=PRESETS[preset] - 1), last=today,
                     tz=tz)
    if preset != "custom":
        raise Invalid("range must be 7d, 30d or custom.", field="range")
    first, last = _day(query.get("from"), "from"), _day(query.get("to"), "to")
    if last < first:
        raise Invalid("to must not be before from.", field="to")
    if (last - first).days + 1 > RANGE_MAX_DAYS:
        raise Invalid(f"A range is at most {RANGE_MAX_DAYS} days.", field="from")
    return Range(preset="custom", first=first, last=last, tz=tz)


# --- the figures -------------------------------------------------------------------------


def _seconds(ms: float | None) -> float | None:
    return None if ms is None else ms / 1000


def _durations(figures: dict) -> Durations:
    return Durations(count=figures["count"], median_seconds=_seconds(figures["median_ms"]),
                     p90_seconds=_seconds(figures["p90_ms"]))


async def build(ctx: Ctx, *, identity: Identity, period: Range) -> Report:
    """The report of the conversations started in `period`: the team's for an admin, the
    agent's own (assigned to them) for an agent."""
    if not identity.is_agent:
        raise Forbidden("Only agents can read reports.")
    own = None if identity.is_admin else ObjectId(identity.id)
    days = period.days()
    day_starts = [period.day_start(day) for day in days]
    figures = await stored.conversations(ctx.db, start=period.start, end=period.end,
                                         day_starts=day_starts, assignee_id=own)
    # an agent's first answers count wherever the ticket went, not only on their own
    responders = figures["responders"] if own is None else await stored.first_responders(
        ctx.db, start=period.start, end=period.end, agent_id=own)
    backlog = await stored.backlog(ctx.db, statuses=BACKLOG_STATUSES, assignee_id=own)
    return Report(
        scope="team" if own is None else "own",
        range=period,
        per_day=[(day, figures["per_day"][start]) for day, start in zip(days, day_starts, strict=True)],
        first_response=_durations(figures["first_response"]),
        resolution=_durations(figures["resolution"]),
        satisfaction=Satisfaction(count=figures["csat"]["count"], average=figures["csat"]["average"]),
        backlog=backlog,
        agents=await _agent_rows(ctx, figures["assignees"], responders, only=own),
    )


async def _agent_rows(ctx: Ctx, assignees: list[dict], responders: list[dict], *,
                      only: ObjectId | None) -> list[AgentRow]:
    """One row per active agent (or only this one), and per former agent who has figures."""
    assigned = {row["agent_id"]: row for row in assignees}
    responded = {row["agent_id"]: row for row in responders}
    if only is not None:
        account = await stored_users.by_id(ctx.db, user_id=only)
        accounts = [account] if account else []
    else:
        accounts = await stored_users.active_with_roles(ctx.db, roles=tuple(stored_users.ROLES_ASSIGNED))
        listed = {a["_id"] for a in accounts}
        for agent_id in sorted(set(assigned) | set(responded), key=str):
            if agent_id not in listed and isinstance(agent_id, ObjectId):
                former = await stored_users.by_id(ctx.db, user_id=agent_id)
                if former is not None:
                    accounts.append(former)
    rows = []
    for account in accounts:
        a, r = assigned.get(account["_id"], {}), responded.get(account["_id"], {})
        rows.append(AgentRow(
            agent_id=str(account["_id"]), name=account["name"], assigned=a.get("assigned", 0),
            resolved=a.get("resolved", 0), first_responses=r.get("count", 0),
            median_first_response_seconds=_seconds(r.get("median_ms"))))
    return rows


# --- shapes: JSON and CSV ----------------------------------------------------------------


def _round(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def payload(report: Report) -> dict:
    def durations(d: Durations) -> dict:
        return {"count": d.count, "median_seconds": _round(d.median_seconds),
                "p90_seconds": _round(d.p90_seconds)}

    period = report.range
    return {
        "scope": report.scope,
        "range": {"preset": period.preset, "from": period.first.isoformat(),
                  "to": period.last.isoformat(), "tz": period.tz},
        "conversations": {"total": report.conversations,
                          "per_day": [{"day": d.isoformat(), "count": n} for d, n in report.per_day]},
        "first_response": durations(report.first_response),
        "resolution": durations(report.resolution),
        "satisfaction": {"count": report.satisfaction.count,
                         "average": _round(report.satisfaction.average, 2)},
        "backlog": report.backlog,
        "agents": [{"id": row.agent_id, "name": row.name, "assigned": row.assigned,
                    "resolved": row.resolved, "first_responses": row.first_responses,
                    "median_first_response_seconds": _round(row.median_first_response_seconds)}
                   for row in report.agents],
    }


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ would be a formula in a spreadsheet (an agent's name).
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_text(report: Report, which: object) -> str:
    """One report as CSV: a header row, then its rows."""
    which = which if which in REPORTS else None
    if which is None:
        raise Invalid(f"report must be one of {', '.join(REPORTS)}.", field="report")
    rows: list[Sequence[object]]
    if which == "conversations":
        rows = [["day", "conversations"], *([d.isoformat(), n] for d, n in report.per_day)]
    elif which in ("first_response", "resolution"):
        d = getattr(report, which)
        rows = [["conversations", "median_seconds", "p90_seconds"],
                [d.count, _round(d.median_seconds), _round(d.p90_seconds)]]
    elif which == "satisfaction":
        s = report.satisfaction
        rows = [["ratings", "average"], [s.count, _round(s.average, 2)]]
    elif which == "backlog":
        rows = [["status", "conversations"], *([status, n] for status, n in report.backlog.items())]
    else:
        rows = [["agent", "assigned", "resolved", "first_responses", "median_first_response_seconds"],
                *([r.name, r.assigned, r.resolved, r.first_responses,
                   _round(r.median_first_response_seconds)] for r in report.agents)]
    out = io.StringIO()
    csv.writer(out).writerows([[_cell(v) for v in row] for row in rows])
    return out.getvalue()


def filename(report: Report, which: str) -> str:
    return f"{which}-{report.range.first.isoformat()}-to-{report.range.last.isoformat()}.csv"
