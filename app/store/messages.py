"""Messages, notes and system lines, each numbered in its ticket (`seq`; `guest_seq` for
those its guest may read). History is paged by those numbers, which the ticket hands out
atomically: a message that commits late still sits at its number, so a client that asks
for everything after the last number it holds misses nothing."""

from __future__ import annotations

from bson import ObjectId

from ..db import Database
from . import oid

AGENT_SEQ, GUEST_SEQ = "seq", "guest_seq"


async def insert(db: Database, *, message: dict) -> dict:
    """Store one message. Raises DuplicateKeyError when the sender already stored this
    client_msg_id in the ticket, or a system line with this system_key exists."""
    message["_id"] = (await db.messages.insert_one(message)).inserted_id
    return message


async def by_client_msg_id(db: Database, *, ticket_id: ObjectId, sender_id: str,
                           client_msg_id: str) -> dict | None:
    """This sender's own message with this id, never another sender's."""
    return await db.messages.find_one(
        {"ticket_id": oid(ticket_id, "ticket_id"), "sender_id": sender_id,
         "client_msg_id": client_msg_id})


async def by_system_key(db: Database, *, ticket_id: ObjectId, system_key: str) -> dict | None:
    return await db.messages.find_one({"ticket_id": oid(ticket_id, "ticket_id"), "system_key": system_key})


async def newest(db: Database, *, ticket_id: ObjectId, number: str, before: int | None,
                 limit: int) -> tuple[list[dict], bool]:
    """The newest `limit` messages numbered in `number` (seq or guest_seq), below `before`
    if given, oldest first; and whether older ones exist."""
    query: dict = {"ticket_id": oid(ticket_id, "ticket_id"), number: {"$lt": before} if before is not None else {"$gte": 1}}
    docs = await db.messages.find(query).sort(number, -1).to_list(limit + 1)
    page = docs[:limit]
    page.reverse()
    return page, len(docs) > limit


async def after(db: Database, *, ticket_id: ObjectId, number: str, after: int,
                limit: int) -> tuple[list[dict], bool]:
    """The messages numbered above `after`, oldest first, at most `limit`; and whether
    more follow."""
    docs = await db.messages.find({"ticket_id": oid(ticket_id, "ticket_id"), number: {"$gt": after}}).sort(
        number, 1).to_list(limit + 1)
    return docs[:limit], len(docs) > limit


async def every_of_ticket(db: Database, *, ticket_id: ObjectId, batch: int = 500) -> list[dict]:
    """Every message, note and line of a ticket, in order (read a batch at a time)."""
    found: list[dict] = []
    last = 0
    while True:
        docs = await db.messages.find({"ticket_id": oid(ticket_id, "ticket_id"), AGENT_SEQ: {"$gt": last}}).sort(
            AGENT_SEQ, 1).to_list(batch)
        found.extend(docs)
        if len(docs) < batch:
            return found
        last = docs[-1][AGENT_SEQ]


async def erase_of_ticket(db: Database, *, ticket_id: ObjectId, body: str, guest_name: str) -> int:
    """Replace the words of every message and note of a ticket with `body` (system lines
    say only what the team did), and unlink the guest's own messages from them (sender
    name and id). Returns how many messages changed; 0 when done before."""
    ticket_id = oid(ticket_id, "ticket_id")
    words = await db.messages.update_many(
        {"ticket_id": ticket_id, "kind": {"$in": ["message", "note"]}, "body": {"$ne": body}},
        {"$set": {"body": body}})
    sender = await db.messages.update_many(
        {"ticket_id": ticket_id, "sender_role": "guest",
         "$or": [{"sender_name": {"$ne": guest_name}}, {"sender_id": {"$ne": None}}]},
        {"$set": {"sender_name": guest_name, "sender_id": None}})
    return max(words.modified_count, sender.modified_count)


async def unread_by_guest(db: Database, *, positions: list[tuple[ObjectId, int]], limit: int) -> int:
    """How many agents' messages (up to `limit`) are numbered after the guest's reading
    position in each of these tickets."""
    if not positions:
        return 0
    query = {"sender_role": "agent", "kind": "message",
             "$or": [{"ticket_id": oid(ticket_id, "ticket_id"), GUEST_SEQ: {"$gt": seq}}
                     for ticket_id, seq in positions]}
    return await db.messages.count_documents(query, limit=limit)
