"""Webhooks: admins register URLs that hear about tickets, as signed JSON POSTs.

Which events a ticket change makes is decided by `on_change`, this module's listener of
conversations' effects, which calls `announce` once per event. `announce` writes one job per
(hook, event) to the durable queue (services/operations/jobs.py), deduplicated by the hook and the
event's key, so that a change announced twice is sent once; nothing at all is written
when no active hook wants the event. The `webhook` job (`deliver`) signs the body and
POSTs it, and logs every attempt (webhook_deliveries); a failed attempt is retried by the
queue with exponential backoff, and admins can redeliver any logged delivery.

Signing: `X-Support-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">` with
the hook's secret. The secret is never stored: each hook keeps a random seed, and its
secret is HMAC-SHA256(a key derived from SECRET_KEY, seed), so a copy of the database
alone cannot sign as us (changing SECRET_KEY changes every hook's secret). It is shown to
the admin once, at creation or rotation.

What leaves: the ticket as agents see it, the message, who did it. Internal notes and
internal system lines (triage: priority, assignment, tags, escalation) are sent only to
hooks registered with include_notes. Every delivery goes to an address checked then and
there (services/operations/egress.py): never this machine or a private network, unless
WEBHOOK_ALLOW_PRIVATE=1. A receiver has `webhook_timeout` seconds (10) to answer."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from ... import clock
from ...errors import Conflict, Forbidden, Invalid, NotFound
from ...security import Identity
from ...store import webhook_deliveries as stored_deliveries
from ...store import webhooks as stored
from ..conversations import Change, effects, payloads
from ..core import Ctx, cursors, validate
from . import audit, egress, jobs

log = logging.getLogger(__name__)

EVENTS = ("ticket.created", "message.created", "ticket.updated", "ticket.closed", "csat.submitted")
JOB_KIND = "webhook"
ACTIONS = ("webhook.create", "webhook.update", "webhook.delete", "webhook.rotate_secret",
           "webhook.redeliver")
LIST_MAX = 100
DESCRIPTION_MAX = 200
CACHE_SECONDS = 5.0  # how soon another process sees a hook added, changed or removed
ERROR_MAX = 500
SIGNATURE_HEADER = "X-Support-Signature"
EVENT_HEADER = "X-Support-Event"
DELIVERY_HEADER = "X-Support-Delivery"
ATTEMPT_HEADER = "X-Support-Attempt"
USER_AGENT = "SupportChat-Webhooks/1"


# --- secrets and signatures ---------------------------------------------------------------


def secret_for(ctx: Ctx, seed: str) -> str:
    key = hashlib.sha256(b"webhook-secret:" + ctx.settings.secret_key.encode()).digest()
    digest = hmac.new(key, seed.encode(), hashlib.sha256).digest()
    return "whsec_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def signature(secret: str, timestamp: int, body: str) -> str:
    """The hex HMAC-SHA256 of "<timestamp>.<body>" with the hook's secret."""
    return hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: str) -> str:
    return f"t={timestamp},v1={signature(secret, timestamp, body)}"


# --- managing hooks -----------------------------------------------------------------------


def _require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden("Only admins can manage webhooks.")


def _events(value: object) -> list[str]:
    if not isinstance(value, list) or not value:
        raise Invalid("events must be a list of one or more of: " + ", ".join(EVENTS) + ".",
                      field="events")
    for item in value:
        validate.choice(item, "events", EVENTS)
    return [e for e in EVENTS if e in value]  # in the documented order, once each


