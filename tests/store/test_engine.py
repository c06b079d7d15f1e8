"""The embedded engine behaves like the driver where the store relies on it, and its hash
lookups still stand on the mongomock internals they were written against."""

from __future__ import annotations

import asyncio
import collections
import re
from datetime import UTC, datetime, timedelta, timezone

import bson.errors
import mongomock
import pytest
from bson import ObjectId
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    assert type(collection._store._documents) is collections.OrderedDict
    assert callable(engine.filtering.filter_applies) and callable(engine.filtering.resolve_sort_key)
    # a limited find takes its first copies from the cursor's generator
    assert callable(collection.find()._factory)
    # $in and $nin are replaced in the filterer's operator map (engine._fast_in)
    assert engine.filtering._filterer_inst._operator_map["$in"] is engine._fast_in
    # dates in and out go through the engine's faster equivalents (engine._stored_dates)
    assert engine.helpers.patch_datetime_awareness_in_document is engine._stored_dates
    assert engine.helpers.make_datetime_timezone_aware_in_document is engine._aware_dates


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
    with_none = [None, *values]  # not plain: mongomock's own way (a missing field matches None)
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

    quick = engine._applies

    def counting_quick(*args, **kwargs):
        calls["n"] += 1
        return quick(*args, **kwargs)

    monkeypatch.setattr(engine.filtering, "filter_applies", counting)
    monkeypatch.setattr(mongomock.collection, "filter_applies", counting)
    monkeypatch.setattr(engine, "_applies", counting_quick)
    assert (await embedded.messages.find_one({"_id": sample["_id"]}))["client_msg_id"] == "m1234"
    by_key = {"ticket_id": sample["ticket_id"], "sender_id": "g", "client_msg_id": "m1234"}
    found = await embedded.messages.find_one(by_key)
    assert found == sample
    # the same answer as mongomock's own find
    assert found == next(iter(embedded.messages._collection.find(by_key, limit=1)))
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


# --- finding without copying every document: the same answers as mongomock's own path -----

_T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_OIDS = [ObjectId() for _ in range(4)]
_SCALARS = st.one_of(st.integers(-3, 3), st.sampled_from([0.5, 2.0, -1.5]), st.sampled_from(["a", "b", "ab", ""]),
                     st.booleans(), st.none(), st.sampled_from(_OIDS),
                     st.integers(0, 5).map(lambda n: _T0 + timedelta(minutes=n)))
_VALUES = st.one_of(_SCALARS, st.lists(_SCALARS, max_size=3), st.fixed_dictionaries({"c": _SCALARS}))
_MISSING_OR = lambda values: st.one_of(st.just(...), values)  # noqa: E731  (... is a missing field)


def _without_missing(value):
    if isinstance(value, dict):
        return {k: _without_missing(v) for k, v in value.items() if v is not ...}
    return value


_DOCS = st.lists(st.fixed_dictionaries({
    "a": _MISSING_OR(_VALUES), "b": _MISSING_OR(st.one_of(st.fixed_dictionaries({"c": _MISSING_OR(_VALUES)}),
                                                          _SCALARS, st.lists(st.fixed_dictionaries({"c": _SCALARS}),
                                                                             max_size=2))),
    "at": _MISSING_OR(st.integers(0, 5).map(lambda n: _T0 + timedelta(minutes=n))),
}).map(lambda d: _without_missing(d)), max_size=25)
_FIELDS = st.sampled_from(["a", "b.c", "at", "b", "_id"])


def _conditions():
    operand = _SCALARS
    ops = st.one_of(
        operand,
        st.fixed_dictionaries({}, optional={"$eq": operand, "$ne": operand, "$gt": operand, "$gte": operand,
                                            "$lt": operand, "$lte": operand, "$exists": st.booleans(),
                                            "$in": st.lists(operand, max_size=3),
                                            "$nin": st.lists(operand, max_size=3)}).filter(bool),
        st.fixed_dictionaries({"$regex": st.sampled_from(["a", "^a", "B$", "(", ""])},
                              optional={"$options": st.sampled_from(["", "i", "ix", "q"])}),
    )
    return st.dictionaries(_FIELDS, ops, max_size=2)


