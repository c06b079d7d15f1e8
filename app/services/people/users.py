"""Agent and admin accounts: creation, checking a password, and turning a session cookie
into an Identity. Every query is in app/store/users.py."""

from __future__ import annotations

from bson import ObjectId

from ... import clock, security
from ...config import Settings
from ...db import Database
from ...errors import MESSAGES, Conflict, Forbidden, Invalid, Unauthorized
from ...security import Identity
from ...store import users as store_users
from ..core import validate
from . import sessions

ROLES = ("agent", "admin")
PASSWORD_MIN, PASSWORD_MAX = 8, 128

DEMO_ADMIN = {"email": "admin@example.com", "password": "admin-demo-1234", "name": "Ada Admin"}
DEMO_AGENT = {"email": "agent@example.com", "password": "agent-demo-1234", "name": "Alan Agent"}


class BadCredentials(Unauthorized):
    def __init__(self) -> None:
        super().__init__(MESSAGES["bad_credentials"])


class AccountDeactivated(Forbidden):
    """The right password for a deactivated account: said plainly, since whoever typed it
    knows the password already."""

    def __init__(self) -> None:
        super().__init__(MESSAGES["deactivated"])


def new_password(value: object, field: str = "password") -> str:
    """A password someone chooses: 8 to 128 characters of any script, taken as typed (not
    stripped: spaces count). The length is in characters, not bytes: the pre-hash in
    security.py makes every password fit bcrypt."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text.", field=field)
    if not PASSWORD_MIN <= len(value) <= PASSWORD_MAX:
        raise Invalid(f"The password must be {PASSWORD_MIN} to {PASSWORD_MAX} characters long.",
                      field=field)
    return value


def new_account(*, email: object, name: object, role: object, password_hash: str | None) -> dict:
    """A checked account document, not stored yet."""
    return {
        "email": validate.email(email),
        "name": validate.text(name, "name", max_len=80),
        "role": validate.choice(role, "role", ROLES),
        "password_hash": password_hash,
        "token_version": 0,
        "active": True,
        "created_at": clock.utcnow(),
        "last_seen_at": None,
        "open_count": 0,  # open tickets assigned to them (kept by conversations/assignment.py)
    }


async def insert(db: Database, doc: dict) -> dict:
    user = await store_users.insert(db, user=doc)
    if user is None:
        raise Conflict("An account with this e-mail already exists.", field="email")
    return user


async def create_user(
    db: Database, *, email: str, name: str, password: str, role: str, settings: Settings
) -> dict:
    """An account with a password already chosen (start-up's admin, demo accounts, tests);
    admins invite people instead (accounts.invite)."""
    doc = new_account(email=email, name=name, role=role, password_hash=None)
    doc["password_hash"] = await security.hash_password(new_password(password),
                                                        rounds=settings.bcrypt_rounds)
    return await insert(db, doc)


async def ensure_user(
    db: Database, *, email: str, name: str, password: str, role: str, settings: Settings
) -> bool:
    """Create the account unless one with that e-mail exists; True when created."""
    if await store_users.email_taken(db, email=email.lower()):
        return False
    try:
        await create_user(db, email=email, name=name, password=password, role=role, settings=settings)
    except Conflict:
        return False
    return True


def email_key(email: object) -> str | None:
    """An e-mail as sign-in looks it up (and rate-limits it), or None."""
    return email.strip().lower()[:254] if isinstance(email, str) and email.strip() else None


async def check_credentials(db: Database, *, email: object, password: object,
                            settings: Settings) -> dict:
    """The account these credentials open. An unknown e-mail and a wrong password raise the
    same error after the same bcrypt work, at the configured cost, so neither the answer nor
    its timing tells them apart. Only with the right password is a deactivated account
    told apart (AccountDeactivated)."""
    key = email_key(email)
    if key is None or not isinstance(password, str) or not password:
        raise BadCredentials()
    user = await store_users.by_email(db, email=key)
    ok = await security.check_password(password, user.get("password_hash") if user else None,
                                      rounds=settings.bcrypt_rounds)
    if not ok or user is None:
        raise BadCredentials()
    if not user.get("active", True):
        raise AccountDeactivated()
    if security.needs_rehash(user["password_hash"], settings.bcrypt_rounds):
        # Made the old way (before the pre-hash) or at another cost: the password is known
        # now, so store it the current way. Only if nobody changed it meanwhile.
        fresh = await security.hash_password(password, rounds=settings.bcrypt_rounds)
        await store_users.replace_hash(db, user_id=user["_id"], old_hash=user["password_hash"],
                                       new_hash=fresh)
    return user


async def identity_from_token(db: Database, token: str | None, settings: Settings) -> Identity | None:
    """The signed-in agent behind a session cookie, or None. The session must be open and
    fully signed in (not waiting for a two-factor code); the role comes from the stored
    account."""
    current = await sessions.current(db, token, settings)
    if current is None or current.stage != sessions.ACTIVE:
        return None
    return current.identity


async def get_user(db: Database, *, user_id: str) -> dict | None:
    if not ObjectId.is_valid(user_id):
        return None
    return await store_users.by_id(db, user_id=ObjectId(user_id))


async def list_active_agents(db: Database) -> list[dict]:
    """Every active agent and admin, by name: who a ticket can be assigned to."""
    return await store_users.active_with_roles(db, roles=ROLES)


async def active_admin_ids(db: Database) -> list[str]:
    return [str(oid) for oid in await store_users.active_admin_ids(db)]


async def seed(db: Database, settings: Settings) -> list[str]:
    """The accounts start-up creates: ADMIN_EMAIL's admin, and demo accounts on the embedded
    store. Returns lines for the start-up banner."""
    lines = []
    if settings.admin_email and settings.admin_password:
        created = await ensure_user(
            db, email=settings.admin_email, name="Administrator", password=settings.admin_password,
            role="admin", settings=settings,
        )
        lines.append(f"admin {settings.admin_email}: {'created' if created else 'exists'}")
    if settings.seed_demo:
        for account, role in ((DEMO_ADMIN, "admin"), (DEMO_AGENT, "agent")):
            await ensure_user(db, role=role, settings=settings, **account)
            lines.append(f"demo {role}: {account['email']} / {account['password']}")
    return lines