def _description(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise Invalid("description must be text.", field="description")
    return validate.text(value, "description", max_len=DESCRIPTION_MAX, min_len=0)


async def _checked_url(ctx: Ctx, value: object) -> str:
    """A URL fit to register: http(s), no credentials, at most 2,000 characters, and a host
    that resolves to public addresses only (unless WEBHOOK_ALLOW_PRIVATE=1)."""
    parts = egress.check_url(value)
    try:
        await egress.resolve(parts, allow_private=ctx.settings.webhook_allow_private)
    except egress.Refused as exc:
        raise Invalid(f"url: {exc}.", field="url") from None
    return parts.geturl()


def _snapshot(doc: dict) -> dict:
    return {k: doc.get(k) for k in ("url", "events", "include_notes", "active", "description")}


def forget_cache(ctx: Ctx) -> None:
    ctx.webhooks = None


async def create(ctx: Ctx, *, identity: Identity, url: object, events: object,
                 include_notes: object = False, description: object = None) -> tuple[dict, str]:
    """Register a hook; returns it and its secret (shown this once)."""
    _require_admin(identity)
    events = _events(events)
    include_notes = validate.boolean(include_notes, "include_notes")
    description = _description(description)
    url = await _checked_url(ctx, url)
    now = clock.utcnow()
    doc = await stored.insert(ctx.db, webhook={
        "url": url, "events": events, "include_notes": include_notes, "active": True,
        "description": description, "secret_seed": secrets.token_urlsafe(32),
        "created_at": now, "created_by": {"id": identity.id, "name": identity.name},
        "updated_at": now,
    })
    forget_cache(ctx)
    await audit.record(ctx, actor=identity, action="webhook.create", entity=("webhook", doc["_id"]),
                       after=_snapshot(doc))
    return doc, secret_for(ctx, doc["secret_seed"])


async def list_all(ctx: Ctx, *, identity: Identity) -> list[dict]:
    _require_admin(identity)
    return await stored.newest(ctx.db, limit=LIST_MAX)


async def get(ctx: Ctx, *, identity: Identity, webhook_id: object) -> dict:
    _require_admin(identity)
    doc = await stored.get(ctx.db, webhook_id=validate.object_id(webhook_id, "webhook_id"))
    if doc is None:
        raise NotFound("This webhook does not exist.")
    return doc


UPDATABLE = ("url", "events", "include_notes", "active", "description")


async def update(ctx: Ctx, *, identity: Identity, webhook_id: object, changes: object) -> dict:
    """Change a hook's URL, events, include_notes, active or description (audited)."""
    before = await get(ctx, identity=identity, webhook_id=webhook_id)
    changes = validate.payload(changes)
    unknown = sorted(set(changes) - set(UPDATABLE))
    if unknown:
        raise Invalid(f"{unknown[0]} cannot be changed here.", field=unknown[0])
    if not changes:
        raise Invalid("Give one of " + ", ".join(UPDATABLE) + " to change.")
    wanted: dict = {}
    if "events" in changes:
        wanted["events"] = _events(changes["events"])
    for flag in ("include_notes", "active"):
        if flag in changes:
            wanted[flag] = validate.boolean(changes[flag], flag)
    if "description" in changes:
        wanted["description"] = _description(changes["description"])
    if "url" in changes:
        wanted["url"] = await _checked_url(ctx, changes["url"])
    doc = await stored.update(ctx.db, webhook_id=before["_id"], at=clock.utcnow(), set=wanted)
    if doc is None:
        raise NotFound("This webhook does not exist.")
    forget_cache(ctx)
    diff = {k: v for k, v in wanted.items() if before.get(k) != v}
    if diff:
        await audit.record(ctx, actor=identity, action="webhook.update", entity=("webhook", doc["_id"]),
                           before={k: before.get(k) for k in diff}, after=diff)
    return doc


async def delete(ctx: Ctx, *, identity: Identity, webhook_id: object) -> None:
    """Remove a hook and its delivery log; deliveries still queued are dropped."""
    doc = await get(ctx, identity=identity, webhook_id=webhook_id)
    if await stored.delete(ctx.db, webhook_id=doc["_id"]) is None:
        raise NotFound("This webhook does not exist.")
    await stored_deliveries.delete_of_webhook(ctx.db, webhook_id=doc["_id"])
    forget_cache(ctx)
    await audit.record(ctx, actor=identity, action="webhook.delete", entity=("webhook", doc["_id"]),
                       before=_snapshot(doc))


async def rotate_secret(ctx: Ctx, *, identity: Identity, webhook_id: object) -> tuple[dict, str]:
    """A new secret for the hook (the old one stops at once); returns it this once."""
    current = await get(ctx, identity=identity, webhook_id=webhook_id)
    doc = await stored.update(ctx.db, webhook_id=current["_id"], at=clock.utcnow(),
                              set={"secret_seed": secrets.token_urlsafe(32)})
    if doc is None:
        raise NotFound("This webhook does not exist.")
    await audit.record(ctx, actor=identity, action="webhook.rotate_secret",
                       entity=("webhook", doc["_id"]))
    return doc, secret_for(ctx, doc["secret_seed"])


@dataclass
class DeliveryPage:
    deliveries: list[dict]
    next_cursor: str | None


async def deliveries(ctx: Ctx, *, identity: Identity, webhook_id: object, before: object = None,
                     limit: object = None) -> DeliveryPage:
    """A hook's delivery log, newest attempt first."""
    doc = await get(ctx, identity=identity, webhook_id=webhook_id)
    size = validate.limit(limit, default=50)
    docs, more = await stored_deliveries.page(ctx.db, webhook_id=doc["_id"],
                                              before=cursors.position(before), size=size)
    return DeliveryPage(deliveries=docs, next_cursor=cursors.next_cursor(docs, more, "at"))


async def redeliver(ctx: Ctx, *, identity: Identity, webhook_id: object, attempt_id: object) -> dict:
    """Send a logged delivery again (the same body and delivery id, newly signed), with the
    same retries as the first time. Audited."""
    hook = await get(ctx, identity=identity, webhook_id=webhook_id)
    attempt_oid = validate.object_id(attempt_id, "attempt_id")
    logged = await stored_deliveries.get(ctx.db, webhook_id=hook["_id"], attempt_id=attempt_oid)
    if logged is None:
        raise NotFound("This delivery is not in the log (it is kept for a while, then deleted).")
    if logged.get("internal") and not hook.get("include_notes"):
        raise Conflict("This delivery carries an internal note, and the webhook no longer "
                       "receives them.")
    job = await _queue(ctx, hook=hook, delivery_id=logged["delivery_id"], event=logged["event"],
                       ticket_id=logged.get("ticket_id"), body=logged["body"],
                       internal=bool(logged.get("internal")), redelivery=True, dedupe_key=None)
    await audit.record(ctx, actor=identity, action="webhook.redeliver", entity=("webhook", hook["_id"]),
                       after={"delivery_id": logged["delivery_id"], "event": logged["event"]})
    return job


# --- announcing events (called from on_change, below) ---------------------------------------


async def _active(ctx: Ctx) -> list[dict]:
    """The active hooks, from a copy at most CACHE_SECONDS old (changes made in this process
    are seen at once): a ticket change costs no query when nobody listens."""
    cached = ctx.webhooks
    now = time.monotonic()
    if cached is None or cached[0] <= now:
        hooks = await stored.active(ctx.db, limit=LIST_MAX)
        cached = ctx.webhooks = (now + CACHE_SECONDS, hooks)
    return cached[1]


def actor_of(identity: Identity | dict | None) -> dict:
    """Who made the change, as a payload: a guest by pseudonym, like the audit trail."""
    if identity is None:
        return {"type": "system", "id": None, "name": "System"}
    if isinstance(identity, dict):
        return {"type": identity.get("role", "system"), "id": identity.get("id"),
                "name": identity.get("name", "")}
    if identity.is_guest:
        pseudonym = audit.guest_actor(identity.id, identity.name)
        return {"type": "guest", "id": pseudonym["id"], "name": identity.name}
    return {"type": "api" if identity.is_token else "agent", "id": identity.id, "name": identity.name}


def is_internal(message: dict | None) -> bool:
    return message is not None and (message.get("kind") == "note" or bool(message.get("internal")))


async def announce(ctx: Ctx, *, event: str, key: str, ticket: dict, actor: Any = None,
                   message: dict | None = None, changes: dict | None = None,
                   csat: dict | None = None) -> int:
    """Queue this event for every active hook that wants it (one job per hook, deduplicated
    by `key`); returns how many were queued. No hook wants it: no write at all."""
    if event not in EVENTS:
        raise ValueError(f"unknown webhook event {event!r}")
    internal = is_internal(message)
    hooks = [h for h in await _active(ctx)
             if event in h.get("events", ()) and (h.get("include_notes") or not internal)]
    if not hooks:
        return 0
    data: dict = {"ticket": payloads.ticket(ticket)}
    if message is not None:
        data["message"] = payloads.message(message)
    if changes is not None:
        data["changes"] = changes
    if csat is not None:
        data["csat"] = csat
    created_at = payloads.iso(clock.utcnow())
    queued = 0
    for hook in hooks:
        delivery_id = str(uuid.uuid4())
        body = json.dumps({"id": delivery_id, "event": event, "created_at": created_at,
                           "actor": actor_of(actor), "data": data},
                          separators=(",", ":"), ensure_ascii=False)
        await _queue(ctx, hook=hook, delivery_id=delivery_id, event=event, ticket_id=ticket["_id"],
                     body=body, internal=internal, redelivery=False,
                     dedupe_key=f"webhook:{hook['_id']}:{event}:{key}")
        queued += 1
    return queued


async def _queue(ctx: Ctx, *, hook: dict, delivery_id: str, event: str, ticket_id: Any, body: str,
                 internal: bool, redelivery: bool, dedupe_key: str | None) -> dict:
    payload = {"webhook_id": str(hook["_id"]), "delivery_id": delivery_id, "event": event,
               "ticket_id": str(ticket_id) if ticket_id is not None else None, "body": body,
               "internal": internal, "redelivery": redelivery}
    try:
        return await jobs.enqueue(ctx, JOB_KIND, payload, dedupe_key=dedupe_key,
                                  max_attempts=ctx.settings.webhook_max_attempts,
                                  backoff_base=ctx.settings.webhook_backoff_base)
    except DuplicateKeyError:  # queued and finished and deleted in between: it went out
        return {}


# --- delivering (the `webhook` job) ---------------------------------------------------------


class DeliveryFailed(Exception):
    """An attempt that did not get a 2xx; the queue retries it after its backoff."""


@dataclass
class Outcome:
    response_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.response_code is not None and 200 <= self.response_code < 300


async def deliver(ctx: Ctx, payload: dict) -> None:
    """POST one event to one hook, signed, and log the attempt; raise to be retried."""
    hook = await stored.get(ctx.db, webhook_id=ObjectId(payload["webhook_id"]))
    if hook is None or not hook.get("active"):
        log.info("webhook %s is gone or paused: delivery %s dropped", payload["webhook_id"],
                 payload["delivery_id"])
        return
    if payload.get("internal") and not hook.get("include_notes"):
        log.info("webhook %s no longer receives notes: delivery %s dropped", hook["_id"],
                 payload["delivery_id"])
        return
    running = jobs.running()
    attempt = running["attempts"] if running else 1
    body = payload["body"]
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: payload["event"],
        DELIVERY_HEADER: payload["delivery_id"],
        ATTEMPT_HEADER: str(attempt),
        SIGNATURE_HEADER: signature_header(secret_for(ctx, hook["secret_seed"]), timestamp, body),
    }
    started = time.perf_counter()
    outcome = await _post(ctx, hook["url"], body, headers)
    duration_ms = round((time.perf_counter() - started) * 1000, 1)
    now = clock.utcnow()
    await stored_deliveries.insert(ctx.db, delivery={
        "webhook_id": hook["_id"], "delivery_id": payload["delivery_id"], "event": payload["event"],
        "ticket_id": ObjectId(payload["ticket_id"]) if payload.get("ticket_id") else None,
        "attempt": attempt, "redelivery": bool(payload.get("redelivery")),
        "status": "succeeded" if outcome.ok else "failed", "response_code": outcome.response_code,
        "duration_ms": duration_ms, "error": outcome.error, "body": body,
        "internal": bool(payload.get("internal")), "at": now,
        "expire_at": now + timedelta(seconds=ctx.settings.webhook_delivery_retention),
    })
    if not outcome.ok:
        raise DeliveryFailed(outcome.error or f"the receiver answered {outcome.response_code}")


