"""The embedded engine: mongomock, run the way PyMongo's async driver runs.

With no MONGODB_URI the store runs on this instead of `pymongo.AsyncMongoClient`. It offers
the same calls with the same shapes (`await collection.find_one(...)`,
`collection.find(...).sort(...).limit(...)`, `await cursor.to_list(n)`,
`await collection.aggregate(...)` returning a cursor) and keeps the driver's contract where
the store relies on it, which mongomock alone (and mongomock-motor's wrapper, used before)
does not:

- **Every call yields to the event loop** before it runs (a request crossing a network),
  so concurrent tasks interleave between database calls as they do against a real
  MongoDB. A read followed by a write is never atomic here either.
- **Limits are limits**: `to_list(n)` and `limit(n)` return at most n documents.
- **PyMongo's errors**: what PyMongo cannot encode (lone surrogates, integers over 64
  bits, unknown types) fails the same way, in filters and updates too, and a broken unique
  index raises `pymongo.errors.DuplicateKeyError` with `keyValue`.
- **TTL indexes** expire documents in a background pass, as MongoDB's TTL monitor does
  (every 60 s by default; `purge_expired()` runs one pass at once).
- **Hooks** (`client.hooks`): awaited before each operation runs, so that a test can hold
  one caller at an exact point while another runs (tests/store/interleave.py).

Speed. mongomock finds a document by `_id` and checks unique indexes by scanning every
document of the collection; the chat does both on every message, so the embedded store
slowed down with every message stored. `_index_lookups` gives both a hash lookup. And its
find() copies every matching document before it sorts and limits them, with a matcher and
a sort comparison written for every case: a page of 50 out of 100,000 audit events took
seconds. `_fast_find` runs the plain filters and sorts the store uses on the stored
documents themselves and copies only the page, handing every case it is not sure of to
mongomock's own matcher and sort key, so its answers are mongomock's (a property test in
tests/store/test_engine.py compares them). That needs private methods of mongomock's
Collection (`_iter_documents`, `_ensure_uniques`), its private `_store` (with the store's
`_documents` dict, read in place) and its matcher and sort key (`filtering.filter_applies`,
`filtering.resolve_sort_key`); pyproject.toml pins mongomock to the minor version they were
read from, and tests/store/test_engine.py fails first if they change.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from functools import partial
from operator import eq, ge, gt, itemgetter, le, lt
from typing import Any, Final

import bson
import mongomock
from bson import ObjectId
from mongomock import aggregate as mongomock_aggregate
from mongomock import filtering, helpers
from mongomock.results import UpdateResult
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, InvalidOperation, WriteError
from pymongo.results import InsertOneResult

log = logging.getLogger(__name__)

TTL_MONITOR_INTERVAL = 60.0  # what MongoDB's TTL monitor sleeps between passes
BATCH_SIZE = 101  # the driver's first batch: async iteration yields between batches


@dataclass(frozen=True)
class Operation:
    """One call as a hook sees it, before it runs."""

    collection: str
    method: str
    filter: Mapping | None = None
    document: Any = None  # the inserted document(s), or the update


Hook = Callable[[Operation], Awaitable[None]]


def _check_encodable(value: Any) -> None:
    """Fail as PyMongo does for what BSON cannot hold: PyMongo encodes every filter and
    update before sending it; mongomock would otherwise compare a lone surrogate or a
    300-digit integer happily."""
    if value:
        bson.encode({"v": value})


# --- datetimes in and out (mongomock internals: see the module's docstring) --------------
#
# mongomock stores dates naive (UTC, milliseconds) and hands out copies made aware: every
# write walks the document through `patch_datetime_awareness_in_document`, every read through
# `make_datetime_timezone_aware_in_document`, each a recursive function testing isinstance
# against several types for every value. On the message path they were a sixth of the store's
# time. These give the same results, deciding by exact type first (a text, a number, an id
# is returned as it is), and hand anything else (OrderedDict, Timestamp, subclasses) to
# mongomock's own functions.

_PATCH_DATES = helpers.patch_datetime_awareness_in_document
_AWARE_DATES = helpers.make_datetime_timezone_aware_in_document
_AS_IS = frozenset({str, int, float, bool, type(None), ObjectId, bytes})
_UTC = helpers.utc


def _stored_dates(value: Any) -> Any:
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is dict:
        return {k: v if type(v) in _AS_IS else _stored_dates(v) for k, v in value.items()}
    if kind is datetime:
        mongo_us = value.microsecond // 1000 * 1000
        if value.tzinfo:
            return (value - value.utcoffset()).replace(tzinfo=None, microsecond=mongo_us)
        return value.replace(microsecond=mongo_us)
    if kind is list or kind is tuple:
        return [v if type(v) in _AS_IS else _stored_dates(v) for v in value]
    return _PATCH_DATES(value)


def _aware_dates(value: Any) -> Any:
    kind = type(value)
    if kind in _AS_IS:
        return value
    if kind is dict:
        return {k: v if type(v) in _AS_IS else _aware_dates(v) for k, v in value.items()}
    if kind is datetime:
        return value.replace(tzinfo=_UTC)
    if kind is list or kind is tuple:
        return [v if type(v) in _AS_IS else _aware_dates(v) for v in value]
    return _AWARE_DATES(value)


helpers.patch_datetime_awareness_in_document = _stored_dates
helpers.make_datetime_timezone_aware_in_document = _aware_dates


class EmbeddedClient:
    """The embedded counterpart of `pymongo.AsyncMongoClient`."""

    def __init__(self) -> None:
        self._client: mongomock.MongoClient[dict[str, Any]] = mongomock.MongoClient(tz_aware=True)
        self._databases: dict[str, EmbeddedDatabase] = {}
        self.hooks: list[Hook] = []

    def __getitem__(self, name: str) -> EmbeddedDatabase:
        if name not in self._databases:
            self._databases[name] = EmbeddedDatabase(self, self._client[name], name)
        return self._databases[name]

    def get_database(self, name: str) -> EmbeddedDatabase:
        return self[name]

    async def close(self) -> None:
        return None

    async def _round_trip(self, operation: Operation, run: Callable[[], Any]) -> Any:
        # One yield per call is what lets other tasks run between any two calls of one
        # task, as a network round trip does (a second, after the call, adds loop turns
        # and no interleaving that this one does not already allow).
        await asyncio.sleep(0)
        for hook in list(self.hooks):
            await hook(operation)
        return run()

    async def purge_expired(self) -> int:
        """One pass of the TTL monitor over every database; returns documents removed."""
        removed = 0
        for database in self._databases.values():
            for collection in list(database._collections.values()):
                removed += await collection._purge_expired()
        return removed

    async def ttl_monitor(self, interval: float = TTL_MONITOR_INTERVAL) -> None:
        """Run forever (as a task): a TTL pass every `interval` seconds."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.purge_expired()
            except Exception:
                log.exception("TTL pass of the embedded store failed")


