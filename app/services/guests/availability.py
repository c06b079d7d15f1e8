"""Opening hours and presence: whether the team is there now, when it is back, and how soon
it usually answers (the median first response of the last 7 days)."""

from __future__ import annotations

import functools
import math
import re
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from ... import clock
from ...errors import Invalid
from ...store import settings as stored_settings
from ...store import tickets as stored_tickets
from ..core import Ctx

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_HOURS = {
    "enabled": False,  # off: always open, as before opening hours existed
    "timezone": "UTC",
    "days": {day: ({"open": "09:00", "close": "17:00"} if day not in ("sat", "sun") else None)
             for day in DAYS},
}
REPLY_WINDOW = timedelta(days=7)
REPLY_SAMPLE = 5000
_TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


@dataclass(frozen=True)
class Presence:
    online: bool
    reply_minutes: int | None  # the median first response, rounded up; None: no answers yet
    back_at: datetime | None  # offline: when the team is next there
    timezone: str


@functools.cache
def timezones() -> tuple[str, ...]:
    return tuple(sorted(name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC"))


def _time(span: dict, day: str, name: str) -> str:
    moment = span.get(name)
    if not isinstance(moment, str) or not _TIME.match(moment):
        raise Invalid("Times look like 09:00.", field=f"hours.days.{day}.{name}")
    return moment


def check_hours(value: object) -> dict:
    """Opening hours as an admin sends them: {enabled, timezone, days: {mon: {open, close} |
    null, ...}}; times HH:MM, each day's opening before its closing."""
    if not isinstance(value, dict):
        raise Invalid("hours must be an object.", field="hours")
    enabled = value.get("enabled", False)
    if not isinstance(enabled, bool):
        raise Invalid("hours.enabled must be true or false.", field="hours.enabled")
    tz = value.get("timezone")
    if not isinstance(tz, str) or tz not in timezones():
        raise Invalid("Choose a time zone from the list.", field="hours.timezone")
    days_in = value.get("days")
    if not isinstance(days_in, dict) or set(days_in) - set(DAYS):
        raise Invalid("hours.days must name the days mon to sun.", field="hours.days")
    days: dict = {}
    for day in DAYS:
        span = days_in.get(day)
        if span is None:
            days[day] = None
            continue
        if not isinstance(span, dict):
            raise Invalid(f"hours.days.{day} must be open and close times, or null.", field=f"hours.days.{day}")
        start, end = _time(span, day, "open"), _time(span, day, "close")
        if start >= end:
            raise Invalid("Opening must come before closing.", field=f"hours.days.{day}.close")
        days[day] = {"open": start, "close": end}
    if enabled and not any(days.values()):
        raise Invalid("Open on at least one day, or turn opening hours off.", field="hours.days")
    return {"enabled": enabled, "timezone": tz, "days": days}


async def hours(ctx: Ctx) -> dict:
    stored = await stored_settings.get(ctx.db, name="hours")
    if not stored:
        return dict(DEFAULT_HOURS)
    return {key: stored.get(key, default) for key, default in DEFAULT_HOURS.items()}


def _span(day_hours: dict, date, tz) -> tuple[datetime, datetime]:
    start = time.fromisoformat(day_hours["open"])
    end = time.fromisoformat(day_hours["close"])
    return (datetime.combine(date, start, tzinfo=tz), datetime.combine(date, end, tzinfo=tz))


def is_open(hours_: dict, now: datetime) -> bool:
    if not hours_.get("enabled"):
        return True
    tz = zoneinfo.ZoneInfo(hours_["timezone"])
    local = now.astimezone(tz)
    today = hours_["days"].get(DAYS[local.weekday()])
    if not today:
        return False
    start, end = _span(today, local.date(), tz)
    return start <= local < end


def next_opening(hours_: dict, now: datetime) -> datetime | None:
    """When the team is next there after `now` (UTC), within a week; None if never."""
    if not hours_.get("enabled"):
        return None
    tz = zoneinfo.ZoneInfo(hours_["timezone"])
    local = now.astimezone(tz)
    for ahead in range(8):
        date = local.date() + timedelta(days=ahead)
        span = hours_["days"].get(DAYS[date.weekday()])
        if not span:
            continue
        start, _ = _span(span, date, tz)
        if start > local:
            return start.astimezone(now.tzinfo)
    return None


def median(values: list[int]) -> float | None:
    if not values:
        return None
    middle = len(values) // 2
    return float(values[middle]) if len(values) % 2 else (values[middle - 1] + values[middle]) / 2


REPLY_CACHE_SECONDS = 60.0


async def reply_minutes(ctx: Ctx) -> int | None:
    """The median first response of tickets started in the last 7 days, in whole minutes
    (rounded up, at least 1); None when none was answered. Worked out at most once a
    minute per process: every widget page shows it."""
    now = clock.utcnow().timestamp()
    until, value = ctx.cached.get("reply_minutes", (0.0, None))
    if now < until:
        return value
    value = await _reply_minutes(ctx)
    ctx.cached["reply_minutes"] = (now + REPLY_CACHE_SECONDS, value)
    return value


async def _reply_minutes(ctx: Ctx) -> int | None:
    waits = await stored_tickets.first_response_waits(ctx.db, since=clock.utcnow() - REPLY_WINDOW,
                                                      limit=REPLY_SAMPLE)
    middle = median(waits)
    return None if middle is None else max(1, math.ceil(middle / 60000))


async def presence(ctx: Ctx, *, with_reply_time: bool = True) -> Presence:
    now = clock.utcnow()
    current = await hours(ctx)
    online = is_open(current, now)
    minutes = await reply_minutes(ctx) if online and with_reply_time else None
    return Presence(online=online, reply_minutes=minutes,
                    back_at=None if online else next_opening(current, now),
                    timezone=current["timezone"])


def away_line(back_at: datetime | None, timezone: str) -> str:
    """The automatic reply to a chat started while the team is away."""
    if back_at is None:
        return "We're away right now. We'll reply by e-mail as soon as we're back."
    local = back_at.astimezone(zoneinfo.ZoneInfo(timezone))
    return (f"We're away right now. We're back {local:%A} at {local:%H:%M} ({timezone}) "
            "and will reply by e-mail.")
