"""What the store relies on from its database, query shape by query shape: the same answers
from the embedded engine and from a real MongoDB (TEST_MONGODB_URI)."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import bson
import pytest
from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from app.store import attachments as stored_attachments
from app.store import audit as stored_audit
from app.store import jobs as stored_jobs
from app.store import messages as stored_messages
from app.store import tickets as stored_tickets
from app.store import users as stored_users

T0 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


# --- limits, sorts, cursors ------------------------------------------------------------


async def test_to_list_returns_at_most_its_length_and_limit_caps_too(database):
    await database.tickets.insert_many([{"n": n} for n in range(30)])
    assert len(await database.tickets.find({}).to_list(7)) == 7
    assert len(await database.tickets.find({}).limit(5).to_list(None)) == 5
    assert len(await database.tickets.find({}).limit(5).to_list(9)) == 5
    assert len(await database.tickets.find({}).limit(9).to_list(5)) == 5
    assert len(await database.tickets.find({}).to_list(None)) == 30


async def test_sort_orders_compound_keys_and_missing_values_as_mongodb_does(database):
    await database.tickets.insert_many([
        {"k": 2, "n": 1}, {"k": 1, "n": 2}, {"k": 2, "n": 0}, {"n": 9}, {"k": None, "n": 8}])
    asc = await database.tickets.find({}).sort([("k", 1), ("n", 1)]).to_list(None)
    # missing and null sort first, together, then by the second key
    assert [d["n"] for d in asc] == [8, 9, 2, 0, 1]
    desc = await database.tickets.find({"k": {"$ne": None}}).sort([("k", -1), ("n", -1)]).to_list(None)
    assert [d["n"] for d in desc] == [1, 0, 2]


async def test_async_iteration_walks_every_document_in_order(database):
    await database.messages.insert_many([{"ticket_id": 1, "seq": n} for n in range(250)])
    seen = [d["seq"] async for d in database.messages.find({"ticket_id": 1}).sort("seq", 1)]
    assert seen == list(range(250))


async def test_count_and_distinct(database):
    await database.jobs.insert_many([{"status": s} for s in ("queued", "dead", "dead")])
    assert await database.jobs.count_documents({"status": "dead"}) == 2
    assert sorted(await database.jobs.distinct("status")) == ["dead", "queued"]


async def test_aggregate_is_awaited_and_answers_a_cursor(database):
    await database.tickets.insert_many([{"status": s} for s in ("open", "open", "closed")])
    cursor = await database.tickets.aggregate(
        [{"$group": {"_id": "$status", "n": {"$sum": 1}}}, {"$sort": {"_id": 1}}])
    assert await cursor.to_list(None) == [{"_id": "closed", "n": 1}, {"_id": "open", "n": 2}]


# --- operators the store's filters use --------------------------------------------------


async def test_filter_operators(database):
    await database.tickets.insert_many([
        {"n": 1, "status": "open", "tags": ["vip"]},
        {"n": 2, "status": "pending", "due": T0},
        {"n": 3, "status": "closed", "due": T0 + timedelta(hours=1)},
    ])

    async def ns(query):
        return sorted(d["n"] for d in await database.tickets.find(query).to_list(None))

    assert await ns({"status": {"$in": ["open", "pending"]}}) == [1, 2]
    assert await ns({"status": {"$ne": "closed"}}) == [1, 2]
    assert await ns({"due": {"$exists": True}}) == [2, 3]
    assert await ns({"due": {"$lte": T0}}) == [2]
    assert await ns({"$or": [{"n": 1}, {"due": {"$gt": T0}}]}) == [1, 3]
    assert await ns({"$and": [{"n": {"$gte": 2}}, {"status": "closed"}]}) == [3]
    assert await ns({"tags": "vip"}) == [1]


# --- writes ------------------------------------------------------------------------------


async def test_find_one_and_update_returns_the_new_document_or_none_when_the_filter_fails(database):
    oid = (await database.tickets.insert_one({"status": "open", "version": 1})).inserted_id
    after = await database.tickets.find_one_and_update(
        {"_id": oid, "version": 1}, {"$set": {"status": "closed"}, "$inc": {"version": 1}},
        return_document=ReturnDocument.AFTER)
    assert (after["status"], after["version"]) == ("closed", 2)
    before = await database.tickets.find_one_and_update(
        {"_id": oid}, {"$set": {"status": "open"}}, return_document=ReturnDocument.BEFORE)
    assert before["status"] == "closed"
    assert await database.tickets.find_one_and_update(
        {"_id": oid, "version": 1}, {"$inc": {"version": 1}}) is None  # the version moved on


async def test_min_max_on_missing_fields_set_them_and_then_keep_the_extreme(database):
    oid = (await database.tickets.insert_one({"n": 1})).inserted_id
    for at in (T0 + timedelta(minutes=5), T0, T0 + timedelta(minutes=9)):
        await database.tickets.update_one({"_id": oid}, {"$min": {"first": at}, "$max": {"last": at}})
    doc = await database.tickets.find_one({"_id": oid})
    assert (doc["first"], doc["last"]) == (T0, T0 + timedelta(minutes=9))


async def test_unset_and_inc(database):
    oid = (await database.tickets.insert_one({"a": 1, "b": 2, "seq": 4})).inserted_id
    await database.tickets.update_one({"_id": oid}, {"$unset": {"a": ""}, "$inc": {"seq": 2}})
    doc = await database.tickets.find_one({"_id": oid})
    assert "a" not in doc and doc["seq"] == 6


async def test_datetimes_come_back_tz_aware_in_utc_with_milliseconds(database):
    oid = (await database.tickets.insert_one({"at": T0.replace(microsecond=678901)})).inserted_id
    doc = await database.tickets.find_one({"_id": oid})
    assert doc["at"] == T0 and doc["at"].utcoffset() == timedelta(0)
    naive = datetime(2026, 1, 2, 3, 4, 5)  # noqa: DTZ001 (a naive time is taken as UTC)
    await database.tickets.update_one({"_id": oid}, {"$set": {"naive": naive}})
    assert (await database.tickets.find_one({"_id": oid}))["naive"] == naive.replace(tzinfo=UTC)


async def test_what_bson_cannot_hold_is_refused_in_documents_filters_and_updates(database):
    for bad in ("\ud800", 10**30):
        with pytest.raises((bson.errors.InvalidDocument, OverflowError, UnicodeEncodeError)):
            await database.tickets.insert_one({"v": bad})
        with pytest.raises((bson.errors.InvalidDocument, OverflowError, UnicodeEncodeError)):
            await database.tickets.find_one({"v": bad})
        with pytest.raises((bson.errors.InvalidDocument, OverflowError, UnicodeEncodeError)):
            await database.tickets.update_one({}, {"$set": {"v": bad}})
    assert await database.tickets.count_documents({}) == 0


# --- indexes ------------------------------------------------------------------------------


async def test_a_client_msg_id_is_unique_per_sender_in_a_ticket(database):
    ticket = ObjectId()
    base = {"ticket_id": ticket, "kind": "message", "body": "x"}
    await database.messages.insert_one({**base, "seq": 1, "sender_id": "guest", "client_msg_id": "m1"})
    with pytest.raises(DuplicateKeyError) as caught:
        await database.messages.insert_one({**base, "seq": 2, "sender_id": "guest", "client_msg_id": "m1"})
    assert caught.value.details["keyValue"]["client_msg_id"] == "m1"
    # another sender may use the same id: it is theirs, not the guest's
    await database.messages.insert_one({**base, "seq": 3, "sender_id": "agent", "client_msg_id": "m1"})
    # and system lines have a key space of their own
    await database.messages.insert_one({**base, "seq": 4, "sender_id": None, "system_key": "m1"})
    with pytest.raises(DuplicateKeyError):
        await database.messages.insert_one({**base, "seq": 5, "sender_id": None, "system_key": "m1"})
    found = await stored_messages.by_client_msg_id(database, ticket_id=ticket, sender_id="agent",
                                                   client_msg_id="m1")
    assert found["seq"] == 3
    assert await stored_messages.by_client_msg_id(database, ticket_id=ticket, sender_id="nobody",
                                                  client_msg_id="m1") is None


async def test_a_number_is_unique_in_its_ticket_and_guest_numbers_only_where_given(database):
    ticket = ObjectId()
    await database.messages.insert_one({"ticket_id": ticket, "seq": 1, "guest_seq": 1})
    await database.messages.insert_one({"ticket_id": ticket, "seq": 2})  # a note: no guest number
    await database.messages.insert_one({"ticket_id": ticket, "seq": 3})
    with pytest.raises(DuplicateKeyError):
        await database.messages.insert_one({"ticket_id": ticket, "seq": 2})
    with pytest.raises(DuplicateKeyError):
        await database.messages.insert_one({"ticket_id": ticket, "seq": 4, "guest_seq": 1})
    await database.messages.insert_one({"ticket_id": ObjectId(), "seq": 1, "guest_seq": 1})


async def test_a_refused_update_onto_a_taken_key_changes_nothing(database):
    await database.users.insert_one({"email": "a@example.com"})
    oid = (await database.users.insert_one({"email": "b@example.com"})).inserted_id
    with pytest.raises(DuplicateKeyError):
        await database.users.update_one({"_id": oid}, {"$set": {"email": "a@example.com"}})
    assert (await database.users.find_one({"_id": oid}))["email"] == "b@example.com"
    await database.users.delete_one({"email": "a@example.com"})
    await database.users.update_one({"_id": oid}, {"$set": {"email": "a@example.com"}})  # free now
    await database.users.insert_one({"email": "b@example.com"})


async def test_ttl_indexes_are_declared_on_expire_at(database):
    for collection in (database.jobs, database.notifications):
        info = await collection.index_information()
        assert info["expire"]["expireAfterSeconds"] == 0


TTL_MONITOR_WAIT = 90  # seconds: MongoDB's TTL monitor runs once a minute


async def test_documents_past_their_expiry_are_deleted_and_no_others(database):
    """Finished jobs, read notifications, webhook deliveries and sign-in sessions are deleted
    by the database once their time is past: the store never deletes them itself. MongoDB's
    TTL monitor may take a minute to come by; the embedded engine's pass is run at once."""
    now = datetime.now(UTC)
    collections = {database.jobs: "expire_at", database.notifications: "expire_at",
                   database.webhook_deliveries: "expire_at", database.sessions: "expires_at"}
    for collection, field in collections.items():
        await collection.insert_many([{"n": 1, field: now - timedelta(seconds=1)},
                                      {"n": 2, field: now + timedelta(hours=1)}, {"n": 3}])
    deadline = time.monotonic() + TTL_MONITOR_WAIT
    while True:
        if database.embedded:
            await database.client.purge_expired()
        left = [sorted(d["n"] for d in await collection.find({}).to_list(None)) for collection in collections]
        if all(n == [2, 3] for n in left) or time.monotonic() > deadline:
            break
        await asyncio.sleep(1)
    assert left == [[2, 3]] * len(collections)


