"""Reports against a fixture of known tickets, made through the services with a pinned clock:
exact counts per day, medians, 90th percentiles, averages, backlog and per-agent rows."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from bson import ObjectId

from app.errors import Invalid
from app.security import Identity
from app.services.conversations import messages, tickets
from app.services.operations import reports
from app.store import tickets as stored_tickets
from tests.conftest import make_account
from tests.fakeclock import FakeClock


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2025, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class Team:
    ada: Identity
    bob: Identity
    admin: Identity


@pytest.fixture
async def team(live_server) -> Team:
    ada = await make_account(live_server, role="agent", name="Ada", email="ada-agent@example.com")
    bob = await make_account(live_server, role="agent", name="Bob", email="bob@example.com")
    boss = await make_account(live_server, role="admin", name="Boss", email="boss@example.com")
    return Team(*(Identity(role=a["role"], id=a["id"], name=a["name"]) for a in (ada, bob, boss)))


class Story:
    """Tickets told through the services, each step at the time the clock is set to."""

    def __init__(self, ctx, clock: FakeClock) -> None:
        self.ctx, self.clock, self.n = ctx, clock, 0

    async def start(self, when: datetime) -> dict:
        self.clock.now, self.n = when, self.n + 1
        ticket, _ = await tickets.start_by_guest(self.ctx, guest_id=f"guest-{self.n}",
                                                 name=f"Guest {self.n}", email=None, body="Help")
        return ticket

    async def reply(self, ticket: dict, agent: Identity, when: datetime) -> None:
        self.clock.now, self.n = when, self.n + 1
        await messages.send(self.ctx, identity=agent, ticket_id=str(ticket["_id"]), body="On it",
                            client_msg_id=f"m-{self.n}")

    async def guest_writes(self, ticket: dict, when: datetime) -> None:
        self.clock.now, self.n = when, self.n + 1
        guest = Identity(role="guest", id=ticket["guest_id"], name="")
        await messages.send(self.ctx, identity=guest, ticket_id=str(ticket["_id"]), body="Again",
                            client_msg_id=f"g-{self.n}")

    async def update(self, ticket: dict, who: Identity, when: datetime, **changes) -> None:
        self.clock.now = when
        await tickets.update(self.ctx, identity=who, ticket_id=str(ticket["_id"]), changes=changes)

    async def rate(self, ticket: dict, rating: int, when: datetime) -> None:
        # The guest's rating: the CSAT feature (another branch) stores it as `csat`.
        await stored_tickets.record_csat(self.ctx.db, ticket_id=ticket["_id"], rating=rating,
                                         comment="", at=when)


@pytest.fixture
async def story(live_server, team, monkeypatch) -> Story:
    """Three days, 8-10 March 2025 (UTC), and one ticket just before them:

    ticket  created      first answer        assigned  now        resolution  rating
    T0      7 Mar 23:59  Ada +2 min          -         open       -           -
    T1      8 Mar 10:00  Ada +2 min          Ada       resolved   1 h         5
    T2      8 Mar 12:00  Bob +10 min         Bob       closed     2 h         3
    T3      9 Mar 09:00  Ada +5 min (+Bob)   Ada       open       -           -
    T4      9 Mar 15:00  -                   -         open       -           -
    T5     10 Mar 08:00  Bob +30 min         Ada       pending    -           -
    T6     10 Mar 09:00  Ada +1 min          Bob       reopened   -           -
    """
    s = Story(live_server.ctx, FakeClock(monkeypatch, start=at(7, 23, 59)))
    ada, bob, boss = team.ada, team.bob, team.admin
    t0 = await s.start(at(7, 23, 59))
    await s.reply(t0, ada, at(8, 0, 1))
    t1 = await s.start(at(8, 10))
    await s.reply(t1, ada, at(8, 10, 2))
    await s.update(t1, ada, at(8, 10, 3), assignee_id=ada.id)
    await s.update(t1, ada, at(8, 11), status="resolved")
    await s.rate(t1, 5, at(8, 11, 5))
    t2 = await s.start(at(8, 12))
    await s.reply(t2, bob, at(8, 12, 10))
    await s.update(t2, boss, at(8, 12, 11), assignee_id=bob.id)
    await s.update(t2, bob, at(8, 14), status="closed")
    await s.rate(t2, 3, at(8, 14, 1))
    t3 = await s.start(at(9, 9))
    await s.reply(t3, ada, at(9, 9, 5))
    await s.reply(t3, bob, at(9, 9, 6))  # not the first answer: Ada keeps it
    await s.update(t3, ada, at(9, 9, 7), assignee_id=ada.id)
    await s.start(at(9, 15))
    t5 = await s.start(at(10, 8))
    await s.reply(t5, bob, at(10, 8, 30))
    await s.update(t5, boss, at(10, 8, 31), assignee_id=ada.id, status="pending")
    t6 = await s.start(at(10, 9))
    await s.reply(t6, ada, at(10, 9, 1))
    await s.update(t6, boss, at(10, 9, 2), assignee_id=bob.id)
    await s.update(t6, ada, at(10, 9, 30), status="resolved")
    await s.guest_writes(t6, at(10, 10))  # reopened: no longer resolved
    s.clock.now = at(10, 18)
    return s


def three_days(tz: str = "UTC") -> reports.Range:
    return reports.parse_range({"range": "custom", "from": "2025-03-08", "to": "2025-03-10", "tz": tz})


async def test_an_admins_report_counts_days_medians_percentiles_ratings_backlog_and_agents(
        story, team, live_server):
    report = await reports.build(live_server.ctx, identity=team.admin, period=three_days())
    assert report.scope == "team"
    assert report.per_day == [(date(2025, 3, 8), 2), (date(2025, 3, 9), 2), (date(2025, 3, 10), 2)]
    # first answers of T1-T6 in seconds: 120, 600, 300, 1800, 60 (T4 unanswered, T0 before)
    assert report.first_response == reports.Durations(count=5, median_seconds=300, p90_seconds=1800)
    # resolved or closed: T1 after 1 h, T2 after 2 h (T6 was reopened)
    assert report.resolution == reports.Durations(count=2, median_seconds=3600, p90_seconds=7200)
    assert report.satisfaction == reports.Satisfaction(count=2, average=4.0)
    assert report.backlog == {"open": 4, "pending": 1}  # T0, T3, T4, T6; T5 (now, any day)
    rows = {row.name: row for row in report.agents}
    assert set(rows) == {"Ada", "Bob", "Boss"}
    # Ada: assigned T1, T3, T5 (T1 resolved); answered T1, T3, T6 first: 120, 300, 60 s
    assert rows["Ada"] == reports.AgentRow(agent_id=team.ada.id, name="Ada", assigned=3, resolved=1,
                                           first_responses=3, median_first_response_seconds=120)
    # Bob: assigned T2, T6 (T2 closed); answered T2, T5 first: 600, 1800 s
    assert rows["Bob"] == reports.AgentRow(agent_id=team.bob.id, name="Bob", assigned=2, resolved=1,
                                           first_responses=2, median_first_response_seconds=600)
    assert (rows["Boss"].assigned, rows["Boss"].first_responses) == (0, 0)


async def test_an_agent_sees_only_the_conversations_assigned_to_them_and_their_own_row(
        story, team, live_server):
    report = await reports.build(live_server.ctx, identity=team.ada, period=three_days())
    assert report.scope == "own"
    assert report.per_day == [(date(2025, 3, 8), 1), (date(2025, 3, 9), 1), (date(2025, 3, 10), 1)]
    # T1, T3, T5: answered after 120, 300 and 1800 s; T1 resolved after an hour and rated 5
    assert report.first_response == reports.Durations(count=3, median_seconds=300, p90_seconds=1800)
    assert report.resolution == reports.Durations(count=1, median_seconds=3600, p90_seconds=3600)
    assert report.satisfaction == reports.Satisfaction(count=1, average=5.0)
    assert report.backlog == {"open": 1, "pending": 1}
    assert report.agents == [reports.AgentRow(
        agent_id=team.ada.id, name="Ada", assigned=3, resolved=1, first_responses=3,
        median_first_response_seconds=120)]


async def test_days_are_counted_in_the_chosen_time_zone(story, team, live_server):
    # In Tokyo (UTC+9) T0 (7 March 23:59 UTC) starts on 8 March, and T4 (9 March 15:00 UTC)
    # on 10 March.
    report = await reports.build(live_server.ctx, identity=team.admin, period=three_days("Asia/Tokyo"))
    assert report.per_day == [(date(2025, 3, 8), 3), (date(2025, 3, 9), 1), (date(2025, 3, 10), 3)]
    assert report.first_response.count == 6  # T0 is in the range now


async def test_presets_end_today_in_the_time_zone(live_server, monkeypatch):
    FakeClock(monkeypatch, start=at(10, 23, 30))
    week = reports.parse_range({"range": "7d"})
    assert (week.first, week.last) == (date(2025, 3, 4), date(2025, 3, 10))
    month = reports.parse_range({"range": "30d", "tz": "Europe/Paris"})  # already 11 March there
    assert (month.first, month.last) == (date(2025, 2, 10), date(2025, 3, 11))
    assert month.start == datetime(2025, 2, 9, 23, tzinfo=UTC)


@pytest.mark.parametrize("query, field", [
    ({"range": "year"}, "range"),
    ({"range": "custom", "from": "2025-03-10", "to": "2025-03-01"}, "to"),
    ({"range": "custom", "from": "2025-02-30", "to": "2025-03-01"}, "from"),
    ({"range": "custom", "from": "2023-01-01", "to": "2025-03-01"}, "from"),
    ({"range": "7d", "tz": "Mars/Olympus_Mons"}, "tz"),
    ({"range": "7d", "tz": "../../etc/passwd"}, "tz"),
])
def test_a_bad_range_is_refused_with_the_field_named(query, field):
    with pytest.raises(Invalid) as refused:
        reports.parse_range(query)
    assert refused.value.field == field


async def test_a_report_with_no_conversations_says_so(team, live_server):
    report = await reports.build(live_server.ctx, identity=team.admin, period=three_days())
    assert report.conversations == 0
    assert report.first_response == reports.Durations(count=0, median_seconds=None, p90_seconds=None)
    assert report.satisfaction == reports.Satisfaction(count=0, average=None)


async def test_the_first_answer_is_credited_to_the_agent_whose_answer_was_stored_first(
        team, live_server, start_chat):
    guest = await start_chat()
    ctx = live_server.ctx
    await asyncio.gather(*(
        messages.send(ctx, identity=agent, ticket_id=guest.ticket_id, body="Hi",
                      client_msg_id=f"race-{agent.name}") for agent in (team.ada, team.bob)))
    ticket = await stored_tickets.get(ctx.db, ticket_id=ObjectId(guest.ticket_id))
    first = await ctx.db.messages.find_one({"ticket_id": ticket["_id"], "sender_role": "agent"},
                                           sort=[("seq", 1)])
    assert str(ticket["first_response_by"]) == first["sender_id"]


def test_a_day_is_midnight_to_midnight_across_a_daylight_saving_change():
    # Paris moves to summer time on 30 March 2025: that day lasts 23 hours.
    period = reports.parse_range({"range": "custom", "from": "2025-03-29", "to": "2025-03-31",
                                  "tz": "Europe/Paris"})
    assert [period.day_start(d) for d in period.days()] == [
        datetime(2025, 3, 28, 23, tzinfo=UTC), datetime(2025, 3, 29, 23, tzinfo=UTC),
        datetime(2025, 3, 30, 22, tzinfo=UTC)]
    assert period.end == datetime(2025, 3, 31, 22, tzinfo=UTC)
