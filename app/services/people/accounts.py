"""Accounts, as people use them: signing in (password, then a two-factor code where one is
set up) and out, their sessions, admins inviting and managing agents and admins, agents
changing their password, and password reset by e-mail. Rate limited where guessing is
possible (failures only), audited throughout; every query is in app/store/."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from bson import ObjectId

from ... import clock, security
from ...errors import MESSAGES, Conflict, Forbidden, Invalid, NotFound, Unauthorized
from ...security import Identity
from ...store import users as store_users
from ..conversations import assignment, presence
from ..core import Ctx, client, cursors, ratelimit, validate
from ..operations import audit, mail
from . import sessions, twofactor, users

# The audit actions written here and in twofactor.py (for the audit page's filter).
ACTIONS = (
    "auth.login", "auth.login_failed", "auth.login_second_step", "auth.code_failed",
    "auth.logout", "auth.session_end", "auth.logout_everywhere",
    "user.create", "user.invite", "user.invitation_resend", "user.invitation_accept",
    "user.2fa_setup_start", "user.2fa_setup_failed", "user.2fa_enable", "user.2fa_disable",
    "user.2fa_disable_failed", "user.2fa_reset", "user.2fa_backup_code_used",
)
RESET_VALID = timedelta(hours=1)
INVITATION_VALID = timedelta(hours=72)


def _actor(user: dict) -> dict:
    return {"id": str(user["_id"]), "role": user["role"], "name": user["name"]}


def _public(user: dict) -> dict:
    """The fields an audit snapshot of an account shows (capacity once an admin set one)."""
    shown = {k: user.get(k) for k in ("email", "name", "role", "active")}
    if "capacity" in user:
        shown["capacity"] = user["capacity"]
    return shown


def _require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden("Only admins can manage accounts.")


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def base_url(ctx: Ctx) -> str:
    """Links in e-mails: PUBLIC_URL, never the request's Host header (which a caller picks)."""
    return ctx.settings.public_url or f"http://{ctx.settings.host}:{ctx.settings.port}"


# --- signing in and out ---------------------------------------------------------------


@dataclass(frozen=True)
class SignIn:
    """What a sign-in step gives the browser: a session cookie, and how far it got."""

    user: dict
    started: sessions.Started

    @property
    def stage(self) -> str:
        return self.started.session["stage"]

    @property
    def token(self) -> str:
        return self.started.token


async def sign_in(ctx: Ctx, *, email: object, password: object) -> SignIn:
    """Check the password; then the person is signed in, or half signed in when a two-factor
    code (or, under REQUIRE_2FA, setting it up) is still to come. Failures count against the
    per-IP and per-e-mail limits, successes do not. Audited either way."""
    email_key = users.email_key(email)
    by_ip = await ratelimit.attempt(ctx, "login_ip", client.current().ip)
    try:
        by_email = await ratelimit.attempt(ctx, "login_email", email_key)
    except Exception:
        await ratelimit.succeeded(ctx, by_ip)  # refused unchecked: not a failed guess
        raise
    try:
        user = await users.check_credentials(ctx.db, email=email, password=password,
                                             settings=ctx.settings)
    except (users.BadCredentials, users.AccountDeactivated) as refused:
        deactivated = isinstance(refused, users.AccountDeactivated)
        if deactivated:  # the right password: not a guess
            await ratelimit.succeeded(ctx, by_ip, by_email)
        known = await store_users.by_email(ctx.db, email=email_key) if email_key else None
        await audit.record(ctx, actor=None, action="auth.login_failed",
                           entity=("user", known["_id"]) if known else None,
                           meta={"email": email_key, "reason": "deactivated" if deactivated else "credentials"})
        raise
    await ratelimit.succeeded(ctx, by_ip, by_email)
    stage = twofactor.stage_after_password(ctx.settings, user)
    started = await sessions.start(ctx, user=user, stage=stage)
    if stage == sessions.ACTIVE:
        await _signed_in(ctx, user, method="password")
    else:
        await audit.record(ctx, actor=_actor(user), action="auth.login_second_step",
                           entity=("user", user["_id"]), meta={"stage": stage})
    return SignIn(user=user, started=started)


