"""The benchmark: the product under load from many Socket.IO clients, next to a plain Node.js
Socket.IO server driven by the same generator in the same run.

    .venv/bin/python -m bench                 # 3 runs, medians, about 4 minutes
    .venv/bin/python -m bench --runs 1        # one run, about 80 s

Loopback only. Each scenario starts a fresh server process (the product through run.py with
the embedded store, or bench/node/reference-server.js) and one Node.js generator process
(bench/node/generator.js). See bench/README.md for what is measured and how.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
NODE_DIR = BENCH / "node"
CLK_TCK = os.sysconf("SC_CLK_TCK")
DEMO_AGENTS = [("agent@example.com", "agent-demo-1234"), ("admin@example.com", "admin-demo-1234")]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_fd_limit(want: int = 65536) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def node_ready() -> bool:
    """Node.js is there and the generator's packages are installed (npm ci the first time)."""
    if not shutil.which("node"):
        print("error: node (Node.js 18+) is needed", file=sys.stderr)
        return False
    if not (NODE_DIR / "node_modules").exists():
        print("installing the generator's packages (npm ci) ...", flush=True)
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR, check=True)
    return True


# -- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    kind: str  # "product" | "node"
    proc: subprocess.Popen
    url: str
    ready_s: float

    async def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                await asyncio.to_thread(self.proc.wait, 30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                await asyncio.to_thread(self.proc.wait)


async def wait_ready(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited with {proc.returncode} before it was ready")
            try:
                async with session.get(f"{url}/readyz") as resp:
                    if resp.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server not ready in time")
            await asyncio.sleep(0.02)


BENCH_LIMITS = ("RATE_LIMIT_LOGIN_PER_IP", "RATE_LIMIT_LOGIN_PER_EMAIL", "RATE_LIMIT_CHAT_START_PER_GUEST",
                "RATE_LIMIT_CHAT_START_PER_IP", "RATE_LIMIT_MESSAGES_PER_TICKET")


async def start_product(server_dir: Path, env_extra: dict[str, str]) -> Server:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "REDIS_URL")}
    env.update(SUPPORT_CHAT_NO_VENV="1", PORT=str(port), HOST="127.0.0.1", LOG_LEVEL="WARNING",
               SECRET_KEY="bench-secret-key-0123456789abcdef", PYTHONPATH=str(server_dir))
    # One loopback IP starts 100 chats and each sender sends far more than a person would:
    # raise the limits (the limiter still counts every message, so its cost is measured).
    env.update(dict.fromkeys(BENCH_LIMITS, "1000000/minute"))
    env.update(env_extra)
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(server_dir / "run.py")], cwd=server_dir, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    await wait_ready(url, proc)
    return Server("product", proc, url, time.perf_counter() - started)


