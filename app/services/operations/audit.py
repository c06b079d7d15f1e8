"""The audit trail: who did what, when, to what, from where, with before/after snapshots.

`record()` is called by the service that made the change, after the write. An audit write
that fails is retried a few times at once, then kept in an in-process backlog that a
background task keeps retrying (and logs loudly): the user's action never fails because
of it, and no event is dropped silently. Snapshots never hold password hashes or tokens.

An event is made storable before its first write: a value MongoDB cannot take (text with
lone surrogates, an integer beyond 8 bytes, an unknown type) is replaced by a readable
stand-in, and `meta.sanitized` lists the fields replaced. An event the database still
refuses for its content never holds up the events behind it in the backlog: it goes to the
back, and after a few refusals it is set aside (logged in full, like events unwritten at
shutdown)."""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import quote

from bson import ObjectId
from bson.errors import BSONError
from pymongo.errors import DuplicateKeyError, WriteError

from ... import clock
from ...errors import Forbidden, Invalid
from ...security import Identity
from ...store import audit as stored
from ...store import tickets as store_tickets
from ...store import users as store_users
from ...store.audit import AuditFilters
from ..conversations import ADMINS_ROOM, Change, payloads, tickets
from ..core import Ctx, client, cursors, useragent, validate

log = logging.getLogger(__name__)

# The actions written today (another module may add more: the name is free text).
ACTIONS = (
    "auth.login", "auth.login_failed", "auth.logout",
    "user.create", "user.update", "user.deactivate", "user.reactivate",
    "user.password_change", "user.password_reset_request", "user.password_reset",
    "ticket.create", "ticket.close", "ticket.update", "ticket.escalate", "ticket.auto_resolve",
    "ticket.auto_assign",
    "note.create", "ticket.csat",
    "job.retry", "settings.update", "attachment.create",
    "canned_reply.create", "canned_reply.update", "canned_reply.delete",
)

# Every action in words, grouped as the audit page's filter lists them. The one place that
# names them: rows, the filter and the live events all read it. An action missing here is
# shown by its name.
ACTION_GROUPS: tuple[tuple[str, dict[str, str]], ...] = (
    ("Signing in", {
        "auth.login": "Signed in",
        "auth.login_failed": "Sign-in refused",
        "auth.login_second_step": "Password accepted, code next",
        "auth.code_failed": "Wrong two-factor code",
        "auth.logout": "Signed out",
        "auth.session_end": "Signed out another browser",
        "auth.logout_everywhere": "Signed out everywhere",
    }),
    ("Accounts", {
        "user.create": "Created an account",
        "user.invite": "Sent an invitation",
        "user.invitation_resend": "Sent a new invitation",
        "user.invitation_accept": "Accepted an invitation",
        "user.update": "Changed an account",
        "user.deactivate": "Deactivated an account",
        "user.reactivate": "Reactivated an account",
    }),
    ("Passwords and two-factor", {
        "user.password_change": "Changed their password",
        "user.password_reset_request": "Asked to reset a password",
        "user.password_reset": "Reset their password",
        "user.2fa_setup_start": "Began two-factor set-up",
        "user.2fa_setup_failed": "Two-factor set-up failed",
        "user.2fa_enable": "Turned two-factor on",
        "user.2fa_disable": "Turned two-factor off",
        "user.2fa_disable_failed": "Two-factor stayed on (wrong code)",
        "user.2fa_reset": "Reset someone's two-factor",
        "user.2fa_backup_code_used": "Used a backup code",
    }),
    ("Tickets", {
        "ticket.create": "Started a chat",
        "ticket.update": "Changed a ticket",
        "ticket.close": "Closed a ticket",
        "ticket.escalate": "Escalated a ticket",
        "ticket.auto_resolve": "Resolved a ticket (no reply)",
        "ticket.auto_assign": "Assigned a ticket automatically",
        "ticket.csat": "Rated a conversation",
        "note.create": "Wrote an internal note",
        "attachment.create": "Attached a file",
    }),
    ("Canned replies", {
        "canned_reply.create": "Added a canned reply",
        "canned_reply.update": "Changed a canned reply",
        "canned_reply.delete": "Removed a canned reply",
    }),
    ("Integrations", {
        "api_token.create": "Made an API token",
        "api_token.revoke": "Revoked an API token",
        "webhook.create": "Registered a webhook",
        "webhook.update": "Changed a webhook",
        "webhook.delete": "Removed a webhook",
        "webhook.rotate_secret": "Gave a webhook a new secret",
        "webhook.redeliver": "Redelivered a webhook event",
    }),
    ("Privacy", {
        "guest.export": "Exported a guest's data",
        "guest.erase": "Erased a guest",
        "ticket.erase": "Erased a guest from a ticket",
    }),
    ("Settings and jobs", {
        "settings.update": "Changed the widget's settings",
        "job.retry": "Retried a failed job",
    }),
)
ACTION_LABELS: dict[str, str] = {action: label for _, group in ACTION_GROUPS for action, label in group.items()}