class EmbeddedDatabase:
    def __init__(self, client: EmbeddedClient, database: Any, name: str) -> None:
        self.client = client
        self.name = name
        self._database = database
        self._collections: dict[str, EmbeddedCollection] = {}

    def __getitem__(self, name: str) -> EmbeddedCollection:
        if name not in self._collections:
            self._collections[name] = EmbeddedCollection(self.client, self._database[name], name)
        return self._collections[name]

    def get_collection(self, name: str) -> EmbeddedCollection:
        return self[name]

    async def command(self, command: str | Mapping, **kwargs: Any) -> dict:
        name = command if isinstance(command, str) else next(iter(command))
        if name != "ping":
            raise NotImplementedError(f"the embedded store answers only ping, not {name!r}")
        return await self.client._round_trip(Operation("$cmd", "ping"), lambda: {"ok": 1.0})

    async def list_collection_names(self) -> list[str]:
        return await self.client._round_trip(
            Operation("$cmd", "listCollections"), self._database.list_collection_names)


@dataclass
class _TTLIndex:
    field: str
    after: timedelta


class EmbeddedCollection:
    """The embedded counterpart of `pymongo.asynchronous.collection.AsyncCollection`."""

    def __init__(self, client: EmbeddedClient, collection: Any, name: str) -> None:
        self.client = client
        self.name = name
        self._collection = collection
        self._ttl: dict[str, _TTLIndex] = {}
        _index_lookups(collection)

    def _call(self, method: str, run: Callable[[], Any], *, filter: Mapping | None = None,
              document: Any = None) -> Awaitable[Any]:
        return self.client._round_trip(Operation(self.name, method, filter, document), run)

    # --- writes ---------------------------------------------------------------------

    async def insert_one(self, document: dict) -> Any:
        return await self._call("insert_one", lambda: _insert_one(self._collection, document),
                                document=document)

    async def insert_many(self, documents: Iterable[dict], *, ordered: bool = True) -> Any:
        documents = list(documents)
        return await self._call(
            "insert_many", lambda: self._collection.insert_many(documents, ordered=ordered),
            document=documents)

    async def update_one(self, filter: Mapping, update: Any, *, upsert: bool = False) -> Any:
        _check_encodable(filter)
        _check_encodable(update)

        def run() -> Any:
            if not upsert:
                done = _update_by_id(self._collection, filter, update)
                if done is not None:
                    before, after = done
                    matched = after is not None
                    return UpdateResult({"n": int(matched), "nModified": int(matched and before != after),
                                         "ok": 1.0, "updatedExisting": matched}, acknowledged=True)
            return self._collection.update_one(filter, update, upsert=upsert)

        return await self._call("update_one", run, filter=filter, document=update)

    async def update_many(self, filter: Mapping, update: Any, *, upsert: bool = False) -> Any:
        _check_encodable(filter)
        _check_encodable(update)
        return await self._call("update_many",
                                lambda: self._collection.update_many(filter, update, upsert=upsert),
                                filter=filter, document=update)

    async def find_one_and_update(
        self, filter: Mapping, update: Any, projection: Any = None, *, sort: Any = None,
        upsert: bool = False, return_document: bool = ReturnDocument.BEFORE,
    ) -> dict | None:
        _check_encodable(filter)
        _check_encodable(update)

        def run() -> dict | None:
            if sort is None and not upsert and _simple_projection(projection):
                done = _update_by_id(self._collection, filter, update,
                                     want_before=return_document != ReturnDocument.AFTER)
                if done is not None:
                    before, after = done
                    chosen = after if return_document == ReturnDocument.AFTER else before
                    return _project(chosen, projection) if chosen is not None else None
            return self._collection.find_one_and_update(
                filter, update, projection, sort=sort, upsert=upsert, return_document=return_document)

        return await self._call("find_one_and_update", run, filter=filter, document=update)

    async def find_one_and_delete(self, filter: Mapping, projection: Any = None, *,
                                  sort: Any = None) -> dict | None:
        _check_encodable(filter)
        return await self._call(
            "find_one_and_delete",
            lambda: self._collection.find_one_and_delete(filter, projection, sort=sort),
            filter=filter)

    async def delete_one(self, filter: Mapping) -> Any:
        _check_encodable(filter)
        return await self._call("delete_one", lambda: self._collection.delete_one(filter),
                                filter=filter)

    async def delete_many(self, filter: Mapping) -> Any:
        _check_encodable(filter)
        return await self._call("delete_many", lambda: self._collection.delete_many(filter),
                                filter=filter)

    # --- reads ----------------------------------------------------------------------

    async def find_one(self, filter: Mapping | None = None, projection: Any = None, *,
                       sort: Any = None, skip: int = 0) -> dict | None:
        _check_encodable(filter)

        def run() -> dict | None:
            if sort is None and not skip and _simple_projection(projection):
                found = _find_by_id(self._collection, filter)
                if found is _NOT_HANDLED:
                    found = _find_by_unique_key(self._collection, filter)
                if found is not _NOT_HANDLED:
                    return _project(found, projection) if found is not None else None
            found = self._collection.find(filter or {}, projection, skip=skip, limit=1, sort=sort)
            return next(iter(found), None)

        return await self._call("find_one", run, filter=filter)

    def find(self, filter: Mapping | None = None, projection: Any = None, *, sort: Any = None,
             skip: int = 0, limit: int = 0) -> EmbeddedCursor:
        return EmbeddedCursor(self, filter or {}, projection, sort=sort, skip=skip, limit=limit)

    async def count_documents(self, filter: Mapping, *, limit: int | None = None,
                              skip: int | None = None) -> int:
        _check_encodable(filter)
        options = {k: v for k, v in (("limit", limit), ("skip", skip)) if v}

        def run() -> int:
            counted = _fast_count(self._collection, filter, skip=skip or 0, limit=limit or 0)
            if counted is not None:
                return counted
            return self._collection.count_documents(filter, **options)

        return await self._call("count_documents", run, filter=filter)

    async def estimated_document_count(self) -> int:
        return await self._call("estimated_document_count",
                                self._collection.estimated_document_count)

    async def distinct(self, key: str, filter: Mapping | None = None) -> list:
        _check_encodable(filter)
        return await self._call("distinct", lambda: _distinct(self._collection, key, filter),
                                filter=filter)

    async def aggregate(self, pipeline: list[dict]) -> EmbeddedCommandCursor:
        """Awaited, as PyMongo's async aggregate is; the answer is a cursor."""
        _check_encodable(pipeline)
        docs = await self._call("aggregate", lambda: _aggregate(self._collection, pipeline),
                                document=pipeline)
        return EmbeddedCommandCursor(self.client, docs)

    # --- indexes --------------------------------------------------------------------

    async def create_index(self, keys: Any, **options: Any) -> str:
        """A TTL index (expireAfterSeconds) is kept here, not in mongomock, whose own TTL
        rule rescans the collection on every access."""
        after = options.pop("expireAfterSeconds", None)
        name = await self._call("create_index",
                                lambda: self._collection.create_index(keys, **options))
        if after is not None:
            key = keys if isinstance(keys, str) else keys[0][0]
            self._ttl[name] = _TTLIndex(field=key, after=timedelta(seconds=after))
        return name

    async def drop_index(self, name: str) -> None:
        self._ttl.pop(name, None)
        await self._call("drop_index", lambda: self._collection.drop_index(name))

    async def index_information(self) -> dict:
        info = await self._call("index_information", self._collection.index_information)
        for name, ttl in self._ttl.items():
            if name in info:
                info[name]["expireAfterSeconds"] = int(ttl.after.total_seconds())
        return info

    async def drop(self) -> None:
        self._ttl.clear()
        await self._call("drop", self._collection.drop)

    async def _purge_expired(self) -> int:
        removed = 0
        now = datetime.now(UTC)
        for ttl in list(self._ttl.values()):
            # MongoDB removes a document when its field (a date, or the earliest date of
            # an array) is older than expireAfterSeconds; any other value never expires.
            result = await self.delete_many({ttl.field: {"$lte": now - ttl.after, "$type": "date"}})
            removed += result.deleted_count
        return removed


