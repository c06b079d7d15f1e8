"""The database connection: a real MongoDB through PyMongo's async API, or the embedded
engine (app/store/engine.py) that runs the same calls in memory; and the indexes.

Nothing here queries: every read and write is a named function in app/store/."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, TypeAlias

from pymongo import ASCENDING, DESCENDING, TEXT, AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import OperationFailure

from .config import Settings
from .store.engine import EmbeddedClient, EmbeddedCollection, EmbeddedDatabase

log = logging.getLogger(__name__)


Document: TypeAlias = dict[str, Any]
# A collection of either engine: mypy checks every call the store makes against both.
Collection: TypeAlias = AsyncCollection[Document] | EmbeddedCollection


@dataclass
class Database:
    client: AsyncMongoClient[Document] | EmbeddedClient
    db: AsyncDatabase[Document] | EmbeddedDatabase
    embedded: bool

    def __post_init__(self) -> None:
        # One handle per collection, made once: the message path should not rebuild them.
        self.users: Collection = self.db["users"]
        self.tickets: Collection = self.db["tickets"]
        self.messages: Collection = self.db["messages"]
        self.audit_events: Collection = self.db["audit_events"]
        self.jobs: Collection = self.db["jobs"]
        self.notifications: Collection = self.db["notifications"]
        self.sessions: Collection = self.db["sessions"]
        self.api_tokens: Collection = self.db["api_tokens"]
        self.webhooks: Collection = self.db["webhooks"]
        self.webhook_deliveries: Collection = self.db["webhook_deliveries"]
        self.settings: Collection = self.db["settings"]
        self.canned_replies: Collection = self.db["canned_replies"]

    async def ping(self) -> bool:
        result = await self.db.command("ping")
        return bool(result.get("ok"))

    async def close(self) -> None:
        await self.client.close()


def connect(settings: Settings) -> Database:
    if settings.mongodb_uri:
        client: AsyncMongoClient[Document] = AsyncMongoClient(
            settings.mongodb_uri, tz_aware=True, serverSelectionTimeoutMS=5000, appname="support-chat"
        )
        return Database(client=client, db=client[settings.mongodb_db], embedded=False)
    embedded = EmbeddedClient()
    return Database(client=embedded, db=embedded[settings.mongodb_db], embedded=True)


@contextlib.asynccontextmanager
async def maintained(database: Database) -> AsyncIterator[None]:
    """While the app runs: the embedded engine's TTL passes (a real MongoDB has its own)."""
    if not isinstance(database.client, EmbeddedClient):
        yield
        return
    task = asyncio.create_task(database.client.ttl_monitor(), name="embedded TTL monitor")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


# Indexes that earlier versions made and this one replaces.
RETIRED_INDEXES = {
    "messages": ("one_message_per_client_msg_id", "history"),
}


async def prepare(database: Database, settings: Settings) -> None:
    """At start-up, before serving: the indexes, then data from earlier versions upgraded."""
    from .store import migrations

    await ensure_indexes(database)
    await migrations.upgrade(database, escalate_after=settings.escalate_after,
                             auto_resolve_after=settings.auto_resolve_after)
    await migrations.count_open_tickets(database)


