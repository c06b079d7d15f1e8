#!/usr/bin/env python3
"""How long a report takes on the embedded store (app/store/engine.py) with 10,000 tickets
over 30 days and 10 agents: the team's report (an admin's) and one agent's own, for the last
30 and the last 7 days. Not a test: prints a small table (median of a few runs).

    .venv/bin/python bench/reports.py [tickets]

The tickets are written straight through the store (app/store/tickets.py): this measures
reading them, not making them. mongomock runs every pipeline stage in Python over copies of
the documents the $match selected (it has no index), so the time grows with the tickets
in the range; a real MongoDB walks the created_at index and runs the same pipeline in C++.
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import clock
from app import db as db_module
from app.config import Settings
from app.security import Identity
from app.services.conversations import NoEvents
from app.services.core import Ctx
from app.services.operations import reports
from app.services.people import users
from app.store import tickets as stored_tickets

AGENTS = 10
RUNS = 5


async def fill(ctx: Ctx, count: int) -> list[dict]:
    rng = random.Random(13)
    agents = [await users.create_user(ctx.db, email=f"agent{i}@example.com", name=f"Agent {i}",
                                      password="bench-password-1", role="agent",
                                      settings=ctx.settings) for i in range(AGENTS)]
    now = clock.utcnow()
    for n in range(count):
        created = now - timedelta(seconds=rng.uniform(0, 30 * 86400))
        ticket = {"guest_id": f"guest-{n}", "guest_name": f"Guest {n}", "subject": "Help",
                  "status": "open", "priority": "normal", "assignee_id": None, "tags": [],
                  "created_at": created, "updated_at": created, "version": 1, "seq": 1,
                  "guest_seq": 1}
        if rng.random() < 0.9:
            ticket["first_response_at"] = created + timedelta(seconds=rng.expovariate(1 / 600))
            ticket["first_response_by"] = rng.choice(agents)["_id"]
            ticket["assignee_id"] = rng.choice(agents)["_id"]
            roll = rng.random()
            if roll < 0.5:
                ticket["status"] = "resolved"
                ticket["resolved_at"] = created + timedelta(seconds=rng.expovariate(1 / 7200))
            elif roll < 0.7:
                ticket["status"] = "closed"
                ticket["closed_at"] = created + timedelta(seconds=rng.expovariate(1 / 9000))
            elif roll < 0.8:
                ticket["status"] = "pending"
            if ticket["status"] in ("resolved", "closed") and rng.random() < 0.3:
                ticket["csat"] = {"rating": rng.randint(1, 5), "comment": "", "at": created}
        await stored_tickets.insert(ctx.db, ticket=ticket)
    return agents


async def timed(ctx: Ctx, identity: Identity, preset: str) -> tuple[float, reports.Report]:
    period = reports.parse_range({"range": preset})
    times, report = [], None
    for _ in range(RUNS):
        started = time.perf_counter()
        report = await reports.build(ctx, identity=identity, period=period)
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000, report


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    settings = Settings(secret_key="bench-" + "x" * 32, bcrypt_rounds=4)
    database = db_module.connect(settings)
    await db_module.ensure_indexes(database)
    ctx = Ctx(db=database, settings=settings, events=NoEvents())
    started = time.perf_counter()
    agents = await fill(ctx, count)
    print(f"{count} tickets over 30 days, {AGENTS} agents, embedded store "
          f"(filled in {time.perf_counter() - started:.1f} s); median of {RUNS} runs\n")
    admin = Identity(role="admin", id="0" * 24, name="Admin")
    agent = Identity(role="agent", id=str(agents[0]["_id"]), name=agents[0]["name"])
    print(f"{'report':<22} {'range':>6} {'tickets':>8} {'ms':>8}")
    for who, identity in (("team (admin)", admin), ("one agent's own", agent)):
        for preset in ("30d", "7d"):
            ms, report = await timed(ctx, identity, preset)
            print(f"{who:<22} {preset:>6} {report.conversations:>8} {ms:>8.0f}")


if __name__ == "__main__":
    asyncio.run(main())
