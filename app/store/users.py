"""The `users` collection: agent and admin accounts.

Fields: email (unique, lower-cased), name, role, password_hash (None until an invitation is
accepted), token_version, active, created_at, last_seen_at; password_reset and invitation
({token_hash, expires_at, ...}, only while a link is out); totp ({secret, enabled_at,
last_step}) and totp_pending ({secret, created_at}) for two-factor sign-in, backup_codes
(hashes). Auto-assignment (issue 11): availability ("online" | "away", missing: online),
capacity (the most open tickets assigned automatically; missing: DEFAULT_CAPACITY),
open_count (the open and pending tickets assigned to them, kept by services/conversations/assignment.py),
last_assigned_at. Callers pass ObjectIds and validated values; see app/store/__init__.py."""

from __future__ import annotations

import re
from datetime import datetime

from bson import ObjectId
from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError

from ..db import Database

AFTER = ReturnDocument.AFTER
BATCH = 500  # accounts read per query where every one of them is wanted


# --- reading ------------------------------------------------------------------------------


async def by_id(db: Database, *, user_id: ObjectId) -> dict | None:
    return await db.users.find_one({"_id": user_id})


async def by_email(db: Database, *, email: str) -> dict | None:
    return await db.users.find_one({"email": email})


async def active_by_email(db: Database, *, email: str) -> dict | None:
    return await db.users.find_one({"email": email, "active": True})


async def email_taken(db: Database, *, email: str) -> bool:
    return await db.users.find_one({"email": email}, {"_id": 1}) is not None


NamePosition = tuple[str, ObjectId]


def _after_name(query: dict, after: NamePosition | None) -> dict:
    if after is None:
        return query
    name, oid = after
    later = {"$or": [{"name": {"$gt": name}}, {"name": name, "_id": {"$gt": oid}}]}
    return {"$and": [query, later]} if query else later


async def page_by_name(db: Database, *, after: NamePosition | None, size: int,
                       query: dict | None = None) -> tuple[list[dict], bool]:
    """Accounts in (name, _id) order after a position; and whether more follow."""
    docs = await db.users.find(_after_name(query or {}, after)).sort(
        [("name", 1), ("_id", 1)]).to_list(size + 1)
    return docs[:size], len(docs) > size


def matching(text: str) -> dict:
    """Accounts whose name or e-mail contains `text`, in any case (a query for
    page_by_name): what an admin types to find someone."""
    pattern = {"$regex": re.escape(text), "$options": "i"}
    return {"$or": [{"name": pattern}, {"email": pattern}]}


NAME_FIELDS = {"name": 1, "email": 1, "role": 1, "active": 1}


async def names_by_ids(db: Database, *, user_ids: list[ObjectId]) -> list[dict]:
    """Name, e-mail, role and active flag of these accounts, in one query (the audit
    page names the people of a page of events this way)."""
    if not user_ids:
        return []
    return await db.users.find({"_id": {"$in": list(user_ids)}}, NAME_FIELDS).sort("_id", 1).to_list(
        len(user_ids))


async def _every_by_name(db: Database, query: dict, projection: dict | None = None) -> list[dict]:
    """Every matching account, read a batch at a time: however many, none cut off."""
    found: list[dict] = []
    after: NamePosition | None = None
    while True:
        batch = await db.users.find(_after_name(query, after), projection).sort(
            [("name", 1), ("_id", 1)]).to_list(BATCH + 1)
        found.extend(batch[:BATCH])
        if len(batch) <= BATCH:
            return found
        after = (batch[BATCH - 1].get("name", ""), batch[BATCH - 1]["_id"])


async def active_with_roles(db: Database, *, roles: tuple[str, ...]) -> list[dict]:
    return await _every_by_name(db, {"active": True, "role": {"$in": list(roles)}})


async def active_admin_ids(db: Database) -> list[ObjectId]:
    admins = await _every_by_name(db, {"active": True, "role": "admin"}, {"_id": 1, "name": 1})
    return [a["_id"] for a in admins]


async def count_active_admins(db: Database, *, excluding: ObjectId | None = None) -> int:
    query: dict = {"role": "admin", "active": True}
    if excluding is not None:
        query["_id"] = {"$ne": excluding}
    return await db.users.count_documents(query)


# --- auto-assignment ----------------------------------------------------------------------

DEFAULT_CAPACITY = 5
ROLES_ASSIGNED = ["agent", "admin"]


def _available() -> dict:
    return {"active": True, "role": {"$in": ROLES_ASSIGNED}, "availability": {"$ne": "away"}}


