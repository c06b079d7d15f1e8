"""Canned replies: texts an agent inserts by typing `/` and a shortcut in the reply box.
Team replies are managed by admins and offered to everyone; personal ones by their owner,
and offered to them only. Placeholders such as {{guest.name}} are filled in by the
dashboard when the reply is inserted (the agent reads it before sending). Every change is
audited."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from ... import clock
from ...errors import Conflict, Forbidden, Invalid, NotFound
from ...security import Identity
from ...store import canned_replies as stored
from ..core import Ctx, validate
from ..operations import audit

SCOPES = ("team", "personal")
TEAM = "team"
SHORTCUT_MAX, TITLE_MAX, BODY_MAX = 32, 80, 5000
PER_OWNER_MAX = 200
PLACEHOLDERS = ("guest.name", "guest.first_name", "guest.email", "agent.name", "agent.first_name",
                "ticket.subject")
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
EDITABLE = ("shortcut", "title", "body")


@dataclass
class Allowed:
    """What the caller may do with a reply."""

    owner_key: str
    scope: str


def _owner_key(identity: Identity, scope: str) -> str:
    if not identity.is_agent:
        raise Forbidden()
    if scope == TEAM:
        if not identity.is_admin:
            raise Forbidden("Only admins manage the team's canned replies.")
        return TEAM
    return identity.id


def check_shortcut(value: object) -> str:
    if not isinstance(value, str):
        raise Invalid("shortcut must be text.", field="shortcut")
    value = value.strip().lstrip("/").lower()
    if not 1 <= len(value) <= SHORTCUT_MAX or not _SHORTCUT.match(value):
        raise Invalid(f"A shortcut is 1 to {SHORTCUT_MAX} lower-case letters, digits, - and _, "
                      "starting with a letter or digit.", field="shortcut")
    return value


def check_body(value: object) -> str:
    body = validate.text(value, "body", max_len=BODY_MAX)
    for name in _PLACEHOLDER.findall(body):
        if name not in PLACEHOLDERS:
            known = ", ".join("{{" + p + "}}" for p in PLACEHOLDERS)
            raise Invalid(f"{{{{{name}}}}} is not a placeholder we can fill. Use {known}.", field="body")
    return body


def _fields(changes: dict) -> dict:
    fields = {}
    if "shortcut" in changes:
        fields["shortcut"] = check_shortcut(changes["shortcut"])
    if "title" in changes:
        fields["title"] = validate.text(changes["title"], "title", max_len=TITLE_MAX)
    if "body" in changes:
        fields["body"] = check_body(changes["body"])
    return fields


async def list_for(ctx: Ctx, *, identity: Identity) -> list[dict]:
    """The team's replies and the caller's own, by shortcut."""
    if not identity.is_agent:
        raise Forbidden()
    return await stored.of_owners(ctx.db, owner_keys=[TEAM, identity.id], limit=2 * PER_OWNER_MAX)


async def create(ctx: Ctx, *, identity: Identity, data: object) -> dict:
    data = validate.payload(data)
    unknown = sorted(set(data) - {"scope", *EDITABLE})
    if unknown:
        raise Invalid(f"{unknown[0]} is not a field of a canned reply.", field=unknown[0])
    scope = validate.choice(data.get("scope", "personal"), "scope", SCOPES)
    owner_key = _owner_key(identity, scope)
    for name in EDITABLE:
        if name not in data:
            raise Invalid(f"Give the reply's {name}.", field=name)
    fields = _fields(data)
    if await stored.count_of(ctx.db, owner_key=owner_key) >= PER_OWNER_MAX:
        raise Conflict(f"There are {PER_OWNER_MAX} replies here already: remove one first.")
    now = clock.utcnow()
    reply = await stored.insert(ctx.db, reply={
        **fields, "scope": scope, "owner_key": owner_key, "created_at": now, "updated_at": now,
        "created_by": ObjectId(identity.id)})
    if reply is None:
        raise Conflict(f"/{fields['shortcut']} is taken already.", field="shortcut")
    await audit.record(ctx, actor=identity, action="canned_reply.create",
                       entity=("canned_reply", reply["_id"]), after=_snapshot(reply))
    return reply


async def _mine(ctx: Ctx, identity: Identity, reply_id: object) -> dict:
    """The reply, if the caller may change it: a team reply for admins, one's own for its
    owner. Someone else's personal reply does not exist as far as the caller can tell."""
    if not identity.is_agent:
        raise Forbidden()
    reply = await stored.get(ctx.db, reply_id=validate.object_id(reply_id, "reply_id"))
    if reply is None or (reply["owner_key"] != TEAM and reply["owner_key"] != identity.id):
        raise NotFound("This canned reply does not exist.")
    _owner_key(identity, reply["scope"])
    return reply


async def update(ctx: Ctx, *, identity: Identity, reply_id: object, changes: object) -> dict:
    changes = validate.payload(changes)
    unknown = sorted(set(changes) - set(EDITABLE))
    if unknown:
        raise Invalid(f"Only shortcut, title and body can be changed, not {unknown[0]}.", field=unknown[0])
    fields = _fields(changes)
    if not fields:
        raise Invalid("Give a shortcut, title or body to change.")
    reply = await _mine(ctx, identity, reply_id)
    try:
        updated = await stored.change(ctx.db, reply_id=reply["_id"], owner_key=reply["owner_key"],
                                      fields=fields, at=clock.utcnow())
    except DuplicateKeyError:
        raise Conflict(f"/{fields['shortcut']} is taken already.", field="shortcut") from None
    if updated is None:
        raise NotFound("This canned reply does not exist.")
    if _snapshot(updated) != _snapshot(reply):
        await audit.record(ctx, actor=identity, action="canned_reply.update",
                           entity=("canned_reply", reply["_id"]), before=_snapshot(reply),
                           after=_snapshot(updated))
    return updated


async def delete(ctx: Ctx, *, identity: Identity, reply_id: object) -> None:
    reply = await _mine(ctx, identity, reply_id)
    gone = await stored.delete(ctx.db, reply_id=reply["_id"], owner_key=reply["owner_key"])
    if gone is None:
        raise NotFound("This canned reply does not exist.")
    await audit.record(ctx, actor=identity, action="canned_reply.delete",
                       entity=("canned_reply", reply["_id"]), before=_snapshot(gone))


def _snapshot(reply: dict) -> dict:
    return {k: reply.get(k) for k in ("scope", "shortcut", "title", "body")}