def _aggregate(collection: Any, pipeline: list[dict]) -> list[dict]:
    """mongomock's aggregate copies every document of the collection before the first stage;
    a leading $match (the reports' date range) is run as a find instead, which copies only
    the documents it matches, as MongoDB reads only those through an index."""
    if pipeline and set(pipeline[0]) == {"$match"}:
        # and when a $project follows, only the fields it reads are copied
        fields = _fields_read(pipeline[1]["$project"]) if len(pipeline) > 1 and set(
            pipeline[1]) == {"$project"} else None
        matched = list(collection.find(pipeline[0]["$match"], fields))
        cursor = mongomock_aggregate.process_pipeline(matched, collection.database, pipeline[1:], None)
        return list(cursor)
    return list(collection.aggregate(pipeline))


def _fields_read(spec: dict) -> dict | None:
    """The top-level fields an inclusion $project reads (as a find projection), or None
    (read everything) when the stage excludes fields."""
    fields: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str) and value.startswith("$") and not value.startswith("$$"):
            fields.add(value[1:].split(".", 1)[0])
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for name, value in spec.items():
        if value in (0, False):
            if name != "_id":
                return None
        elif value in (1, True):
            fields.add(name.split(".", 1)[0])
        else:
            walk(value)
    return dict.fromkeys(fields, 1)


class EmbeddedCursor:
    """The embedded counterpart of PyMongo's AsyncCursor: chain sort/skip/limit, then
    `await to_list(n)` or `async for`."""

    def __init__(self, collection: EmbeddedCollection, filter: Mapping, projection: Any, *,
                 sort: Any = None, skip: int = 0, limit: int = 0) -> None:
        self._collection = collection
        self._filter = filter
        self._projection = projection
        self._sort = sort
        self._skip = skip
        self._limit = limit
        self._started = False

    def _chain(self) -> EmbeddedCursor:
        if self._started:
            raise InvalidOperation("cannot set options after executing query")
        return self

    def sort(self, key_or_list: Any, direction: int | None = None) -> EmbeddedCursor:
        self._sort = [(key_or_list, direction or 1)] if isinstance(key_or_list, str) else key_or_list
        return self._chain()

    def skip(self, skip: int) -> EmbeddedCursor:
        self._skip = skip
        return self._chain()

    def limit(self, limit: int) -> EmbeddedCursor:
        self._limit = limit
        return self._chain()

    def _run(self, length: int | None) -> list[dict]:
        limit = self._limit
        if length is not None and length > 0:
            limit = min(limit, length) if limit else length
        found = _fast_find(self._collection._collection, self._filter, self._projection,
                           sort=self._sort, skip=self._skip, limit=limit)
        if found is not None:
            return found
        found = self._collection._collection.find(
            self._filter, self._projection, sort=self._sort, skip=self._skip, limit=limit)
        if not limit:
            return list(found)
        # mongomock copies every match before it slices; a page of 20 out of thousands of
        # matches (a search for a common word) copied them all. Take the first ones only
        # from its generator of copies (mongomock internals: see the module's docstring).
        first = itertools.islice(found._factory(), self._skip, self._skip + limit)
        return [helpers.make_datetime_timezone_aware_in_document(doc) for doc in first]

    async def to_list(self, length: int | None = None) -> list[dict]:
        """At most `length` documents (all of them when None), as PyMongo returns."""
        if length is not None and length < 0:
            raise ValueError("to_list() length must be greater than or equal to 0")
        _check_encodable(self._filter)
        self._started = True
        return await self._collection._call("find", lambda: self._run(length), filter=self._filter)

    def __aiter__(self) -> AsyncIterator[dict]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict]:
        docs = await self.to_list(None)
        for start in range(0, len(docs), BATCH_SIZE):
            if start:
                await asyncio.sleep(0)  # the next batch (getMore)
            for doc in docs[start:start + BATCH_SIZE]:
                yield doc


