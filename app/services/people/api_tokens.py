"""API tokens: how integrations call the /api/ routes without a browser's cookie.

An admin creates a token with a name and a scope; the token is shown once and only its
SHA-256 is stored (a token is 256 random bits, so a fast hash is enough: nobody can guess
one from its hash, unlike a password). A request that sends `Authorization: Bearer <token>`
acts as the token, a dedicated identity of role `api`: services treat it as an agent
(it reads every ticket and, with `read-write`, changes them, replies and writes notes), but
it is never an admin and never a person (no account, password, sessions or inbox). A
`read` token may only GET. Each token has its own rate limit (RATE_LIMIT_API_TOKEN); its
last use is recorded at most once a minute. Creating and revoking are audited."""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from ... import clock
from ...errors import Conflict, Forbidden, NotFound, Unauthorized
from ...security import Identity
from ...store import api_tokens as stored
from ..core import Ctx, ratelimit, validate
from ..operations import audit

SCOPES = ("read", "read-write")
ACTIONS = ("api_token.create", "api_token.revoke")
PREFIX = "sct_"
NAME_MAX = 80
LIST_MAX = 500  # far more tokens than any team makes; the list is not paged
TOUCH_EVERY = timedelta(minutes=1)
PREFIX_SHOWN = 8  # characters after "sct_" shown on the admin page to tell tokens apart
# What a token looks like: the prefix and 43 characters of URL-safe base64 (32 bytes).
_TOKEN = re.compile(r"sct_[A-Za-z0-9_-]{43}")
ROLE = "api"
INVALID = "This API token is not valid, or it has been revoked."


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden("Only admins can manage API tokens.")


async def create(ctx: Ctx, *, identity: Identity, name: object, scope: object) -> tuple[dict, str]:
    """A new token: the stored record, and the token itself (shown this once)."""
    _require_admin(identity)
    name = validate.text(name, "name", max_len=NAME_MAX)
    scope = validate.choice(scope, "scope", SCOPES)
    token = PREFIX + secrets.token_urlsafe(32)
    doc = await stored.insert(ctx.db, token={
        "name": name,
        "scope": scope,
        "token_hash": token_hash(token),
        "prefix": token[: len(PREFIX) + PREFIX_SHOWN],
        "created_at": clock.utcnow(),
        "created_by": {"id": identity.id, "name": identity.name},
        "last_used_at": None,
        "revoked_at": None,
    })
    await audit.record(ctx, actor=identity, action="api_token.create", entity=("api_token", doc["_id"]),
                       after={"name": name, "scope": scope, "prefix": doc["prefix"]})
    return doc, token


async def list_all(ctx: Ctx, *, identity: Identity) -> list[dict]:
    _require_admin(identity)
    return await stored.newest(ctx.db, limit=LIST_MAX)


async def revoke(ctx: Ctx, *, identity: Identity, token_id: object) -> dict:
    """Revoke a token: its next request answers 401. Audited; revoking twice is a 409."""
    _require_admin(identity)
    oid = validate.object_id(token_id, "token_id")
    doc = await stored.revoke(ctx.db, token_id=oid, at=clock.utcnow(),
                              by={"id": identity.id, "name": identity.name})
    if doc is None:
        if await stored.get(ctx.db, token_id=oid) is None:
            raise NotFound("This API token does not exist.")
        raise Conflict("This API token is revoked already.")
    await audit.record(ctx, actor=identity, action="api_token.revoke", entity=("api_token", oid),
                       before={"name": doc["name"], "scope": doc["scope"], "revoked": False},
                       after={"revoked": True})
    return doc


async def authenticate(ctx: Ctx, *, token: str) -> Identity:
    """The identity of a bearer token, counted against its rate limit; Unauthorized when
    it is malformed, unknown or revoked (the same answer for each)."""
    if not _TOKEN.fullmatch(token):
        raise Unauthorized(INVALID)
    doc = await stored.by_hash(ctx.db, token_hash=token_hash(token))
    if doc is None or doc.get("revoked_at") is not None:
        raise Unauthorized(INVALID)
    await ratelimit.hit(ctx, "api_token", str(doc["_id"]))
    now = clock.utcnow()
    last = doc.get("last_used_at")
    if last is None or now - last >= TOUCH_EVERY:
        await stored.touch(ctx.db, token_id=doc["_id"], at=now, unless_since=now - TOUCH_EVERY)
    return Identity(role=ROLE, id=str(doc["_id"]), name=doc["name"], scope=doc["scope"])