async def available_ids(db: Database) -> list[ObjectId]:
    """Active agents who have not set themselves away (connected or not)."""
    found = await _every_by_name(db, _available(), {"_id": 1, "name": 1})
    return [doc["_id"] for doc in found]


async def reserve_slot(db: Database, *, candidates: list[ObjectId], at: datetime) -> dict | None:
    """Take one open slot of the candidate who was assigned least recently among those
    available with room (open_count below capacity), in one conditional update: it raises
    their open_count and stamps last_assigned_at. None: nobody has room. However many
    tickets ask at once, on however many processes, nobody is given more than capacity."""
    if not candidates:
        return None
    has_room = {"$lt": [{"$ifNull": ["$open_count", 0]}, {"$ifNull": ["$capacity", DEFAULT_CAPACITY]}]}
    return await db.users.find_one_and_update(
        {"_id": {"$in": candidates}, **_available(), "$expr": has_room},
        {"$inc": {"open_count": 1}, "$set": {"last_assigned_at": at}},
        sort=[("last_assigned_at", 1), ("_id", 1)], return_document=AFTER)


async def count_open(db: Database, *, user_id: ObjectId, delta: int) -> None:
    """One more (1) or one fewer (-1) open ticket assigned to this agent; never below 0."""
    query: dict = {"_id": user_id}
    if delta < 0:
        query["open_count"] = {"$gt": 0}
    await db.users.update_one(query, {"$inc": {"open_count": delta}})


async def correct_open_count(db: Database, *, user_id: ObjectId, seen: int, count: int) -> None:
    """Set open_count to a count taken from the tickets, unless it moved from `seen`."""
    await db.users.update_one({"_id": user_id, "open_count": seen}, {"$set": {"open_count": count}})


async def set_availability(db: Database, *, user_id: ObjectId, availability: str) -> dict | None:
    return await db.users.find_one_and_update(
        {"_id": user_id}, {"$set": {"availability": availability}}, return_document=AFTER)


async def without_open_count(db: Database, *, limit: int) -> list[dict]:
    """Accounts from before open counts (upgrade)."""
    return await db.users.find({"open_count": {"$exists": False}}, {"_id": 1}).to_list(limit)


async def start_open_count(db: Database, *, user_id: ObjectId, count: int) -> None:
    await db.users.update_one({"_id": user_id, "open_count": {"$exists": False}},
                              {"$set": {"open_count": count}})


# --- creating and editing -----------------------------------------------------------------


async def insert(db: Database, *, user: dict) -> dict | None:
    """Store a new account; None when the e-mail is taken."""
    try:
        result = await db.users.insert_one(user)
    except DuplicateKeyError:
        return None
    return {**user, "_id": result.inserted_id}


async def set_fields(db: Database, *, user_id: ObjectId, fields: dict) -> dict | None:
    """Name and role (the caller decides which fields may change)."""
    return await db.users.find_one_and_update({"_id": user_id}, {"$set": fields}, return_document=AFTER)


async def restore_role(db: Database, *, user_id: ObjectId, role: str, active: bool) -> None:
    await db.users.update_one({"_id": user_id}, {"$set": {"role": role, "active": active}})


async def deactivate(db: Database, *, user_id: ObjectId) -> dict | None:
    """Switch an active account off; outstanding links die and old tokens stop working.
    None if it was not active."""
    return await db.users.find_one_and_update(
        {"_id": user_id, "active": True},
        {"$set": {"active": False}, "$inc": {"token_version": 1},
         "$unset": {"password_reset": "", "invitation": ""}},
        return_document=AFTER,
    )


async def reactivate(db: Database, *, user_id: ObjectId) -> dict | None:
    return await db.users.find_one_and_update(
        {"_id": user_id, "active": False}, {"$set": {"active": True}}, return_document=AFTER)


async def mark_signed_in(db: Database, *, user_id: ObjectId, at: datetime) -> None:
    await db.users.update_one({"_id": user_id}, {"$set": {"last_seen_at": at}})


# --- passwords ----------------------------------------------------------------------------


async def replace_hash(db: Database, *, user_id: ObjectId, old_hash: str, new_hash: str) -> None:
    """The same password stored a newer way, unless it changed meanwhile."""
    await db.users.update_one({"_id": user_id, "password_hash": old_hash},
                              {"$set": {"password_hash": new_hash}})


async def change_password(db: Database, *, user_id: ObjectId, token_version: int,
                          password_hash: str) -> dict | None:
    """A new password, raising token_version; None if the account changed meanwhile."""
    return await db.users.find_one_and_update(
        {"_id": user_id, "token_version": token_version},
        {"$set": {"password_hash": password_hash}, "$inc": {"token_version": 1},
         "$unset": {"password_reset": ""}},
        return_document=AFTER,
    )