class EmbeddedCommandCursor:
    """What `await collection.aggregate(...)` returns."""

    def __init__(self, client: EmbeddedClient, docs: list[dict]) -> None:
        self._client = client
        self._docs = docs

    async def to_list(self, length: int | None = None) -> list[dict]:
        await asyncio.sleep(0)
        return self._docs if length is None else self._docs[:length]

    def __aiter__(self) -> AsyncIterator[dict]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[dict]:
        for doc in self._docs:
            yield doc


# --- hash lookups (mongomock internals: see the module's docstring) ----------------------


def _index_lookups(collection: Any) -> None:
    """Give `_id` lookups and unique-index checks a hash table instead of a scan.

    The unique check keeps, per unique index, a map from key values to the _id last written
    with them. A hit is believed only if that document still exists with the same values (so
    deletes and updates cannot leave a false duplicate); every write that can create a key
    goes through `_ensure_uniques` (mongomock calls it on insert and after each update), so
    a miss is a miss. An equality filter on exactly a unique index's fields (the duplicate
    lookup of a message) uses the same map."""
    if getattr(collection, "_support_chat_lookups", False):
        return
    store = collection._store
    scan_uniques = collection._ensure_uniques
    iter_documents = collection._iter_documents
    owners: dict[tuple, Any] = {}
    primed: set[str] = set()

    def key_of(index: dict, doc: dict) -> tuple | None:
        """The index's key values in this document, or None when the index skips it."""
        values = []
        for name, _ in index["key"]:
            try:
                values.append(helpers.get_value_by_dot(doc, name))
            except KeyError:
                values.append(None)
        if index.get("sparse") and all(v is None for v in values):
            return None
        partial = index.get("partialFilterExpression")
        if partial is not None and not _applies(partial, doc):
            return None
        return tuple(values)

    def prime(name: str, index: dict, writing: Any) -> None:
        """An index made after documents were stored: learn who holds which key, once."""
        for doc in list(store.documents):
            if doc["_id"] == writing:
                continue
            key = key_of(index, doc)
            if key is not None:
                owners[(name, key)] = doc["_id"]
        primed.add(name)

    # Per indexed field (an index's first key), per ObjectId value: the _ids of the documents
    # holding it, in the order they were written there: a ticket's messages, a person's
    # notifications. A list may be stale (a document deleted, or moved to another value by
    # an update); each candidate is checked against the whole filter, so stale only costs.
    partitions: dict[str, dict[ObjectId, dict]] = {}

    def note(doc: Mapping) -> None:
        """A document was written: it is in its partitions from now on."""
        for field, by_value in partitions.items():
            value = doc.get(field)
            if type(value) is ObjectId:
                by_value.setdefault(value, {})[doc["_id"]] = None
            elif type(value) is list:
                for item in value:
                    if type(item) is ObjectId:
                        by_value.setdefault(item, {})[doc["_id"]] = None

    def partition_lookup(filter: dict) -> list | None:
        """The documents that may match an equality on an indexed field's ObjectId; None
        when the filter has none."""
        for index in store.indexes.values():
            field = index["key"][0][0]
            value = filter.get(field)
            if field == "_id" or type(value) is not ObjectId:
                continue
            by_value = partitions.get(field)
            if by_value is None:  # the first such lookup: learn the stored documents, once
                by_value = partitions[field] = {}
                for doc in list(store.documents):
                    held = doc.get(field)
                    for item in held if type(held) is list else (held,):
                        if type(item) is ObjectId:
                            by_value.setdefault(item, {})[doc["_id"]] = None
            documents = store._documents
            return [documents[i] for i in by_value.get(value, ()) if i in documents]
        return None

    def ensure_uniques(new_data: dict) -> None:
        # The documents by _id, read in place: the store's own `in` and [] take a lock and
        # look for TTL indexes (none in mongomock: TTL is the engine's, above) every call.
        documents = store._documents
        note(new_data)
        taken = []
        for name, index in store.indexes.items():
            if not index.get("unique"):
                continue
            try:
                if name not in primed:
                    prime(name, index, new_data["_id"])
                key = key_of(index, new_data)
                if key is None:
                    continue
                owner = owners.get((name, key))
            except TypeError:  # an unhashable value (a list, a sub-document): scan as before
                return scan_uniques(new_data)
            if owner is not None and owner != new_data["_id"] and owner in documents \
                    and key_of(index, documents[owner]) == key:
                names = [f for f, _ in index["key"]]
                raise DuplicateKeyError(
                    "E11000 duplicate key error", 11000,
                    {"keyValue": dict(zip(names, key, strict=True)),
                     "keyPattern": dict(index["key"])})
            taken.append((name, key))
        for entry in taken:  # only once every index agreed: a refused write takes nothing
            owners[entry] = new_data["_id"]

    def unique_lookup(filter: dict) -> list | None:
        """The one candidate of an equality filter on exactly a unique index's fields."""
        documents = store._documents
        for name, index in store.indexes.items():
            if not index.get("unique") or name not in primed:
                continue
            names = [f for f, _ in index["key"]]
            if len(names) != len(filter) or any(n not in filter for n in names):
                continue
            key = tuple(filter[n] for n in names)
            if any(isinstance(v, dict) for v in key):
                return None  # an operator, not a value
            try:
                owner = owners.get((name, key))
            except TypeError:
                return None
            if owner is None or owner not in documents:
                # Not in the map. A document the index skips (sparse, partial) could still
                # match, unless what is asked for is itself inside the index.
                if index.get("sparse") and all(v is None for v in key):
                    return None
                partial = index.get("partialFilterExpression")
                if partial is not None and not _applies(partial, filter):
                    return None
                return []
            return [documents[owner]]
        return None

    def iter_documents_indexed(filter: Any):
        if type(filter) is dict and filter:
            documents = store._documents
            oid = filter.get("_id")
            candidates: list | None
            if type(oid) in (ObjectId, str):
                candidates = [documents[oid]] if oid in documents else []
            else:
                candidates = unique_lookup(filter)
            if candidates is not None:
                return (doc for doc in candidates if _applies(filter, doc))
        return iter_documents(filter)

    collection._ensure_uniques = ensure_uniques
    collection._iter_documents = iter_documents_indexed
    collection._support_chat_unique_lookup = unique_lookup
    collection._support_chat_partition_lookup = partition_lookup
    collection._support_chat_note = note
    collection._support_chat_lookups = True


