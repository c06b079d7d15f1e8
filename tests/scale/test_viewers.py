"""Who else is here across processes: agents with the same ticket open on two nodes each
see the other, and hear when the other leaves or disconnects."""

from __future__ import annotations

from tests.conftest import cookie_header, login, make_account
from tests.scale.test_cluster import browsers, chat, start_chat  # noqa: F401  (fixtures)


def names(event: dict) -> list[str]:
    return [v["name"] for v in event["viewers"]]


async def test_agents_on_two_nodes_see_each_other_in_a_ticket(nodes, chat, browsers):  # noqa: F811
    a, b = nodes
    ticket_id = chat["ticket"]["id"]
    alan = await b.connect(chat["agent_cookie"])  # Alan on node B
    bea = await make_account(a.server, role="agent", name="Bea Agent", email="bea@example.com")
    session = browsers(a)
    await login(session, bea)
    bea_socket = await a.connect(cookie_header(session))  # Bea on node A
    assert names(await alan.call("ticket:join", {"ticket_id": ticket_id})) == ["Alan Agent"]
    joined = await bea_socket.call("ticket:join", {"ticket_id": ticket_id})
    assert names(joined) == ["Alan Agent", "Bea Agent"]
    await alan.wait_for("ticket:viewers", where=lambda e: names(e) == ["Alan Agent", "Bea Agent"])
    await bea_socket.sio.disconnect()
    await alan.wait_for("ticket:viewers", where=lambda e: names(e) == ["Alan Agent"])
