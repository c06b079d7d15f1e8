#!/usr/bin/env python3
"""The audit page at size: how long GET /api/audit takes for the first page and for each
filter the page offers, with 100,000 audit events on the embedded store (app/store/engine.py).
Not a test: prints a table. Each answer is a real HTTP request to a real server (the session
cookie checked, the page read, its people and tickets named in one query each, the JSON
written), timed in this process from send to the last byte.

    .venv/bin/python bench/audit.py [events]              # 100000 by default
    .venv/bin/python bench/audit.py --mongomock [events]  # without the engine's fast path: as before

The events are made the way audit.record makes them (a month of them, people signing in,
changing tickets, writing notes, a few account changes), inserted in batches: writing them
one by one through audit.record would measure the insert path, not the page.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import aiohttp
from aiohttp.test_utils import TestServer
from bson import ObjectId

from app import clock, create_app
from app.config import Settings
from app.keys import ctx_key
from app.services.operations import audit
from app.services.people import users
from app.store import engine
from app.store import tickets as store_tickets

RUNS = 7
PEOPLE = 60
TICKETS = 8000
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
    "Safari/605.1.15",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
    "Safari/537.36",
)
# How often each kind of event happens in the made-up month.
MIX = (("ticket.update", 30), ("note.create", 20), ("ticket.create", 15), ("auth.login", 15),
       ("ticket.close", 10), ("auth.logout", 6), ("ticket.escalate", 3), ("user.update", 1))


async def fill(app, count: int, rnd: random.Random) -> dict:
    """Accounts, tickets and `count` audit events over the last 30 days, oldest first."""
    ctx = app[ctx_key]
    people = []
    for n in range(PEOPLE):
        user = await users.create_user(ctx.db, email=f"agent{n}@example.com", name=f"Agent {n:02d}",
                                       password="bench-password-1", role="admin" if n == 0 else "agent",
                                       settings=ctx.settings)
        people.append(user)
    now = clock.utcnow()
    tickets = []
    for n in range(TICKETS):
        ticket = await store_tickets.insert(ctx.db, ticket={
            "subject": f"Order {10000 + n} has not arrived", "guest_name": f"Guest {n:05d}", "guest_id": f"g{n}",
            "status": "open", "priority": "normal", "created_at": now, "updated_at": now, "version": 1})
        tickets.append(ticket)
    actions = [action for action, weight in MIX for _ in range(weight)]
    start = now - timedelta(days=30)
    step = timedelta(days=30) / count
    batch = []
    for n in range(count):
        action = rnd.choice(actions)
        person = rnd.choice(people)
        actor = {"id": str(person["_id"]), "role": person["role"], "name": person["name"]}
        if action.startswith(("ticket.", "note.")):
            ticket = rnd.choice(tickets)
            entity = {"type": "ticket", "id": str(ticket["_id"])}
            before, after = {"status": "open"}, {"status": "pending"}
            if action == "note.create":
                before, after = None, {"message_id": str(ObjectId()), "body": "Checked with the warehouse. " * rnd.randint(1, 8)}
            if action == "ticket.create":
                actor = audit.guest_actor(ticket["guest_id"], ticket["guest_name"])
            if action == "ticket.escalate":
                actor = audit.SYSTEM
        else:
            entity = {"type": "user", "id": actor["id"] if action.startswith("auth.") else str(rnd.choice(people)["_id"])}
            before, after = (None, None) if action.startswith("auth.") else ({"name": "Old"}, {"name": "New"})
        batch.append({"_id": ObjectId(), "at": start + step * n, "actor": actor, "action": action, "entity": entity,
                      "before": before, "after": after, "ip": f"10.0.{n % 200}.{n % 250}",
                      "user_agent": rnd.choice(AGENTS)})
        if len(batch) == 5000:
            await ctx.db.audit_events.insert_many(batch)
            batch = []
    if batch:
        await ctx.db.audit_events.insert_many(batch)
    return {"people": people, "tickets": tickets, "now": now}


async def timed(session: aiohttp.ClientSession, path: str, params: dict) -> tuple[float, float, dict]:
    """Wall time and this process's CPU time (server and client both run here; the client's
    part is small) of one request, in ms. The CPU time does not grow when other programs
    load the machine; the wall time does."""
    started, cpu = time.perf_counter(), time.process_time()
    async with session.get(path, params=params) as resp:
        body = await resp.json()
        assert resp.status == 200, body
    return (time.perf_counter() - started) * 1000, (time.process_time() - cpu) * 1000, body


async def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    count = int(args[0]) if args else 100_000
    without_fast_path = "--mongomock" in sys.argv
    if without_fast_path:
        engine._fast_find = lambda *a, **k: None  # mongomock's own find, as before
        engine._fast_count = lambda *a, **k: None
    settings = Settings(secret_key="bench-" + "x" * 32, seed_demo=False, bcrypt_rounds=4, jobs_in_process=False,
                        log_level="WARNING")
    app = create_app(settings)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    rnd = random.Random(15)
    started = time.perf_counter()
    world = await fill(app, count, rnd)
    print(f"{count:,} audit events, {PEOPLE} accounts, {TICKETS:,} tickets; filled in "
          f"{time.perf_counter() - started:.0f} s; embedded store"
          f"{' WITHOUT the fast path (mongomock as before)' if without_fast_path else ''}\n")

    session = aiohttp.ClientSession(base_url=str(server.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True))
    async with session.post("/api/auth/login", json={"email": "agent0@example.com",
                                                     "password": "bench-password-1"}) as resp:
        assert resp.status == 200
    now = world["now"]
    person = str(world["people"][7]["_id"])
    busiest_ticket = str(world["tickets"][3]["_id"])
    _, _, first = await timed(session, "/api/audit", {})
    day = lambda days: (now - timedelta(days=days)).isoformat()  # noqa: E731
    cases = [
        ("first page", "/api/audit", {}),
        ("next page (cursor)", "/api/audit", {"before": first["next_cursor"]}),
        ("person", "/api/audit", {"actor": person}),
        ("action, common (changed a ticket)", "/api/audit", {"action": "ticket.update"}),
        ("action, rare (changed an account)", "/api/audit", {"action": "user.update"}),
        ("action, none at all (job retried)", "/api/audit", {"action": "job.retry"}),
        ("ticket", "/api/audit", {"entity_type": "ticket", "entity_id": busiest_ticket}),
        ("kind of thing (accounts)", "/api/audit", {"entity_type": "user"}),
        ("today", "/api/audit", {"from": day(1)}),
        ("last 7 days", "/api/audit", {"from": day(7)}),
        ("last 30 days", "/api/audit", {"from": day(30)}),
        ("between dates (a week, 2 weeks ago)", "/api/audit", {"from": day(21), "to": day(14)}),
        ("person, last 7 days", "/api/audit", {"actor": person, "from": day(7)}),
        ("action and ticket", "/api/audit", {"action": "note.create", "entity_type": "ticket",
                                             "entity_id": busiest_ticket}),
        ("suggest people ('agent 4')", "/api/audit/people", {"q": "agent 4"}),
        ("suggest tickets ('guest 0712')", "/api/audit/tickets", {"q": "guest 0712"}),
        ("accounts, search ('example')", "/api/admin/users", {"q": "example"}),
    ]
    runs = 3 if without_fast_path else RUNS
    print(f"{'GET':<38} {'rows':>5} {'median ms':>10} {'max ms':>8} {'CPU ms':>8}   ({runs} runs each; "
          f"CPU: median)")
    for name, path, params in cases:
        times, cpus = [], []
        for _ in range(runs):
            elapsed, cpu, body = await timed(session, path, params)
            times.append(elapsed)
            cpus.append(cpu)
        rows = len(next(v for v in body.values() if isinstance(v, list)))
        print(f"{name:<38} {rows:>5} {statistics.median(times):>10.1f} {max(times):>8.1f} "
              f"{statistics.median(cpus):>8.1f}")
    print(f"\nload average while measuring: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} cores")
    await session.close()
    await server.close()


if __name__ == "__main__":
    asyncio.run(main())
