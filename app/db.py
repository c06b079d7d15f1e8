"""The database connection: a real MongoDB through PyMongo's async API, or the embedded
in-memory engine (mongomock-motor). The differences between the two are handled here and
nowhere else."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pymongo import ASCENDING, DESCENDING

from .config import Settings

log = logging.getLogger(__name__)


COLLECTIONS = ("users", "tickets", "messages", "audit_events", "jobs", "notifications")


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
    return Database(client=client, db=client[settings.mongodb_db], embedded=True)


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
