"""Accounts, as people use them: signing in and out (rate limited, audited), admins managing
agents and admins, agents changing their password, and password reset by e-mail."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from pymongo import ReturnDocument

from .. import clock, security
from ..errors import MESSAGES, Conflict, Forbidden, Invalid, NotFound
from ..security import Identity
from . import audit, client, mail, presence, ratelimit, users, validate
from .context import Ctx

RESET_VALID = timedelta(hours=1)


def _actor(user: dict) -> dict:
    return {"id": str(user["_id"]), "role": user["role"], "name": user["name"]}


def _public(user: dict) -> dict:
    """The fields an audit snapshot of an account shows."""
    return {k: user.get(k) for k in ("email", "name", "role", "active")}


def _require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden("Only admins can manage accounts.")


# --- signing in and out ---------------------------------------------------------------


async def sign_in(ctx: Ctx, *, email: object, password: object) -> users.SignIn:
    """users.sign_in, with the per-IP and per-e-mail limits, and an audit event either way."""
    email_key = email.strip().lower()[:254] if isinstance(email, str) and email.strip() else None
    await ratelimit.hit(ctx, "login_ip", client.current().ip)
    await ratelimit.hit(ctx, "login_email", email_key)
    try:
        signed_in = await users.sign_in(ctx.db, email=email, password=password, settings=ctx.settings)
    except users.BadCredentials:
        known = await ctx.db.users.find_one({"email": email_key}, {"_id": 1}) if email_key else None
        await audit.record(
            ctx, actor=None, action="auth.login_failed",
            entity=("user", known["_id"]) if known else None, meta={"email": email_key},
        )
        raise
    user = signed_in.user
    await audit.record(ctx, actor=_actor(user), action="auth.login", entity=("user", user["_id"]))
    return signed_in


async def sign_out(ctx: Ctx, *, identity: Identity | None) -> None:
    if identity is not None:
        await audit.record(ctx, actor=identity, action="auth.logout", entity=("user", identity.id))


# --- admins manage accounts -----------------------------------------------------------


async def list_users(ctx: Ctx, *, identity: Identity) -> list[dict]:
    _require_admin(identity)
    return await ctx.db.users.find({}).sort([("name", 1), ("_id", 1)]).to_list(1000)


async def _get(ctx: Ctx, user_id: object) -> dict:
    oid = validate.object_id(user_id, "user_id")
    user = await ctx.db.users.find_one({"_id": oid})
    if user is None:
        raise NotFound("This account does not exist.")
    return user


async def create(ctx: Ctx, *, identity: Identity, email: object, name: object, password: object,
                 role: object) -> dict:
    _require_admin(identity)
    password = users.new_password(password)
    user = await users.create_user(ctx.db, email=email, name=name, password=password, role=role,
                                   settings=ctx.settings)
    await audit.record(ctx, actor=identity, action="user.create", entity=("user", user["_id"]),
                       after=_public(user))
    return user


async def _refuse_losing_last_admin(ctx: Ctx, target: dict) -> None:
    if target["role"] == "admin" and target.get("active", True):
        others = await ctx.db.users.count_documents(
            {"role": "admin", "active": True, "_id": {"$ne": target["_id"]}}
        )
        if others == 0:
            raise Conflict(MESSAGES["last_admin"], field="role")


async def _undo_if_no_admin_left(ctx: Ctx, before: dict) -> None:
    """Two admins demoting each other at once both pass the check: the second to finish
    puts its change back."""
    if await ctx.db.users.count_documents({"role": "admin", "active": True}) == 0:
        await ctx.db.users.update_one(
            {"_id": before["_id"]}, {"$set": {"role": before["role"], "active": before.get("active", True)}}
        )
        raise Conflict(MESSAGES["last_admin"], field="role")


EDITABLE = ("name", "role")


async def update(ctx: Ctx, *, identity: Identity, user_id: object, changes: object) -> dict:
    """Change an account's name and/or role (nothing else is edited this way: e-mail,
    password and activation have their own rules)."""
    _require_admin(identity)
    wanted = validate.payload(changes)
    unknown = sorted(set(wanted) - set(EDITABLE))
    if unknown:
        raise Invalid(f"Only name and role can be changed here, not {unknown[0]}.", field=unknown[0])
    changes = {}
    if "name" in wanted:
        changes["name"] = validate.text(wanted["name"], "name", max_len=80)
    if "role" in wanted:
        changes["role"] = validate.choice(wanted["role"], "role", users.ROLES)
    if not changes:
        raise Invalid("Give a name or a role to change.")
    user = await _get(ctx, user_id)
    if changes.get("role", user["role"]) != "admin":
        await _refuse_losing_last_admin(ctx, user)
    updated = await ctx.db.users.find_one_and_update(
        {"_id": user["_id"]}, {"$set": changes}, return_document=ReturnDocument.AFTER
    )
    if updated["role"] != "admin":
        await _undo_if_no_admin_left(ctx, user)
    if _public(updated) != _public(user):
        await audit.record(ctx, actor=identity, action="user.update", entity=("user", user["_id"]),
                           before=_public(user), after=_public(updated))
    return updated


async def deactivate(ctx: Ctx, *, identity: Identity, user_id: object) -> dict:
    """Switch the account off: its cookies stop working (token_version rises) and its live
    sockets are cut."""
    _require_admin(identity)
    user = await _get(ctx, user_id)
    if not user.get("active", True):
        return user
    await _refuse_losing_last_admin(ctx, user)
    updated = await ctx.db.users.find_one_and_update(
        {"_id": user["_id"]},
        {"$set": {"active": False}, "$inc": {"token_version": 1}, "$unset": {"password_reset": ""}},
        return_document=ReturnDocument.AFTER,
    )
    if updated["role"] == "admin":
        await _undo_if_no_admin_left(ctx, user)
    await presence.disconnect_user(ctx, user_id=str(user["_id"]))
    await audit.record(ctx, actor=identity, action="user.deactivate", entity=("user", user["_id"]),
                       before=_public(user), after=_public(updated))
    return updated


async def reactivate(ctx: Ctx, *, identity: Identity, user_id: object) -> dict:
    _require_admin(identity)
    user = await _get(ctx, user_id)
    if user.get("active", True):
        return user
    updated = await ctx.db.users.find_one_and_update(
        {"_id": user["_id"]}, {"$set": {"active": True}}, return_document=ReturnDocument.AFTER
    )
    await audit.record(ctx, actor=identity, action="user.reactivate", entity=("user", user["_id"]),
                       before=_public(user), after=_public(updated))
    return updated


# --- passwords ------------------------------------------------------------------------


async def change_password(ctx: Ctx, *, identity: Identity, old_password: object,
                          new_password: object) -> users.SignIn:
    """The signed-in agent's own password. Every other session ends (token_version rises,
    live sockets are cut); the caller gets a fresh token for this browser."""
    if not identity.is_agent:
        raise Forbidden()
    if not isinstance(old_password, str) or not old_password:
        raise Invalid("Give your current password.", field="old_password")
    new_password = users.new_password(new_password, "new_password")
    user = await _get(ctx, identity.id)
    await ratelimit.hit(ctx, "password_change", identity.id)
    if not await security.check_password(old_password, user.get("password_hash"),
                                         rounds=ctx.settings.bcrypt_rounds):
        raise Invalid("The current password is wrong.", field="old_password")
    password_hash = await security.hash_password(new_password, rounds=ctx.settings.bcrypt_rounds)
    updated = await ctx.db.users.find_one_and_update(
        {"_id": user["_id"], "token_version": user.get("token_version", 0)},
        {"$set": {"password_hash": password_hash}, "$inc": {"token_version": 1},
         "$unset": {"password_reset": ""}},
        return_document=ReturnDocument.AFTER,
    )
    if updated is None:  # another password change or a deactivation got there first
        raise Conflict("Your account changed meanwhile: sign in again.")
    await presence.disconnect_user(ctx, user_id=identity.id)
    await audit.record(
        ctx, actor=identity, action="user.password_change", entity=("user", user["_id"]),
        before={"token_version": user.get("token_version", 0)},
        after={"token_version": updated["token_version"]},
    )
    token = security.issue_token(user_id=identity.id, role=updated["role"],
                                 token_version=updated["token_version"], settings=ctx.settings)
    return users.SignIn(user=updated, token=token)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def base_url(ctx: Ctx) -> str:
    """Links in e-mails: PUBLIC_URL, never the request's Host header (which a caller picks)."""
    return ctx.settings.public_url or f"http://{ctx.settings.host}:{ctx.settings.port}"