_FILTERS = st.recursive(_conditions(), lambda inner: st.one_of(
    st.fixed_dictionaries({"$and": st.lists(inner, min_size=1, max_size=3)}),
    st.fixed_dictionaries({"$or": st.lists(inner, min_size=1, max_size=3)}),
), max_leaves=4)
_SORTS = st.one_of(st.none(), st.lists(st.tuples(_FIELDS, st.sampled_from([1, -1])), min_size=1, max_size=2,
                                       unique_by=lambda item: item[0]))


@settings(max_examples=400, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(docs=_DOCS, filter=_FILTERS, sort=_SORTS, skip=st.integers(0, 3), limit=st.integers(0, 5),
       projection=st.sampled_from([None, {"a": 1}, {"at": 1, "b": 1}]))
def test_the_fast_find_answers_exactly_as_mongomocks_own_find(docs, filter, sort, skip, limit, projection):
    collection = mongomock.MongoClient(tz_aware=True).db.c
    engine._index_lookups(collection)
    collection.create_index([("a", 1), ("at", 1)])  # an equality on an id in `a`: its partition
    if docs:
        collection.insert_many([dict(d) for d in docs])
    try:
        expected = list(collection.find(filter, projection, sort=sort, skip=skip, limit=limit))
    except (mongomock.OperationFailure, TypeError, NotImplementedError, re.error):
        return  # mongomock refuses this query; the fast path must not answer it either way
    fast = engine._fast_find(collection, filter, projection, sort=sort, skip=skip, limit=limit)
    assert fast is None or fast == expected, (fast, expected)
    counted = engine._fast_count(collection, filter, skip=skip, limit=limit)
    whole = len(list(collection.find(filter)))
    assert counted is None or counted == min(max(whole - skip, 0), limit or whole)


# The shapes of the message path's filters (an equality, one $exists or $ne per field),
# with a few others that the quick matcher hands to mongomock's.
_QUICK_FILTERS = st.one_of(_FILTERS, st.dictionaries(
    st.sampled_from(["a", "at", "b", "_id", "b.c"]),
    st.one_of(_SCALARS, st.fixed_dictionaries({"$exists": st.booleans()}),
              st.fixed_dictionaries({"$ne": _SCALARS}), st.fixed_dictionaries({"$gt": _SCALARS})),
    min_size=1, max_size=3))


@settings(max_examples=600, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(docs=_DOCS, filter=_QUICK_FILTERS)
def test_the_quick_matcher_decides_as_mongomocks_matcher(docs, filter):
    filter = engine._stored_dates(filter)
    for doc in docs:
        doc = engine._stored_dates({"_id": ObjectId(), **doc})
        try:
            expected = engine.filtering.filter_applies(filter, doc)
        except (mongomock.OperationFailure, TypeError, NotImplementedError, re.error):
            continue  # mongomock refuses this filter: nothing to agree with
        assert engine._applies(filter, doc) == expected, (filter, doc)


def _typed(value):
    """A value with the type of every part, so that equal-looking results of other types
    (a tuple for a list, naive for aware) differ."""
    if isinstance(value, dict):
        return (type(value), {k: _typed(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return (type(value), [_typed(v) for v in value])
    if isinstance(value, datetime):
        return (type(value), value, value.tzinfo is not None and value.utcoffset())
    return (type(value), value)


_MIXED = st.recursive(
    st.one_of(_SCALARS, st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5))])),
              st.datetimes(), st.binary(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
                            st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
                            st.dictionaries(st.sampled_from(["a", "b"]), inner, max_size=2).map(
                                collections.OrderedDict)),
    max_leaves=8)


@settings(max_examples=300, deadline=None, database=None)
@given(value=_MIXED)
def test_dates_are_stored_and_handed_out_as_mongomock_does(value):
    assert _typed(engine._stored_dates(value)) == _typed(engine._PATCH_DATES(value))
    stored = engine._PATCH_DATES(value)
    assert _typed(engine._aware_dates(stored)) == _typed(engine._AWARE_DATES(stored))


async def test_a_page_of_a_large_collection_copies_only_that_page(embedded, monkeypatch):
    await embedded.audit_events.insert_many([
        {"at": _T0 + timedelta(seconds=n), "action": "auth.login" if n % 10 else "user.update", "n": n}
        for n in range(3000)])
    copies = {"n": 0}
    real = engine.helpers.make_datetime_timezone_aware_in_document

    def counting(value):
        copies["n"] += isinstance(value, dict) and "_id" in value  # a whole document
        return real(value)

    monkeypatch.setattr(engine.helpers, "make_datetime_timezone_aware_in_document", counting)
    page = await embedded.audit_events.find({"action": "user.update"}).sort(
        [("at", -1), ("_id", -1)]).to_list(5)
    assert [doc["n"] for doc in page] == [2990, 2980, 2970, 2960, 2950]
    assert page[0]["at"].tzinfo is not None
    assert copies["n"] == 5


async def test_a_lookup_by_an_indexed_id_follows_documents_that_move_or_go(embedded, monkeypatch):
    first, second = ObjectId(), ObjectId()
    scratch = embedded.db["scratch"]
    await scratch.create_index([("owner", 1), ("n", 1)])
    await scratch.insert_many([{"owner": first if n % 2 else second, "n": n} for n in range(10)])
    await scratch.insert_one({"owner": [first, second], "n": 10})  # an array holds both

    async def numbers(owner) -> list[int]:
        return [d["n"] for d in await scratch.find({"owner": owner}).sort("n", 1).to_list(None)]

    assert await numbers(first) == [1, 3, 5, 7, 9, 10]
    looked_at = []
    real = engine._candidates

    def counting(*args, **kwargs):
        found = list(real(*args, **kwargs))
        looked_at.append(len(found))
        return found

    monkeypatch.setattr(engine, "_candidates", counting)
    assert await numbers(second) == [0, 2, 4, 6, 8, 10]
    assert looked_at == [6]  # only that id's documents were looked at, not all 11

    moved = await scratch.find_one({"n": 2})
    await scratch.update_one({"_id": moved["_id"]}, {"$set": {"owner": first}})  # the fast path
    await scratch.update_many({"n": {"$in": [3, 5]}}, {"$set": {"owner": second}})  # mongomock's
    await scratch.delete_one({"n": 7})
    await scratch.insert_one({"owner": first, "n": 11})
    assert await numbers(first) == [1, 2, 9, 10, 11]
    assert await numbers(second) == [0, 3, 4, 5, 6, 8, 10]
    assert await scratch.count_documents({"owner": first}) == 5


def _twin_collections():
    """The same collection twice: one written through the engine's insert, one through
    mongomock's own; a unique index on `a` in both."""
    twins = []
    for _ in range(2):
        collection = mongomock.MongoClient(tz_aware=True).db.c
        engine._index_lookups(collection)
        collection.create_index([("a", 1)], unique=True, partialFilterExpression={"a": {"$exists": True}})
        twins.append(collection)
    return twins


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(docs=st.lists(st.fixed_dictionaries({}, optional={
    "a": st.integers(0, 4), "at": st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=2))])),
    "b": _MIXED, "_id": st.sampled_from(_OIDS)}), max_size=8))
