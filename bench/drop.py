"""The network-drop scenario: while 100 rooms exchange messages at a fixed rate, a fifth of
the sockets lose their connection abruptly for 2 s and come back; then every member's view
is compared with the store.

    .venv/bin/python -m bench.drop             # one run, about 40 s
    .venv/bin/python -m bench.drop --help      # --rate, --drop-share, --drop-seconds, --runs ...

The product is started as bench/run.py starts it (run.py, embedded store, real guests and
agents); bench/node/drop.js is the generator. A member is one socket's open conversation
(a widget tab, or one ticket of an agent dashboard). Its share is the part of the store's
messages above its first join's page (in its own numbering: agents every message, the guest
the guest's) that it ends up holding: "with catch-up" is everything it holds, "live only"
what came as `message:new` (and, for the sender, its acknowledgements): what plain
Socket.IO would give. "Seconds to complete" runs from the moment a cut socket connects
again to the moment it holds every message stored before its join answered again.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import aiohttp

from bench.run import (
    AGENT_SOCKETS,
    ROOMS,
    ROOT,
    TABS,
    Generator,
    chat_clients,
    cpu_seconds,
    node_ready,
    product_people,
    raise_fd_limit,
    start_product,
)


async def store_messages(url: str, cookie: str, ticket_id: str) -> list[dict]:
    """Every message of a ticket as `cookie`'s holder reads it through the HTTP API: paged
    by cursor with `after`, oldest first."""
    out: list[dict] = []
    after = "0"
    async with aiohttp.ClientSession(headers={"Cookie": cookie}) as session:
        while True:
            async with session.get(f"{url}/api/tickets/{ticket_id}/messages",
                                   params={"after": after, "limit": "100"}) as resp:
                assert resp.status == 200, await resp.text()
                page = await resp.json()
            out += page["messages"]
            if not page["has_more"] or not page["messages"]:
                return out
            after = page["next_cursor"]


def epoch_ms(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp() * 1000


def judge(views: list[dict], store: dict[tuple[str, str], list[dict]], clients: list[dict]) -> list[dict]:
    """Per member: its share of the store's messages with and without catch-up, messages it
    holds that the store does not, and (cut members) seconds from reconnect to complete."""
    judged = []
    for view in views:
        stored = store[(view["ticket_id"], view["audience"])]
        ids = {m["id"] for m in stored}
        due = [m for m in stored if m["seq"] > view["base"]]
        held = {row[0]: row for row in view["messages"]}
        live = {i for i, row in held.items() if row[4] or row[3] == "join"}
        got = sum(1 for m in due if m["id"] in held)
        got_live = sum(1 for m in due if m["id"] in live)
        entry = {
            "socket": view["socket"],
            "audience": view["audience"],
            "sender": bool(clients[view["socket"]].get("send_to")),
            "dropped": view["dropped"],
            "due": len(due),
            "share": got / len(due) if due else 1.0,
            "share_live": got_live / len(due) if due else 1.0,
            "missed": len(due) - got,
            "missed_live": len(due) - got_live,
            "phantoms": sum(1 for i in held if i not in ids),
            "complete_s": None,
            # where the time went: the handshake, the join's answer, the catch-up's end
            "connected_s": None, "joined_s": None, "caught_up_s": None,
        }
        if view["dropped"] and view["joined_at"] and view["reconnect_at"]:
            for name in ("connected", "joined", "caught_up"):
                if view[f"{name}_at"]:
                    entry[f"{name}_s"] = (view[f"{name}_at"] - view["reconnect_at"]) / 1000
            joined = view["joined_at"]
            before = [m for m in due if epoch_ms(m["created_at"]) <= joined]
            if all(m["id"] in held for m in before):
                done = max([joined, *(held[m["id"]][2] for m in before)])
                entry["complete_s"] = (done - view["reconnect_at"]) / 1000
        judged.append(entry)
    return judged


async def run_once(args) -> dict:
    out: dict = {"loadavg_start": os.getloadavg()}
    server = await start_product(args.server_dir, dict(kv.split("=", 1) for kv in args.env))
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as views_file:
        pass  # the load generator writes the views under this name
    try:
        guests, agents = await product_people(server.url, ROOMS)
        clients = chat_clients(guests, agents, tabs=TABS, agent_sockets=AGENT_SOCKETS)
        for client in clients:
            client["audience"] = "agent" if client["cookie"] in agents else "guest"
        config = {"clients": clients, "rate": args.rate, "before_drop_s": args.before,
                  "drop_s": args.drop_seconds, "after_s": args.after, "drop_share": args.drop_share,
                  "seed": args.seed, "settle_timeout_s": args.settle_timeout,
                  "views_path": views_file.name}
        async with Generator(server, config, script="drop.js") as gen:
            while True:
                event = await gen.event(timeout=300)
                now = cpu_seconds(server.proc.pid), time.perf_counter()
                if event["event"] == "measure-start":
                    start = now
                elif event["event"] == "dropped":
                    dropped = now
                elif event["event"] == "measure-end":
                    end = now
                elif event["event"] == "result":
                    result = event
                    break
        out["loadavg_end"] = os.getloadavg()
        out["server_cpu_pct"] = (end[0] - start[0]) / (end[1] - start[1]) * 100
        # From the cut to every member settled: the reconnects, joins and catch-ups.
        out["server_cpu_pct_after_cut"] = (now[0] - dropped[0]) / (now[1] - dropped[1]) * 100
        views = json.loads(Path(views_file.name).read_text())
        store: dict[tuple[str, str], list[dict]] = {}
        for guest_cookie, ticket_id in guests:
            store[(ticket_id, "guest")] = await store_messages(server.url, guest_cookie, ticket_id)
            store[(ticket_id, "agent")] = await store_messages(server.url, agents[0], ticket_id)
    finally:
        await server.stop()
        os.unlink(views_file.name)
    out["generator"] = result
    out["members"] = judge(views, store, clients)
    out["stored"] = sum(len(v) for (_, audience), v in store.items() if audience == "agent")
    out["clients"] = len(clients)
    return out


def spread(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), statistics.fmean(values)))


def _below(members: list[dict], key: str) -> str:
    below = [m for m in members if m[key] < 1]
    return f"{len(below)} ({sum(m['sender'] for m in below)})"


def _median_max(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} / {max(values):.0f}" if values else "-"


def _median_s(values: list[float | None]) -> str:
    values = [v for v in values if v is not None]
    return f"{statistics.median(values):.2f} s" if values else "-"


def report(run: dict) -> str:
    g = run["generator"]
    members = run["members"]
    cut = [m for m in members if m["dropped"]]
    complete = [m["complete_s"] for m in cut if m["complete_s"] is not None]
    pct = "{:.2%}"
    lines = [
        f"sockets {run['clients']:,} in {ROOMS} rooms, members (socket x open ticket) {len(members):,}; "
        f"cut: {g['dropped_sockets']} sockets, {len(cut)} members, for {run['drop_s']:.1f} s",
        f"messages sent {g['sent']:,} at {run['rate']:.0f}/s over {g['window_s']:.1f} s; acked {g['acked']:,} "
        f"(waited for the connection {g['waited']}, resent {g['resent']}, asked again after no answer in "
        f"time {g['askedAgain']}, answered as duplicates "
        f"{g['duplicates']}, failed {g['failed']}); stored messages (agents' numbering, incl. the first) "
        f"{run['stored']:,}",
        f"catch-up rounds {g['catchUps']:,}, history requests {g['historyAsks']:,} "
        f"({g['historyMessages']:,} messages); settled {g['settled']} {g['settle_s']:.1f} s after the last send; "
        f"unexpected disconnects {g['unexpectedDisconnects']}; failures {g['failures'] or 'none'}",
        "",
        f"{'share of the store a member holds (min / median / mean)':58}  {'with catch-up':>28}  "
        f"{'live only (plain Socket.IO)':>28}",
        f"{'  cut members':58}  {spread([m['share'] for m in cut], pct):>28}  "
        f"{spread([m['share_live'] for m in cut], pct):>28}",
        f"{'  all members':58}  {spread([m['share'] for m in members], pct):>28}  "
        f"{spread([m['share_live'] for m in members], pct):>28}",
        f"{'  members below 100% (of them senders)':58}  {_below(members, 'share'):>28}  "
        f"{_below(members, 'share_live'):>28}",
        f"{'  messages missing per cut member (median / max)':58}  "
        f"{_median_max([m['missed'] for m in cut]):>28}  "
        f"{_median_max([m['missed_live'] for m in cut]):>28}",
        f"{'  messages held that the store does not have':58}  {sum(m['phantoms'] for m in members):>28}",
        "seconds from reconnect to complete (cut members): median "
        + (f"{statistics.median(complete):.2f}, max {max(complete):.2f}" if complete else "-")
        + f"; never complete {len(cut) - len(complete)}",
        "  of which, medians: connected again {}, joined again {}, caught up {}".format(
            *(_median_s([m[f"{name}_s"] for m in cut]) for name in ("connected", "joined", "caught_up"))),
        f"server CPU % over the sending window {run['server_cpu_pct']:.0f}, from the cut until every "
        f"member settled {run['server_cpu_pct_after_cut']:.0f}; generator CPU % {g['generator_cpu_pct']:.0f}",
        "load average (1/5/15 min) at start {:.2f} {:.2f} {:.2f}, at end {:.2f} {:.2f} {:.2f}".format(
            *run["loadavg_start"], *run["loadavg_end"]),
    ]
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.drop", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=500, help="messages per second, all rooms together")
    parser.add_argument("--drop-share", type=float, default=0.2, help="share of the sockets cut off")
    parser.add_argument("--drop-seconds", type=float, default=2.0, help="how long they stay cut off")
    parser.add_argument("--before", type=float, default=3.0, help="seconds of sending before the cut")
    parser.add_argument("--after", type=float, default=5.0, help="seconds of sending after the reconnect")
    parser.add_argument("--settle-timeout", type=float, default=30.0,
                        help="most seconds to wait for every member to settle after the last send")
    parser.add_argument("--seed", type=int, default=14, help="which sockets are cut")
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--server-dir", type=Path, default=ROOT,
                        help="a checkout of the product to run (default: this one)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the product")
    parser.add_argument("--json", type=Path, help="also write every run's raw figures here")
    args = parser.parse_args(argv)
    if not node_ready():
        return 2
    raise_fd_limit()
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1}/{args.runs} ...", flush=True)
        run = await run_once(args)
        run.update(rate=args.rate, drop_s=args.drop_seconds)
        runs.append(run)
        print(report(run) + "\n", flush=True)
    if args.json:
        args.json.write_text(json.dumps(runs, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