async def request_password_reset(ctx: Ctx, *, email: object) -> None:
    """E-mail a single-use link valid for an hour, if an active account has this e-mail.
    The caller's answer is the same either way, and does not wait for the e-mail."""
    email = validate.email(email)
    await ratelimit.hit(ctx, "reset_ip", client.current().ip)
    await ratelimit.hit(ctx, "reset_email", email)
    user = await ctx.db.users.find_one({"email": email, "active": True})
    await audit.record(ctx, actor=None, action="user.password_reset_request",
                       entity=("user", user["_id"]) if user else None, meta={"email": email})
    if user is None:
        return
    token = secrets.token_urlsafe(32)
    await ctx.db.users.update_one(
        {"_id": user["_id"]},
        {"$set": {"password_reset": {"token_hash": _token_hash(token),
                                     "expires_at": clock.utcnow() + RESET_VALID}}},
    )
    link = f"{base_url(ctx)}/reset-password?token={token}"
    mail.send_later(ctx, to=user["email"], subject="Reset your password", body=(
        f"Hello {user['name']},\n\n"
        f"Someone (hopefully you) asked to reset the password of this support account.\n"
        f"Open this link within an hour to choose a new one:\n\n{link}\n\n"
        f"If it was not you, ignore this e-mail: your password stays as it is.\n"
    ))


async def reset_password(ctx: Ctx, *, token: object, password: object) -> dict:
    """Use a reset token (once, within the hour) to set a new password; every session ends."""
    if not isinstance(token, str) or not 20 <= len(token) <= 128:
        raise Invalid("This reset link is not valid or has expired.", field="token")
    password = users.new_password(password)
    password_hash = await security.hash_password(password, rounds=ctx.settings.bcrypt_rounds)
    user = await ctx.db.users.find_one_and_update(
        {"password_reset.token_hash": _token_hash(token),
         "password_reset.expires_at": {"$gt": clock.utcnow()}, "active": True},
        {"$set": {"password_hash": password_hash}, "$inc": {"token_version": 1},
         "$unset": {"password_reset": ""}},
        return_document=ReturnDocument.AFTER,
    )
    if user is None:
        raise Invalid("This reset link is not valid or has expired.", field="token")
    await presence.disconnect_user(ctx, user_id=str(user["_id"]))
    await audit.record(ctx, actor=_actor(user), action="user.password_reset",
                       entity=("user", user["_id"]),
                       before={"token_version": user["token_version"] - 1},
                       after={"token_version": user["token_version"]})
    return user