async def _signed_in(ctx: Ctx, user: dict, *, method: str) -> None:
    now = clock.utcnow()
    await store_users.mark_signed_in(ctx.db, user_id=user["_id"], at=now)
    user["last_seen_at"] = now
    await audit.record(ctx, actor=_actor(user), action="auth.login", entity=("user", user["_id"]),
                       meta={"method": method})


async def half_signed_in(ctx: Ctx, token: str | None, stage: str) -> sessions.Current:
    """The session of someone between the password and the second step, at that step."""
    current = await sessions.current(ctx.db, token, ctx.settings)
    if current is None or current.stage != stage:
        raise Unauthorized(MESSAGES["sign_in_expired"])
    return current


async def finish_with_code(ctx: Ctx, *, token: str | None, code: object) -> SignIn:
    """The second step: a code from the authenticator app, or a backup code. The half-open
    session ends and a full one (a new token) starts."""
    current = await half_signed_in(ctx, token, sessions.CODE)
    method = await twofactor.verify(ctx, user=current.user, code=code)
    return await _promote(ctx, current, method=method)


async def _promote(ctx: Ctx, current: sessions.Current, *, method: str) -> SignIn:
    if await sessions.end(ctx, session_id=current.session["_id"], reason="second_step_done") is None:
        raise Unauthorized(MESSAGES["sign_in_expired"])  # used by a parallel request already
    user = await store_users.by_id(ctx.db, user_id=current.user["_id"])
    if user is None:  # the account was erased meanwhile
        raise Unauthorized(MESSAGES["sign_in_expired"])
    started = await sessions.start(ctx, user=user, stage=sessions.ACTIVE)
    await _signed_in(ctx, user, method=method)
    return SignIn(user=user, started=started)


async def finish_enrolment(ctx: Ctx, *, token: str | None, code: object) -> tuple[SignIn, list[str]]:
    """Under REQUIRE_2FA, the second step of someone without two-factor sign-in: confirming
    its set-up signs them in. Returns the new session and the backup codes to show once."""
    current = await half_signed_in(ctx, token, sessions.ENROL)
    codes = await twofactor.confirm(ctx, user=current.user, actor=_actor(current.user), code=code)
    return await _promote(ctx, current, method="password+enrolment"), codes


async def sign_out(ctx: Ctx, *, current: sessions.Current | None) -> None:
    """End this browser's session (half-open ones too): its cookie stops working at once and
    its sockets are cut."""
    if current is None:
        return
    await sessions.end(ctx, session_id=current.session["_id"], reason="signed_out")
    await audit.record(ctx, actor=_actor(current.user), action="auth.logout",
                       entity=("user", current.user["_id"]))


async def list_sessions(ctx: Ctx, *, identity: Identity) -> list[dict]:
    """The caller's open sessions (fully signed in or half), newest first."""
    return await sessions.list_open(ctx, user_id=ObjectId(identity.id))


async def end_session(ctx: Ctx, *, identity: Identity, session_id: object) -> None:
    """Sign out one of one's own sessions (another browser, a lost phone)."""
    if not isinstance(session_id, str) or not 1 <= len(session_id) <= 64:
        raise Invalid("session_id is not valid.", field="session_id")
    ended = await sessions.end(ctx, session_id=session_id, reason="signed_out_from_account",
                               user_id=ObjectId(identity.id))
    if ended is None:
        raise NotFound("This session has ended already.")
    await audit.record(ctx, actor=identity, action="auth.session_end", entity=("user", identity.id),
                       meta={"session": session_id[:8], "ip": ended.get("ip")})


async def sign_out_everywhere(ctx: Ctx, *, identity: Identity) -> None:
    """End every session of the caller, this one included, and cut all their sockets."""
    await sessions.end_all(ctx, user_id=ObjectId(identity.id), reason="signed_out_everywhere")
    await presence.disconnect_user(ctx, user_id=identity.id)
    await audit.record(ctx, actor=identity, action="auth.logout_everywhere",
                       entity=("user", identity.id))


# --- admins manage accounts -----------------------------------------------------------


@dataclass
class UserPage:
    users: list[dict]
    next_cursor: str | None


