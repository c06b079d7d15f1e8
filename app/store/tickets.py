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
from .paging import Position, newest_first, older_than

AFTER = ReturnDocument.AFTER


async def insert(db: Database, *, ticket: dict) -> dict:
    """Store a new ticket (which already counts its first message in seq/guest_seq)."""
    ticket["_id"] = (await db.tickets.insert_one(ticket)).inserted_id
    return ticket


async def delete(db: Database, *, ticket_id: ObjectId) -> None:
    await db.tickets.delete_one({"_id": oid(ticket_id, "ticket_id")})


async def get(db: Database, *, ticket_id: ObjectId | str) -> dict | None:
    return await db.tickets.find_one({"_id": oid(ticket_id, "ticket_id")})


async def of_guest(db: Database, *, guest_id: str, limit: int) -> list[dict]:
    return await db.tickets.find({"guest_id": guest_id}).sort(
        [("created_at", -1), ("_id", -1)]).to_list(limit)


async def related(db: Database, *, ticket_id: ObjectId, guest_id: str, guest_email: str | None,
                  limit: int) -> list[dict]:
    """Other tickets of the same guest id or e-mail address, newest first."""
    same = [{"guest_id": guest_id}] + ([{"guest_email": guest_email}] if guest_email else [])
    return await db.tickets.find({"$or": same, "_id": {"$ne": oid(ticket_id, "ticket_id")}}).sort(
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
                     priority: str | None, before: Position | None, size: int,
                     tag: str | None = None) -> tuple[list[dict], bool]:
    """The agents' queue, most recently updated first. `assignee`: an id, None for
    unassigned, or ... (Ellipsis) for anyone."""
    query: dict = {}
    if tag is not None:
        query["tags"] = tag
    if statuses is not None:
        query["status"] = statuses[0] if len(statuses) == 1 else {"$in": statuses}
    if assignee is not ...:
        query["assignee_id"] = assignee
    if priority is not None:
        query["priority"] = priority
    return await newest_first(db.tickets, query, field="updated_at", before=before, size=size)


# --- search ---------------------------------------------------------------------------------

SEARCHED_FIELDS = ("subject", "guest_name", "guest_email", "tags")
# Tickets found through their messages, at most: the newest (by _id, when they were opened).
# (An $in of ids goes in one query; a phrase found in more conversations than this is too
# common to page through anyway.)
MESSAGE_HITS_MAX = 10_000
SNIPPET_READ_MAX = 2_000  # matching messages read for a page's snippets (newest first)
NEWEST = [("updated_at", -1), ("_id", -1)]


def search_phrase(text: str) -> str | None:
    """What is searched for: the words as typed, one space apart, without double quotes
    (a text search string has no escape for them); None when no word is left."""
    words = " ".join(text.replace('"', " ").split())
    return words if re.search(r"\w", words) else None


def _phrase_filters(db: Database, phrase: str) -> tuple[dict, dict]:
    """The filters that find `phrase` in a ticket's fields and in a message's body.

    On a real MongoDB, the text indexes `tickets_search` and `messages_search` (whole words,
    any case, no stemming: `default_language: none`). `$text` stands at the top level of a
    find, beside the other conditions, and never inside `$or`, `$and` or an aggregation:
    MongoDB takes those shapes, but not every engine that speaks its protocol does (the
    tests' stand-in refuses them). The embedded engine has no text index: it scans for the
    same phrase, in any case, where it does not begin or end inside a word."""
    if not db.embedded:
        text = {"$text": {"$search": f'"{phrase}"'}}
        return text, text
    starts = r"(?<!\w)" if re.match(r"\w", phrase) else ""
    ends = r"(?!\w)" if re.search(r"\w$", phrase) else ""
    pattern = {"$regex": starts + re.escape(phrase) + ends, "$options": "i"}
    return {"$or": [{name: pattern} for name in SEARCHED_FIELDS]}, {"body": pattern}


def _both(first: dict, second: dict) -> dict:
    """Documents that match both filters, with no `$and` when their keys differ (a `$text`
    must stay at the top level)."""
    if first.keys() & second.keys():
        return {"$and": [first, second]}
    return {**first, **second}


