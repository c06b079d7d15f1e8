"""Two-factor sign-in: time-based codes (TOTP, RFC 6238, with pyotp) from an authenticator
app, and ten single-use backup codes.

Setting it up shows a QR code (made here with segno: nothing leaves the server) and the
secret as text; one code from the app turns it on, and the backup codes are shown once and
stored as hashes. After the password, a person with it on is half signed in
(services/people/sessions.py) until a code is given. Codes are rate limited per account (failures
only) and none is accepted twice: the newest time step used is stored, and each backup code
is removed as it is used, both in one conditional write. Turning it off takes the password
and a code; an admin can reset it for someone who lost their device. REQUIRE_2FA makes it
mandatory at the next sign-in, for admins or for everyone. Every step is audited."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

import pyotp
import segno
from bson import ObjectId

from ... import clock, security
from ...config import Settings
from ...errors import MESSAGES, Conflict, Forbidden, Invalid, NotFound
from ...security import Identity
from ...store import users as store_users
from ..core import Ctx, ratelimit, validate
from ..operations import audit
from . import sessions

ISSUER = "Support"
POLICIES = ("off", "admins", "all")
BACKUP_CODE_COUNT = 10
# 12 characters from 31 that cannot be mistaken for each other: about 59 bits each, so
# that their unsalted-looking hashes (salted with the account id) are not worth guessing.
BACKUP_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
BACKUP_LENGTH = 12
# The code of the previous and the next 30-second step count too: clocks drift, and people
# type slowly.
DRIFT_STEPS = 1
_TOTP_CODE = re.compile(r"^\d{6}$")


def enabled(user: dict) -> bool:
    return bool(user.get("totp"))


def required(settings: Settings, user: dict) -> bool:
    return settings.require_2fa == "all" or (settings.require_2fa == "admins" and user["role"] == "admin")


def stage_after_password(settings: Settings, user: dict) -> str:
    """Where a right password leads: signed in, a code to give, or two-factor sign-in to
    set up first (REQUIRE_2FA)."""
    if enabled(user):
        return sessions.CODE
    if required(settings, user):
        return sessions.ENROL
    return sessions.ACTIVE


def _actor(user: dict) -> dict:
    return {"id": str(user["_id"]), "role": user["role"], "name": user["name"]}


# --- codes ------------------------------------------------------------------------------


def _normalize(code: object) -> str:
    if not isinstance(code, str) or not code.strip():
        raise Invalid("Enter the code from your authenticator app, or a backup code.", field="code")
    text = re.sub(r"[\s-]", "", code).lower()
    if len(text) > 40:
        raise Invalid(MESSAGES["code_wrong"], field="code")
    return text


def _matching_step(secret: str, code: str) -> int | None:
    """The time step whose code this is (now, or one step either side), or None."""
    totp = pyotp.TOTP(secret)
    now = totp.timecode(clock.utcnow())
    for step in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if secrets.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def _backup_hash(user_id: ObjectId, code: str) -> str:
    return hashlib.sha256(f"backup-code:{user_id}:{code}".encode()).hexdigest()


def _new_backup_codes() -> list[str]:
    codes = []
    for _ in range(BACKUP_CODE_COUNT):
        raw = "".join(secrets.choice(BACKUP_ALPHABET) for _ in range(BACKUP_LENGTH))
        codes.append(f"{raw[:4]}-{raw[4:8]}-{raw[8:]}")
    return codes


async def _spend(ctx: Ctx, user: dict, code: object) -> str:
    """Use one code of this account: "totp" or "backup_code". Invalid if it is wrong or was
    used already; failures count against the account's limit, successes do not."""
    text = _normalize(code)
    attempt = await ratelimit.attempt(ctx, "code", str(user["_id"]))
    totp = user.get("totp") or {}
    if _TOTP_CODE.match(text):
        step = _matching_step(totp.get("secret", ""), text)
        if step is None:
            raise Invalid(MESSAGES["code_wrong"], field="code")
        if not await store_users.spend_totp_step(ctx.db, user_id=user["_id"], secret=totp["secret"],
                                                 step=step):
            raise Invalid(MESSAGES["code_used"], field="code")
        method = "totp"
    else:
        spent = await store_users.spend_backup_code(ctx.db, user_id=user["_id"],
                                                    code_hash=_backup_hash(user["_id"], text))
        if spent is None:
            raise Invalid(MESSAGES["code_wrong"], field="code")
        method = "backup_code"
        await audit.record(ctx, actor=_actor(user), action="user.2fa_backup_code_used",
                           entity=("user", user["_id"]),
                           meta={"remaining": len(spent.get("backup_codes", []))})
    await ratelimit.succeeded(ctx, attempt)
    return method


async def verify(ctx: Ctx, *, user: dict, code: object) -> str:
    """The second step of signing in; how it was passed ("password+totp" or
    "password+backup_code"). A wrong code is audited."""
    try:
        return "password+" + await _spend(ctx, user, code)
    except Invalid:
        await audit.record(ctx, actor=_actor(user), action="auth.code_failed", entity=("user", user["_id"]))
        raise