def _distinct(collection: Any, key: str, filter: Mapping | None) -> list:
    """mongomock's distinct copies every matching document first (seconds for the tickets of
    20,000 messages): read the values off the stored documents instead, when they are ids,
    text or whole numbers (immutable, and equal only to their like); else mongomock's way."""
    values: dict = {}
    spec = helpers.patch_datetime_awareness_in_document(filter or {})
    for doc in collection._iter_documents(spec):
        try:
            value = helpers.get_value_by_dot(doc, key)
        except KeyError:
            continue
        for item in value if isinstance(value, list) else (value,):
            if type(item) not in _PLAIN:
                return collection.distinct(key, filter)
            values[item] = None
    return list(values)


# --- $in against a long list (mongomock internals: see the module's docstring) ---------------

_SLOW_IN = filtering._filterer_inst._operator_map["$in"]
_PLAIN = (ObjectId, str, int)
_IN_SETS: dict[int, tuple[list, frozenset | None]] = {}
_IN_SETS_MAX = 16
_LONG_IN = 16


def _fast_in(doc_val: Any, search_val: Any) -> bool:
    """mongomock's $in, which scans the list (twice) for every document: an $in of
    thousands of ids over thousands of documents took a minute (a search merging the
    tickets found through their messages). A list of only ids, text and whole numbers is
    made a set once per query instead; anything else goes the way mongomock goes."""
    if not isinstance(search_val, list) or len(search_val) < _LONG_IN:
        return _SLOW_IN(doc_val, search_val)
    cached = _IN_SETS.get(id(search_val))
    if cached is None or cached[0] is not search_val:  # (the list is held, so its id is its own)
        plain = frozenset(search_val) if all(type(v) in _PLAIN for v in search_val) else None
        if len(_IN_SETS) >= _IN_SETS_MAX:
            _IN_SETS.clear()
        cached = _IN_SETS[id(search_val)] = (search_val, plain)
    members = cached[1]
    if members is None:
        return _SLOW_IN(doc_val, search_val)
    values = doc_val if isinstance(doc_val, (list, tuple)) else (doc_val,)
    # A value of another type (None, a date, a sub-document) equals none of the members.
    return any(type(v) in _PLAIN and v in members for v in values)


filtering._filterer_inst._operator_map["$in"] = _fast_in
filtering._filterer_inst._operator_map["$nin"] = lambda dv, sv: not _fast_in(dv, sv)


# --- updates of one document by _id (mongomock internals: see the module's docstring) ---------

class _Missing(Enum):
    """A field the document does not hold (None is a value it can hold)."""

    MISSING = "missing"


_MISSING: Final = _Missing.MISSING
_NOT_HANDLED = object()


def _applies(filter: Any, doc: dict) -> bool:
    """mongomock's `filter_applies` for the filters of the message path: top-level fields
    compared with a scalar, or under one $exists or $ne, in a document holding scalars
    there. Anything else (an array, a missing field under $ne, another operator) is decided
    by mongomock's matcher, so the answer is always its own. The filter is a stored-form
    one (dates naive, as patched)."""
    if type(filter) is not dict:
        return filtering.filter_applies(filter, doc)
    checks = []
    for name, condition in filter.items():
        if type(name) is not str or name[:1] == "$" or "." in name:
            return filtering.filter_applies(filter, doc)
        value = doc.get(name, _MISSING)
        if type(value) in _CONTAINERS:
            return filtering.filter_applies(filter, doc)
        if type(condition) is dict:
            if len(condition) != 1:
                return filtering.filter_applies(filter, doc)
            ((op, operand),) = condition.items()
            if op == "$exists":
                checks.append((value is not _MISSING) == bool(operand))
            elif op == "$ne" and operand is not None and _scalar(operand) and value is not _MISSING:
                checks.append(not operand == value)  # noqa: SIM201 (mongomock's $ne: not its ==)
            else:
                return filtering.filter_applies(filter, doc)
        elif condition is not None and _scalar(condition):
            checks.append(condition == value)
        else:
            return filtering.filter_applies(filter, doc)
    return all(checks)


def _find_by_id(collection: Any, filter: Any) -> Any:
    """A copy of the one document an _id filter can match (None if it does not), without
    mongomock's cursor machinery; _NOT_HANDLED for any other filter."""
    if type(filter) is not dict or type(filter.get("_id")) is not ObjectId:
        return _NOT_HANDLED
    documents = collection._store._documents
    oid = filter["_id"]
    doc = documents.get(oid)
    if doc is None:
        return None
    if len(filter) > 1 and not _applies(helpers.patch_datetime_awareness_in_document(filter), doc):
        return None
    return helpers.make_datetime_timezone_aware_in_document(doc)


def _insert_one(collection: Any, document: Any) -> Any:
    """mongomock's insert_one for a plain document with a new _id (every insert of the
    store), with PyMongo's own check (BSON encoding: what it cannot hold, NUL in a key) in
    place of mongomock's second, recursive one, and the stored documents written in place,
    not through the store's lock and TTL scan. Anything else is mongomock's."""
    oid = document.get("_id", _MISSING) if type(document) is dict else None
    if oid is None or not getattr(collection, "_support_chat_lookups", False) \
            or (oid is not _MISSING and (type(oid) is not ObjectId or oid in collection._store._documents)) \
            or not all(type(key) is str and key[:1] != "$" for key in document):
        return collection.insert_one(document)
    bson.encode(document)
    if oid is _MISSING:
        oid = document["_id"] = ObjectId()  # as PyMongo does, on the caller's document
    stored = helpers.patch_datetime_awareness_in_document(document)
    documents = collection._store._documents
    documents[oid] = stored
    try:
        collection._ensure_uniques(stored)
    except DuplicateKeyError:
        del documents[oid]
        raise
    return InsertOneResult(oid, acknowledged=True)


def _find_by_unique_key(collection: Any, filter: Any) -> Any:
    """A copy of the one document an equality on exactly a unique index's fields can match
    (a message by its sender's client_msg_id), None if none does, through the index's hash
    map; _NOT_HANDLED for any other filter."""
    lookup = getattr(collection, "_support_chat_unique_lookup", None)
    if lookup is None or type(filter) is not dict or not filter:
        return _NOT_HANDLED
    spec = helpers.patch_datetime_awareness_in_document(filter)
    candidates = lookup(spec)
    if candidates is None:
        return _NOT_HANDLED
    for doc in candidates:
        if _applies(spec, doc):
            return helpers.make_datetime_timezone_aware_in_document(doc)
    return None


