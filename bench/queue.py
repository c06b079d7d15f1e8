"""The live queue with a large team: 200 agent dashboards over 100 busy tickets.

    .venv/bin/python -m bench.queue                     # 3 runs, medians, about a minute
    .venv/bin/python -m bench.queue --server-dir <checkout of another commit>

Every agent socket is in the agents room, so every message that moves a ticket in the
queue reaches every dashboard. Topology: 100 tickets, each with its guest's widget open
(the sender); 200 dashboard sockets, each with one ticket open (two per ticket). The guests
together send a fixed rate (200 msg/s by default, 2 per ticket per second). Reported per
second over the window: `message:new` deliveries, queue frames by event name
(`ticket:updated`, `queue:updated`), and send-to-receipt latency at the members. Uses the
main benchmark's server start, people and generator (bench/run.py, bench/node/generator.js).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

from bench.run import ROOT, load, product_people, raise_fd_limit, start_product

TICKETS = 100
DASHBOARDS = 200


def clients(guests: list[tuple[str, str]], agents: list[str], dashboards: int) -> list[dict]:
    senders = [{"cookie": cookie, "join": [ticket_id], "send_to": ticket_id} for cookie, ticket_id in guests]
    viewers = [{"cookie": agents[j % len(agents)], "join": [guests[j % len(guests)][1]], "send_to": None}
               for j in range(dashboards)]
    return senders + viewers


async def one_run(args) -> dict:
    loadavg = os.getloadavg()[0]
    server = await start_product(args.server_dir, {})
    try:
        guests, agents = await product_people(server.url, args.tickets)
        result = await load(server, clients(guests, agents, args.dashboards), mode="open",
                            duration=args.duration, warmup=2, rate=args.rate)
    finally:
        await server.stop()
    result["loadavg"] = loadavg
    return result


def summary(runs: list[dict], rate: float) -> str:
    def med(fn):
        return statistics.median(fn(r) for r in runs)

    names = sorted({n for r in runs for n in r["other_events_by_name"]})
    lines = [
        f"acked msg/s (target {rate:.0f})          {med(lambda r: r['acked_per_s']):>10,.0f}",
        f"message:new deliveries/s              {med(lambda r: r['delivered_per_s']):>10,.0f}",
    ]
    window = med(lambda r: r["window_s"])
    for name in names:
        per_s = med(lambda r, n=name: r["other_events_by_name"].get(n, 0) / r["window_s"])
        lines.append(f"{name + ' frames/s':38}{per_s:>10,.0f}")
    queue = med(lambda r: sum(v for k, v in r["other_events_by_name"].items()
                              if k in ("ticket:updated", "queue:updated")) / r["window_s"])
    lines += [
        f"queue frames/s (both events)          {queue:>10,.0f}",
        f"latency p50 ms                        {med(lambda r: r['latency_ms']['p50']):>10.1f}",
        f"latency p99 ms                        {med(lambda r: r['latency_ms']['p99']):>10.1f}",
        f"ack p99 ms                            {med(lambda r: r['ack_ms']['p99']):>10.1f}",
        f"server CPU %                          {med(lambda r: r['server_cpu_pct']):>10.0f}",
        f"generator CPU %                       {med(lambda r: r['generator_cpu_pct']):>10.0f}",
        f"(window {window:.1f} s; per run p99: "
        + ", ".join(f"{r['latency_ms']['p99']:.1f}" for r in runs) + ")",
    ]
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.queue", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured")
    parser.add_argument("--rate", type=float, default=200.0, help="messages per second, all guests together")
    parser.add_argument("--tickets", type=int, default=TICKETS)
    parser.add_argument("--dashboards", type=int, default=DASHBOARDS)
    parser.add_argument("--server-dir", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    raise_fd_limit()
    runs = []
    started = time.perf_counter()
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs} ...", flush=True)
        runs.append(await one_run(args))
    loads = [r["loadavg"] for r in runs]
    print(f"\n{args.tickets} tickets, {args.dashboards} dashboards, {args.rate:.0f} msg/s; "
          f"{args.runs} run(s), medians, {time.perf_counter() - started:.0f} s; "
          f"1-min load average {min(loads):.1f}-{max(loads):.1f}; server: {args.server_dir}\n")
    print(summary(runs, args.rate))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
