"""Data written before messages had numbers is numbered at start-up, in the order it was
shown, so that no message vanishes from history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from app.security import Identity
from app.services.conversations import NoEvents, messages
from app.services.core import Ctx
from app.store import migrations

T0 = datetime(2026, 5, 1, 9, 0, tzinfo=UTC)


async def test_legacy_tickets_get_numbers_keys_and_due_times_once(database):
    # Raw inserts on purpose: these are the shapes an earlier version stored.
    ticket_id = (await database.tickets.insert_one({
        "guest_id": "g1", "guest_name": "Grace", "status": "open", "priority": "normal",
        "assignee_id": None, "tags": [], "created_at": T0, "updated_at": T0 + timedelta(minutes=3),
        "last_guest_message_at": T0 + timedelta(minutes=3), "last_agent_message_at": T0 + timedelta(minutes=1),
        "first_response_at": None, "escalated_at": None, "closed_at": None,
    })).inserted_id
    base = {"ticket_id": ticket_id, "sender_name": "x"}
    await database.messages.insert_many([
        {**base, "kind": "message", "sender_role": "guest", "sender_id": "g1", "body": "first",
         "created_at": T0},
        {**base, "kind": "system", "sender_role": "system", "sender_id": None, "body": "Ada joined",
         "client_msg_id": "system:join:1", "created_at": T0 + timedelta(minutes=1)},
        {**base, "kind": "note", "sender_role": "agent", "sender_id": "a1", "body": "vip",
         "client_msg_id": "n-1", "created_at": T0 + timedelta(minutes=1)},
        {**base, "kind": "message", "sender_role": "guest", "sender_id": "g1", "body": "still there?",
         "client_msg_id": "g-2", "created_at": T0 + timedelta(minutes=3)},
    ])

    assert await migrations.upgrade(database, escalate_after=900, auto_resolve_after=86400) == 1
    assert await migrations.upgrade(database, escalate_after=900, auto_resolve_after=86400) == 0

    ticket = await database.tickets.find_one({"_id": ticket_id})
    assert (ticket["seq"], ticket["guest_seq"], ticket["version"]) == (4, 3, 1)
    assert "first_response_at" not in ticket
    assert ticket["waiting_since"] == T0 + timedelta(minutes=3)
    assert ticket["escalate_at"] == T0 + timedelta(minutes=18)
    line = await database.messages.find_one({"body": "Ada joined"})
    assert line["system_key"] == "join:1" and "client_msg_id" not in line

    ctx = Ctx(db=database, settings=None, events=NoEvents())
    agent = Identity(role="agent", id="a1", name="Ada")
    guest = Identity(role="guest", id="g1", name="")
    page = await messages.history(ctx, identity=agent, ticket_id=str(ticket_id))
    assert [m["body"] for m in page.messages] == ["first", "Ada joined", "vip", "still there?"]
    page = await messages.history(ctx, identity=guest, ticket_id=str(ticket_id))
    assert [(m["guest_seq"], m["body"]) for m in page.messages] == [
        (1, "first"), (2, "Ada joined"), (3, "still there?")]
    caught_up = await messages.history(ctx, identity=guest, ticket_id=str(ticket_id), after=1)
    assert [m["body"] for m in caught_up.messages] == ["Ada joined", "still there?"]