_FAST_OPERATORS = frozenset({"$set", "$unset", "$inc", "$min", "$max"})
_NUMBER = (int, float)


def _bson_rank(value: Any) -> int | None:
    """A value's place in BSON's order of types (null < numbers < strings < ... < ObjectId
    < booleans < dates); None for the kinds compared here no further."""
    if value is None:
        return 1
    if isinstance(value, bool):
        return 8
    if isinstance(value, _NUMBER):
        return 2
    if isinstance(value, str):
        return 3
    if isinstance(value, ObjectId):
        return 7
    if isinstance(value, datetime):
        return 9
    return None


def _bson_less(a: Any, b: Any) -> bool | None:
    """a < b in BSON's order; None when undecided here (documents, arrays, binary)."""
    rank_a, rank_b = _bson_rank(a), _bson_rank(b)
    if rank_a is None or rank_b is None:
        return None
    if rank_a != rank_b:
        return rank_a < rank_b
    return rank_a != 1 and a < b


def _update_by_id(collection: Any, filter: Mapping, update: Any, *,
                  want_before: bool = True) -> tuple[dict | None, dict | None] | None:
    """The ticket path's updates (one document by _id: $set, $unset, $inc, $min, $max on
    top-level fields) applied in place, returning copies (before, after), both None when
    the filter matches nothing. mongomock's own path copies the document four times and
    deep-copies a snapshot for each such update, which was most of a message's cost.
    None: not a case handled here (mongomock does it). Without `want_before`, before is
    the stored document itself, not a copy: for a caller that returns only the after."""
    if type(filter) is not dict or type(filter.get("_id")) is not ObjectId or type(update) is not dict:
        return None
    if not update or not set(update) <= _FAST_OPERATORS:
        return None
    store = collection._store
    unique_fields = {name for index in store.indexes.values() if index.get("unique")
                     for name, _ in index["key"]}
    changes: list[tuple[str, str, Any]] = []
    for operator, fields in update.items():
        if type(fields) is not dict:
            return None
        for name, value in fields.items():
            if not isinstance(name, str) or "." in name or name.startswith("$") or name == "_id" \
                    or name in unique_fields:
                return None
            changes.append((operator, name, helpers.patch_datetime_awareness_in_document(value)))
    doc = store._documents.get(filter["_id"])
    if doc is None:
        return None, None
    if not _applies(helpers.patch_datetime_awareness_in_document(filter), doc):
        return None, None
    new_values: dict[str, Any] = {}
    removed: set[str] = set()
    for operator, name, value in changes:
        current = new_values.get(name, doc.get(name, _MISSING))
        if operator == "$set":
            new_values[name] = value
        elif operator == "$unset":
            removed.add(name)
        elif operator == "$inc":
            if (current is not _MISSING and (not isinstance(current, _NUMBER) or isinstance(current, bool))) \
                    or not isinstance(value, _NUMBER) or isinstance(value, bool):
                # mongomock raises a TypeError here; the server refuses, changing nothing.
                raise WriteError(f"Cannot apply $inc to a value of non-numeric type: {name}", 14)
            new_values[name] = value if current is _MISSING else current + value
        else:  # $min, $max
            if current is _MISSING:
                new_values[name] = value
                continue
            wins = _bson_less(value, current) if operator == "$min" else _bson_less(current, value)
            if wins is None:
                return None
            if wins:
                new_values[name] = value
    if removed & set(new_values):
        return None  # conflicting operators on one field: MongoDB's error, from mongomock
    before = helpers.make_datetime_timezone_aware_in_document(doc) if want_before else doc
    doc.update(new_values)
    for name in removed:
        doc.pop(name, None)
    note = getattr(collection, "_support_chat_note", None)
    if note is not None and new_values:
        note(doc)  # an indexed id it now holds (an assignee) finds it
    return before, helpers.make_datetime_timezone_aware_in_document(doc)


def _simple_projection(projection: Any) -> bool:
    return projection is None or (type(projection) is dict and all(
        isinstance(k, str) and "." not in k and v in (1, True) for k, v in projection.items()))


def _project(doc: dict, projection: dict | None) -> dict:
    if not projection:
        return doc
    return {k: v for k, v in doc.items() if k == "_id" or k in projection}


# --- finding without copying every document (mongomock internals: see the docstring) ----------
#
# mongomock's find() tests every document with its general matcher, copies every match, then
# sorts the copies and only then applies skip and limit: a page of 50 audit events out of
# 100,000 copied all 100,000 and sorted them with a comparison written in Python. Here a
# filter made of the plain shapes the store uses (fields compared with scalars through $eq
# $ne $in $nin $exists $gt $gte $lt $lte $regex, joined by $and and $or) becomes a Python predicate
# once, run on the stored documents themselves; the matches are ordered by keys Python
# compares natively (one type per sort field, checked) with a stable sort, as mongomock's
# is, which is close to linear on documents stored in time order; and only the documents of
# the page are copied. A document where a compared field holds an array or a sub-document,
# or is missing under $ne/$nin, is handed to mongomock's own matcher, and sort keys of mixed
# or other types to mongomock's own sort key, so the answer is always mongomock's; a
# filter, sort or projection of any other shape goes to mongomock whole.

class _Unsure(Exception):
    """This document needs mongomock's matcher (arrays, sub-documents, missing fields)."""


class _NotHandled(Exception):
    """This query is not one of the plain shapes: mongomock runs it."""


_SCALARS = (str, int, float, bool, datetime, ObjectId, type(None))
_CONTAINERS = (list, tuple, dict)
_COMPARISONS = {"$gt": gt, "$gte": ge, "$lt": lt, "$lte": le}
# mongomock's (and BSON's) order of types; int and float are both numbers.
_TYPE_RANK = {type(None): 5, bool: 40, int: 10, float: 10, str: 15, ObjectId: 35, datetime: 45}


def _scalar(value: Any) -> bool:
    return type(value) in _SCALARS and not (type(value) is float and math.isnan(value))


def _path(field: Any) -> tuple[str, ...]:
    if not isinstance(field, str) or not field or field.startswith("$") \
            or any(not part or part.isdigit() for part in field.split(".")):
        raise _NotHandled(field)
    return tuple(field.split("."))