def action_label(action: str) -> str:
    return ACTION_LABELS.get(action, action)


SYSTEM = {"id": None, "role": "system", "name": "System"}
ANONYMOUS = {"id": None, "role": "anonymous", "name": ""}

IMMEDIATE_RETRIES = 3
BACKLOG_INTERVAL = 2.0
# Rounds in which the database refuses an event for its content before it is set aside.
BACKLOG_REFUSALS = 3
# Errors that are the event's own (its content), not the database's: retrying will not help,
# and the events behind it must not wait for it.
_REFUSED = (BSONError, WriteError, UnicodeError, OverflowError, TypeError, ValueError)
_INT64 = (-(2**63), 2**63 - 1)
_NESTING_MAX = 50  # MongoDB takes 100 levels; our events have a handful
PAGE_DEFAULT = 50
_SECRET = re.compile(r"password|secret|token(?!_version)|_hash$", re.IGNORECASE)
_NAME = re.compile(r"^[a-z][a-z0-9_.]{0,63}$")


def guest_actor(guest_id: str, name: str) -> dict:
    """A guest, by a pseudonym: the guest id itself is a credential and never leaves."""
    digest = hashlib.sha256(b"audit-guest:" + guest_id.encode()).hexdigest()[:16]
    return {"id": f"guest:{digest}", "role": "guest", "name": name}


def _actor(actor: Identity | dict | None) -> dict:
    if actor is None:
        return dict(ANONYMOUS)
    if isinstance(actor, Identity):
        if actor.is_guest:
            return guest_actor(actor.id, actor.name)
        return {"id": actor.id, "role": actor.role, "name": actor.name}
    return {"id": _plain(actor.get("id")), "role": actor.get("role"), "name": actor.get("name", "")}


def _entity(entity: tuple | dict | None) -> dict:
    if entity is None:
        return {"type": None, "id": None}
    if isinstance(entity, tuple):
        kind, oid = entity
    else:
        kind, oid = entity.get("type"), entity.get("id")
    return {"type": kind, "id": _plain(oid)}