async def list_users(ctx: Ctx, *, identity: Identity, after: object = None,
                     limit: object = None, search: object = None) -> UserPage:
    """Every account by name, a page at a time (never cut off at a fixed count); with
    `search`, those whose name or e-mail contains it, in any case."""
    _require_admin(identity)
    size = validate.limit(limit, default=100, maximum=500)
    query = None
    if search not in (None, ""):
        query = store_users.matching(validate.text(search, "q", max_len=80))
    docs, more = await store_users.page_by_name(ctx.db, after=cursors.decode_name(after), size=size,
                                                query=query)
    last = docs[-1] if docs and more else None
    return UserPage(users=docs, next_cursor=cursors.encode_name(last["name"], last["_id"]) if last else None)


async def account(ctx: Ctx, *, identity: Identity, user_id: object) -> dict:
    """One account, for an admin (the accounts page opened on one person)."""
    _require_admin(identity)
    return await get(ctx, user_id)


async def get(ctx: Ctx, user_id: object) -> dict:
    oid = validate.object_id(user_id, "user_id")
    user = await store_users.by_id(ctx.db, user_id=oid)
    if user is None:
        raise NotFound("This account does not exist.")
    return user


async def invite(ctx: Ctx, *, identity: Identity, email: object, name: object, role: object,
                 password: object = None) -> dict:
    """A new account, without a password: the person gets an e-mail that welcomes them and
    lets them choose one (single use, 72 hours). Admins never choose others' passwords."""
    _require_admin(identity)
    if password is not None:
        raise Invalid("Admins do not set passwords: the person chooses theirs from the invitation.",
                      field="password")
    user = await users.insert(ctx.db, users.new_account(email=email, name=name, role=role,
                                                         password_hash=None))
    await audit.record(ctx, actor=identity, action="user.create", entity=("user", user["_id"]),
                       after=_public(user))
    return await _send_invitation(ctx, identity=identity, user=user, action="user.invite")


async def resend_invitation(ctx: Ctx, *, identity: Identity, user_id: object) -> dict:
    """A fresh invitation link (the earlier one stops working), for someone who has not
    chosen a password yet."""
    _require_admin(identity)
    user = await get(ctx, user_id)
    if user.get("password_hash"):
        raise Conflict("This person has chosen a password already; they can reset it from the sign-in page.")
    if not user.get("active", True):
        raise Conflict("This account is deactivated: reactivate it first.")
    return await _send_invitation(ctx, identity=identity, user=user, action="user.invitation_resend")


async def _send_invitation(ctx: Ctx, *, identity: Identity, user: dict, action: str) -> dict:
    token = secrets.token_urlsafe(32)
    now = clock.utcnow()
    updated = await store_users.set_invitation(ctx.db, user_id=user["_id"], token_hash=_token_hash(token),
                                               expires_at=now + INVITATION_VALID, sent_at=now)
    if updated is None:  # accepted or deactivated meanwhile
        raise Conflict("This account changed meanwhile: reload the list.")
    link = f"{base_url(ctx)}/welcome?token={token}"
    # Sent in the background rather than as a job: a job would store the link, and so the
    # token, in the jobs collection, where it must never be kept but as a hash.
    mail.send_later(ctx, to=updated["email"], subject="Welcome to the support team", body=(
        f"Hello {updated['name']},\n\n"
        f"{identity.name} has made you a support account ({updated['role']}) for {updated['email']}.\n"
        f"Open this link within 72 hours to choose your password and sign in:\n\n{link}\n\n"
        f"The link works once. If it has expired, ask {identity.name} to send a new one.\n"
    ))
    await audit.record(ctx, actor=identity, action=action, entity=("user", user["_id"]),
                       meta={"expires_at": updated["invitation"]["expires_at"]})
    return updated


async def accept_invitation(ctx: Ctx, *, token: object, password: object) -> dict:
    """Choose one's first password through the invitation link (once, within 72 hours)."""
    if not isinstance(token, str) or not 20 <= len(token) <= 128:
        raise Invalid(MESSAGES["invitation_invalid"], field="token")
    password_hash = await security.hash_password(users.new_password(password),
                                                 rounds=ctx.settings.bcrypt_rounds)
    user = await store_users.accept_invitation(ctx.db, token_hash=_token_hash(token),
                                               now=clock.utcnow(), password_hash=password_hash)
    if user is None:
        raise Invalid(MESSAGES["invitation_invalid"], field="token")
    await audit.record(ctx, actor=_actor(user), action="user.invitation_accept",
                       entity=("user", user["_id"]))
    return user