def _getter(path: tuple[str, ...]) -> Callable[[dict], Any]:
    """The field's value in a stored document, or _MISSING; _Unsure when the path meets an
    array, ends on an array or a sub-document, or goes into a value that is neither (where
    mongomock's rules differ from a plain lookup)."""
    if len(path) == 1:
        (name,) = path

        def get(doc: dict) -> Any:
            value = doc.get(name, _MISSING)
            if type(value) in _CONTAINERS:
                raise _Unsure
            return value

        return get

    def get_nested(doc: dict) -> Any:
        value: Any = doc
        for part in path:
            if type(value) is not dict:
                raise _Unsure
            value = value.get(part, _MISSING)
            if value is _MISSING:
                return _MISSING
        if type(value) in _CONTAINERS:
            raise _Unsure
        return value

    return get_nested


# The types Python compares as mongomock does with a value of each type (BSON's brackets:
# a date with dates only, a string with strings, numbers with numbers but not booleans).
_BRACKETS = {datetime: (datetime,), str: (str,), ObjectId: (ObjectId,), bool: (bool,), int: (int, float),
             float: (int, float)}


def _operator_test(op: str, operand: Any) -> Callable[[Any], bool]:
    """One operator on one value, as mongomock's matcher decides it for a scalar value (or
    _MISSING, which no scalar equals)."""
    if op in ("$eq", "$ne"):
        if not _scalar(operand):
            raise _NotHandled(op)
        if operand is None:
            def equal(v: Any) -> bool:
                return v is None or v is _MISSING
        else:
            equal = partial(eq, operand)  # in C: the test runs for every document
        return equal if op == "$eq" else (lambda v: not equal(v))
    if op in ("$in", "$nin"):
        if type(operand) not in (list, tuple) or not all(_scalar(x) for x in operand):
            raise _NotHandled(op)
        choices, with_none = list(operand), None in operand
        if len(choices) >= _LONG_IN and all(type(x) in _PLAIN for x in choices):
            # As _fast_in: thousands of ids (a search's tickets found through their
            # messages) are looked up in a set, not compared one by one for every document.
            members = frozenset(choices)

            def inside(v: Any) -> bool:
                return with_none if v is _MISSING else type(v) in _PLAIN and v in members
        else:
            def inside(v: Any) -> bool:
                return with_none if v is _MISSING else v in choices

        return inside if op == "$in" else (lambda v: not inside(v))
    if op == "$exists":
        wanted = bool(operand)
        return lambda v: (v is not _MISSING) == wanted
    if op in _COMPARISONS:
        if operand is None or not _scalar(operand):
            raise _NotHandled(op)
        compare, bracket = _COMPARISONS[op], _BRACKETS[type(operand)]
        return lambda v: type(v) in bracket and compare(v, operand)
    raise _NotHandled(op)


def _regex_test(condition: dict) -> Callable[[Any], bool]:
    """{"$regex": text, "$options": "imxs"} as mongomock applies it to a scalar: text values
    that the pattern finds something in."""
    pattern, options = condition.get("$regex"), condition.get("$options", "")
    if set(condition) - {"$regex", "$options"} or type(pattern) is not str or type(options) is not str:
        raise _NotHandled("$regex")
    flags = 0
    for option in options:
        if option in "imxs":
            flags |= getattr(re, option.upper())
    try:
        compiled = re.compile(pattern, flags)
    except re.error:
        raise _NotHandled("$regex") from None
    return lambda v: type(v) is str and compiled.search(v) is not None


def _field_test(field: str, condition: Any) -> Callable[[dict], bool]:
    path = _path(field)
    if type(condition) is dict and ("$regex" in condition or "$options" in condition):
        checks, negative = [_regex_test(condition)], False
    elif type(condition) is dict:
        if not condition or not all(isinstance(k, str) and k.startswith("$") for k in condition):
            raise _NotHandled(field)  # a sub-document compared whole
        checks = [_operator_test(op, operand) for op, operand in condition.items()]
        negative = "$ne" in condition or "$nin" in condition
    else:
        checks, negative = [_operator_test("$eq", condition)], False
    if len(checks) == 1 and not negative:
        return _single_test(path, checks[0])
    get = _getter(path)

    def test(doc: dict) -> bool:
        value = get(doc)
        if value is _MISSING and negative:
            raise _Unsure  # mongomock's own rule for a missing field under $ne / $nin
        for check in checks:  # noqa: SIM110 (a loop costs less than all() over a generator)
            if not check(value):
                return False
        return True

    return test


def _single_test(path: tuple[str, ...], check: Callable[[Any], bool]) -> Callable[[dict], bool]:
    """One check on one field, with the lookup written out for the usual depths: this runs
    once per document, and each call saved is a tenth of the scan."""
    if len(path) == 1:
        (name,) = path

        def top(doc: dict) -> bool:
            value = doc.get(name, _MISSING)
            if type(value) in _CONTAINERS:
                raise _Unsure
            return check(value)

        return top
    if len(path) == 2:
        outer, inner = path

        def nested(doc: dict) -> bool:
            sub = doc.get(outer, _MISSING)
            if type(sub) is dict:
                value = sub.get(inner, _MISSING)
                if type(value) in _CONTAINERS:
                    raise _Unsure
            elif sub is _MISSING:
                value = _MISSING
            else:
                raise _Unsure
            return check(value)

        return nested
    get = _getter(path)
    return lambda doc: check(get(doc))


def _every(tests: list[Callable[[dict], bool]]) -> Callable[[dict], bool]:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda doc: first(doc) and second(doc)

    def every(doc: dict) -> bool:
        for test in tests:  # noqa: SIM110 (a loop costs less than all() over a generator)
            if not test(doc):
                return False
        return True

    return every


def _some(tests: list[Callable[[dict], bool]]) -> Callable[[dict], bool]:
    if len(tests) == 1:
        return tests[0]
    if len(tests) == 2:
        first, second = tests
        return lambda doc: first(doc) or second(doc)

    def some(doc: dict) -> bool:
        for test in tests:  # noqa: SIM110 (a loop costs less than any() over a generator)
            if test(doc):
                return True
        return False

    return some


