#!/usr/bin/env python3
"""Search latency on 10,000 tickets (three messages each) on the embedded store, through
the service agents call (services.tickets.search). Not a test: prints a small table.

The embedded engine has no text index: each search scans the tickets and the messages
(app/store/tickets.py, search_page). A real MongoDB reads its two text indexes instead.

    .venv/bin/python -m bench.search [tickets]

(As a module: run as a script, bench/queue.py would shadow the standard library's queue.)
"""

from __future__ import annotations

import asyncio
import random
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import db as db_module
from app.config import Settings
from app.security import Identity
from app.services.conversations import (
    NoEvents,
    tickets,
)
from app.services.core import Ctx

RUNS = 5
FIRST = ["Maria", "Ann", "Bob", "Chen", "Dana", "Eve", "Femi", "Gus", "Hana", "Ivo"]
LAST = ["Lopez", "Smith", "Okafor", "Novak", "Silva", "Berg", "Khan", "Rossi"]
WORDS = ["order", "parcel", "refund", "invoice", "blender", "warranty", "delivery", "late", "broken",
         "card", "address", "password", "account", "shipping", "return", "exchange", "discount",
         "coupon", "size", "colour"]


def sentence(rng: random.Random, n: int = 12) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n)).capitalize() + "."


async def fill(ctx: Ctx, count: int) -> None:
    """Tickets and messages written in bulk through the collections (set-up, not the thing
    measured), shaped as the services store them."""
    rng = random.Random(7)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    batch_tickets, batch_messages = [], []
    for n in range(count):
        at = start + timedelta(minutes=n)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        first = sentence(rng)
        ticket = {
            "guest_id": f"g{n}", "guest_name": name,
            "guest_email": f"{name.split()[0].lower()}{n}@example.com" if n % 2 else None,
            "subject": first[:120], "status": rng.choice(["open", "pending", "resolved", "closed"]),
            "priority": "normal", "assignee_id": None, "tags": rng.sample(WORDS, 2) if n % 3 == 0 else [],
            "created_at": at, "updated_at": at + timedelta(seconds=30), "last_message_at": at,
            "version": 3, "seq": 3, "guest_seq": 3,
        }
        batch_tickets.append(ticket)
    await ctx.db.tickets.insert_many(batch_tickets)
    for n, ticket in enumerate(batch_tickets):
        for seq in (1, 2, 3):
            body = sentence(rng, 20)
            if n == count // 2 and seq == 2:
                body += " The tracking code is ZX-81-QUIET."  # one rare phrase
            batch_messages.append({
                "ticket_id": ticket["_id"], "kind": "message" if seq != 3 else "note",
                "sender_role": "guest" if seq == 1 else "agent", "sender_id": "x", "sender_name": "x",
                "body": body, "created_at": ticket["created_at"] + timedelta(seconds=seq),
                "seq": seq, "guest_seq": seq,
            })
    for i in range(0, len(batch_messages), 5000):
        await ctx.db.messages.insert_many(batch_messages[i:i + 5000])


async def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    settings = Settings(secret_key="bench-" + "x" * 32)
    database = db_module.connect(settings)
    await db_module.ensure_indexes(database)
    ctx = Ctx(db=database, settings=settings, events=NoEvents())
    started = time.perf_counter()
    await fill(ctx, count)
    print(f"{count:,} tickets, {3 * count:,} messages and notes on the embedded store "
          f"(filled in {time.perf_counter() - started:.1f} s); first page of 20, {RUNS} runs each\n")
    agent = Identity(role="agent", id="0" * 24, name="Bench")
    email = (await database.tickets.find_one({"guest_email": {"$ne": None}}))["guest_email"]
    queries = [("a rare phrase in one message", "ZX-81-QUIET"), ("an e-mail address", email),
               ("a guest's name (many hits)", "Maria Lopez"), ("a common word (most tickets)", "refund"),
               ("regex characters, no hit", "$5.00 (.*)")]
    print(f"{'query':<32} {'hits':>5} {'median ms':>10} {'max ms':>8}")
    for label, text in queries:
        times = []
        for _ in range(RUNS):
            began = time.perf_counter()
            page = await tickets.search(ctx, identity=agent, text=text)
            times.append((time.perf_counter() - began) * 1000)
        hits = f"{len(page.hits)}{'+' if page.next_cursor else ''}"
        print(f"{label:<32} {hits:>5} {statistics.median(times):>10.0f} {max(times):>8.0f}")


if __name__ == "__main__":
    asyncio.run(main())
