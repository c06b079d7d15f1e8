"""/metrics with two processes as one: each counts what it did under its own `process` label,
so the sum over them is the whole; both report Redis's readiness at scrape time."""

from __future__ import annotations

import dataclasses

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app import create_app, db
from app.keys import sio_key
from tests.conftest import LiveServer, cookie_header, free_port, login, make_account
from tests.scale.conftest import Node, node_settings
from tests.scale.test_cluster import eventually, start_chat


@pytest.fixture
async def named_nodes(redis_server, aiohttp_server):
    """Node A and node B, named node-a and node-b in their metrics."""
    shared, made = None, []
    for name in ("node-a", "node-b"):
        settings = dataclasses.replace(node_settings(free_port(), redis_server.url), process_name=name)
        shared = shared or db.connect(settings)
        app = create_app(settings, database=shared)
        app[sio_key].manager.heartbeat_seconds = 0.1
        server = await aiohttp_server(app, host="127.0.0.1", port=settings.port)
        made.append(Node(LiveServer(url=str(server.make_url("")).rstrip("/"), app=app)))
    yield made
    for node in made:
        for sio in node.sockets:
            if sio.connected:
                await sio.disconnect()


async def scrape(node: Node) -> dict:
    """{(name, label value): value} of the support_ series, for the node's own process."""
    async with aiohttp.ClientSession() as session, session.get(f"{node.url}/metrics") as resp:
        assert resp.status == 200
        text = await resp.text()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name.startswith("support_") and not sample.name.startswith("support_http"):
                labels = dict(sample.labels)
                process = labels.pop("process")
                key = next(iter(labels.values())) if len(labels) == 1 else tuple(sorted(labels.items()))
                found[(process, sample.name, key)] = sample.value
    return found


def of(samples: dict, name: str) -> dict:
    return {(process, key): value for (process, n, key), value in samples.items() if n == name}


@pytest.mark.logs_errors  # provokes it on purpose
async def test_each_process_counts_its_own_and_their_sum_is_the_whole(named_nodes, redis_server):
    a, b = named_nodes
    async with aiohttp.ClientSession(base_url=a.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as guest_http, \
            aiohttp.ClientSession(base_url=b.url, cookie_jar=aiohttp.CookieJar(unsafe=True)) as agent_http:
        ticket = await start_chat(guest_http)  # the first message, stored by node A
        agent = await make_account(a.server, role="agent", name="Alan Agent", email="alan@example.com")
        await login(agent_http, agent)
        guest = await a.connect(cookie_header(guest_http))
        staff = await b.connect(cookie_header(agent_http))
    assert (await staff.call("ticket:join", {"ticket_id": ticket["id"]}))["ok"]  # a line, on B
    assert (await guest.call("message:send", {"ticket_id": ticket["id"], "body": "Hello?",
                                              "client_msg_id": "g-1"}))["ok"]
    assert (await staff.call("message:send", {"ticket_id": ticket["id"], "body": "Hi!",
                                              "client_msg_id": "a-1"}))["ok"]

    on_a, on_b = await scrape(a), await scrape(b)
    assert of(on_a, "support_sockets_connected") == {
        ("node-a", "guest"): 1, ("node-a", "agent"): 0, ("node-a", "admin"): 0}
    assert of(on_b, "support_sockets_connected") == {
        ("node-b", "guest"): 0, ("node-b", "agent"): 1, ("node-b", "admin"): 0}
    assert of(on_a, "support_messages_stored_total") == {
        ("node-a", "message"): 2, ("node-a", "note"): 0, ("node-a", "system"): 0}
    assert of(on_b, "support_messages_stored_total") == {
        ("node-b", "message"): 1, ("node-b", "note"): 0, ("node-b", "system"): 1}
    assert of(on_a, "support_event_ack_seconds_count")[("node-a", "message:send")] == 1
    assert of(on_b, "support_event_ack_seconds_count")[("node-b", "message:send")] == 1
    # the job queue is the same for every process: read it with max, not sum
    assert of(on_a, "support_jobs_queued") == {
        ("node-a", k): v for (_, k), v in of(on_b, "support_jobs_queued").items()}
    for node, samples in (("node-a", on_a), ("node-b", on_b)):
        assert of(samples, "support_dependency_ready") == {(node, "mongodb"): 1, (node, "redis"): 1}

    await redis_server.stop()
    assert of(await scrape(a), "support_dependency_ready") == {("node-a", "mongodb"): 1,
                                                               ("node-a", "redis"): 0}
    await redis_server.start()
    # Shut down only once both are subscribed again: a node stopping while its listener is
    # still reconnecting can hang its shutdown.
    for node, name in ((a, "node-a"), (b, "node-b")):
        async def back(node=node, name=name) -> bool:
            return of(await scrape(node), "support_dependency_ready")[(name, "redis")] == 1
        await eventually(back, timeout=15)
