"""Auto-assignment across two server processes' worth of app (one store, one Redis): agents
connected to either node are online for both, and tickets arriving at once on both nodes
still give nobody more than their capacity."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import aiohttp
import pytest
from bson import ObjectId

from app import create_app, db
from app.keys import sio_key
from app.services.people import users
from tests.conftest import PASSWORD, LiveServer, free_port
from tests.scale.conftest import Node, node_settings

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
async def round_robin_nodes(redis_server, aiohttp_server) -> tuple[Node, Node]:
    made = []
    shared = None
    for _ in range(2):
        settings = dataclasses.replace(
            node_settings(free_port(), redis_server.url), assignment="round_robin",
            rate_chat_start_per_guest="100000/minute", rate_chat_start_per_ip="100000/minute")
        shared = shared or db.connect(settings)
        app = create_app(settings, database=shared)
        server = await aiohttp_server(app, host="127.0.0.1", port=settings.port)
        made.append(Node(LiveServer(url=str(server.make_url("")).rstrip("/"), app=app)))
    yield tuple(made)
    for node in made:
        for sio in node.sockets:
            if sio.connected:
                await sio.disconnect()
            if sio.eio.http is not None and not sio.eio.http.closed:
                await sio.eio.http.close()


async def signed_in(node: Node, email: str) -> aiohttp.ClientSession:
    session = aiohttp.ClientSession(base_url=node.url, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                    headers={"Origin": node.url, **FETCH})
    async with session.post("/api/auth/login", json={"email": email, "password": PASSWORD}) as resp:
        assert resp.status == 200, await resp.text()
    return session


async def start_chat(node: Node, n: int) -> None:
    async with aiohttp.ClientSession(headers={"Origin": node.url, **FETCH}) as session:
        async with session.post(f"{node.url}/api/guest/tickets",
                                json={"name": f"Guest {n}", "message": f"Question {n}"}) as resp:
            assert resp.status == 201, await resp.text()


async def test_a_hundred_tickets_on_two_nodes_over_five_agents_of_capacity_twenty_end_twenty_each(
        round_robin_nodes):
    a, b = round_robin_nodes
    agents, sessions = [], []
    try:
        for n in range(5):
            user = await users.create_user(a.ctx.db, email=f"agent{n}@example.com", name=f"Agent {n}",
                                           password=PASSWORD, role="agent", settings=a.ctx.settings)
            await a.ctx.db.users.update_one({"_id": user["_id"]}, {"$set": {"capacity": 20}})
            node = a if n < 3 else b  # three agents connected to node A, two to node B
            session = await signed_in(node, f"agent{n}@example.com")
            sessions.append(session)
            await node.connect("; ".join(f"{c.key}={c.value}" for c in session.cookie_jar))
            agents.append(user["_id"])
        began = time.perf_counter()
        await asyncio.gather(*(start_chat(a if n % 2 else b, n) for n in range(100)))
        took = time.perf_counter() - began
        tickets = await a.ctx.db.tickets.find({}).to_list(None)
        counts = {agent: sum(1 for t in tickets if t["assignee_id"] == agent) for agent in agents}
        print(f"\n100 tickets on two nodes (Redis presence) over 5 agents of capacity 20 in {took:.2f} s: "
              f"{sorted(counts.values())}, unassigned {sum(1 for t in tickets if t['assignee_id'] is None)}")
        assert list(counts.values()) == [20] * 5
        users_now = await a.ctx.db.users.find({"_id": {"$in": agents}}).to_list(None)
        assert [u["open_count"] for u in users_now] == [20] * 5
    finally:
        for session in sessions:
            await session.close()


async def test_an_agent_connecting_to_the_other_node_takes_a_waiting_ticket(round_robin_nodes):
    a, b = round_robin_nodes
    await users.create_user(a.ctx.db, email="late@example.com", name="Late", password=PASSWORD,
                            role="agent", settings=a.ctx.settings)
    await start_chat(a, 1)
    ticket = await a.ctx.db.tickets.find_one({})
    assert ticket["assignee_id"] is None
    session = await signed_in(b, "late@example.com")
    try:
        await b.connect("; ".join(f"{c.key}={c.value}" for c in session.cookie_jar))
        deadline = time.monotonic() + 10
        while (await a.ctx.db.tickets.find_one({"_id": ticket["_id"]}))["assignee_id"] is None:
            assert time.monotonic() < deadline, "the waiting ticket was not assigned"
            await asyncio.sleep(0.05)
        assigned = (await a.ctx.db.tickets.find_one({"_id": ticket["_id"]}))["assignee_id"]
        assert isinstance(assigned, ObjectId)
        # node A sees the agent on node B as online: the next ticket there goes to them too
        await start_chat(a, 2)
        newest = await a.ctx.db.tickets.find({}).sort("created_at", -1).to_list(1)
        assert newest[0]["assignee_id"] == assigned
        assert b.server.app[sio_key].manager is not a.server.app[sio_key].manager
    finally:
        await session.close()
