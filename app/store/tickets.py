"""Tickets. Every change to a stored ticket is one conditional atomic update that raises
`version` by one and returns the ticket as it became (None: the precondition failed).

`seq` numbers every message of the ticket and `guest_seq` the ones its guest may read;
both are taken in the same atomic update that checks the ticket's status, so a message is
ordered before a close or refused."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bson import ObjectId
from pymongo import ReturnDocument

from ..db import Database
from . import oid
from .paging import Position, newest_first

AFTER = ReturnDocument.AFTER


async def insert(db: Database, *, ticket: dict) -> dict:
    """Store a new ticket (which already counts its first message in seq/guest_seq)."""
    ticket["_id"] = (await db.tickets.insert_one(ticket)).inserted_id
    return ticket


async def delete(db: Database, *, ticket_id: ObjectId) -> None:
    await db.tickets.delete_one({"_id": oid(ticket_id, "ticket_id")})


async def get(db: Database, *, ticket_id: ObjectId) -> dict | None:
    return await db.tickets.find_one({"_id": oid(ticket_id, "ticket_id")})


async def of_guest(db: Database, *, guest_id: str, limit: int) -> list[dict]:
    return await db.tickets.find({"guest_id": guest_id}).sort(
        [("created_at", -1), ("_id", -1)]).to_list(limit)


LABEL_FIELDS = {"subject": 1, "guest_name": 1, "status": 1, "created_at": 1, "updated_at": 1}


async def labels_by_ids(db: Database, *, ticket_ids: list[ObjectId]) -> list[dict]:
    """Subject, guest name and status of these tickets, in one query (the audit page names
    the tickets of a page of events this way)."""
    if not ticket_ids:
        return []
    return await db.tickets.find({"_id": {"$in": list(ticket_ids)}}, LABEL_FIELDS).sort("_id", 1).to_list(
        len(ticket_ids))


async def matching_text(db: Database, *, text: str, limit: int) -> list[dict]:
    """The most recently active tickets whose subject or guest name contains `text`, in any
    case: what an admin types to find a ticket. On MongoDB the (updated_at, _id) index gives
    the order and the scan stops at `limit` matches."""
    pattern = {"$regex": re.escape(text), "$options": "i"}
    return await db.tickets.find({"$or": [{"subject": pattern}, {"guest_name": pattern}]}, LABEL_FIELDS).sort(
        [("updated_at", -1), ("_id", -1)]).to_list(limit)


async def queue_page(db: Database, *, statuses: list[str] | None, assignee: Any = ...,
                     priority: str | None, before: Position | None,
                     size: int) -> tuple[list[dict], bool]:
    """The agents' queue, most recently updated first. `assignee`: an id, None for
    unassigned, or ... (Ellipsis) for anyone."""
    query: dict = {}
    if statuses is not None:
        query["status"] = statuses[0] if len(statuses) == 1 else {"$in": statuses}
    if assignee is not ...:
        query["assignee_id"] = assignee
    if priority is not None:
        query["priority"] = priority
    return await newest_first(db.tickets, query, field="updated_at", before=before, size=size)


async def change(db: Database, *, ticket_id: ObjectId, version: int, at: datetime,
                 set: dict | None = None, unset: tuple[str, ...] = ()) -> dict | None:
    """Apply a change decided on the ticket as it was at `version`; None when it has
    changed since (the caller reads it again and decides again)."""
    update: dict = {"$set": {**(set or {}), "updated_at": at}, "$inc": {"version": 1}}
    if unset:
        update["$unset"] = dict.fromkeys(unset, "")
    return await db.tickets.find_one_and_update(
        {"_id": oid(ticket_id, "ticket_id"), "version": version}, update, return_document=AFTER)


async def record_message(
    db: Database, *, ticket_id: ObjectId, status: str, at: datetime, preview: str,
    by_guest: bool, new_status: str | None = None, waiting_until: datetime | None = None,
) -> dict | None:
    """Take the next message numbers for a guest's or agent's message and move the ticket's
    activity fields, if the ticket's status is still `status`; None otherwise.

    Times only ever move one way ($max, $min), so two messages committed in either order
    leave the same ticket: the first answer is the earliest one, the last message the
    latest. The preview is the last committed message's, which also took the higher seq."""
    update: dict = {
        "$inc": {"seq": 1, "guest_seq": 1, "version": 1},
        "$max": {"last_message_at": at, "updated_at": at},
        "$set": {"last_message_preview": preview},
    }
    if by_guest:
        update["$max"]["last_guest_message_at"] = at
        # The guest is waiting from their first unanswered message on.
        update["$min"] = {"waiting_since": at}
        if waiting_until is not None:
            update["$min"]["escalate_at"] = waiting_until
        if new_status is not None:
            update["$set"]["status"] = new_status
            update["$unset"] = {"resolve_at": ""}
    else:
        update["$max"]["last_agent_message_at"] = at
        update["$min"] = {"first_response_at": at}
        update["$unset"] = {"waiting_since": "", "escalate_at": ""}
    return await db.tickets.find_one_and_update(
        {"_id": oid(ticket_id, "ticket_id"), "status": status}, update, return_document=AFTER)


async def take_seq(db: Database, *, ticket_id: ObjectId, guest_visible: bool,
                   unless_closed: bool) -> dict | None:
    """Take the next message number for a note or a system line (which change nothing
    else of the ticket, so its version stays). With `unless_closed`, None when closed."""
    query: dict = {"_id": oid(ticket_id, "ticket_id")}
    if unless_closed:
        query["status"] = {"$ne": "closed"}
    inc = {"seq": 1, "guest_seq": 1} if guest_visible else {"seq": 1}
    return await db.tickets.find_one_and_update(
        query, {"$inc": inc}, projection={"seq": 1, "guest_seq": 1, "status": 1},
        return_document=AFTER)


async def due(db: Database, *, field: str, now: datetime, after: Position | None,
              limit: int) -> list[dict]:
    """Tickets whose `field` (escalate_at, resolve_at) has come, oldest first, after the
    position of the last one a sweep walked past."""
    query: dict = {field: {"$lte": now}}
    if after is not None:
        at, oid = after
        query = {"$and": [query, {"$or": [{field: {"$gt": at}}, {field: at, "_id": {"$gt": oid}}]}]}
    return await db.tickets.find(query).sort([(field, 1), ("_id", 1)]).to_list(limit)