def _compile(filter: Any) -> Callable[[dict], bool] | None:
    """The filter as a predicate on stored documents; None for the empty filter."""
    if type(filter) is not dict:
        raise _NotHandled("filter")
    tests: list[Callable[[dict], bool]] = []
    for key, condition in filter.items():
        if key in ("$and", "$or"):
            if type(condition) is not list or not condition:
                raise _NotHandled(key)
            compiled = [_compile(part) for part in condition]
            parts = [part for part in compiled if part is not None]
            if len(parts) != len(compiled):
                raise _NotHandled(key)  # {} inside $and / $or: left to mongomock
            tests.append(_every(parts) if key == "$and" else _some(parts))
        else:
            tests.append(_field_test(key, condition))
    return _every(tests) if tests else None


def _matching(candidates: Iterable[dict], filter: dict) -> list[dict]:
    """The candidates that match, as mongomock's matcher would find them: the compiled test
    where it is sure, `filter_applies` where it is not."""
    patched = helpers.patch_datetime_awareness_in_document(filter)
    test = _compile(patched)
    if test is None:
        return list(candidates)
    found = []
    for doc in candidates:
        try:
            if test(doc):
                found.append(doc)
        except _Unsure:
            if filtering.filter_applies(patched, doc):
                found.append(doc)
    return found


def _candidates(collection: Any, filter: dict, sort: list | None) -> Iterable[dict]:
    """The stored documents that may match, in natural order: by _id or a unique key when
    the filter names one (the hash lookups above), else all of them."""
    store = collection._store
    oid = filter.get("_id")
    if type(oid) in (ObjectId, str):
        return [store[oid]] if oid in store else []
    if type(oid) is dict and set(oid) == {"$in"} and type(oid["$in"]) is list and sort \
            and any(name == "_id" for name, _ in sort) \
            and all(type(x) in (ObjectId, str) for x in oid["$in"]):
        # A batch by _id, sorted by a key that includes _id: the order is the sort's alone.
        return [store[x] for x in dict.fromkeys(oid["$in"]) if x in store]
    lookup = getattr(collection, "_support_chat_unique_lookup", None)
    found = lookup(filter) if lookup is not None else None
    if found is not None:
        return found
    # An indexed id (a ticket's messages): its documents, in the order written there, which
    # is the natural order unless an update moved one between ids (MongoDB promises no
    # order without a sort either).
    lookup = getattr(collection, "_support_chat_partition_lookup", None)
    found = lookup(filter) if lookup is not None else None
    if found is not None:
        return found
    # The dict's own view: OrderedDict's looks every key up again (ObjectId.__hash__ is
    # Python), which cost more than the whole match. mongomock never reorders its store
    # (no move_to_end), so both views give the same, natural, order.
    return dict.values(store._documents)


def _native_keys(docs: list[dict], name: str) -> list | None:
    """Each document's top-level `name`, if Python compares them as mongomock's sort would:
    all present and of one BSON type (int and float together), no NaN, no None."""
    try:
        keys = list(map(itemgetter(name), docs))
    except KeyError:
        return None
    ranks = {_TYPE_RANK.get(kind) for kind in set(map(type, keys))}
    if len(ranks) > 1 or None in ranks or 5 in ranks:
        return None
    if float in set(map(type, keys)) and any(k != k for k in keys):
        return None
    return keys


def _ordered(docs: list[dict], sort: list, wanted: int | None) -> list[dict]:
    """The first `wanted` of `docs` (all when None) in sort order, as mongomock orders them:
    one stable pass per key, last key first, so that ties stay in natural order. Keys in
    one direction that Python compares natively go in one stable pass, which orders the
    same way: by the first key alone when its values are all different (times, mostly)."""
    directions = {direction for _, direction in sort}
    if len(directions) == 1 and all("." not in name for name, _ in sort):
        first = _native_keys(docs, sort[0][0])
        if first is not None:
            keys: list | None = first
            if len(sort) > 1 and len(set(first)) != len(first):
                columns = [first] + [_native_keys(docs, name) for name, _ in sort[1:]]
                keys = None if any(c is None for c in columns) else list(zip(*columns, strict=True))
            if keys is not None:
                positions = sorted(range(len(docs)), key=keys.__getitem__, reverse=directions == {-1})
                return [docs[i] for i in positions[:wanted]]
    ordered = docs
    for name, direction in reversed(sort):
        keys = _native_keys(ordered, name) if "." not in name else None
        if keys is not None:
            positions = sorted(range(len(ordered)), key=keys.__getitem__, reverse=direction < 0)
            ordered = [ordered[i] for i in positions]
        else:
            ordered = sorted(ordered, key=partial(filtering.resolve_sort_key, name),
                             reverse=direction < 0)
    return ordered[:wanted]


def _plain_sort(sort: Any) -> list | None:
    if sort is None:
        return None
    items = list(sort.items()) if isinstance(sort, dict) else list(sort)
    for item in items:
        if type(item) not in (tuple, list) or len(item) != 2 or item[1] not in (1, -1):
            raise _NotHandled("sort")
        _path(item[0])
    return [(name, direction) for name, direction in items]


def _fast_find(collection: Any, filter: Any, projection: Any, *, sort: Any, skip: int,
               limit: int) -> list[dict] | None:
    """find(filter, projection).sort(sort).skip(skip).limit(limit) as mongomock answers it,
    copying only the documents returned; None when the query is not a plain shape."""
    if not getattr(collection, "_support_chat_lookups", False) or not _simple_projection(projection) \
            or type(skip) is not int or type(limit) is not int or skip < 0 or limit < 0:
        return None
    filter = filter or {}
    try:
        plain_sort = _plain_sort(sort)
        found = _matching(_candidates(collection, filter, plain_sort), filter)
    except _NotHandled:
        return None
    wanted = skip + limit if limit else None
    if plain_sort:
        found = _ordered(found, plain_sort, wanted)
    found = found[skip:wanted]
    return [_project(helpers.make_datetime_timezone_aware_in_document(doc), projection) for doc in found]


def _fast_count(collection: Any, filter: Any, *, skip: int, limit: int) -> int | None:
    if not getattr(collection, "_support_chat_lookups", False) or type(filter) is not dict:
        return None
    try:
        counted = len(_matching(_candidates(collection, filter, None), filter))
    except _NotHandled:
        return None
    counted = max(0, counted - skip)
    return min(counted, limit) if limit else counted
