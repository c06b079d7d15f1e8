"""The `api_tokens` collection: tokens that integrations send as `Authorization: Bearer`.

Fields: name, scope ("read" | "read-write"), token_hash (SHA-256 of the token, hex; the
token itself is shown once and never stored), prefix (its first characters, to tell tokens
apart on the admin page), created_at, created_by {id, name}, last_used_at (written at most
once a minute), revoked_at and revoked_by (set once). Revoked tokens stay listed, so that
the audit trail's actor ids keep a name."""

from __future__ import annotations

from datetime import datetime

from bson import ObjectId
from pymongo import ReturnDocument

from ..db import Database
from . import oid

AFTER = ReturnDocument.AFTER


async def insert(db: Database, *, token: dict) -> dict:
    token["_id"] = (await db.api_tokens.insert_one(token)).inserted_id
    return token


async def by_hash(db: Database, *, token_hash: str) -> dict | None:
    return await db.api_tokens.find_one({"token_hash": token_hash})


async def get(db: Database, *, token_id: ObjectId) -> dict | None:
    return await db.api_tokens.find_one({"_id": oid(token_id, "token_id")})


async def newest(db: Database, *, limit: int) -> list[dict]:
    """Tokens, newest first (revoked ones too)."""
    return await db.api_tokens.find({}).sort([("created_at", -1), ("_id", -1)]).to_list(limit)


async def revoke(db: Database, *, token_id: ObjectId, at: datetime, by: dict) -> dict | None:
    """Revoke a token not revoked yet; None when it was (or does not exist)."""
    return await db.api_tokens.find_one_and_update(
        {"_id": oid(token_id, "token_id"), "revoked_at": None},
        {"$set": {"revoked_at": at, "revoked_by": by}}, return_document=AFTER)


async def touch(db: Database, *, token_id: ObjectId, at: datetime, unless_since: datetime) -> None:
    """Record a use, unless one was recorded at or after `unless_since` (at most one write a
    minute however many requests a token makes)."""
    await db.api_tokens.update_one(
        {"_id": oid(token_id, "token_id"),
         "$or": [{"last_used_at": None}, {"last_used_at": {"$lt": unless_since}}]},
        {"$set": {"last_used_at": at}})
