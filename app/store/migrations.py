"""Bringing data written by earlier versions up to this one, at start-up.

Earlier versions ordered messages by creation time; this one numbers them (`seq`,
`guest_seq`) and pages history by number, so a message without a number would vanish from
history. `upgrade` numbers them in the order they were shown before, moves system lines'
keys out of client_msg_id, and gives tickets their version and due times. It is idempotent
and safe when several processes start at once: they assign the same numbers."""

from __future__ import annotations

import logging
from datetime import timedelta

from ..db import Database

log = logging.getLogger(__name__)

BATCH = 200
GUEST_KINDS = ("message", "system")
SYSTEM_PREFIX = "system:"


async def upgrade(db: Database, *, escalate_after: float, auto_resolve_after: float) -> int:
    """Upgrade every ticket from before message numbers; returns how many."""
    upgraded = 0
    while True:
        legacy = await db.tickets.find({"seq": {"$exists": False}}).sort("_id", 1).to_list(BATCH)
        for ticket in legacy:
            await _upgrade_ticket(db, ticket, escalate_after=escalate_after,
                                  auto_resolve_after=auto_resolve_after)
        upgraded += len(legacy)
        if len(legacy) < BATCH:
            break
    if upgraded:
        log.warning("upgraded %d tickets from before message numbers", upgraded)
    return upgraded


async def count_open_tickets(db: Database) -> int:
    """Give accounts from before auto-assignment their open_count (the open and pending
    tickets assigned to them), which services/conversations/assignment.py keeps from then on; how many."""
    from . import tickets, users

    counted = 0
    while True:
        batch = await users.without_open_count(db, limit=BATCH)
        for user in batch:
            held = await tickets.count_held(db, assignee_id=user["_id"])
            await users.start_open_count(db, user_id=user["_id"], count=held)
        counted += len(batch)
        if len(batch) < BATCH:
            return counted


async def _upgrade_ticket(db: Database, ticket: dict, *, escalate_after: float,
                          auto_resolve_after: float) -> None:
    seq = guest_seq = 0
    async for message in db.messages.find({"ticket_id": ticket["_id"]}).sort(
            [("created_at", 1), ("_id", 1)]):
        seq += 1
        fields: dict = {"seq": seq}
        unset: dict = {}
        if message.get("kind") in GUEST_KINDS and not message.get("internal"):
            guest_seq += 1
            fields["guest_seq"] = guest_seq
        key = message.get("client_msg_id")
        if message.get("kind") == "system" and isinstance(key, str) and key.startswith(SYSTEM_PREFIX):
            fields["system_key"] = key[len(SYSTEM_PREFIX):]
            unset["client_msg_id"] = ""
        update: dict = {"$set": fields}
        if unset:
            update["$unset"] = unset
        await db.messages.update_one({"_id": message["_id"]}, update)

    fields = {"seq": seq, "guest_seq": guest_seq}
    unset = {}
    if "version" not in ticket:
        fields["version"] = 1
    if ticket.get("first_response_at", 0) is None:
        unset["first_response_at"] = ""  # absent until the first answer ($min sets it)
    guest_at, agent_at = ticket.get("last_guest_message_at"), ticket.get("last_agent_message_at")
    # The guest wrote last: the ticket waits for an answer.
    if guest_at is not None and (agent_at is None or agent_at < guest_at) \
            and ticket.get("status") in ("open", "pending"):
        fields["waiting_since"] = guest_at
        last = max(guest_at, ticket.get("escalated_at") or guest_at)
        if ticket.get("priority") != "urgent" or last == guest_at:
            fields["escalate_at"] = last + timedelta(seconds=escalate_after)
    if ticket.get("status") == "pending" and ticket.get("updated_at"):
        fields["resolve_at"] = ticket["updated_at"] + timedelta(seconds=auto_resolve_after)
    update = {"$set": fields}
    if unset:
        update["$unset"] = unset
    await db.tickets.update_one({"_id": ticket["_id"], "seq": {"$exists": False}}, update)
