"""Auto-assignment (ASSIGNMENT=round_robin) against a live server on the yielding embedded
engine: new tickets go to online, available agents with room, least recently assigned
first; nobody is given more than their capacity however many tickets arrive at once;
tickets wait when nobody is available and are assigned as soon as someone is."""

from __future__ import annotations

import asyncio
import dataclasses
import time

import pytest
from bson import ObjectId

from tests.conftest import cookie_header, login, make_account

FETCH = {"X-Requested-With": "fetch"}


@pytest.fixture
def settings(settings):
    return dataclasses.replace(
        settings, assignment="round_robin", rate_chat_start_per_guest="100000/minute",
        rate_chat_start_per_ip="100000/minute")


async def eventually(check, timeout: float = 10.0):
    """Wait until the async `check()` answers something true; returns it."""
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.05)


@pytest.fixture
async def admin_session(http, admin):
    session = http()
    await login(session, admin)
    return session


@pytest.fixture
def team(live_server, http, connect, admin_session):
    """Agents with a capacity, each signed in; online=True also connects their socket."""
    made_so_far = []

    async def make(count: int, *, capacity: int, online: bool = True) -> list[dict]:
        made = []
        for _ in range(count):
            n = len(made_so_far)
            account = await make_account(live_server, role="agent", name=f"Agent {n}",
                                         email=f"agent{n}@example.com")
            made_so_far.append(account)
            async with admin_session.patch(f"/api/admin/users/{account['id']}", json={"capacity": capacity},
                                           headers=FETCH) as resp:
                assert resp.status == 200, await resp.text()
            session = http()
            await login(session, account)
            account["session"] = session
            account["socket"] = await connect(cookie_header(session)) if online else None
            made.append(account)
        return made
    return make


async def assignees(live_server) -> dict:
    counts: dict = {}
    for ticket in await live_server.ctx.db.tickets.find({}).to_list(None):
        key = str(ticket["assignee_id"]) if ticket["assignee_id"] else None
        counts[key] = counts.get(key, 0) + 1
    return counts


async def open_counts(live_server, agents) -> list[int]:
    return [(await live_server.ctx.db.users.find_one({"_id": ObjectId(a["id"])}))["open_count"] for a in agents]


async def test_a_hundred_tickets_arriving_at_once_over_five_agents_of_capacity_twenty_end_twenty_each(
        live_server, team, start_chat):
    agents = await team(5, capacity=20)
    began = time.perf_counter()
    await asyncio.gather(*(start_chat(name=f"Guest {n}", message=f"Question {n}") for n in range(100)))
    took = time.perf_counter() - began
    counts = await assignees(live_server)
    figures = {a["name"]: counts.get(a["id"], 0) for a in agents}
    print(f"\n100 tickets at once over 5 agents of capacity 20 in {took:.2f} s: {figures}, "
          f"unassigned {counts.get(None, 0)}")
    assert list(figures.values()) == [20] * 5 and None not in counts
    assert await open_counts(live_server, agents) == [20] * 5

    # the 101st waits: nobody has room
    late = await start_chat(name="Late", message="Anyone?")
    assert (await assignees(live_server)).get(None) == 1
    # a slot frees (one of Agent 2's tickets is closed): the waiting ticket goes there at once
    mine = await live_server.ctx.db.tickets.find_one({"assignee_id": ObjectId(agents[2]["id"])})
    async with agents[2]["session"].patch(f"/api/tickets/{mine['_id']}", json={"status": "closed"},
                                          headers=FETCH) as resp:
        assert resp.status == 200

    async def late_assigned():
        ticket = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(late.ticket_id)})
        return ticket["assignee_id"]
    assert str(await eventually(late_assigned)) == agents[2]["id"]
    assert await open_counts(live_server, agents) == [20] * 5


async def test_new_tickets_go_to_whoever_was_assigned_least_recently(live_server, team, start_chat):
    agents = await team(2, capacity=5)
    order = []
    for n in range(4):
        guest = await start_chat(name=f"G{n}", message="Hello")
        ticket = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(guest.ticket_id)})
        order.append(str(ticket["assignee_id"]))
    first, second = order[0], order[1]
    assert {first, second} == {a["id"] for a in agents} and order == [first, second, first, second]


async def test_away_and_disconnected_agents_get_none_and_waiting_tickets_go_to_whoever_arrives(
        live_server, team, start_chat, connect):
    [away] = await team(1, capacity=5)
    [offline] = await team(1, capacity=5, online=False)
    # away is connected but says so; offline is available but not connected
    async with away["session"].put("/api/me/availability", json={"availability": "away"},
                                   headers=FETCH) as resp:
        assert resp.status == 200 and (await resp.json()) == {"availability": "away"}
    guest = await start_chat(name="Waiting", message="Hello?")
    assert (await assignees(live_server)) == {None: 1}

    # the offline agent connects: the ticket goes to them
    await connect(cookie_header(offline["session"]))

    async def assigned():
        ticket = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(guest.ticket_id)})
        return ticket["assignee_id"]
    assert str(await eventually(assigned)) == offline["id"]

    # the other comes back online: the next waiting ticket goes to them (the first agent's
    # capacity is set to 1 meanwhile, so they have no room)
    await live_server.ctx.db.users.update_one({"_id": ObjectId(offline["id"])}, {"$set": {"capacity": 1}})
    second = await start_chat(name="Second", message="Hi")
    assert (await assignees(live_server)).get(None) == 1
    async with away["session"].put("/api/me/availability", json={"availability": "online"},
                                   headers=FETCH) as resp:
        assert resp.status == 200

    async def second_assigned():
        ticket = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(second.ticket_id)})
        return ticket["assignee_id"]
    assert str(await eventually(second_assigned)) == away["id"]


