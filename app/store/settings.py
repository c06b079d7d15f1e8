"""Settings the team changes at run time (`settings`: one document per group, keyed by its
name: "widget" for the chat widget's look and words, "hours" for opening hours). Start-up
configuration stays in app/config.py; this is what admins change on /admin/settings."""

from __future__ import annotations

from datetime import datetime

from pymongo import ReturnDocument

from ..db import Database

AFTER = ReturnDocument.AFTER


async def get(db: Database, *, name: str) -> dict | None:
    return await db.settings.find_one({"_id": name})


async def put(db: Database, *, name: str, values: dict, at: datetime) -> dict:
    """Replace the group's values (an admin saves the whole form); returns the new document."""
    stored = await db.settings.find_one_and_update(
        {"_id": name}, {"$set": {**values, "updated_at": at}, "$inc": {"version": 1}},
        upsert=True, return_document=AFTER)
    assert stored is not None  # an upsert returns the document it wrote
    return stored