async def search_page(db: Database, *, text: str, before: Position | None,
                      size: int) -> tuple[list[dict], dict, bool]:
    """Tickets in which `text` appears, as a phrase of whole words, in the subject, the
    guest's name or e-mail, a tag, or the body of a message or note; most recently updated
    first, older than `before`. Returns the page, {ticket _id: its newest matching message}
    for the tickets of the page found through a message, and whether an older page exists.

    Two queries of tickets, merged: those the phrase is in, and those whose messages have it
    (found by one `distinct`). Each reads one page and one more, in the same order, so the
    merge holds the page and knows if another follows."""
    phrase = search_phrase(text)
    if phrase is None:
        return [], {}, False  # no word for a text index to find
    in_ticket, in_body = _phrase_filters(db, phrase)
    in_message = {**in_body, "kind": {"$in": ["message", "note"]}}
    hits = sorted(await db.messages.distinct("ticket_id", in_message), reverse=True)[:MESSAGE_HITS_MAX]
    older = older_than("updated_at", before) if before is not None else {}
    docs = await db.tickets.find(_both(in_ticket, older)).sort(NEWEST).to_list(size + 1)
    if hits:
        docs += await db.tickets.find(_both({"_id": {"$in": hits}}, older)).sort(
            NEWEST).to_list(size + 1)
    merged = sorted({t["_id"]: t for t in docs}.values(), key=lambda t: (t["updated_at"], t["_id"]),
                    reverse=True)
    page = merged[:size]
    found_in: dict = {}
    found_by_message = set(hits)
    wanted = [t["_id"] for t in page if t["_id"] in found_by_message]
    if wanted:
        matching = await db.messages.find({**in_message, "ticket_id": {"$in": wanted}}).sort(
            "created_at", -1).to_list(SNIPPET_READ_MAX)
        for message in matching:
            found_in.setdefault(message["ticket_id"], message)
    return page, found_in, len(merged) > size


# --- auto-assignment ----------------------------------------------------------------------

HOLDING = ("open", "pending")  # the statuses in which a ticket takes a slot of its assignee


async def waiting_unassigned(db: Database, *, limit: int) -> list[dict]:
    """Open tickets nobody is assigned, oldest first: the next ones to assign."""
    return await db.tickets.find({"status": "open", "assignee_id": None}).sort(
        [("created_at", 1), ("_id", 1)]).to_list(limit)


async def count_held(db: Database, *, assignee_id: ObjectId) -> int:
    """The open and pending tickets assigned to this agent (upgrade of open counts)."""
    return await db.tickets.count_documents({"assignee_id": assignee_id, "status": {"$in": list(HOLDING)}})


async def tags_in_use(db: Database, *, limit: int) -> list[str]:
    """Every tag on any ticket (read from the tags index on a real MongoDB), sorted."""
    found = await db.tickets.distinct("tags")
    return sorted(t for t in found if isinstance(t, str))[:limit]


async def change(db: Database, *, ticket_id: ObjectId, version: int, at: datetime,
                 set: dict | None = None, unset: tuple[str, ...] = ()) -> dict | None:
    """Apply a change decided on the ticket as it was at `version`; None when it has
    changed since (the caller reads it again and decides again)."""
    update: dict = {"$set": {**(set or {}), "updated_at": at}, "$inc": {"version": 1}}
    if unset:
        update["$unset"] = dict.fromkeys(unset, "")
    return await db.tickets.find_one_and_update(
        {"_id": oid(ticket_id, "ticket_id"), "version": version}, update, return_document=AFTER)


NOT_CLOSED = object()  # record_message's status: anything but closed


