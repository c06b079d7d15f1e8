"""The embedded engine behaves like the driver where the store relies on it, and its hash
lookups still stand on the mongomock internals they were written against."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import mongomock
import pytest
from bson import ObjectId

from app.store import engine
from tests.store.interleave import gate, on


async def test_every_call_yields_so_concurrent_callers_interleave(embedded):
    trace: list[str] = []

    async def caller(name: str) -> None:
        for n in range(3):
            await embedded.tickets.insert_one({"by": name, "n": n})
            trace.append(name)

    await asyncio.gather(caller("a"), caller("b"))
    # Without a yield per call, a would finish all three before b started.
    assert trace[:2] == ["a", "b"] and trace != ["a", "a", "a", "b", "b", "b"]


async def test_a_read_then_write_is_not_atomic_here_either(embedded):
    oid = (await embedded.jobs.insert_one({"status": "queued"})).inserted_id
    won = []

    async def non_atomic_claim(worker: str) -> None:
        job = await embedded.jobs.find_one({"_id": oid, "status": "queued"})
        if job is not None:
            await embedded.jobs.update_one({"_id": oid}, {"$set": {"status": "processing"}})
            won.append(worker)

    await asyncio.gather(non_atomic_claim("w1"), non_atomic_claim("w2"))
    assert won == ["w1", "w2"]  # both "claimed" it: the race a real MongoDB would show


async def test_a_hook_holds_one_operation_while_others_run(embedded):
    held = gate(embedded, on("tickets", "update_one"))
    oid = (await embedded.tickets.insert_one({"n": 0})).inserted_id
    slow = asyncio.create_task(embedded.tickets.update_one({"_id": oid}, {"$set": {"n": 1}}))
    op = await held.wait_reached()
    assert op.filter == {"_id": oid} and op.document == {"$set": {"n": 1}}
    assert (await embedded.tickets.find_one({"_id": oid}))["n"] == 0  # not yet run
    held.open()
    await slow
    assert (await embedded.tickets.find_one({"_id": oid}))["n"] == 1


async def test_cursor_options_after_it_ran_are_refused(embedded):
    cursor = embedded.tickets.find({})
    await cursor.to_list(1)
    with pytest.raises(mongomock.InvalidOperation):
        cursor.limit(3)


async def test_the_ttl_pass_deletes_what_expired_and_keeps_the_rest(embedded):
    now = datetime.now(UTC)
    await embedded.jobs.insert_many([
        {"n": 1, "expire_at": now - timedelta(seconds=1)},
        {"n": 2, "expire_at": now + timedelta(hours=1)},
        {"n": 3},
        {"n": 4, "expire_at": "not a date"},
    ])
    assert await embedded.client.purge_expired() == 1
    assert sorted(d["n"] for d in await embedded.jobs.find({}).to_list(None)) == [2, 3, 4]


# --- the internals the hash lookups stand on (pinned in pyproject.toml) ---------------------


def test_mongomock_is_the_version_the_lookups_were_written_against():
    assert mongomock.__version__.startswith("4.3."), (
        "app/store/engine.py patches mongomock internals read from 4.3; check "
        "Collection._iter_documents, Collection._ensure_uniques and Collection._store, "
        "then widen the pin in pyproject.toml")
    collection = mongomock.MongoClient().db.c
    for name in ("_iter_documents", "_ensure_uniques", "_store"):
        assert hasattr(collection, name), name
    assert hasattr(collection._store, "indexes") and hasattr(collection._store, "documents")
    # a limited find takes its first copies from the cursor's generator
    assert callable(collection.find()._factory)
    # $in and $nin are replaced in the filterer's operator map (engine._fast_in)
    assert engine.filtering._filterer_inst._operator_map["$in"] is engine._fast_in


async def test_in_a_long_list_answers_as_mongomock_does(embedded):
    ids = [ObjectId() for _ in range(40)]
    await embedded.tickets.insert_many([
        {"_id": ids[0], "tags": ["a", "b"]}, {"_id": ids[1], "tags": "b"}, {"_id": ids[2]},
        {"_id": ids[3], "tags": [["nested"]]}, {"_id": ids[4], "tags": 7}, {"_id": ids[5], "tags": None}])
    long_ids = ids[:2] + [ObjectId() for _ in range(30)]
    found = await embedded.tickets.find({"_id": {"$in": long_ids}}).to_list(None)
    assert sorted(d["_id"] for d in found) == sorted(ids[:2])
    values = ["b", 7] + [f"x{n}" for n in range(20)]
    found = await embedded.tickets.find({"tags": {"$in": values}}).to_list(None)
    assert sorted(d["_id"] for d in found) == sorted([ids[0], ids[1], ids[4]])
    found = await embedded.tickets.find({"tags": {"$nin": values}}).to_list(None)
    assert sorted(d["_id"] for d in found) == sorted([ids[2], ids[3], ids[5]])
    with_none = [None] + values  # not plain: mongomock's own way (a missing field matches None)
    found = await embedded.tickets.find({"tags": {"$in": with_none}}).to_list(None)
    assert sorted(d["_id"] for d in found) == sorted([ids[0], ids[1], ids[2], ids[4], ids[5]])


async def test_lookups_by_id_and_by_unique_key_do_not_scan_the_collection(embedded, monkeypatch):
    await embedded.messages.insert_many([
        {"ticket_id": ObjectId(), "seq": 1, "sender_id": "g", "client_msg_id": f"m{n}"}
        for n in range(2000)])
    sample = await embedded.messages.find_one({"client_msg_id": "m1234"})
    calls = {"n": 0}
    real = engine.filtering.filter_applies

    def counting(*args, **kwargs):
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.filtering, "filter_applies", counting)
    monkeypatch.setattr(mongomock.collection, "filter_applies", counting)
    assert (await embedded.messages.find_one({"_id": sample["_id"]}))["client_msg_id"] == "m1234"
    found = await embedded.messages.find_one(
        {"ticket_id": sample["ticket_id"], "sender_id": "g", "client_msg_id": "m1234"})
    assert found["_id"] == sample["_id"]
    assert await embedded.messages.find_one(
        {"ticket_id": sample["ticket_id"], "sender_id": "g", "client_msg_id": "missing"}) is None
    await embedded.messages.insert_one(
        {"ticket_id": ObjectId(), "seq": 1, "sender_id": "g", "client_msg_id": "new"})
    assert calls["n"] < 20, f"{calls['n']} documents examined: the lookups fell back to scanning"


async def test_distinct_flattens_lists_and_keeps_what_mongomock_keeps(embedded):
    ids = [ObjectId(), ObjectId()]
    await embedded.messages.insert_many([
        {"ticket_id": ids[0], "tags": ["a", "b"], "kind": "message"},
        {"ticket_id": ids[1], "tags": "a", "kind": "note"},
        {"ticket_id": ids[0], "kind": "system"}])
    assert sorted(await embedded.messages.distinct("ticket_id")) == sorted(ids)
    assert await embedded.messages.distinct("ticket_id", {"kind": "note"}) == [ids[1]]
    assert sorted(await embedded.messages.distinct("tags")) == ["a", "b"]
    await embedded.messages.insert_one({"tags": [None, {"x": 1}]})  # not plain: mongomock's way
    assert len(await embedded.messages.distinct("tags")) == 4