async def start_node_reference() -> Server:
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(["node", str(NODE_DIR / "reference-server.js"), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    await wait_ready(url, proc)
    return Server("node", proc, url, time.perf_counter() - started)


# -- the people: real guests and agents with real cookies ----------------------------------


async def product_people(url: str, rooms: int) -> tuple[list[tuple[str, str]], list[str]]:
    """(guest cookie, ticket id) per room, made through POST /api/guest/tickets, and agent
    cookies from logging in the demo accounts."""

    async def new_guest(i: int) -> tuple[str, str]:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.post(f"{url}/api/guest/tickets",
                                    json={"name": f"Guest {i}", "message": "Hello, bench here."}) as resp:
                assert resp.status == 201, await resp.text()
                ticket_id = (await resp.json())["ticket"]["id"]
            return "; ".join(f"{c.key}={c.value}" for c in jar), ticket_id

    async def agent_cookie(email: str, password: str) -> str:
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            async with session.post(f"{url}/api/auth/login",
                                    json={"email": email, "password": password}) as resp:
                assert resp.status == 200, await resp.text()
            return "; ".join(f"{c.key}={c.value}" for c in jar)

    guests = []
    for start in range(0, rooms, 20):
        guests += await asyncio.gather(*(new_guest(i) for i in range(start, min(rooms, start + 20))))
    agents = [await agent_cookie(e, p) for e, p in DEMO_AGENTS]
    return guests, agents


def reference_people(rooms: int) -> tuple[list[tuple[str, str]], list[str]]:
    return [("", f"room{i}") for i in range(rooms)], ["", ""]


def chat_clients(guests, agents, *, tabs: int, agent_sockets: int) -> list[dict]:
    """Per room: `tabs` sockets of its guest (the first one sends); agents: `agent_sockets`
    dashboards, each joined to an equal share of the rooms."""
    clients = []
    for cookie, ticket_id in guests:
        for tab in range(tabs):
            clients.append({"cookie": cookie, "join": [ticket_id],
                            "send_to": ticket_id if tab == 0 else None})
    per_agent = max(1, len(guests) // agent_sockets)
    for j in range(agent_sockets):
        share = [t for _, t in guests[j * per_agent:(j + 1) * per_agent]]
        clients.append({"cookie": agents[j % len(agents)], "join": share, "send_to": None})
    return clients


# -- the generator ---------------------------------------------------------------------------


class Generator:
    def __init__(self, server: Server, config: dict, script: str = "generator.js") -> None:
        self.server = server
        self.script = script
        self.config = {"url": server.url, "origin": server.url, "concurrency": 50, **config}

    async def __aenter__(self):
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as self.file:
            json.dump(self.config, self.file)
        self.proc = await asyncio.create_subprocess_exec(
            "node", str(NODE_DIR / self.script), self.file.name,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return self

    async def event(self, timeout: float = 120) -> dict:
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise RuntimeError("generator exited early")
        event = json.loads(line)
        if event["event"] == "error":
            raise RuntimeError("generator: " + event["message"])
        return event

    async def send(self, line: str) -> None:
        self.proc.stdin.write(line.encode() + b"\n")
        await self.proc.stdin.drain()

    async def __aexit__(self, *exc) -> None:
        if self.proc.returncode is None:
            try:
                await asyncio.wait_for(self.proc.wait(), 30)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        os.unlink(self.file.name)


async def load(server: Server, clients: list[dict], *, mode: str, duration: float,
               warmup: float, rate: float = 0) -> dict:
    config = {"mode": mode, "clients": clients, "duration_s": duration, "warmup_s": warmup,
              "rate": rate}
    async with Generator(server, config) as gen:
        await gen.event()  # connected
        await gen.event()  # measure-start
        cpu0, t0 = cpu_seconds(server.proc.pid), time.perf_counter()
        await gen.event()  # measure-end
        cpu1, t1 = cpu_seconds(server.proc.pid), time.perf_counter()
        result = await gen.event()
    result["server_cpu_pct"] = (cpu1 - cpu0) / (t1 - t0) * 100
    return result


async def idle(server: Server, clients: list[dict], steps: list[int]) -> dict[int, float]:
    """Bytes of server RSS per idle connection at each step (connected and joined)."""
    await asyncio.sleep(0.5)
    base = rss_bytes(server.proc.pid)
    per_conn = {}
    async with Generator(server, {"mode": "idle", "clients": clients, "steps": steps}) as gen:
        for i, _ in enumerate(steps):
            step = await gen.event(timeout=300)
            await asyncio.sleep(1.0)  # let buffers settle
            per_conn[step["connected"]] = (rss_bytes(server.proc.pid) - base) / step["connected"]
            await gen.send("next" if i < len(steps) - 1 else "stop")
    return per_conn


# -- scenarios -------------------------------------------------------------------------------


ROOMS = 100
TABS = 10
AGENT_SOCKETS = 10
OPEN_RATE = 500


async def scenario(kind: str, args) -> dict:
    out: dict = {"loadavg": os.getloadavg()[0]}  # other work on the machine skews everything
    env = dict(kv.split("=", 1) for kv in args.env)

    async def start() -> Server:
        return await (start_product(args.server_dir, env) if kind == "product" else start_node_reference())

    async def people(server: Server):
        return await product_people(server.url, ROOMS) if kind == "product" else reference_people(ROOMS)

    if not args.only_idle:
        # Closed loop: throughput.
        server = await start()
        out["ready_s"] = server.ready_s
        try:
            guests, agents = await people(server)
            clients = chat_clients(guests, agents, tabs=TABS, agent_sockets=AGENT_SOCKETS)
            out["clients"] = len(clients)
            out["closed"] = await load(server, clients, mode="closed", duration=args.duration, warmup=2)
        finally:
            await server.stop()
        # Open loop at a fixed rate: latency.
        server = await start()
        try:
            guests, agents = await people(server)
            clients = chat_clients(guests, agents, tabs=TABS, agent_sockets=AGENT_SOCKETS)
            out["open"] = await load(server, clients, mode="open", duration=args.duration, warmup=2,
                                     rate=OPEN_RATE)
        finally:
            await server.stop()
    # Idle connections: memory.
    if not args.skip_idle:
        server = await start()
        try:
            guests, _ = await people(server)
            many = [{"cookie": guests[i % len(guests)][0], "join": [guests[i % len(guests)][1]]}
                    for i in range(max(args.idle_steps))]
            out["idle"] = await idle(server, many, args.idle_steps)
        finally:
            await server.stop()
    return out


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def table(results: dict[str, list[dict]], steps: list[int]) -> str:
    rows = []

    def row(label, fn, fmt):
        cells = []
        for kind in ("product", "node"):
            runs = results.get(kind, [])
            values = []
            for r in runs:
                try:
                    values.append(fn(r))
                except (KeyError, TypeError):
                    pass
            m = median(values)
            cells.append("-" if m is None else fmt.format(m))
        if any(cell != "-" for cell in cells):  # --only-idle: no rows for the loads
            rows.append((label, *cells))

    row("clients (rooms=100)", lambda r: r["clients"], "{:.0f}")
    row("seconds to ready", lambda r: r["ready_s"], "{:.2f}")
    row("closed: acked msg/s", lambda r: r["closed"]["acked_per_s"], "{:,.0f}")
    row("closed: delivered msg/s", lambda r: r["closed"]["delivered_per_s"], "{:,.0f}")
    row("closed: other events/s (ticket:updated...)", lambda r: r["closed"]["other_events_per_s"], "{:,.0f}")
    row("closed: latency p50 ms", lambda r: r["closed"]["latency_ms"]["p50"], "{:.1f}")
    row("closed: latency p99 ms", lambda r: r["closed"]["latency_ms"]["p99"], "{:.1f}")
    row("closed: server CPU %", lambda r: r["closed"]["server_cpu_pct"], "{:.0f}")
    row("closed: generator CPU %", lambda r: r["closed"]["generator_cpu_pct"], "{:.0f}")
    row(f"open {OPEN_RATE}/s: acked msg/s", lambda r: r["open"]["acked_per_s"], "{:,.0f}")
    row(f"open {OPEN_RATE}/s: delivered msg/s", lambda r: r["open"]["delivered_per_s"], "{:,.0f}")
    row(f"open {OPEN_RATE}/s: latency p50 ms", lambda r: r["open"]["latency_ms"]["p50"], "{:.1f}")
    row(f"open {OPEN_RATE}/s: latency p99 ms", lambda r: r["open"]["latency_ms"]["p99"], "{:.1f}")
    row(f"open {OPEN_RATE}/s: server CPU %", lambda r: r["open"]["server_cpu_pct"], "{:.0f}")
    row(f"open {OPEN_RATE}/s: generator CPU %", lambda r: r["open"]["generator_cpu_pct"], "{:.0f}")
    for n in steps:
        row(f"idle: KB per connection at {n:,}", lambda r, n=n: r["idle"][n] / 1024, "{:.1f}")
    prod = [r["closed"]["delivered_per_s"] for r in results.get("product", []) if "closed" in r]
    node = [r["closed"]["delivered_per_s"] for r in results.get("node", []) if "closed" in r]
    ratios = [p / n for p, n in zip(prod, node, strict=False) if n]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'':{width}}  {'product':>10}  {'node ref':>10}", "-" * (width + 24)]
    lines += [f"{label:{width}}  {a:>10}  {b:>10}" for label, a, b in rows]
    if ratios:
        lines.append(f"{'delivered ratio product/node (per run, median)':{width}}  {median(ratios):>10.2f}")
    return "\n".join(lines)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per server; medians are shown")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds measured per load")
    parser.add_argument("--only", choices=("product", "node"), help="bench one server only")
    parser.add_argument("--skip-idle", action="store_true", help="skip the idle-memory scenario")
    parser.add_argument("--only-idle", action="store_true",
                        help="run only the idle-memory scenario (no closed or open loop)")
    parser.add_argument("--idle-steps", type=lambda s: [int(x) for x in s.split(",")],
                        default=[1000, 5000], help="connection counts for idle memory")
    parser.add_argument("--server-dir", type=Path, default=ROOT,
                        help="a checkout of the product to run (default: this one)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for the product (e.g. WS_COMPRESSION=1)")
    parser.add_argument("--json", type=Path, help="also write every run's raw figures here")
    args = parser.parse_args(argv)
    if args.only_idle and args.skip_idle:
        parser.error("--only-idle and --skip-idle exclude each other")
    if not node_ready():
        return 2
    raise_fd_limit()
    kinds = [args.only] if args.only else ["product", "node"]
    results: dict[str, list[dict]] = {k: [] for k in kinds}
    started = time.perf_counter()
    for run in range(args.runs):
        for kind in kinds:
            print(f"run {run + 1}/{args.runs}: {kind} ...", flush=True)
            results[kind].append(await scenario(kind, args))
    loads = [r["loadavg"] for runs in results.values() for r in runs]
    print(f"\n{args.runs} run(s), medians, {time.perf_counter() - started:.0f} s; "
          f"1-min load average at the scenarios' starts: {min(loads):.1f}-{max(loads):.1f} "
          f"(2 cores: above ~2 other work shares the CPU)\n")
    print(table(results, args.idle_steps))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
