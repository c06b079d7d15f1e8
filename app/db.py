"""The database connection: a real MongoDB through PyMongo's async API, or the embedded
in-memory engine (mongomock-motor). The differences between the two are handled here and
nowhere else."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from pymongo import ASCENDING, DESCENDING

from .config import Settings

log = logging.getLogger(__name__)


COLLECTIONS = ("users", "tickets", "messages", "audit_events", "jobs", "notifications", "sessions")


@dataclass
class Database:
    client: Any
    db: Any
    embedded: bool

    def __post_init__(self) -> None:
        # One handle per collection, made once: the message path should not rebuild them.
        for name in COLLECTIONS:
            setattr(self, name, self.db[name])

    async def ping(self) -> bool:
        result = await self.db.command("ping")
        return bool(result.get("ok"))

    async def close(self) -> None:
        if self.embedded:
            return
        await self.client.close()


def connect(settings: Settings) -> Database:
    if settings.mongodb_uri:
        from pymongo import AsyncMongoClient

        client = AsyncMongoClient(
            settings.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="support-chat"
        )
        return Database(client=client, db=client[settings.mongodb_db], embedded=False)
    from mongomock_motor import AsyncMongoMockClient

    client = AsyncMongoMockClient(tz_aware=True)
    database = Database(client=client, db=client[settings.mongodb_db], embedded=True)
    for name in COLLECTIONS:
        _index_the_embedded_engine(getattr(database, name))
    return database


def _index_the_embedded_engine(collection: Any) -> None:
    """mongomock has indexes on paper only: it checks a unique index by scanning every
    document on every insert, and finds a document by _id by scanning them all too. The chat
    does both on every message, so the embedded store slowed down with every message stored
    (at a few thousand messages it was most of the server's time). Give both a hash lookup.

    The unique check keeps a map from each unique index's key values to the _id last written
    with them. A hit is believed only if that document still exists with the same values (so
    deletes and updates cannot leave a false duplicate); every write that can create a key
    goes through this check (mongomock calls it on insert and on update), so a miss is a miss."""
    from mongomock import DuplicateKeyError, filtering, helpers

    mock = collection._AsyncMongoMockCollection__collection  # the mongomock Collection
    store = mock._store
    owners: dict[tuple, Any] = {}
    scan_uniques = mock._ensure_uniques

    def key_of(index: dict, doc: dict) -> tuple | None:
        """The index's key values in this document, or None when the index skips it."""
        values = []
        for field, _ in index["key"]:
            try:
                values.append(helpers.get_value_by_dot(doc, field))
            except KeyError:
                values.append(None)
        if index.get("sparse") and all(v is None for v in values):
            return None
        partial = index.get("partialFilterExpression")
        if partial is not None and not filtering.filter_applies(partial, doc):
            return None
        return tuple(values)

    primed: set[str] = set()

    def prime(name: str, index: dict, writing: Any) -> None:
        """An index made after documents were stored: learn who holds which key, once
        (apart from the document being written, which is in the store already)."""
        for doc in list(store.documents):
            if doc["_id"] == writing:
                continue
            key = key_of(index, doc)
            if key is not None:
                owners[(name, key)] = doc["_id"]
        primed.add(name)

    def ensure_uniques(new_data: dict) -> None:
        taken = []
        for name, index in store.indexes.items():
            if not index.get("unique"):
                continue
            if name not in primed:
                try:
                    prime(name, index, new_data["_id"])
                except TypeError:
                    return scan_uniques(new_data)
            key = key_of(index, new_data)
            if key is None:
                continue
            try:
                owner = owners.get((name, key))
            except TypeError:  # an unhashable value (a list, a sub-document): scan as before
                return scan_uniques(new_data)
            if owner is not None and owner != new_data["_id"] and owner in store:
                if key_of(index, store[owner]) == key:
                    fields = [f for f, _ in index["key"]]
                    raise DuplicateKeyError(
                        "E11000 Duplicate Key Error", 11000,
                        {"keyValue": dict(zip(fields, key, strict=True)), "keyPattern": dict(index["key"])},
                    )
            taken.append((name, key))
        for entry in taken:  # only once every index agreed: a refused write takes nothing
            owners[entry] = new_data["_id"]

    iter_documents = mock._iter_documents

    def iter_documents_by_id(filter):
        if type(filter) is dict and len(filter) == 1 and type(filter.get("_id")) in (ObjectId, str):
            oid = filter["_id"]
            return iter([store[oid]] if oid in store else [])
        return iter_documents(filter)

    mock._ensure_uniques = ensure_uniques
    mock._iter_documents = iter_documents_by_id


async def ensure_indexes(database: Database) -> None:
    await database.users.create_index([("email", ASCENDING)], unique=True)
    await database.tickets.create_index([("guest_id", ASCENDING), ("created_at", DESCENDING)])
    await database.tickets.create_index(
        [("status", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)]
    )
    await database.tickets.create_index([("updated_at", DESCENDING), ("_id", DESCENDING)])
    await database.messages.create_index(
        [("ticket_id", ASCENDING), ("client_msg_id", ASCENDING)],
        unique=True,
        partialFilterExpression={"client_msg_id": {"$exists": True}},
        name="one_message_per_client_msg_id",
    )
    await database.messages.create_index(
        [("ticket_id", ASCENDING), ("created_at", ASCENDING), ("_id", ASCENDING)],
        name="history",
    )
    await database.audit_events.create_index([("at", DESCENDING), ("_id", DESCENDING)], name="audit_newest")
    for field in ("actor.id", "action", "entity.id"):
        await database.audit_events.create_index(
            [(field, ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)], name=f"audit_by_{field}"
        )
    await database.jobs.create_index([("status", ASCENDING), ("run_at", ASCENDING)], name="claim")
    await database.jobs.create_index(
        [("dedupe_key", ASCENDING)],
        unique=True,
        partialFilterExpression={"dedupe_key": {"$exists": True}},
        name="one_job_per_dedupe_key",
    )
    await database.notifications.create_index(
        [("user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], name="inbox"
    )
    await database.notifications.create_index(
        [("user_id", ASCENDING), ("read_at", ASCENDING)], name="unread"
    )
    await database.notifications.create_index(
        [("dedupe_key", ASCENDING)],
        unique=True,
        partialFilterExpression={"dedupe_key": {"$exists": True}},
        name="one_notification_per_dedupe_key",
    )
    # Sign-in (issue 9): sessions by person, gone once expired; links found by their hash.
    await database.sessions.create_index(
        [("user_id", ASCENDING), ("created_at", DESCENDING)], name="sessions_of_user"
    )
    await database.sessions.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0,
                                         name="session_expiry")
    for link in ("password_reset", "invitation"):
        await database.users.create_index([(f"{link}.token_hash", ASCENDING)], sparse=True,
                                          name=f"{link}_link")