# --- attachments (GridFS on MongoDB, its layout by hand on the embedded engine) -----------


async def test_a_file_of_several_chunks_is_stored_read_whole_and_deleted_with_its_chunks(database):
    data = bytes(range(256)) * (3 * stored_attachments.CHUNK_SIZE // 256 + 7)  # 3 chunks and a bit
    ticket = ObjectId()
    file_id = await stored_attachments.put(
        database, data=data, filename="scan.pdf", content_type="application/pdf", ticket_id=ticket,
        uploaded_by={"role": "guest", "id": "g1"}, at=T0)
    info = await stored_attachments.info(database, file_id=file_id)
    assert (info["filename"], info["length"], info["chunkSize"]) == ("scan.pdf", len(data),
                                                                     stored_attachments.CHUNK_SIZE)
    assert info["metadata"] == {"content_type": "application/pdf", "ticket_id": ticket,
                                "uploaded_by": {"role": "guest", "id": "g1"}}
    chunks = database.db[f"{stored_attachments.BUCKET}.chunks"]
    assert await chunks.count_documents({"files_id": file_id}) == 4
    assert await stored_attachments.read(database, file_id=file_id) == data
    assert await stored_attachments.count(database) == 1
    await stored_attachments.delete(database, file_id=file_id)
    assert await stored_attachments.read(database, file_id=file_id) is None
    assert await stored_attachments.info(database, file_id=file_id) is None
    assert await chunks.count_documents({"files_id": file_id}) == 0
    await stored_attachments.delete(database, file_id=file_id)  # again: nothing to do, no error
    assert await stored_attachments.read(database, file_id=ObjectId()) is None


# --- the store's own functions ------------------------------------------------------------


async def _ticket(database, **fields) -> dict:
    return await stored_tickets.insert(database, ticket={
        "status": "open", "version": 1, "seq": 1, "guest_seq": 1, "guest_id": "g",
        "created_at": T0, "updated_at": T0, **fields})


async def test_recording_a_message_takes_numbers_only_while_the_status_is_as_read(database):
    ticket = await _ticket(database)
    after = await stored_tickets.record_message(
        database, ticket_id=ticket["_id"], status="open", at=T0, preview="hi", by_guest=False)
    assert (after["seq"], after["guest_seq"], after["version"]) == (2, 2, 2)
    assert after["first_response_at"] == T0 and after["last_message_preview"] == "hi"
    closed = await stored_tickets.change(database, ticket_id=ticket["_id"], version=2,
                                         at=T0, set={"status": "closed"})
    assert closed["version"] == 3
    assert await stored_tickets.record_message(
        database, ticket_id=ticket["_id"], status="open", at=T0, preview="late", by_guest=True) is None
    assert await stored_tickets.take_seq(database, ticket_id=ticket["_id"], guest_visible=False,
                                         unless_closed=True) is None
    line = await stored_tickets.take_seq(database, ticket_id=ticket["_id"], guest_visible=True,
                                         unless_closed=False)
    assert (line["seq"], line["guest_seq"]) == (3, 3)


async def test_a_first_reply_takes_a_number_for_the_joined_line_once_per_agent(database):
    ticket = await _ticket(database, joined=[])
    first = await stored_tickets.record_message(
        database, ticket_id=ticket["_id"], status="open", at=T0, preview="hi", by_guest=False,
        announcing="a1")
    assert (first["seq"], first["guest_seq"], first["joined"]) == (3, 3, ["a1"])
    assert await stored_tickets.record_message(
        database, ticket_id=ticket["_id"], status="open", at=T0, preview="hi", by_guest=False,
        announcing="a1") is None  # announced already: the caller reads again


async def test_search_finds_a_phrase_in_ticket_fields_and_messages_newest_first(database):
    old = await _ticket(database, subject="Broken blender", guest_name="Ann", tags=["warranty"],
                        updated_at=T0)
    new = await _ticket(database, subject="Invoice", guest_name="Bob", guest_email="bob@example.com",
                        updated_at=T0 + timedelta(minutes=1))
    other = await _ticket(database, subject="Nothing", guest_name="Cy", updated_at=T0 + timedelta(minutes=2))
    await database.messages.insert_many([
        {"ticket_id": new["_id"], "kind": "message", "seq": 2, "created_at": T0,
         "body": "The price is $5.00 (approx.) with the blender"},
        {"ticket_id": other["_id"], "kind": "system", "seq": 2, "created_at": T0, "body": "blender line"},
    ])

    page, found_in, more = await stored_tickets.search_page(database, text="blender", before=None, size=10)
    assert [t["_id"] for t in page] == [new["_id"], old["_id"]] and not more
    assert found_in[new["_id"]]["body"].startswith("The price") and old["_id"] not in found_in
    page, _, more = await stored_tickets.search_page(database, text="blender", before=None, size=1)
    assert [t["_id"] for t in page] == [new["_id"]] and more
    page, _, _ = await stored_tickets.search_page(
        database, text="blender", before=(page[0]["updated_at"], page[0]["_id"]), size=1)
    assert [t["_id"] for t in page] == [old["_id"]]
    for text, expected in (("$5.00 (approx", [new["_id"]]), ("bob@example.com", [new["_id"]]),
                           ("WARRANTY", [old["_id"]]), (".*", []), ('{"$ne": 1}', [])):
        page, _, _ = await stored_tickets.search_page(database, text=text, before=None, size=10)
        assert [t["_id"] for t in page] == expected, text


async def _search(database, text: str, size: int = 10, before=None) -> list:
    page, _, _ = await stored_tickets.search_page(database, text=text, before=before, size=size)
    return [t["_id"] for t in page]


async def test_search_finds_whole_words_in_the_order_typed_in_any_case(database):
    """The phrase as MongoDB's text index finds it (`default_language: none`): every word
    whole, next to each other in the order typed, any case, double quotes ignored."""
    broken = await _ticket(database, subject="Broken blender, again", guest_name="Ann Lee",
                           updated_at=T0)
    words = await _ticket(database, subject="Blenders", guest_name="Bo",
                          updated_at=T0 + timedelta(minutes=1))
    for text, expected in (("Blender", [broken["_id"]]), ("BROKEN blender", [broken["_id"]]),
                           ('"broken" blender', [broken["_id"]]), ("blender broken", []),
                           ("blend", []), ("roken", []), ("blenders", [words["_id"]]),
                           ("ann lee", [broken["_id"]]),
                           ("lee ann", []), ("  blender,   again ", [broken["_id"]]), ('"" ..', [])):
        assert await _search(database, text) == expected, text


async def test_search_merges_tickets_found_by_a_field_and_by_a_message_without_repeats(database):
    """Pages walk the tickets found by their fields and those found by their messages as
    one list, newest first, each ticket once, with the snippet of its newest match."""
    by_field = await _ticket(database, subject="Refund please", updated_at=T0 + timedelta(minutes=4))
    by_both = await _ticket(database, subject="Refund asked twice", updated_at=T0 + timedelta(minutes=3))
    by_message = await _ticket(database, subject="Order 77", updated_at=T0 + timedelta(minutes=2))
    by_note = await _ticket(database, subject="Order 78", updated_at=T0 + timedelta(minutes=1))
    await _ticket(database, subject="Nothing here", updated_at=T0 + timedelta(minutes=5))
    await database.messages.insert_many([
        {"ticket_id": by_both["_id"], "kind": "message", "seq": 2, "created_at": T0,
         "body": "I want a refund"},
        {"ticket_id": by_message["_id"], "kind": "message", "seq": 2, "created_at": T0,
         "body": "Could I get a refund?"},
        {"ticket_id": by_message["_id"], "kind": "message", "seq": 3, "created_at": T0 + timedelta(seconds=1),
         "body": "A REFUND, yes"},
        {"ticket_id": by_note["_id"], "kind": "note", "seq": 2, "created_at": T0,
         "body": "refund approved by finance"},
    ])
    everything = [by_field["_id"], by_both["_id"], by_message["_id"], by_note["_id"]]
    page, found_in, more = await stored_tickets.search_page(database, text="refund", before=None, size=10)
    assert [t["_id"] for t in page] == everything and not more
    assert found_in[by_message["_id"]]["body"] == "A REFUND, yes"  # its newest match
    assert found_in[by_note["_id"]]["kind"] == "note" and by_field["_id"] not in found_in
    walked, before = [], None
    while True:
        page, _, more = await stored_tickets.search_page(database, text="refund", before=before, size=1)
        walked += [t["_id"] for t in page]
        if not more:
            break
        before = (page[-1]["updated_at"], page[-1]["_id"])
    assert walked == everything
    assert await _search(database, "refund", size=3) == everything[:3]


async def test_search_through_messages_keeps_the_newest_tickets_past_its_bound(database, monkeypatch):
    """Past MESSAGE_HITS_MAX tickets found through their messages, the most recently opened
    ones are kept, whatever the order they were updated in."""
    opened_first = await _ticket(database, subject="A", updated_at=T0 + timedelta(minutes=2))
    opened_last = await _ticket(database, subject="B", updated_at=T0)
    await database.messages.insert_many([
        {"ticket_id": ticket["_id"], "kind": "message", "seq": 2, "created_at": T0, "body": "parcel"}
        for ticket in (opened_last, opened_first)])
    assert await _search(database, "parcel") == [opened_first["_id"], opened_last["_id"]]
    monkeypatch.setattr(stored_tickets, "MESSAGE_HITS_MAX", 1)
    assert await _search(database, "parcel") == [opened_last["_id"]]


async def test_a_slot_goes_to_the_least_recently_assigned_agent_with_room(database):
    ids = [ObjectId() for _ in range(5)]
    await database.users.insert_many([{**user, "email": f"a{n}@example.com"} for n, user in enumerate([
        {"_id": ids[0], "active": True, "role": "agent", "open_count": 2, "capacity": 2},  # full
        {"_id": ids[1], "active": True, "role": "agent", "open_count": 0, "last_assigned_at": T0},
        {"_id": ids[2], "active": True, "role": "admin"},  # never assigned, default capacity
        {"_id": ids[3], "active": True, "role": "agent", "availability": "away"},
        {"_id": ids[4], "active": False, "role": "agent"},
    ])])
    first = await stored_users.reserve_slot(database, candidates=ids, at=T0 + timedelta(hours=1))
    assert first["_id"] == ids[2] and first["open_count"] == 1
    second = await stored_users.reserve_slot(database, candidates=ids, at=T0 + timedelta(hours=2))
    assert second["_id"] == ids[1]
    assert (await stored_users.reserve_slot(database, candidates=[ids[0], ids[3], ids[4]], at=T0)) is None
    await database.users.update_one({"_id": ids[1]}, {"$set": {"capacity": 1}})
    third = await stored_users.reserve_slot(database, candidates=ids[:2], at=T0)
    assert third is None  # ids[1] has 1 of 1 now
    await stored_users.count_open(database, user_id=ids[1], delta=-1)
    await stored_users.count_open(database, user_id=ids[1], delta=-1)  # never below 0
    assert (await database.users.find_one({"_id": ids[1]}))["open_count"] == 0


async def test_history_pages_by_number_oldest_first(database):
    ticket = ObjectId()
    await database.messages.insert_many([
        {"ticket_id": ticket, "seq": n, **({"guest_seq": (n + 1) // 2} if n % 2 else {})}
        for n in range(1, 12)])
    page, more = await stored_messages.newest(database, ticket_id=ticket, number="seq", before=None, limit=4)
    assert ([m["seq"] for m in page], more) == ([8, 9, 10, 11], True)
    page, more = await stored_messages.newest(database, ticket_id=ticket, number="seq", before=8, limit=10)
    assert ([m["seq"] for m in page], more) == (list(range(1, 8)), False)
    page, more = await stored_messages.after(database, ticket_id=ticket, number="guest_seq", after=2, limit=2)
    assert ([m["guest_seq"] for m in page], more) == ([3, 4], True)


async def test_due_tickets_are_walked_in_order_past_a_position(database):
    for n in range(5):
        await _ticket(database, escalate_at=T0 + timedelta(minutes=n % 3))
    await _ticket(database)  # not waiting: never due
    first = await stored_tickets.due(database, field="escalate_at", now=T0 + timedelta(hours=1),
                                     after=None, limit=3)
    rest = await stored_tickets.due(database, field="escalate_at", now=T0 + timedelta(hours=1),
                                    after=(first[-1]["escalate_at"], first[-1]["_id"]), limit=3)
    walked = first + rest
    assert len(walked) == 5 and len({t["_id"] for t in walked}) == 5
    assert [t["escalate_at"] for t in walked] == sorted(t["escalate_at"] for t in walked)
    assert await stored_tickets.due(database, field="escalate_at", now=T0 - timedelta(minutes=1),
                                    after=None, limit=10) == []


async def test_a_job_is_claimed_by_one_worker_and_renewed_only_by_it(database):
    await stored_jobs.insert(database, job={"kind": "k", "status": "queued", "run_at": T0,
                                            "attempts": 0, "payload": {}})
    job = await stored_jobs.claim(database, worker_id="w1", now=T0, lease_until=T0 + timedelta(seconds=30))
    assert (job["locked_by"], job["attempts"]) == ("w1", 1)
    assert await stored_jobs.claim(database, worker_id="w2", now=T0, lease_until=T0) is None
    assert await stored_jobs.renew(database, job_id=job["_id"], worker_id="w1", now=T0,
                                   lease_until=T0 + timedelta(seconds=60))
    assert not await stored_jobs.renew(database, job_id=job["_id"], worker_id="w2", now=T0,
                                       lease_until=T0 + timedelta(seconds=60))
    # past the first lease but inside the renewed one: still not claimable
    assert await stored_jobs.claim(database, worker_id="w2", now=T0 + timedelta(seconds=45),
                                   lease_until=T0) is None


async def test_the_audit_export_walks_every_event_in_batches(database, monkeypatch):
    monkeypatch.setattr(stored_audit, "EXPORT_BATCH", 7)
    await database.audit_events.insert_many(
        [{"at": T0 + timedelta(seconds=n % 5), "action": "a"} for n in range(30)])
    walked = [e async for e in stored_audit.every(database, filters=stored_audit.AuditFilters())]
    assert len(walked) == 30 and len({e["_id"] for e in walked}) == 30
    assert [e["at"] for e in walked] == sorted((e["at"] for e in walked), reverse=True)


async def test_updates_by_id_keep_mongodb_rules_at_their_edges(database):
    from pymongo.errors import WriteError

    oid = (await database.tickets.insert_one({"name": "x", "n": 1, "gone": None})).inserted_id
    with pytest.raises(WriteError):  # $inc on text is refused ...
        await database.tickets.update_one({"_id": oid}, {"$inc": {"name": 1, "n": 1}})
    assert (await database.tickets.find_one({"_id": oid}))["n"] == 1  # ... and changes nothing
    # null sorts before every date: $min keeps it, $max replaces it
    await database.tickets.update_one({"_id": oid}, {"$min": {"gone": T0}})
    assert (await database.tickets.find_one({"_id": oid}))["gone"] is None
    await database.tickets.update_one({"_id": oid}, {"$max": {"gone": T0}})
    assert (await database.tickets.find_one({"_id": oid}))["gone"] == T0
    result = await database.tickets.update_one({"_id": oid}, {"$set": {"n": 1}})
    assert (result.matched_count, result.modified_count) == (1, 0)  # the same value: unmodified
    result = await database.tickets.update_one({"_id": oid, "n": 2}, {"$set": {"n": 3}})
    assert (result.matched_count, result.modified_count) == (0, 0)
    assert await database.tickets.find_one({"_id": oid, "n": 2}) is None
    before = await database.tickets.find_one_and_update({"_id": oid}, {"$inc": {"n": 5}},
                                                        projection={"n": 1})
    assert before == {"_id": oid, "n": 1}
    after = await database.tickets.find_one({"_id": oid})
    after["n"] = 99  # what a caller does to its copy never reaches the store
    assert (await database.tickets.find_one({"_id": oid}))["n"] == 6


async def test_store_functions_refuse_ids_that_are_not_ids(database):
    from app.errors import Invalid

    for bad in ("nope", 42, None, {"$ne": None}, "f" * 23):
        with pytest.raises(Invalid):
            await stored_tickets.get(database, ticket_id=bad)
        with pytest.raises(Invalid):
            await stored_messages.after(database, ticket_id=bad, number="seq", after=0, limit=5)
        with pytest.raises(Invalid):
            await stored_jobs.get(database, job_id=bad)
    ticket = await _ticket(database)
    assert (await stored_tickets.get(database, ticket_id=str(ticket["_id"])))["_id"] == ticket["_id"]