async def _refuse_losing_last_admin(ctx: Ctx, target: dict) -> None:
    if target["role"] == "admin" and target.get("active", True) \
            and await store_users.count_active_admins(ctx.db, excluding=target["_id"]) == 0:
        raise Conflict(MESSAGES["last_admin"], field="role")


async def _undo_if_no_admin_left(ctx: Ctx, before: dict) -> None:
    """Two admins demoting each other at once both pass the check: the second to finish
    puts its change back."""
    if await store_users.count_active_admins(ctx.db) == 0:
        await store_users.restore_role(ctx.db, user_id=before["_id"], role=before["role"],
                                       active=before.get("active", True))
        raise Conflict(MESSAGES["last_admin"], field="role")


EDITABLE = ("name", "role", "capacity")


async def update(ctx: Ctx, *, identity: Identity, user_id: object, changes: object) -> dict:
    """Change an account's name, role and/or capacity (the most open tickets auto-assignment
    gives them); nothing else is edited this way: e-mail, password and activation have their
    own rules."""
    _require_admin(identity)
    wanted = validate.payload(changes)
    unknown = sorted(set(wanted) - set(EDITABLE))
    if unknown:
        raise Invalid(f"Only name, role and capacity can be changed here, not {unknown[0]}.",
                      field=unknown[0])
    fields: dict[str, object] = {}
    if "name" in wanted:
        fields["name"] = validate.text(wanted["name"], "name", max_len=80)
    if "role" in wanted:
        fields["role"] = validate.choice(wanted["role"], "role", users.ROLES)
    if "capacity" in wanted:
        fields["capacity"] = assignment.check_capacity(wanted["capacity"])
    if not fields:
        raise Invalid("Give a name, a role or a capacity to change.")
    user = await get(ctx, user_id)
    if fields.get("role", user["role"]) != "admin":
        await _refuse_losing_last_admin(ctx, user)
    updated = await store_users.set_fields(ctx.db, user_id=user["_id"], fields=fields)
    if updated is None:
        raise NotFound("This account does not exist.")
    if updated["role"] != "admin":
        await _undo_if_no_admin_left(ctx, user)
    if updated["role"] != user["role"]:
        # Live sockets keep the role of their handshake (the admins room, the audit events):
        # they reconnect with the new one.
        await presence.disconnect_user(ctx, user_id=str(user["_id"]))
    if _public(updated) != _public(user):
        await audit.record(ctx, actor=identity, action="user.update", entity=("user", user["_id"]),
                           before=_public(user), after=_public(updated))
    if "capacity" in fields:
        await assignment.recount(ctx, user=updated)
    if updated.get("capacity", 0) > user.get("capacity", store_users.DEFAULT_CAPACITY):
        assignment.soon(ctx)  # room for tickets waiting for an agent
    return updated


async def deactivate(ctx: Ctx, *, identity: Identity, user_id: object) -> dict:
    """Switch the account off: every session ends, its cookies stop working and its live
    sockets are cut."""
    _require_admin(identity)
    user = await get(ctx, user_id)
    if not user.get("active", True):
        return user
    await _refuse_losing_last_admin(ctx, user)
    updated = await store_users.deactivate(ctx.db, user_id=user["_id"])
    if updated is None:  # deactivated by someone else meanwhile
        return await get(ctx, user_id)
    if updated["role"] == "admin":
        await _undo_if_no_admin_left(ctx, user)
    await sessions.end_all(ctx, user_id=user["_id"], reason="deactivated")
    await presence.disconnect_user(ctx, user_id=str(user["_id"]))
    await audit.record(ctx, actor=identity, action="user.deactivate", entity=("user", user["_id"]),
                       before=_public(user), after=_public(updated))
    return updated


async def reactivate(ctx: Ctx, *, identity: Identity, user_id: object) -> dict:
    _require_admin(identity)
    user = await get(ctx, user_id)
    if user.get("active", True):
        return user
    updated = await store_users.reactivate(ctx.db, user_id=user["_id"])
    if updated is None:
        return await get(ctx, user_id)
    await audit.record(ctx, actor=identity, action="user.reactivate", entity=("user", user["_id"]),
                       before=_public(user), after=_public(updated))
    return updated


