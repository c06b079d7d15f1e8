"""Passwords, the agent session token (JWT), and the signed guest id."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta
from http.cookies import SimpleCookie

import bcrypt
import jwt

from . import clock
from .config import Settings

SESSION_COOKIE = "sc_session"
GUEST_COOKIE = "sc_guest"
JWT_ALGORITHM = "HS256"

# A real hash of a random password, checked when the e-mail is unknown so that the answer
# takes as long as for a wrong password.
_DUMMY_HASH = bcrypt.hashpw(secrets.token_bytes(16), bcrypt.gensalt(rounds=4))


@dataclass(frozen=True)
class Identity:
    """Who is on the other end of a request or a socket; always built server-side."""

    role: str  # "guest" | "agent" | "admin"
    id: str  # user id, or the guest id
    name: str
    token_version: int = 0

    @property
    def is_agent(self) -> bool:
        return self.role in ("agent", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_guest(self) -> bool:
        return self.role == "guest"


def _hash_sync(password: str, rounds: int) -> str:
    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=rounds)).decode()


def _check_sync(password: str, password_hash: str | None) -> bool:
    target = password_hash.encode() if password_hash else _DUMMY_HASH
    ok = bcrypt.checkpw(password.encode()[:72], target)
    return ok and password_hash is not None


async def hash_password(password: str, *, rounds: int = 12) -> str:
    # bcrypt takes a quarter of a second at the default cost: keep it off the event loop.
    return await asyncio.to_thread(_hash_sync, password[:72], rounds)


async def check_password(password: str, password_hash: str | None) -> bool:
    return await asyncio.to_thread(_check_sync, password, password_hash)


def _jwt_key(settings: Settings) -> bytes:
    # Derived, so it is always 32 bytes and never the same key as the guest cookie's.
    return hashlib.sha256(b"session-jwt:" + settings.secret_key.encode()).digest()


def issue_token(*, user_id: str, role: str, token_version: int, settings: Settings) -> str:
    now = clock.utcnow()
    claims = {
        "sub": user_id,
        "role": role,
        "tv": token_version,
        "jti": uuid.uuid4().hex,
        "iat": now,
        "exp": now + timedelta(hours=settings.session_hours),
    }
    return jwt.encode(claims, _jwt_key(settings), algorithm=JWT_ALGORITHM)


def decode_token(token: str, settings: Settings) -> dict | None:
    """The verified claims, or None for anything forged, expired or malformed."""
    try:
        claims = jwt.decode(
            token,
            _jwt_key(settings),
            algorithms=[JWT_ALGORITHM],
            options={"require": ["sub", "role", "tv", "jti", "exp"]},
        )
    except jwt.PyJWTError:
        return None
    if not isinstance(claims.get("sub"), str) or not isinstance(claims.get("tv"), int):
        return None
    return claims


def new_guest_id() -> str:
    return secrets.token_hex(16)


def _guest_signature(guest_id: str, settings: Settings) -> str:
    key = hashlib.sha256(b"guest-cookie:" + settings.secret_key.encode()).digest()
    return hmac.new(key, guest_id.encode(), hashlib.sha256).hexdigest()


def sign_guest_id(guest_id: str, settings: Settings) -> str:
    return f"{guest_id}.{_guest_signature(guest_id, settings)}"


def verify_guest_cookie(value: str | None, settings: Settings) -> str | None:
    """The guest id inside a cookie value, or None when it is missing or forged."""
    if not value or value.count(".") != 1:
        return None
    guest_id, signature = value.split(".")
    if len(guest_id) != 32 or not all(c in "0123456789abcdef" for c in guest_id):
        return None
    if not hmac.compare_digest(signature, _guest_signature(guest_id, settings)):
        return None
    return guest_id


def parse_cookie_header(header: str | None) -> dict[str, str]:
    if not header:
        return {}
    jar = SimpleCookie()
    try:
        jar.load(header)
    except Exception:
        return {}
    return {key: morsel.value for key, morsel in jar.items()}


def cookie_options(settings: Settings, *, max_age: int) -> dict:
    """The agent session cookie: HttpOnly, SameSite=Lax, Secure in production."""
    return {
        "httponly": True,
        "samesite": "Lax",
        "secure": settings.production,
        "path": "/",
        "max_age": max_age,
    }


def guest_set_cookie(value: str, settings: Settings) -> str:
    """The Set-Cookie header for the guest cookie. It must also reach the widget when another
    site frames it: a Lax cookie is not sent to a cross-site iframe, so production (HTTPS)
    uses SameSite=None with Partitioned (CHIPS), kept per embedding site as browsers require
    for third-party contexts. Development over plain HTTP cannot use SameSite=None: Lax.
    Written by hand because Python 3.11's http.cookies does not know Partitioned."""
    max_age = settings.guest_cookie_days * 86400
    parts = [f"{GUEST_COOKIE}={value}", f"Max-Age={max_age}", "Path=/", "HttpOnly"]
    if settings.production:
        parts += ["Secure", "SameSite=None", "Partitioned"]
    else:
        parts.append("SameSite=Lax")
    return "; ".join(parts)