async def record_message(
    db: Database, *, ticket_id: ObjectId, status: object, at: datetime, preview: str,
    by_guest: bool, new_status: str | None = None, waiting_until: datetime | None = None,
    guest_id: str | None = None, joined_by: str | None = None, announcing: str | None = None,
) -> dict | None:
    """Take the next message numbers for a guest's or agent's message and move the ticket's
    activity fields, if the ticket's status is still `status` (or, with NOT_CLOSED, is not
    closed), with `guest_id` the ticket is that guest's, and with `joined_by` that agent has
    joined it already (said so to the guest); None otherwise.

    Times only ever move one way ($max, $min), so two messages committed in either order
    leave the same ticket: the first answer is the earliest one, the last message the
    latest. The preview is the last committed message's, which also took the higher seq.
    (The agent of the first answer is named after it: claim_first_response.)

    `announcing`: an agent's first reply, by this agent id, who is not in `joined` yet (else
    None: the caller reads again). One more number is taken, just below the message's, for
    the line that tells the guest the agent joined, and the agent is added to `joined`."""
    step = 2 if announcing else 1
    update: dict = {
        "$inc": {"seq": step, "guest_seq": step, "version": 1},
        "$max": {"last_message_at": at, "updated_at": at},
        "$set": {"last_message_preview": preview},
    }
    query: dict = {"_id": oid(ticket_id, "ticket_id"),
                   "status": {"$ne": "closed"} if status is NOT_CLOSED else status}
    if guest_id is not None:
        query["guest_id"] = guest_id
    if joined_by is not None:
        query["joined"] = joined_by  # an array holding it
    if announcing:
        query["joined"] = {"$ne": announcing}
        update["$push"] = {"joined": announcing}
    if by_guest:
        update["$inc"]["guest_messages"] = 1  # the queue's unread counts
        update["$max"]["last_guest_message_at"] = at
        # The guest is waiting from their first unanswered message on.
        update["$min"] = {"waiting_since": at}
        if waiting_until is not None:
            update["$min"]["escalate_at"] = waiting_until
        if new_status is not None:
            update["$set"]["status"] = new_status
            # reopened: no longer resolved (the reports' resolution time starts over)
            update["$unset"] = {"resolve_at": "", "resolved_at": ""}
    else:
        update["$max"]["last_agent_message_at"] = at
        update["$min"] = {"first_response_at": at}
        update["$unset"] = {"waiting_since": "", "escalate_at": ""}
    return await db.tickets.find_one_and_update(query, update, return_document=AFTER)


async def record_csat(db: Database, *, ticket_id: ObjectId, rating: int, comment: str,
                      at: datetime) -> dict | None:
    """The guest's satisfaction rating of the ticket (`csat`: rating 1-5, comment, at), as the
    reports read it. The rating feature itself (asking the guest) is not here yet."""
    return await db.tickets.find_one_and_update(
        {"_id": oid(ticket_id, "ticket_id")},
        {"$set": {"csat": {"rating": rating, "comment": comment, "at": at}, "updated_at": at},
         "$inc": {"version": 1}},
        return_document=AFTER)


async def claim_first_response(db: Database, *, ticket_id: ObjectId, at: datetime, seq: int,
                               agent_id: ObjectId) -> None:
    """Name the agent whose reply (at `at`, number `seq`) is the ticket's first response, if
    it still is: the earliest time wins first_response_at ($min, in the reply's own update),
    and among replies of the same millisecond the lower number. Only the reply whose time
    the ticket holds can name itself, over a name left by a later time or a higher number,
    so every order of commits ends with the same agent named."""
    await db.tickets.update_one(
        {"_id": oid(ticket_id, "ticket_id"), "first_response_at": at,
         "$or": [{"first_response_by": {"$exists": False}}, {"first_response_by_at": {"$ne": at}},
                 {"first_response_by_seq": {"$gt": seq}}]},
        {"$set": {"first_response_by": agent_id, "first_response_by_at": at,
                  "first_response_by_seq": seq}})


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


async def of_guests(db: Database, *, guest_ids: list[str], emails: list[str], limit: int) -> list[dict]:
    """Tickets of any of these guests (by guest id) or e-mail addresses, oldest first."""
    clauses = []
    if guest_ids:
        clauses.append({"guest_id": {"$in": list(guest_ids)}})
    if emails:
        clauses.append({"guest_email": {"$in": list(emails)}})
    if not clauses:
        return []
    return await db.tickets.find({"$or": clauses}).sort([("created_at", 1), ("_id", 1)]).to_list(limit)


async def first_response_waits(db: Database, *, since: datetime, limit: int) -> list[int]:
    """How long (milliseconds) the tickets started since `since` waited for their first
    answer, shortest first: the newest `limit` of them that have one."""
    cursor = await db.tickets.aggregate([
        {"$match": {"created_at": {"$gte": since}, "first_response_at": {"$type": "date"}}},
        {"$sort": {"created_at": -1}},
        {"$limit": limit},
        {"$project": {"_id": 0, "wait": {"$subtract": ["$first_response_at", "$created_at"]}}},
        {"$sort": {"wait": 1}},
    ])
    return [int(doc["wait"]) for doc in await cursor.to_list(limit)]


async def mark_read_by_guest(db: Database, *, ticket_id: ObjectId, guest_id: str, seq: int) -> None:
    """Move the guest's reading position up to message number `seq` (their numbering). Only
    ever up, and bookkeeping rather than a change of the ticket: nobody else is told and
    `version` stays (like take_seq)."""
    await db.tickets.update_one({"_id": oid(ticket_id, "ticket_id"), "guest_id": guest_id},
                                {"$max": {"guest_read_seq": seq}})
