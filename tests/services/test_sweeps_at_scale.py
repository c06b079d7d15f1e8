"""The sweeps select only due tickets and walk all of them, however many are not due."""

from __future__ import annotations

import time as wallclock

import pytest
from bson import ObjectId

from app import db as db_module
from app.config import Settings
from app.security import Identity
from app.services.conversations import NoEvents, escalation, messages, tickets
from app.services.core import Ctx
from tests.fakeclock import FakeClock

MINUTE = 60
AGENT = Identity(role="agent", id=str(ObjectId()), name="Ada")


@pytest.fixture
async def ctx():
    settings = Settings(secret_key="x" * 32, rate_messages_per_ticket="1000/minute",
                        rate_chat_start_per_guest="1000/minute")
    database = db_module.connect(settings)
    await db_module.ensure_indexes(database)
    return Ctx(db=database, settings=settings, events=NoEvents())


async def test_500_due_tickets_among_2000_all_escalate_in_one_sweep(ctx, monkeypatch):
    clock = FakeClock(monkeypatch)
    started = []
    for n in range(2000):
        ticket, _ = await tickets.start_by_guest(ctx, guest_id=f"guest-{n}", name=f"Guest {n}",
                                                 email=None, body="Where is my order?")
        started.append(ticket)
    # 1,500 are answered: the guest is no longer waiting. The old sweep's filter matched
    # them all the same, read 500 in no order and skipped them: nothing escalated again.
    for ticket in started[:1500]:
        await messages.send(ctx, identity=AGENT, ticket_id=str(ticket["_id"]), body="On it",
                            client_msg_id=f"reply-{ticket['_id']}")
    clock.advance(16 * MINUTE)

    begun = wallclock.perf_counter()
    escalated = await escalation.sweep_escalations(ctx)
    took = wallclock.perf_counter() - begun
    assert sorted(t["_id"] for t in escalated) == sorted(t["_id"] for t in started[1500:])
    assert all(t["priority"] == "high" for t in escalated)
    # The next sweep finds nothing due (the escalated ones are due again in 15 minutes).
    assert await escalation.sweep_escalations(ctx) == []
    clock.advance(16 * MINUTE)
    assert len(await escalation.sweep_escalations(ctx)) == 500
    print(f"sweep of 500 due among 2,000 tickets: {took:.2f} s on the embedded engine")