async def ensure_indexes(database: Database) -> None:
    for collection, names in RETIRED_INDEXES.items():
        existing = await getattr(database, collection).index_information()
        for name in names:
            if name in existing:
                with contextlib.suppress(OperationFailure):  # another process dropped it first
                    await getattr(database, collection).drop_index(name)

    await database.users.create_index([("email", ASCENDING)], unique=True)
    # The accounts page and its search go through accounts by name.
    await database.users.create_index([("name", ASCENDING), ("_id", ASCENDING)], name="users_by_name")

    tickets = database.tickets
    await tickets.create_index([("guest_id", ASCENDING), ("created_at", DESCENDING)])
    # The guest's earlier conversations by e-mail address (only tickets that have one); also
    # how privacy's export and erasure find a guest's tickets.
    await tickets.create_index([("guest_email", ASCENDING), ("created_at", DESCENDING)],
                               name="by_guest_email",
                               partialFilterExpression={"guest_email": {"$type": "string"}})
    await tickets.create_index([("status", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)])
    await tickets.create_index([("updated_at", DESCENDING), ("_id", DESCENDING)])
    # Reports: the tickets created in a date range, the team's or one agent's.
    await tickets.create_index([("created_at", ASCENDING)], name="created")
    await tickets.create_index([("assignee_id", ASCENDING), ("created_at", ASCENDING)],
                               name="assignee_created")
    # The queue filtered by tag (multikey), and the tags in use (distinct reads this index).
    await tickets.create_index([("tags", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)],
                               name="queue_by_tag")
    # Search (store.tickets.search_page): whole words, any case, no stemming or stop words,
    # so that names, e-mail addresses and order numbers are found as typed. The embedded
    # engine keeps no text index (it scans).
    if not database.embedded:
        await tickets.create_index([(name, TEXT) for name in ("subject", "guest_name", "guest_email", "tags")],
                                   name="tickets_search", default_language="none")
        await database.messages.create_index([("body", TEXT)], name="messages_search",
                                             default_language="none")
    # Auto-assignment: the open tickets nobody is assigned, oldest first; and an agent's own.
    await tickets.create_index([("status", ASCENDING), ("assignee_id", ASCENDING), ("created_at", ASCENDING)],
                               name="waiting_for_an_agent")
    await tickets.create_index([("assignee_id", ASCENDING), ("status", ASCENDING)], name="by_assignee")
    # The sweeps: only tickets that are due carry these fields.
    for due in ("escalate_at", "resolve_at"):
        await tickets.create_index([(due, ASCENDING), ("_id", ASCENDING)], name=f"due_{due}",
                                   partialFilterExpression={due: {"$exists": True}})

    messages = database.messages
    # Partial: messages from before numbers exist until migrations.upgrade has numbered them.
    await messages.create_index([("ticket_id", ASCENDING), ("seq", ASCENDING)], unique=True,
                                name="history_by_seq",
                                partialFilterExpression={"seq": {"$exists": True}})
    await messages.create_index([("ticket_id", ASCENDING), ("guest_seq", ASCENDING)], unique=True,
                                name="guest_history",
                                partialFilterExpression={"guest_seq": {"$exists": True}})
    await messages.create_index(
        [("ticket_id", ASCENDING), ("sender_id", ASCENDING), ("client_msg_id", ASCENDING)],
        unique=True, name="one_message_per_sender_client_msg_id",
        partialFilterExpression={"client_msg_id": {"$exists": True}})
    await messages.create_index(
        [("ticket_id", ASCENDING), ("system_key", ASCENDING)], unique=True,
        name="one_system_line_per_key", partialFilterExpression={"system_key": {"$exists": True}})

    # The audit page: newest first, and each filter (person, action, ticket or account, kind
    # of thing) by its own index in the same order, a date range bounding `at` in any of them.
    audit = database.audit_events
    await audit.create_index([("at", DESCENDING), ("_id", DESCENDING)], name="audit_newest")
    for field in ("actor.id", "action", "entity.id", "entity.type"):
        await audit.create_index([(field, ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
                                 name=f"audit_by_{field}")

    jobs = database.jobs
    await jobs.create_index([("status", ASCENDING), ("run_at", ASCENDING)], name="claim")
    await jobs.create_index([("status", ASCENDING), ("updated_at", DESCENDING), ("_id", DESCENDING)],
                            name="by_status")
    # /metrics: queued and dead jobs counted per kind, and the earliest due, from the index.
    await jobs.create_index([("status", ASCENDING), ("kind", ASCENDING), ("run_at", ASCENDING)],
                            name="by_status_kind")
    await jobs.create_index([("dedupe_key", ASCENDING)], unique=True,
                            partialFilterExpression={"dedupe_key": {"$exists": True}},
                            name="one_job_per_dedupe_key")
    # Finished jobs and read notifications carry expire_at: MongoDB deletes them then.
    await jobs.create_index([("expire_at", ASCENDING)], expireAfterSeconds=0, name="expire")

    notifications = database.notifications
    await notifications.create_index(
        [("user_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)], name="inbox")
    await notifications.create_index([("user_id", ASCENDING), ("read_at", ASCENDING)], name="unread")
    await notifications.create_index([("dedupe_key", ASCENDING)], unique=True,
                                     partialFilterExpression={"dedupe_key": {"$exists": True}},
                                     name="one_notification_per_dedupe_key")
    await notifications.create_index([("expire_at", ASCENDING)], expireAfterSeconds=0, name="expire")

    # Canned replies: a shortcut is one reply per owner (the team, or one agent).
    await database.canned_replies.create_index([("owner_key", ASCENDING), ("shortcut", ASCENDING)],
                                               unique=True, name="one_shortcut_per_owner")

    # Sign-in (issue 9): sessions by person, gone once expired; links found by their hash.
    await database.sessions.create_index(
        [("user_id", ASCENDING), ("created_at", DESCENDING)], name="sessions_of_user"
    )
    await database.sessions.create_index([("expires_at", ASCENDING)], expireAfterSeconds=0,
                                         name="session_expiry")
    for link in ("password_reset", "invitation"):
        await database.users.create_index([(f"{link}.token_hash", ASCENDING)], sparse=True,
                                          name=f"{link}_link")

    # Integrations (issue 13): API tokens found by their hash on every request they make.
    await database.api_tokens.create_index([("token_hash", ASCENDING)], unique=True,
                                           name="token_by_hash")
    deliveries = database.webhook_deliveries
    await deliveries.create_index([("webhook_id", ASCENDING), ("at", DESCENDING), ("_id", DESCENDING)],
                                  name="log_of_webhook")
    await deliveries.create_index([("ticket_id", ASCENDING)], name="about_ticket")
    await deliveries.create_index([("expire_at", ASCENDING)], expireAfterSeconds=0, name="expire")
    # Privacy (export and erasure) finds a guest's tickets by e-mail through by_guest_email.