def _plain(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    return value


def snapshot(doc: dict | None) -> dict | None:
    """A copy fit to store: ids as strings, and no field that holds a secret."""
    if doc is None:
        return None
    clean: dict = {}
    for key, value in doc.items():
        if key == "_id":
            key = "id"
        if _SECRET.search(key):
            continue
        if isinstance(value, dict):
            value = snapshot(value)
        elif isinstance(value, (list, tuple)):
            value = [_plain(v) for v in value]
        clean[key] = _plain(value)
    return clean


async def record(
    ctx: Ctx,
    *,
    actor: Identity | dict | None,
    action: str,
    entity: tuple | dict | None,
    before: dict | None = None,
    after: dict | None = None,
    meta: dict | None = None,
) -> None:
    """Write one audit event. Never raises: a failed write goes to the retried backlog.
    The IP and user agent are the current request's or socket's (services/core/client.py)."""
    try:
        info = client.current()
        event = {
            "_id": ObjectId(),  # chosen here, so that a retry of a write that did land is a no-op
            "at": clock.utcnow(),
            "actor": _actor(actor),
            "action": action,
            "entity": _entity(entity),
            "before": snapshot(before),
            "after": snapshot(after),
            "ip": info.ip,
            "user_agent": info.user_agent,
        }
        if meta:
            event["meta"] = snapshot(meta)
        event = make_storable(event)
    except Exception:
        log.exception("AUDIT EVENT LOST: could not even build %s", action)
        return
    error = await _write(ctx, event, attempts=IMMEDIATE_RETRIES)
    if error is None:
        announce(ctx, event)
        return
    ctx.audit_backlog.append(Waiting(event, refusals=1 if isinstance(error, _REFUSED) else 0))
    log.error("AUDIT WRITE FAILED, kept for retry (%d waiting): %s", len(ctx.audit_backlog), _line(event))


@dataclass
class Waiting:
    """An event in the backlog, and how many times the database refused its content."""

    event: dict
    refusals: int = 0


def make_storable(event: dict) -> dict:
    """A copy of the event that MongoDB can store: text that does not encode as UTF-8 with
    its bad characters escaped, integers beyond 8 bytes and values of unknown types as
    text, keys likewise; `meta.sanitized` lists the fields replaced, so the trail says it
    is not verbatim. An event with nothing to replace is returned as it is."""
    replaced: list[str] = []
    clean = _storable(event, "", replaced, 0)
    if not replaced:
        return event
    clean["meta"] = {**(clean.get("meta") or {}), "sanitized": replaced}
    return clean


def _storable(value: Any, path: str, replaced: list[str], depth: int) -> Any:
    if value is None or isinstance(value, (bool, float, datetime, ObjectId, bytes)):
        return value
    if isinstance(value, int):
        if _INT64[0] <= value <= _INT64[1]:
            return value
        replaced.append(path)
        return f"<integer of {value.bit_length()} bits>"
    if isinstance(value, str):
        return _text(value, path, replaced)
    if isinstance(value, (dict, list, tuple)) and depth >= _NESTING_MAX:
        replaced.append(path)
        return "<nested too deeply>"
    if isinstance(value, dict):
        clean = {}
        for key, item in value.items():
            name = _text(key if isinstance(key, str) else repr(key), path, [])
            name = name.replace("\x00", "\\x00")  # BSON keys end at a NUL
            inner = f"{path}.{name}" if path else name
            if name != key:
                replaced.append(inner)
            clean[name] = _storable(item, inner, replaced, depth + 1)
        return clean
    if isinstance(value, (list, tuple)):
        return [_storable(item, f"{path}.{index}", replaced, depth + 1) for index, item in enumerate(value)]
    replaced.append(path)
    return repr(value)[:200]


def _text(value: str, path: str, replaced: list[str]) -> str:
    try:
        value.encode("utf-8")
        return value
    except UnicodeEncodeError:
        replaced.append(path)
        return value.encode("utf-8", "backslashreplace").decode("utf-8")


async def _write(ctx: Ctx, event: dict, *, attempts: int) -> Exception | None:
    """Insert the event, trying up to `attempts` times while the database is the trouble;
    None once written, else the last error."""
    error: Exception | None = None
    for attempt in range(attempts):
        try:
            await stored.insert(ctx.db, event=event)
            return None
        except DuplicateKeyError:
            return None  # an earlier attempt did land
        except Exception as exc:
            error = exc
            log.warning("audit write failed (attempt %d of %d): %s", attempt + 1, attempts, exc)
            if isinstance(exc, _REFUSED):
                break  # the same content will be refused again
            if attempt + 1 < attempts:
                await asyncio.sleep(0.02 * 2**attempt)
    return error


async def drain_backlog(ctx: Ctx) -> int:
    """Retry the events waiting in the backlog, oldest first, each once; returns how many
    were written. The database failing ends the round (every later write would fail too,
    and the order is kept). An event refused for its content goes to the back of the
    queue, so it never holds up the others, and after BACKLOG_REFUSALS refusals is set
    aside: logged in full at CRITICAL and no longer retried."""
    written = 0
    for _ in range(len(ctx.audit_backlog)):
        waiting = ctx.audit_backlog[0]
        error = await _write(ctx, waiting.event, attempts=1)
        if error is None:
            ctx.audit_backlog.popleft()
            written += 1
            announce(ctx, waiting.event)
            continue
        if not isinstance(error, _REFUSED):
            break
        ctx.audit_backlog.popleft()
        waiting.refusals += 1
        if waiting.refusals >= BACKLOG_REFUSALS:
            log.critical("AUDIT EVENT SET ASIDE, refused %d times (%s): %s", waiting.refusals,
                         error, _line(waiting.event))
        else:
            ctx.audit_backlog.append(waiting)
    if written:
        log.warning("audit backlog: wrote %d delayed events, %d still waiting", written,
                    len(ctx.audit_backlog))
    return written


async def retry_backlog_forever(ctx: Ctx, interval: float = BACKLOG_INTERVAL) -> None:
    while True:
        await asyncio.sleep(interval)
        try:
            await drain_backlog(ctx)
        except Exception:
            log.exception("audit backlog drain failed")


async def flush_at_shutdown(ctx: Ctx) -> None:
    """Last try at shutdown; whatever still cannot be written goes to the log in full."""
    try:
        await drain_backlog(ctx)
    except Exception:
        log.exception("audit backlog drain failed at shutdown")
    for waiting in ctx.audit_backlog:
        log.critical("AUDIT EVENT NOT STORED (process stopping): %s", _line(waiting.event))


def _line(event: dict) -> str:
    return json.dumps(event, default=str, sort_keys=True)


# --- live: admins watching the audit page see each event as it is stored --------------------


def announce(ctx: Ctx, event: dict) -> asyncio.Task | None:
    """Tell the admins' sockets about an event just stored (`audit:new`, the same row the
    page shows). In the background: the audited action neither waits for it nor fails with
    it. Skipped when no admin can be listening (one process, no admin socket)."""
    if ctx.sockets is None or not ctx.sockets.may_reach(ADMINS_ROOM):
        return None

    async def tell() -> None:
        try:
            names = await resolve_names(ctx, [event])
            await ctx.events.audit_new(row(event, names))
        except Exception as exc:
            log.warning("audit:new not sent for %s: %s", event.get("action"), exc)

    task = asyncio.create_task(tell())
    ctx.background.add(task)
    task.add_done_callback(ctx.background.discard)
    return task


# --- reading ------------------------------------------------------------------------------


Filters = AuditFilters


@dataclass
class Names:
    """The people and tickets a page of events is about, as they are now: id -> document
    (name, e-mail, role; subject, guest name)."""

    users: dict[str, dict] = field(default_factory=dict)
    tickets: dict[str, dict] = field(default_factory=dict)


@dataclass
class AuditPage:
    events: list[dict]
    next_cursor: str | None
    names: Names = field(default_factory=Names)


ACCOUNT_ROLES = ("agent", "admin")


def _oid(value: Any) -> ObjectId | None:
    return ObjectId(value) if isinstance(value, str) and ObjectId.is_valid(value) and len(value) == 24 else None


async def resolve_names(ctx: Ctx, docs: list[dict]) -> Names:
    """Who and what the events are about, by their ids: one query for the accounts and one
    for the tickets, whatever the number of events."""
    user_ids: set[ObjectId] = set()
    ticket_ids: set[ObjectId] = set()
    for doc in docs:
        actor, entity = doc.get("actor") or {}, doc.get("entity") or {}
        if actor.get("role") in ACCOUNT_ROLES and (oid := _oid(actor.get("id"))):
            user_ids.add(oid)
        if entity.get("type") == "user" and (oid := _oid(entity.get("id"))):
            user_ids.add(oid)
        elif entity.get("type") == "ticket" and (oid := _oid(entity.get("id"))):
            ticket_ids.add(oid)
    users = await store_users.names_by_ids(ctx.db, user_ids=sorted(user_ids)) if user_ids else []
    tickets = await store_tickets.labels_by_ids(ctx.db, ticket_ids=sorted(ticket_ids)) if ticket_ids else []
    return Names(users={str(u["_id"]): u for u in users}, tickets={str(t["_id"]): t for t in tickets})


def parse_filters(query: Mapping[str, str]) -> Filters:
    """Filters from untrusted query parameters: actor, action, entity_type, entity_id,
    from, to (ISO dates or times; a date alone for `to` means the whole of that day)."""
    def opt(name: str, pattern: re.Pattern | None = None) -> str | None:
        value = query.get(name)
        if value in (None, ""):
            return None
        value = validate.text(value, name, max_len=64)
        if pattern is not None and not pattern.match(value):
            raise Invalid(f"{name} is not valid.", field=name)
        return value

    since = _moment(query.get("from"), "from", end=False)
    until = _moment(query.get("to"), "to", end=True)
    if since and until and since >= until:
        raise Invalid("from must be before to.", field="from")
    return Filters(
        actor=opt("actor"), action=opt("action", _NAME), entity_type=opt("entity_type", _NAME),
        entity_id=opt("entity_id"), since=since, until=until,
    )


def _moment(value: Any, field: str, *, end: bool) -> datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise Invalid(f"{field} must be a date or time (ISO 8601).", field=field)
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return moment + timedelta(days=1) if end else moment
        moment = datetime.fromisoformat(value)
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError:
        raise Invalid(f"{field} must be a date or time (ISO 8601).", field=field) from None
    except OverflowError:  # the day after 9999-12-31, or an offset that crosses year 1 or 9999
        raise Invalid(f"{field} must be between the years 1 and 9999 in UTC.", field=field) from None


def _require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden("Only admins can read the audit trail.")


async def search(ctx: Ctx, *, identity: Identity, filters: Filters, before: object = None,
                 limit: object = None) -> AuditPage:
    """A page of events, newest first, with a cursor to the next (older) page."""
    _require_admin(identity)
    size = validate.limit(limit, default=PAGE_DEFAULT, maximum=200)
    docs, more = await stored.page(ctx.db, filters=filters, before=cursors.position(before), size=size)
    return AuditPage(events=docs, next_cursor=cursors.next_cursor(docs, more, "at"),
                     names=await resolve_names(ctx, docs))


SUGGESTIONS = 8


def _search_text(value: object) -> str:
    return validate.text(value, "q", max_len=80)


async def suggest_people(ctx: Ctx, *, identity: Identity, text: object) -> list[dict]:
    """Accounts whose name or e-mail contains what the admin typed, by name: the audit
    page's person filter turns the one chosen into its id."""
    _require_admin(identity)
    docs, _ = await store_users.page_by_name(ctx.db, after=None, size=SUGGESTIONS,
                                             query=store_users.matching(_search_text(text)))
    return docs


async def suggest_tickets(ctx: Ctx, *, identity: Identity, text: object) -> list[dict]:
    """Tickets whose subject or guest name contains what the admin typed, most recently
    active first: the audit page's ticket filter turns the one chosen into its id."""
    _require_admin(identity)
    return await store_tickets.matching_text(ctx.db, text=_search_text(text), limit=SUGGESTIONS)


async def for_ticket(ctx: Ctx, *, identity: Identity, ticket_id: object, before: object = None,
                     limit: object = None) -> AuditPage:
    """The audit events of one ticket, newest first: what an agent reads about the ticket
    they are in. The only audit an agent (not an admin) can read."""
    if not identity.is_agent:
        raise Forbidden()
    ticket = await tickets.get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    size = validate.limit(limit, default=PAGE_DEFAULT, maximum=200)
    filters = Filters(entity_type="ticket", entity_id=str(ticket["_id"]))
    docs, more = await stored.page(ctx.db, filters=filters, before=cursors.position(before), size=size)
    return AuditPage(events=docs, next_cursor=cursors.next_cursor(docs, more, "at"))


def activity_payload(doc: dict) -> dict:
    """An audit event as an agent reads it in a ticket: who, what, when and what changed;
    not the IP address or user agent, which are for admins."""
    full = payload(doc)
    actor = full["actor"] or {}
    return {"id": full["id"], "at": full["at"], "action": full["action"],
            "actor": {"name": actor.get("name"), "role": actor.get("role")},
            "changes": full["changes"]}


def export(ctx: Ctx, *, identity: Identity, filters: Filters) -> AsyncIterator[dict]:
    """Every event of the filtered view, newest first, all of them (read in batches)."""
    _require_admin(identity)
    return stored.every(ctx.db, filters=filters)


# --- shapes -------------------------------------------------------------------------------


def _flatten(doc: dict | None, prefix: str = "") -> dict:
    flat: dict = {}
    for key, value in (doc or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return payloads.iso(value)
    if isinstance(value, dict):
        return {k: _json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if isinstance(value, ObjectId):
        return str(value)
    return value


def changes(before: dict | None, after: dict | None) -> list[dict]:
    """The readable difference: one {field, before, after} per field that differs."""
    old, new = _flatten(before), _flatten(after)
    return [
        {"field": key, "before": _json_value(old.get(key)), "after": _json_value(new.get(key))}
        for key in sorted(set(old) | set(new))
        if old.get(key) != new.get(key)
    ]


def payload(doc: dict) -> dict:
    return {
        "id": str(doc["_id"]),
        "at": payloads.iso(doc["at"]),
        "actor": _json_value(doc.get("actor")),
        "action": doc["action"],
        "entity": _json_value(doc.get("entity")),
        "before": _json_value(doc.get("before")),
        "after": _json_value(doc.get("after")),
        "changes": changes(doc.get("before"), doc.get("after")),
        "meta": _json_value(doc.get("meta")),
        "ip": doc.get("ip"),
        "user_agent": doc.get("user_agent"),
    }


# Where a row's links go. A ticket opens in the dashboard; a person opens their account row.
TICKET_HREF = "/dashboard/tickets/{id}"
PERSON_HREF = "/admin/users?user={id}"


def _href(pattern: str, value: Any) -> str:
    return pattern.format(id=quote(str(value), safe=""))


def _short_id(value: Any) -> str:
    return str(value or "")[-6:]


def _snapshot_value(doc: dict, *names: str) -> str | None:
    """A name the event itself carries (its before/after snapshot, or meta)."""
    for part in ("after", "before", "meta"):
        snap = doc.get(part) or {}
        for name in names:
            if isinstance(snap.get(name), str) and snap[name]:
                return snap[name]
    return None


def _actor_words(doc: dict, names: Names) -> tuple[str, str | None]:
    actor = doc.get("actor") or {}
    role, actor_id, name = actor.get("role"), actor.get("id"), actor.get("name") or ""
    if role == "system":
        return "System", None
    if role == "guest":
        return f"{name or 'A guest'} (guest)", None
    if role in ACCOUNT_ROLES and actor_id:
        account = names.users.get(str(actor_id))
        return (account["name"] if account else name or f"Account {_short_id(actor_id)}",
                _href(PERSON_HREF, actor_id))
    return "Someone not signed in", None


def _entity_words(doc: dict, names: Names) -> tuple[str | None, str | None, str | None]:
    """(label, detail, link) of what the event is about."""
    entity = doc.get("entity") or {}
    kind, entity_id = entity.get("type"), entity.get("id")
    if not kind:
        return None, None, None
    if kind == "ticket":
        ticket = names.tickets.get(str(entity_id))
        if ticket:
            return ticket.get("subject") or "(no subject)", ticket.get("guest_name") or None, \
                _href(TICKET_HREF, entity_id)
        subject = _snapshot_value(doc, "subject")
        return subject or f"Ticket {_short_id(entity_id)}", _snapshot_value(doc, "guest_name"), \
            _href(TICKET_HREF, entity_id)
    if kind == "user":
        account = names.users.get(str(entity_id))
        if account:
            return account["name"], account.get("email"), _href(PERSON_HREF, entity_id)
        return (_snapshot_value(doc, "name", "email") or f"Account {_short_id(entity_id)}",
                _snapshot_value(doc, "email"), _href(PERSON_HREF, entity_id))
    if kind == "job":
        kind_name = _snapshot_value(doc, "kind")
        return f"Job {_short_id(entity_id)}", kind_name, "/admin/jobs"
    return f"{kind} {_short_id(entity_id)}", None, None


def row(doc: dict, names: Names) -> dict:
    """An event as the audit page shows it (GET /api/audit and `audit:new`): the stored
    event (payload) with its action, actor, entity and client in words, and links."""
    event = payload(doc)
    actor_label, actor_href = _actor_words(doc, names)
    entity_label, entity_detail, entity_href = _entity_words(doc, names)
    event.update(
        action_label=action_label(doc["action"]),
        actor_label=actor_label, actor_href=actor_href,
        entity_label=entity_label, entity_detail=entity_detail, entity_href=entity_href,
        client=useragent.short(doc.get("user_agent")),
    )
    return event


CSV_COLUMNS = ("at", "actor_id", "actor_role", "actor_name", "action", "entity_type", "entity_id",
               "changes", "ip", "user_agent", "before", "after")


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # A cell starting with = + - @ would be a formula in a spreadsheet.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def csv_row(doc: dict) -> list[str]:
    event = payload(doc)
    diff = "; ".join(f"{c['field']}: {c['before']!r} -> {c['after']!r}" for c in event["changes"])
    return [_cell(v) for v in (
        event["at"], event["actor"].get("id"), event["actor"].get("role"), event["actor"].get("name"),
        event["action"], event["entity"].get("type"), event["entity"].get("id"), diff,
        event["ip"], event["user_agent"],
        json.dumps(event["before"], sort_keys=True) if event["before"] is not None else "",
        json.dumps(event["after"], sort_keys=True) if event["after"] is not None else "",
    )]


def _csv_text(rows: Iterable[list[str]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows(rows)
    return out.getvalue()


def to_csv(docs: Iterable[dict]) -> str:
    return _csv_text([list(CSV_COLUMNS), *(csv_row(doc) for doc in docs)])


async def csv_chunks(docs: AsyncIterator[dict], *, rows_per_chunk: int = 500) -> AsyncIterator[str]:
    """The CSV of every event, a chunk of rows at a time, for a streamed download."""
    yield _csv_text([list(CSV_COLUMNS)])
    rows: list[list[str]] = []
    async for doc in docs:
        rows.append(csv_row(doc))
        if len(rows) >= rows_per_chunk:
            yield _csv_text(rows)
            rows = []
    if rows:
        yield _csv_text(rows)


# --- the listener: the audit events of ticket changes (conversations' effects) ---------------


async def on_change(ctx: Ctx, change: Change) -> None:
    ticket, kind, actor = change.after, change.kind, change.actor
    entity = ("ticket", ticket["_id"])
    before = change.before or {}
    if kind == "created":
        await record(ctx, actor=guest_actor(ticket["guest_id"], ticket.get("guest_name", "")),
                     action="ticket.create", entity=entity,
                     after={k: ticket.get(k) for k in ("subject", "status", "priority", "guest_name",
                                                       "guest_email")})
    elif kind == "note":
        message = change.posted
        await record(ctx, actor=actor, action="note.create", entity=("ticket", message["ticket_id"]),
                     after={"message_id": message["_id"], "body": message["body"]})
    elif kind == "message" and change.posted.get("attachment") and change.person.is_agent:
        sent = change.posted["attachment"]
        await record(ctx, actor=actor, action="attachment.create", entity=entity,
                     after={"attachment_id": sent["id"], "name": sent["name"], "type": sent["type"],
                            "size": sent["size"]})
    elif kind == "update":
        diff = change.diff()
        if not diff:
            return
        if diff.get("status") == "closed" and set(diff) == {"status"}:
            await record(ctx, actor=actor, action="ticket.close", entity=entity,
                         before={"status": before.get("status")}, after={"status": "closed"})
        else:
            await record(ctx, actor=actor, action="ticket.update", entity=entity,
                         before={k: before.get(k) for k in diff}, after=dict(diff))
    elif kind == "auto_assign":
        await record(ctx, actor=SYSTEM, action="ticket.auto_assign", entity=entity,
                     before={"assignee_id": None}, after={"assignee_id": ticket["assignee_id"]})
    elif kind == "escalate":
        await record(ctx, actor=SYSTEM, action="ticket.escalate", entity=entity,
                     before={"priority": before.get("priority"),
                             "escalation_level": before.get("escalation_level") or 0},
                     after={"priority": ticket["priority"], "escalation_level": ticket["escalation_level"]})
    elif kind == "auto_resolve":
        await record(ctx, actor=SYSTEM, action="ticket.auto_resolve", entity=entity,
                     before={"status": "pending"}, after={"status": "resolved"})
    elif kind == "csat":
        await record(ctx, actor=guest_actor(ticket["guest_id"], ticket.get("guest_name", "")),
                     action="ticket.csat", entity=entity,
                     before={"csat": before.get("csat")}, after={"csat": ticket["csat"]})
    elif kind == "erase":
        await record(ctx, actor=actor, action="ticket.erase", entity=entity, before={"erased": False},
                     after={"erased": True, "messages": change.details.get("messages", 0)})