# --- setting up, turning off --------------------------------------------------------------


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_svg: str  # an <svg> element, to put in the page as it is


def _qr_svg(uri: str) -> str:
    # Black on white whatever the page's colours, with the quiet zone scanners need.
    return segno.make(uri, error="m").svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title="QR code for your authenticator app",
        svgclass="qr", lineclass=None,
    )


async def begin(ctx: Ctx, *, user: dict) -> Enrolment:
    """A new secret, kept as pending until a code confirms it (starting again replaces it)."""
    if enabled(user):
        raise Conflict("Two-factor sign-in is on already.")
    secret = pyotp.random_base32()  # 160 bits
    if await store_users.start_totp_enrolment(ctx.db, user_id=user["_id"], secret=secret,
                                              at=clock.utcnow()) is None:
        raise Conflict("Two-factor sign-in is on already.")
    uri = pyotp.TOTP(secret).provisioning_uri(name=user["email"], issuer_name=ISSUER)
    await audit.record(ctx, actor=_actor(user), action="user.2fa_setup_start", entity=("user", user["_id"]))
    return Enrolment(secret=secret, uri=uri, qr_svg=_qr_svg(uri))


async def confirm(ctx: Ctx, *, user: dict, actor: Identity | dict, code: object) -> list[str]:
    """Turn it on with a code from the app for the pending secret. Returns the ten backup
    codes: the only time they are shown, since only their hashes are kept."""
    user = await store_users.by_id(ctx.db, user_id=user["_id"]) or user
    pending = user.get("totp_pending")
    if enabled(user):
        raise Conflict("Two-factor sign-in is on already.")
    if not pending:
        raise Conflict("Start setting up two-factor sign-in first.")
    text = _normalize(code)
    attempt = await ratelimit.attempt(ctx, "code", str(user["_id"]))
    step = _matching_step(pending["secret"], text) if _TOTP_CODE.match(text) else None
    if step is None:
        await audit.record(ctx, actor=actor, action="user.2fa_setup_failed", entity=("user", user["_id"]))
        raise Invalid(MESSAGES["code_wrong"], field="code")
    await ratelimit.succeeded(ctx, attempt)
    codes = _new_backup_codes()
    hashes = [_backup_hash(user["_id"], _normalize(c)) for c in codes]
    if await store_users.enable_totp(ctx.db, user_id=user["_id"], secret=pending["secret"], step=step,
                                     backup_code_hashes=hashes, at=clock.utcnow()) is None:
        raise Conflict("Setting up started again elsewhere: use the newest QR code.")
    await audit.record(ctx, actor=actor, action="user.2fa_enable", entity=("user", user["_id"]))
    return codes


async def disable(ctx: Ctx, *, identity: Identity, password: object, code: object) -> None:
    """Turn one's own two-factor sign-in off: the password and a code, both right."""
    user = await store_users.by_id(ctx.db, user_id=ObjectId(identity.id))
    if user is None or not enabled(user):
        raise Conflict("Two-factor sign-in is off already.")
    if required(ctx.settings, user):
        raise Forbidden(MESSAGES["two_factor_required"])
    if not isinstance(password, str) or not password:
        raise Invalid("Give your password.", field="password")
    guess = await ratelimit.attempt(ctx, "password_change", identity.id)
    if not await security.check_password(password, user.get("password_hash"),
                                         rounds=ctx.settings.bcrypt_rounds):
        raise Invalid("The password is wrong.", field="password")
    await ratelimit.succeeded(ctx, guess)
    try:
        await _spend(ctx, user, code)
    except Invalid:
        await audit.record(ctx, actor=identity, action="user.2fa_disable_failed", entity=("user", user["_id"]))
        raise
    if await store_users.disable_totp(ctx.db, user_id=user["_id"]) is None:
        raise Conflict("Two-factor sign-in is off already.")
    await audit.record(ctx, actor=identity, action="user.2fa_disable", entity=("user", user["_id"]))


async def reset(ctx: Ctx, *, identity: Identity, user_id: object) -> dict:
    """An admin turns someone's two-factor sign-in off (a lost phone). Their next sign-in
    asks only for the password, or for setting it up again if REQUIRE_2FA applies."""
    if not identity.is_admin:
        raise Forbidden("Only admins can manage accounts.")
    oid = validate.object_id(user_id, "user_id")
    updated = await store_users.disable_totp(ctx.db, user_id=oid)
    if updated is None:
        if await store_users.by_id(ctx.db, user_id=oid) is None:
            raise NotFound("This account does not exist.")
        raise Conflict("Two-factor sign-in is not on for this account.")
    await audit.record(ctx, actor=identity, action="user.2fa_reset", entity=("user", oid))
    return updated