# --- passwords ------------------------------------------------------------------------


async def change_password(ctx: Ctx, *, identity: Identity, old_password: object,
                          new_password: object) -> SignIn:
    """The signed-in agent's own password. Every session ends (token_version rises, live
    sockets are cut); the caller gets a new session for this browser."""
    if not identity.is_agent:
        raise Forbidden()
    if not isinstance(old_password, str) or not old_password:
        raise Invalid("Give your current password.", field="old_password")
    new_password = users.new_password(new_password, "new_password")
    user = await get(ctx, identity.id)
    guess = await ratelimit.attempt(ctx, "password_change", identity.id)
    if not await security.check_password(old_password, user.get("password_hash"),
                                         rounds=ctx.settings.bcrypt_rounds):
        raise Invalid("The current password is wrong.", field="old_password")
    await ratelimit.succeeded(ctx, guess)
    password_hash = await security.hash_password(new_password, rounds=ctx.settings.bcrypt_rounds)
    updated = await store_users.change_password(ctx.db, user_id=user["_id"],
                                                token_version=user.get("token_version", 0),
                                                password_hash=password_hash)
    if updated is None:  # another password change or a deactivation got there first
        raise Conflict("Your account changed meanwhile: sign in again.")
    await sessions.end_all(ctx, user_id=user["_id"], reason="password_changed")
    await presence.disconnect_user(ctx, user_id=identity.id)
    await audit.record(
        ctx, actor=identity, action="user.password_change", entity=("user", user["_id"]),
        before={"token_version": user.get("token_version", 0)},
        after={"token_version": updated["token_version"]},
    )
    started = await sessions.start(ctx, user=updated, stage=sessions.ACTIVE)
    return SignIn(user=updated, started=started)


async def request_password_reset(ctx: Ctx, *, email: object) -> None:
    """E-mail a single-use link valid for an hour, if an active account has this e-mail.
    The caller's answer is the same either way, and does not wait for the e-mail."""
    email = validate.email(email)
    await ratelimit.hit(ctx, "reset_ip", client.current().ip)
    await ratelimit.hit(ctx, "reset_email", email)
    user = await store_users.active_by_email(ctx.db, email=email)
    await audit.record(ctx, actor=None, action="user.password_reset_request",
                       entity=("user", user["_id"]) if user else None, meta={"email": email})
    if user is None:
        return
    token = secrets.token_urlsafe(32)
    await store_users.set_reset_link(ctx.db, user_id=user["_id"], token_hash=_token_hash(token),
                                     expires_at=clock.utcnow() + RESET_VALID)
    link = f"{base_url(ctx)}/reset-password?token={token}"
    mail.send_later(ctx, to=user["email"], subject="Reset your password", body=(
        f"Hello {user['name']},\n\n"
        f"Someone (hopefully you) asked to reset the password of this support account.\n"
        f"Open this link within an hour to choose a new one:\n\n{link}\n\n"
        f"If it was not you, ignore this e-mail: your password stays as it is.\n"
    ))


async def reset_password(ctx: Ctx, *, token: object, password: object) -> dict:
    """Use a reset token (once, within the hour) to set a new password; every session ends.
    Two-factor sign-in, where it is on, stays on: the link replaces the password only."""
    if not isinstance(token, str) or not 20 <= len(token) <= 128:
        raise Invalid(MESSAGES["reset_invalid"], field="token")
    password = users.new_password(password)
    password_hash = await security.hash_password(password, rounds=ctx.settings.bcrypt_rounds)
    user = await store_users.use_reset_link(ctx.db, token_hash=_token_hash(token), now=clock.utcnow(),
                                            password_hash=password_hash)
    if user is None:
        raise Invalid(MESSAGES["reset_invalid"], field="token")
    await sessions.end_all(ctx, user_id=user["_id"], reason="password_reset")
    await presence.disconnect_user(ctx, user_id=str(user["_id"]))
    await audit.record(ctx, actor=_actor(user), action="user.password_reset",
                       entity=("user", user["_id"]),
                       before={"token_version": user["token_version"] - 1},
                       after={"token_version": user["token_version"]})
    return user