async def test_the_assignee_is_told_and_the_guest_reads_who_joined(live_server, team, start_chat, connect):
    [agent] = await team(1, capacity=3)
    guest = await start_chat(name="Grace", message="My parcel is lost")
    guest_socket = await connect(guest.cookie)
    history = await guest_socket.call("messages:history", {"ticket_id": guest.ticket_id})
    assert [m["body"] for m in history["messages"]] == ["My parcel is lost", "Agent 0 from support joined"]
    note = await agent["socket"].wait_for("notification:new")
    assert note[0]["text"] == "“My parcel is lost” from Grace was assigned to you"
    agent_view = await agent["socket"].call("messages:history", {"ticket_id": guest.ticket_id})
    assert "Assigned to Agent 0 automatically" in [m["body"] for m in agent_view["messages"]]
    event = await live_server.ctx.db.audit_events.find_one({"action": "ticket.auto_assign"})
    assert event["actor"]["role"] == "system" and event["after"] == {"assignee_id": agent["id"]}


async def test_reassigning_resolving_and_reopening_move_the_open_counts(live_server, team, start_chat, connect):
    agents = await team(2, capacity=5)
    guest = await start_chat(name="G", message="Hello")
    ticket = await live_server.ctx.db.tickets.find_one({"_id": ObjectId(guest.ticket_id)})
    holder = next(a for a in agents if a["id"] == str(ticket["assignee_id"]))
    other = next(a for a in agents if a is not holder)
    assert await open_counts(live_server, [holder, other]) == [1, 0]
    async with holder["session"].patch(f"/api/tickets/{guest.ticket_id}", json={"assignee_id": other["id"]},
                                       headers=FETCH) as resp:
        assert resp.status == 200
    assert await open_counts(live_server, [holder, other]) == [0, 1]
    async with other["session"].patch(f"/api/tickets/{guest.ticket_id}", json={"status": "resolved"},
                                      headers=FETCH) as resp:
        assert resp.status == 200
    assert await open_counts(live_server, [holder, other]) == [0, 0]
    # the guest writes back: the ticket is open again and takes its assignee's slot again
    guest_socket = await connect(guest.cookie)
    sent = await guest_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "Still broken",
                                                    "client_msg_id": "g-2"})
    assert sent["ok"]
    assert await open_counts(live_server, [holder, other]) == [0, 1]


@pytest.mark.parametrize("capacity", [-1, 101, 2.5, "5", True, None])
async def test_a_capacity_is_a_whole_number_from_0_to_100(admin_session, agent, capacity, live_server):
    async with admin_session.patch(f"/api/admin/users/{agent['id']}", json={"capacity": capacity},
                                   headers=FETCH) as resp:
        assert resp.status == 422 and (await resp.json())["error"]["field"] == "capacity"
    assert "capacity" not in await live_server.ctx.db.users.find_one({"_id": ObjectId(agent["id"])})


async def test_only_admins_set_capacity_and_availability_is_ones_own(agent_session, agent, admin):
    async with agent_session.patch(f"/api/admin/users/{admin['id']}", json={"capacity": 50},
                                   headers=FETCH) as resp:
        assert resp.status == 403
    for value in ("busy", None, 1):
        async with agent_session.put("/api/me/availability", json={"availability": value},
                                     headers=FETCH) as resp:
            assert resp.status == 422


async def test_with_manual_assignment_nothing_is_assigned(live_server, team, start_chat):
    live_server.ctx.settings = dataclasses.replace(live_server.ctx.settings, assignment="manual")
    await team(1, capacity=5)
    await start_chat(name="G", message="Hello")
    assert await assignees(live_server) == {None: 1}


async def test_saving_a_capacity_counts_the_agents_open_tickets_again(live_server, team, start_chat,
                                                                       admin_session):
    [agent] = await team(1, capacity=5)
    await start_chat(name="G", message="Hello")
    # a slot taken by a process that died before assigning its ticket
    await live_server.ctx.db.users.update_one({"_id": ObjectId(agent["id"])}, {"$inc": {"open_count": 1}})
    assert await open_counts(live_server, [agent]) == [2]
    async with admin_session.patch(f"/api/admin/users/{agent['id']}", json={"capacity": 5},
                                   headers=FETCH) as resp:
        assert resp.status == 200
    assert await open_counts(live_server, [agent]) == [1]


async def test_a_process_without_sockets_assigns_nothing_and_says_nothing(live_server, team, start_chat,
                                                                           clean_log):
    """A separate worker (run.py worker) cannot see who is online: its sweep leaves waiting
    tickets to the servers, without an error."""
    import socketio

    from app.services.conversations import Events, assignment
    from app.services.core import Ctx

    await team(1, capacity=5)
    live_server.ctx.settings = dataclasses.replace(live_server.ctx.settings, assignment="manual")
    await start_chat(name="G", message="Hello")
    worker = Ctx(db=live_server.ctx.db, settings=dataclasses.replace(live_server.ctx.settings,
                                                                     assignment="round_robin"),
                 events=Events(socketio.AsyncManager()))
    assert await assignment.offer_waiting(worker) == 0
