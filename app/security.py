"""Passwords, the agent session token (JWT), and the signed guest id."""

from __future__ import annotations

import asyncio
import base64
import functools
import hashlib
import hmac
import secrets
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import datetime
from http.cookies import SimpleCookie

import bcrypt
import jwt

from . import clock
from .config import Settings

SESSION_COOKIE = "sc_session"
GUEST_COOKIE = "sc_guest"
JWT_ALGORITHM = "HS256"


@dataclass(frozen=True)
class Identity:
    """Who is on the other end of a request or a socket; always built server-side."""

    role: str  # "guest" | "agent" | "admin" | "api" (an API token, services/people/api_tokens.py)
    id: str  # user id, the guest id, or the API token's id
    name: str
    token_version: int = 0
    # Agents: the sign-in session (the token's jti) and when it expires.
    session_id: str | None = None
    session_expires_at: datetime | None = None
    # API tokens: "read" or "read-write" (None for people).
    scope: str | None = None

    @property
    def is_agent(self) -> bool:
        """Agents, admins, and API tokens, which services treat as agents (never admins)."""
        return self.role in ("agent", "admin", "api")

    @property
    def is_token(self) -> bool:
        return self.role == "api"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    @property
    def is_guest(self) -> bool:
        return self.role == "guest"


# --- passwords ----------------------------------------------------------------------
#
# bcrypt reads at most 72 bytes, and bcrypt 5 refuses longer input instead of cutting it:
# a 40-character password of "ü" is 80 bytes. So a password is first reduced to a fixed
# 44 bytes: HMAC-SHA256 of its UTF-8 bytes (after NFKC normalisation), base64-encoded
# (base64, because bcrypt stops at a NUL byte and a raw digest may contain one). The HMAC
# key is a constant, not a secret: it only makes our pre-hash differ from a bare SHA-256, so
# that a bcrypt hash stored here cannot be tested against unsalted SHA-256 hashes leaked
# elsewhere ("hash shucking"), and hashes keep working when SECRET_KEY changes. Such hashes
# are stored with the PREHASHED prefix; hashes made before it (plain bcrypt of the first 72
# bytes) still verify the old way and are replaced at the person's next sign-in.

PREHASHED = "sc1$"
_PREHASH_KEY = b"support-chat password pre-hash v1"


def _prehash(password: str) -> bytes:
    # NFKC: the same password typed on another keyboard or system (composed or decomposed
    # accents, full-width digits) gives the same bytes. surrogatepass: JSON can carry a lone
    # surrogate, which no keyboard types; it must fail to match, never crash.
    normalized = unicodedata.normalize("NFKC", password)
    digest = hmac.new(_PREHASH_KEY, normalized.encode("utf-8", "surrogatepass"), hashlib.sha256).digest()
    return base64.b64encode(digest)


def _hash_sync(password: str, rounds: int) -> str:
    return PREHASHED + bcrypt.hashpw(_prehash(password), bcrypt.gensalt(rounds=rounds)).decode()


def _check_sync(password: str, stored: str) -> bool:
    try:
        if stored.startswith(PREHASHED):
            return bcrypt.checkpw(_prehash(password), stored[len(PREHASHED):].encode())
        # A hash made before the pre-hash: bcrypt of the first 72 bytes, as bcrypt 4 did.
        return bcrypt.checkpw(password.encode("utf-8", "surrogatepass")[:72], stored.encode())
    except ValueError:  # not a bcrypt hash at all
        return False


@functools.cache
def dummy_hash(rounds: int) -> str:
    """A real hash, at the configured cost and in the current format, of a password nobody
    knows: checked when the e-mail is unknown, so that the answer costs the same work and
    time as a wrong password for a real account."""
    return _hash_sync(secrets.token_urlsafe(32), rounds)


def hash_cost(stored: str) -> int:
    """bcrypt's cost factor of a stored hash (the 12 in $2b$12$...)."""
    return int(stored.removeprefix(PREHASHED).split("$")[2])


def needs_rehash(stored: str, rounds: int) -> bool:
    """Made the old way or at another cost: worth replacing once the password is known."""
    return not stored.startswith(PREHASHED) or hash_cost(stored) != rounds


async def hash_password(password: str, *, rounds: int = 12) -> str:
    # bcrypt takes a quarter of a second at the default cost: keep it off the event loop.
    return await asyncio.to_thread(_hash_sync, password, rounds)


async def check_password(password: str, password_hash: str | None, *, rounds: int = 12) -> bool:
    """Whether the password matches. With no hash (unknown e-mail, an invitation not yet
    accepted) the dummy hash at this cost is checked, and the answer is False."""
    target = password_hash or dummy_hash(rounds)
    ok = await asyncio.to_thread(_check_sync, password, target)
    return ok and password_hash is not None


def _jwt_key(settings: Settings) -> bytes:
    # Derived, so it is always 32 bytes and never the same key as the guest cookie's.
    return hashlib.sha256(b"session-jwt:" + settings.secret_key.encode()).digest()


def new_session_id() -> str:
    return uuid.uuid4().hex


