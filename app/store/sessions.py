"""The `sessions` collection: one document per sign-in, keyed by the token's `jti`.

Fields: _id (the jti, a string), user_id, stage ("active" | "code" | "enrol": fully signed
in, or waiting for a two-factor code, or for two-factor enrolment), created_at,
last_seen_at, expires_at (the token's exp), ip, user_agent, ended_at and ended_reason (set
once, when it is signed out or revoked). A TTL index removes a session once it has expired
(app/db.py); the audit trail keeps the history."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ReturnDocument

from ..db import Database

AFTER = ReturnDocument.AFTER
PER_USER = 200  # sessions listed or ended per person at once; far more than anyone has


async def insert(db: Database, *, session: dict) -> dict:
    await db.sessions.insert_one(session)
    return session


async def by_id(db: Database, *, session_id: str) -> dict | None:
    return await db.sessions.find_one({"_id": session_id})


async def touch(db: Database, *, session_id: str, at: datetime) -> None:
    await db.sessions.update_one({"_id": session_id}, {"$set": {"last_seen_at": at}})


async def end(db: Database, *, session_id: str, at: datetime, reason: str,
              user_id: ObjectId | None = None) -> dict | None:
    """End one open session (of this person, when given); None if it was not open."""
    query: dict = {"_id": session_id, "ended_at": None}
    if user_id is not None:
        query["user_id"] = user_id
    return await db.sessions.find_one_and_update(
        query, {"$set": {"ended_at": at, "ended_reason": reason}}, return_document=AFTER)


async def end_all_of_user(db: Database, *, user_id: ObjectId, at: datetime, reason: str,
                          keep: str | None = None) -> None:
    """End every open session of this person (but `keep`)."""
    query: dict = {"user_id": user_id, "ended_at": None}
    if keep is not None:
        query["_id"] = {"$ne": keep}
    await db.sessions.update_many(query, {"$set": {"ended_at": at, "ended_reason": reason}})


async def open_of_user(db: Database, *, user_id: ObjectId, now: datetime,
                       limit: int = PER_USER) -> list[dict]:
    """This person's open, unexpired sessions, newest first."""
    return await db.sessions.find(
        {"user_id": user_id, "ended_at": None, "expires_at": {"$gt": now}}
    ).sort([("created_at", -1), ("_id", -1)]).to_list(limit)


async def open_among(db: Database, *, session_ids: list[str], now: datetime) -> set[str]:
    """Which of these sessions are still open and unexpired (the sockets' periodic check)."""
    found = await db.sessions.find(
        {"_id": {"$in": session_ids}, "ended_at": None, "expires_at": {"$gt": now}}, {"_id": 1}
    ).to_list(len(session_ids))
    return {s["_id"] for s in found}