async def _post(ctx: Ctx, url: str, body: str, headers: dict) -> Outcome:
    """One POST to the checked address of `url`, cut after webhook_timeout seconds; never
    follows a redirect (it could lead anywhere)."""
    timeout = ctx.settings.webhook_timeout
    try:
        parts = egress.check_url(url)
        destination = await egress.resolve(parts, allow_private=ctx.settings.webhook_allow_private)
    except Invalid as exc:
        return Outcome(error=f"refused: {exc.message}")
    except egress.Refused as exc:
        return Outcome(error=f"refused: {exc}")
    connector = aiohttp.TCPConnector(resolver=egress.PinnedResolver(destination),
                                     use_dns_cache=False, force_close=True)
    try:
        async with (
            aiohttp.ClientSession(connector=connector, trust_env=False,
                                  timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.post(url, data=body.encode(), headers=headers, allow_redirects=False) as response,
        ):
            code = response.status
        if 300 <= code < 400:
            return Outcome(response_code=code, error=f"the receiver answered {code} (redirects are not followed)")
        if not 200 <= code < 300:
            return Outcome(response_code=code, error=f"the receiver answered {code}")
        return Outcome(response_code=code)
    except TimeoutError:
        return Outcome(error=f"no answer within {timeout:g} s")
    except aiohttp.ClientError as exc:
        return Outcome(error=(f"{type(exc).__name__}: {exc}")[:ERROR_MAX])
    except OSError as exc:
        return Outcome(error=(f"{type(exc).__name__}: {exc}")[:ERROR_MAX])


# --- the listener: the webhook events of ticket changes (conversations' effects) -------------


async def on_change(ctx: Ctx, change: Change) -> None:
    """The webhook events of a change (one delivery queued per hook that wants each; nothing
    is written when none does). Each event has a key, so that a change announced twice is
    delivered once."""
    ticket, message, kind = change.after, change.message, change.kind
    version_key = f"{ticket['_id']}:v{ticket.get('version')}"
    actor: Any = change.actor
    events: list[tuple[str, str, dict]] = []
    if kind == "created":
        actor, message = audit.guest_actor(ticket["guest_id"], ticket.get("guest_name", "")), change.posted
        events.append(("ticket.created", str(ticket["_id"]), {"message": message}))
        events.append(("message.created", f"message:{message['_id']}", {"message": message}))
    elif kind in ("message", "note", "line"):
        message = change.posted
        events.append(("message.created", f"message:{message['_id']}", {"message": message}))
        changes = _changes(change)
        if kind == "message" and changes:  # the guest wrote back: the ticket reopened
            events.append(("ticket.updated", version_key, {"changes": changes}))
    elif kind in ("update", "escalate", "auto_resolve", "erase"):
        changes = _changes(change)
        if changes:
            events.append(("ticket.updated", version_key, {"changes": changes}))
            if changes.get("status", {}).get("after") == "closed":
                events.append(("ticket.closed", version_key, {"changes": changes}))
    elif kind == "csat":
        events.append(("csat.submitted", version_key, {"csat": _csat_payload(change)}))
    for event, key, extra in events:
        await announce(ctx, event=event, key=key, ticket=ticket, actor=actor, **extra)


def _changes(change: Change) -> dict:
    """What a change did to the ticket, as {field: {before, after}} (ids as strings)."""
    before, after = change.before or {}, change.after
    changes = {}
    for name in (*effects.TRACKED, "escalation_level"):
        if change.before is not None and before.get(name) != after.get(name):
            changes[name] = {"before": _plain(before.get(name)), "after": _plain(after.get(name))}
    if bool(before.get("erased_at")) != bool(after.get("erased_at")):
        changes["erased"] = {"before": False, "after": True}
    return changes


def _plain(value: Any) -> Any:
    if isinstance(value, ObjectId):
        return str(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _csat_payload(change: Change) -> dict:
    """csat.submitted's `csat`: {rating, comment, submitted_at}, from the change's details
    (or the ticket's `csat` field)."""
    raw = change.details.get("csat") or change.after.get("csat") or {}
    submitted = raw.get("submitted_at") or raw.get("at")
    return {"rating": raw.get("rating"), "comment": raw.get("comment"),
            "submitted_at": payloads.iso(submitted) if not isinstance(submitted, str) else submitted}