def test_an_insert_stores_and_refuses_as_mongomocks_own(docs):
    ours, theirs = _twin_collections()
    for doc in docs:
        outcomes = []
        for collection, insert in ((ours, lambda c, d: engine._insert_one(c, d)),
                                   (theirs, lambda c, d: c.insert_one(d))):
            copy = dict(doc)
            try:
                outcomes.append(("ok", insert(collection, copy).inserted_id == copy["_id"]))
            except Exception as exc:  # the same refusal is what is compared
                outcomes.append((type(exc), "_id" in copy and "_id" not in doc))
        assert outcomes[0] == outcomes[1], (doc, outcomes)
    strip = lambda docs: [{k: v for k, v in d.items() if k != "_id" or v in _OIDS} for d in docs]  # noqa: E731
    assert _typed(strip(list(ours.find()))) == _typed(strip(list(theirs.find())))


def test_an_insert_refuses_what_pymongo_refuses_and_stores_nothing():
    ours, _ = _twin_collections()
    for bad in ({"a\x00b": 1}, {"$set": 1}, {1: "x"}, {"v": 2**70}, {"v": "\ud800"}, {"s": {"x\x00": 1}}):
        with pytest.raises((bson.errors.InvalidDocument, ValueError, OverflowError)):
            engine._insert_one(ours, dict(bad))
    assert list(ours.find()) == []
    engine._insert_one(ours, {"a": 1})
    with pytest.raises(engine.DuplicateKeyError):
        engine._insert_one(ours, {"a": 1, "other": True})
    assert [d["a"] for d in ours.find()] == [1] and ours.count_documents({"other": True}) == 0
