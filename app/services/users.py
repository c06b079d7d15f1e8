"""Agent and admin accounts: creation, sign-in, and turning a session cookie into an Identity."""

from __future__ import annotations

from dataclasses import dataclass

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from .. import clock, security
from ..config import Settings
from ..db import Database
from ..errors import Conflict, Invalid, Unauthorized
from ..security import Identity
from . import validate

ROLES = ("agent", "admin")
PASSWORD_MIN, PASSWORD_MAX = 8, 128

DEMO_ADMIN = {"email": "admin@example.com", "password": "admin-demo-1234", "name": "Ada Admin"}
DEMO_AGENT = {"email": "agent@example.com", "password": "agent-demo-1234", "name": "Alan Agent"}


class BadCredentials(Unauthorized):
    def __init__(self) -> None:
        super().__init__("Wrong e-mail or password.")


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


@dataclass(frozen=True)
class SignIn:
    user: dict
    token: str


async def create_user(
    db: Database, *, email: str, name: str, password: str, role: str, settings: Settings
) -> dict:
    email = validate.email(email)
    name = validate.text(name, "name", max_len=80)
    role = validate.choice(role, "role", ROLES)
    password = new_password(password)
    now = clock.utcnow()
    doc = {
        "email": email,
        "name": name,
        "role": role,
        "password_hash": await security.hash_password(password, rounds=settings.bcrypt_rounds),
        "token_version": 0,
        "active": True,
        "created_at": now,
        "last_seen_at": None,
    }
    try:
        result = await db.users.insert_one(doc)
    except DuplicateKeyError:
        raise Conflict("An account with this e-mail already exists.", field="email") from None
    doc["_id"] = result.inserted_id
    return doc


async def ensure_user(
    db: Database, *, email: str, name: str, password: str, role: str, settings: Settings
) -> bool:
    """Create the account unless one with that e-mail exists; True when created."""
    if await db.users.find_one({"email": email.lower()}, {"_id": 1}):
        return False
    try:
        await create_user(db, email=email, name=name, password=password, role=role, settings=settings)
    except Conflict:
        return False
    return True


async def sign_in(db: Database, *, email: object, password: object, settings: Settings) -> SignIn:
    """Check the password and issue a fresh token. Unknown e-mail and wrong password raise the
    same error after the same bcrypt work, so neither the answer nor its timing tells them apart."""
    if not isinstance(email, str) or not isinstance(password, str) or not email or not password:
        raise BadCredentials()
    user = await db.users.find_one({"email": email.strip().lower()[:254]})
    ok = await security.check_password(password, user.get("password_hash") if user else None,
                                      rounds=settings.bcrypt_rounds)
    if not ok or not user or not user.get("active", True):
        raise BadCredentials()
    if security.needs_rehash(user["password_hash"], settings.bcrypt_rounds):
        # Made the old way (before the pre-hash) or at another cost: the password is known
        # now, so store it the current way. Only if nobody changed it meanwhile.
        fresh = await security.hash_password(password, rounds=settings.bcrypt_rounds)
        await db.users.update_one({"_id": user["_id"], "password_hash": user["password_hash"]},
                                  {"$set": {"password_hash": fresh}})
    now = clock.utcnow()
    await db.users.update_one({"_id": user["_id"]}, {"$set": {"last_seen_at": now}})
    user["last_seen_at"] = now
    token = security.issue_token(
        user_id=str(user["_id"]),
        role=user["role"],
        token_version=user.get("token_version", 0),
        settings=settings,
    )
    return SignIn(user=user, token=token)


async def identity_from_token(db: Database, token: str | None, settings: Settings) -> Identity | None:
    """The signed-in agent behind a session cookie, or None. The role comes from the stored
    account, and a raised token_version or a deactivation ends every older token."""
    if not token:
        return None
    claims = security.decode_token(token, settings)
    if claims is None or not ObjectId.is_valid(claims["sub"]):
        return None
    user = await db.users.find_one({"_id": ObjectId(claims["sub"])})
    if not user or not user.get("active", True) or user.get("token_version", 0) != claims["tv"]:
        return None
    return Identity(
        role=user["role"], id=str(user["_id"]), name=user["name"], token_version=claims["tv"]
    )


async def get_user(db: Database, *, user_id: str) -> dict | None:
    if not ObjectId.is_valid(user_id):
        return None
    return await db.users.find_one({"_id": ObjectId(user_id)})


async def list_active_agents(db: Database) -> list[dict]:
    """Every active agent and admin, by name: who a ticket can be assigned to."""
    return await db.users.find({"active": True, "role": {"$in": list(ROLES)}}).sort(
        [("name", 1), ("_id", 1)]).to_list(1000)


async def active_admin_ids(db: Database) -> list[str]:
    admins = await db.users.find({"active": True, "role": "admin"}, {"_id": 1}).to_list(1000)
    return [str(a["_id"]) for a in admins]


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