async def set_reset_link(db: Database, *, user_id: ObjectId, token_hash: str,
                         expires_at: datetime) -> None:
    await db.users.update_one(
        {"_id": user_id},
        {"$set": {"password_reset": {"token_hash": token_hash, "expires_at": expires_at}}},
    )


async def use_reset_link(db: Database, *, token_hash: str, now: datetime,
                         password_hash: str) -> dict | None:
    """Set the password through an unexpired reset link of an active account, once (an
    invitation still out is then spent too: the person has chosen a password)."""
    return await db.users.find_one_and_update(
        {"password_reset.token_hash": token_hash, "password_reset.expires_at": {"$gt": now},
         "active": True},
        {"$set": {"password_hash": password_hash}, "$inc": {"token_version": 1},
         "$unset": {"password_reset": "", "invitation": ""}},
        return_document=AFTER,
    )


# --- invitations --------------------------------------------------------------------------


async def set_invitation(db: Database, *, user_id: ObjectId, token_hash: str, expires_at: datetime,
                         sent_at: datetime) -> dict | None:
    """A new invitation link, replacing any earlier one; only while the person has not
    chosen a password yet (None otherwise)."""
    return await db.users.find_one_and_update(
        {"_id": user_id, "password_hash": None, "active": True},
        {"$set": {"invitation": {"token_hash": token_hash, "expires_at": expires_at,
                                 "sent_at": sent_at}}},
        return_document=AFTER,
    )


async def accept_invitation(db: Database, *, token_hash: str, now: datetime,
                            password_hash: str) -> dict | None:
    """Set the first password through an unexpired invitation, once."""
    return await db.users.find_one_and_update(
        {"invitation.token_hash": token_hash, "invitation.expires_at": {"$gt": now},
         "active": True, "password_hash": None},
        {"$set": {"password_hash": password_hash, "invitation_accepted_at": now},
         "$unset": {"invitation": "", "password_reset": ""}},
        return_document=AFTER,
    )


# --- two-factor sign-in -------------------------------------------------------------------


async def start_totp_enrolment(db: Database, *, user_id: ObjectId, secret: str,
                               at: datetime) -> dict | None:
    """Keep a new secret until the person confirms it with a code; None if two-factor
    sign-in is already on."""
    return await db.users.find_one_and_update(
        {"_id": user_id, "totp": None},
        {"$set": {"totp_pending": {"secret": secret, "created_at": at}}},
        return_document=AFTER,
    )


async def enable_totp(db: Database, *, user_id: ObjectId, secret: str, step: int,
                      backup_code_hashes: list[str], at: datetime) -> dict | None:
    """Turn the pending secret on (the code of `step` confirmed it, so that step is spent).
    None if it is not the pending secret any more, or two-factor sign-in is on already."""
    return await db.users.find_one_and_update(
        {"_id": user_id, "totp": None, "totp_pending.secret": secret},
        {"$set": {"totp": {"secret": secret, "enabled_at": at, "last_step": step},
                  "backup_codes": backup_code_hashes},
         "$unset": {"totp_pending": ""}},
        return_document=AFTER,
    )


async def spend_totp_step(db: Database, *, user_id: ObjectId, secret: str, step: int) -> bool:
    """Record that the code of this time step was used; False if it (or a later one) was
    used already, so that no code is accepted twice, even by two requests at once."""
    result = await db.users.update_one(
        {"_id": user_id, "totp.secret": secret, "totp.last_step": {"$lt": step}},
        {"$set": {"totp.last_step": step}},
    )
    return result.modified_count == 1


async def spend_backup_code(db: Database, *, user_id: ObjectId, code_hash: str) -> dict | None:
    """Remove one backup code as it is used; None if it is not (or no longer) there."""
    return await db.users.find_one_and_update(
        {"_id": user_id, "totp": {"$ne": None}, "backup_codes": code_hash},
        {"$pull": {"backup_codes": code_hash}},
        return_document=AFTER,
    )


async def disable_totp(db: Database, *, user_id: ObjectId) -> dict | None:
    """Two-factor sign-in off, with its secret and backup codes; None if it was off."""
    return await db.users.find_one_and_update(
        {"_id": user_id, "totp": {"$ne": None}},
        {"$set": {"totp": None, "backup_codes": []}, "$unset": {"totp_pending": ""}},
        return_document=AFTER,
    )