def issue_token(*, user_id: str, role: str, token_version: int, session_id: str,
                expires_at: datetime, settings: Settings) -> str:
    """The session cookie's JWT. Its jti names the session record (services/people/sessions.py),
    which decides whether it is still good: the signature alone is not enough."""
    claims = {
        "sub": user_id,
        "role": role,
        "tv": token_version,
        "jti": session_id,
        "iat": clock.utcnow(),
        "exp": expires_at,
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
    if not all(isinstance(claims.get(k), str) for k in ("sub", "jti")) or not isinstance(claims.get("tv"), int):
        return None
    return claims


def new_guest_id() -> str:
    return secrets.token_hex(16)


def _guest_signature(guest_id: str, settings: Settings) -> str:
    key = hashlib.sha256(b"guest-cookie:" + settings.secret_key.encode()).digest()
    return hmac.new(key, guest_id.encode(), hashlib.sha256).hexdigest()


def sign_guest_id(guest_id: str, settings: Settings) -> str:
    return f"{guest_id}.{_guest_signature(guest_id, settings)}"


def verify_guest_cookie(value: object, settings: Settings) -> str | None:
    """The guest id inside a cookie value (or the same value from the widget's own storage),
    or None when it is missing, forged or not text."""
    if not isinstance(value, str) or not value or len(value) > 200 or value.count(".") != 1:
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


# --- links and addresses that stand for a guest (issue 12) ---------------------------------
#
# Each kind of token is an HMAC-SHA256 under a key derived from SECRET_KEY for that purpose
# alone, so that a token made for one use (an unread badge) is never good for another (a
# resume link): the guest cookie, the resume link, the reply address, the rating link and
# the badge all sign with different keys.

GUEST_TOKEN_HEADER = "X-Guest-Token"
_HEX = frozenset("0123456789abcdef")


def _purpose_key(purpose: str, settings: Settings) -> bytes:
    return hashlib.sha256(f"{purpose}:".encode() + settings.secret_key.encode()).digest()


def _sign(purpose: str, text: str, settings: Settings, *, length: int = 64) -> str:
    return hmac.new(_purpose_key(purpose, settings), text.encode(), hashlib.sha256).hexdigest()[:length]


def _is_hex(value: str, length: int) -> bool:
    return len(value) == length and set(value) <= _HEX


@dataclass(frozen=True)
class ResumeLink:
    """What a resume link says, once its signature is checked."""

    guest_id: str
    ticket_id: str
    expires_at: int  # Unix seconds
    expired: bool


def resume_token(guest_id: str, ticket_id: str, settings: Settings, *, now: float | None = None) -> str:
    """A link's token that gives the browser opening it this guest's identity, until it
    expires (RESUME_LINK_DAYS), and opens this ticket."""
    moment = clock.utcnow().timestamp() if now is None else now
    expires = int(moment) + settings.resume_link_days * 86400
    body = f"{guest_id}.{ticket_id}.{expires}"
    return f"{body}.{_sign('resume-link', body, settings)}"


def verify_resume_token(value: object, settings: Settings) -> ResumeLink | None:
    """The link's guest and ticket, with `expired` said; None when it is not one of ours
    (altered, cut, or signed with another key)."""
    if not isinstance(value, str) or len(value) > 200 or value.count(".") != 3:
        return None
    guest_id, ticket_id, expires, signature = value.split(".")
    if not (_is_hex(guest_id, 32) and _is_hex(ticket_id, 24) and expires.isascii() and expires.isdigit()
            and len(expires) <= 12):
        return None
    body = f"{guest_id}.{ticket_id}.{expires}"
    if not hmac.compare_digest(signature, _sign("resume-link", body, settings)):
        return None
    expires_at = int(expires)
    return ResumeLink(guest_id=guest_id, ticket_id=ticket_id, expires_at=expires_at,
                      expired=clock.utcnow().timestamp() >= expires_at)


# A reply address's local part: "reply+" and this token, within the 64 characters SMTP allows,
# lower-case only (some mail systems lower-case addresses). 80 bits of signature.
REPLY_SIGNATURE_LENGTH = 20


def reply_token(ticket_id: str, settings: Settings) -> str:
    return f"{ticket_id}.{_sign('reply-address', ticket_id, settings, length=REPLY_SIGNATURE_LENGTH)}"


def verify_reply_token(value: object, settings: Settings) -> str | None:
    """The ticket id of a reply address's token, or None."""
    if not isinstance(value, str) or value.count(".") != 1:
        return None
    ticket_id, signature = value.lower().split(".")
    if not _is_hex(ticket_id, 24) or not _is_hex(signature, REPLY_SIGNATURE_LENGTH):
        return None
    expected = _sign("reply-address", ticket_id, settings, length=REPLY_SIGNATURE_LENGTH)
    return ticket_id if hmac.compare_digest(signature, expected) else None


def rating_token(ticket_id: str, settings: Settings) -> str:
    """The closing e-mail's link to rate the conversation (the service decides how long)."""
    return f"{ticket_id}.{_sign('rating-link', ticket_id, settings, length=32)}"


def verify_rating_token(value: object, settings: Settings) -> str | None:
    if not isinstance(value, str) or value.count(".") != 1:
        return None
    ticket_id, signature = value.split(".")
    if not _is_hex(ticket_id, 24) or not _is_hex(signature, 32):
        return None
    return ticket_id if hmac.compare_digest(signature, _sign("rating-link", ticket_id, settings, length=32)) else None


def badge_token(guest_id: str, settings: Settings) -> str:
    """What the launcher on the shop's page holds: it reads this guest's unread count and
    nothing else, so the shop's scripts never hold the guest's identity."""
    return f"{guest_id}.{_sign('unread-badge', guest_id, settings, length=32)}"


def verify_badge_token(value: object, settings: Settings) -> str | None:
    if not isinstance(value, str) or value.count(".") != 1:
        return None
    guest_id, signature = value.split(".")
    if not _is_hex(guest_id, 32) or not _is_hex(signature, 32):
        return None
    return guest_id if hmac.compare_digest(signature, _sign("unread-badge", guest_id, settings, length=32)) else None
