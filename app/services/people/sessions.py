"""Sign-in sessions: one record per sign-in, named by the token's `jti`.

A signed token is not enough on its own: the session it names must still be open and
unexpired, so that signing out (here, or from another browser's /account) ends it at once.
A session is "active" (fully signed in) or, after the password of someone with two-factor
sign-in, half open: "code" (can do nothing but give a code) or "enrol" (can do nothing but
set up two-factor sign-in, when REQUIRE_2FA asks for it). Half-open sessions last minutes.

Sockets opened with a session are in its room (`session:<jti>`); ending the session closes
that room on every process, which cuts them (app/sockets/sessions.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from bson import ObjectId

from ... import clock, security
from ...config import Settings
from ...db import Database
from ...security import Identity
from ...store import sessions as store_sessions
from ...store import users as store_users
from ..core import Ctx, client

ACTIVE, CODE, ENROL = "active", "code", "enrol"
PENDING_VALID = timedelta(minutes=10)
# last_seen_at is written at most this often per session, not on every request.
TOUCH_EVERY = timedelta(minutes=1)
ROOM_PREFIX = "session:"


def session_room(session_id: str) -> str:
    return f"{ROOM_PREFIX}{session_id}"


def is_session_room(room: object) -> bool:
    return isinstance(room, str) and room.startswith(ROOM_PREFIX)


@dataclass(frozen=True)
class Started:
    session: dict
    token: str

    @property
    def max_age(self) -> int:
        """Seconds the cookie should live: as long as the session."""
        return max(1, int((self.session["expires_at"] - clock.utcnow()).total_seconds()))


@dataclass(frozen=True)
class Current:
    """An open session and its account, as the cookie named them."""

    session: dict
    user: dict

    @property
    def stage(self) -> str:
        return self.session["stage"]

    @property
    def identity(self) -> Identity:
        return Identity(
            role=self.user["role"], id=str(self.user["_id"]), name=self.user["name"],
            token_version=self.user.get("token_version", 0), session_id=self.session["_id"],
            session_expires_at=self.session["expires_at"],
        )


async def start(ctx: Ctx, *, user: dict, stage: str = ACTIVE) -> Started:
    """A new session for this account, from the current request's address and browser."""
    now = clock.utcnow()
    lifetime = timedelta(hours=ctx.settings.session_hours) if stage == ACTIVE else PENDING_VALID
    info = client.current()
    session = await store_sessions.insert(ctx.db, session={
        "_id": security.new_session_id(),
        "user_id": user["_id"],
        "stage": stage,
        "created_at": now,
        "last_seen_at": now,
        "expires_at": now + lifetime,
        "ip": info.ip,
        "user_agent": info.user_agent,
        "ended_at": None,
    })
    token = security.issue_token(
        user_id=str(user["_id"]), role=user["role"], token_version=user.get("token_version", 0),
        session_id=session["_id"], expires_at=session["expires_at"], settings=ctx.settings,
    )
    return Started(session=session, token=token)


async def current(db: Database, token: str | None, settings: Settings) -> Current | None:
    """The open session behind a cookie, at any stage; None when the token is forged or
    expired, its session ended or expired, or the account is gone, deactivated or has
    raised its token_version since."""
    if not token:
        return None
    claims = security.decode_token(token, settings)
    if claims is None or not ObjectId.is_valid(claims["sub"]) or len(claims["jti"]) > 64:
        return None
    session = await store_sessions.by_id(db, session_id=claims["jti"])
    now = clock.utcnow()
    if (session is None or session.get("ended_at") is not None or session["expires_at"] <= now
            or str(session["user_id"]) != claims["sub"]):
        return None
    user = await store_users.by_id(db, user_id=session["user_id"])
    if not user or not user.get("active", True) or user.get("token_version", 0) != claims["tv"]:
        return None
    if now - session["last_seen_at"] >= TOUCH_EVERY:
        await store_sessions.touch(db, session_id=session["_id"], at=now)
        session = {**session, "last_seen_at": now}
    return Current(session=session, user=user)


async def end(ctx: Ctx, *, session_id: str, reason: str, user_id: ObjectId | None = None) -> dict | None:
    """End one session (of this person, when given) and cut its sockets; None if it was
    not open."""
    ended = await store_sessions.end(ctx.db, session_id=session_id, at=clock.utcnow(), reason=reason,
                                     user_id=user_id)
    if ended is not None:
        await cut_sockets(ctx, session_id=session_id)
    return ended


async def end_all(ctx: Ctx, *, user_id: ObjectId, reason: str) -> None:
    """End every session of this person. Their sockets are cut by the caller, through
    presence.disconnect_user (one step for all of them, on every process)."""
    await store_sessions.end_all_of_user(ctx.db, user_id=user_id, at=clock.utcnow(), reason=reason)


async def list_open(ctx: Ctx, *, user_id: ObjectId) -> list[dict]:
    return await store_sessions.open_of_user(ctx.db, user_id=user_id, now=clock.utcnow())


async def cut_sockets(ctx: Ctx, *, session_id: str) -> None:
    """Disconnect every socket opened with this session, in whichever process holds it:
    closing its room does that (the Redis manager carries the close to every process)."""
    if ctx.sockets is None:
        return
    await ctx.sockets.close_room(session_room(session_id))


async def open_among(db: Database, *, session_ids: list[str]) -> set[str]:
    return await store_sessions.open_among(db, session_ids=session_ids, now=clock.utcnow())


def expires_in(expires_at: datetime) -> float:
    return (expires_at - clock.utcnow()).total_seconds()
