"""What clients receive: one function per shape, built from the stored document.

Ids become strings and times ISO-8601 with a Z. Guest ids and password hashes never leave."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ...store.users import DEFAULT_CAPACITY
from ..core import cursors, useragent
from .guest_context import FIELDS as CONTEXT_FIELDS
from .guest_context import describe_browser

# The last time formatted, by identity: a message's time is formatted for its agents, its
# guests and its sender's answer, three times in a row (datetimes are immutable).
_last_iso: tuple[datetime | None, str | None] = (None, None)


def iso(value: datetime | None) -> str | None:
    global _last_iso  # a cache of one; nothing else
    if value is None:
        return None
    last, text = _last_iso
    if value is last:
        return text
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value
    text = aware.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    _last_iso = (value, text)
    return text


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def message(doc: dict, *, for_guest: bool = False) -> dict:
    """A message as clients receive it. `seq` is its number in what the receiver may read
    (every message for agents, the guest's own numbering for guests, which skips notes and
    internal lines without showing that they exist), and `cursor` pages history from it."""
    seq = doc.get("guest_seq") if for_guest else doc.get("seq")
    shaped = {
        "id": str(doc["_id"]),
        "ticket_id": str(doc["ticket_id"]),
        "kind": doc["kind"],
        "sender_role": doc["sender_role"],
        "sender_name": doc["sender_name"],
        "body": doc["body"],
        "client_msg_id": doc.get("client_msg_id"),
        "created_at": iso(doc["created_at"]),
        "seq": seq,
        "cursor": cursors.encode_seq(seq) if seq is not None else None,
    }
    if doc.get("attachment"):
        shaped["attachment"] = attachment(doc["attachment"])
    return shaped


def attachment(doc: dict) -> dict:
    """A file a message carries: where to fetch it (for those who may read the ticket)."""
    return {
        "id": str(doc["id"]),
        "name": doc["name"],
        "size": doc["size"],
        "type": doc["type"],
        "image": bool(doc.get("image")),
        "url": f"/api/attachments/{doc['id']}",
    }


def csat(doc: dict | None) -> dict | None:
    """The guest's rating of a closed conversation (1 to 5, optional comment)."""
    if not doc:
        return None
    return {"rating": doc["rating"], "comment": doc.get("comment"), "at": iso(doc.get("at"))}


def message_for(identity, doc: dict) -> dict:
    return message(doc, for_guest=not identity.is_agent)


def ticket(doc: dict) -> dict:
    return {
        "id": str(doc["_id"]),
        "subject": doc.get("subject", ""),
        "guest_name": doc.get("guest_name", ""),
        "guest_email": doc.get("guest_email"),
        "status": doc["status"],
        "version": doc.get("version", 0),
        "priority": doc.get("priority", "normal"),
        "assignee_id": _id(doc.get("assignee_id")),
        "tags": list(doc.get("tags", [])),
        "last_message_preview": doc.get("last_message_preview", ""),
        "created_at": iso(doc.get("created_at")),
        "updated_at": iso(doc.get("updated_at")),
        "last_message_at": iso(doc.get("last_message_at")),
        "first_response_at": iso(doc.get("first_response_at")),
        "escalated_at": iso(doc.get("escalated_at")),
        "closed_at": iso(doc.get("closed_at")),
        "csat": csat(doc.get("csat")),
        "guest_messages": doc.get("guest_messages", 0),
    }


def guest_context(context: dict | None) -> dict:
    """Where and how the guest started, for agents: as sent, plus the browser in words."""
    context = context or {}
    shown = {name: context.get(name) for name in CONTEXT_FIELDS}
    shown["browser"] = describe_browser(context.get("user_agent"))
    return shown


def search_hit(hit) -> dict:
    """A search result: the ticket, and where and how the text was found."""
    return {"ticket": ticket(hit.ticket), "field": hit.field, "snippet": hit.snippet}


GUEST_TICKET_FIELDS = (
    "id", "subject", "guest_name", "guest_email", "status", "version", "created_at", "updated_at",
    "last_message_at", "closed_at", "csat", "last_message_preview",
)


def guest_ticket(doc: dict) -> dict:
    """The ticket as its guest sees it: the conversation's state, not the team's triage
    (priority, assignee, tags, escalation)."""
    full = ticket(doc)
    return {name: full[name] for name in GUEST_TICKET_FIELDS}


def ticket_for(identity, doc: dict) -> dict:
    """A ticket as one caller opens it: agents also get where the guest started (not sent
    with every queue update: it does not change)."""
    if not identity.is_agent:
        return guest_ticket(doc)
    return {**ticket(doc), "context": guest_context(doc.get("context"))}


def user(doc: dict) -> dict:
    return {
        "id": str(doc["_id"]),
        "email": doc["email"],
        "name": doc["name"],
        "role": doc["role"],
        "active": doc.get("active", True),
        "created_at": iso(doc.get("created_at")),
        "last_seen_at": iso(doc.get("last_seen_at")),
        "two_factor": bool(doc.get("totp")),
        # Invited and not signed in yet: no password chosen.
        "invited": not doc.get("password_hash"),
        # Auto-assignment: whether they take new tickets, how many at most, how many now.
        "availability": doc.get("availability", "online"),
        "capacity": doc.get("capacity", DEFAULT_CAPACITY),
        "open_count": doc.get("open_count", 0),
    }


def session(doc: dict, *, current_id: str | None) -> dict:
    """One of a person's sign-in sessions, as /account lists them."""
    return {
        "id": doc["_id"],
        "current": doc["_id"] == current_id,
        "stage": doc["stage"],
        "created_at": iso(doc["created_at"]),
        "last_seen_at": iso(doc.get("last_seen_at")),
        "expires_at": iso(doc["expires_at"]),
        "ip": doc.get("ip"),
        "user_agent": doc.get("user_agent"),
        "client": useragent.short(doc.get("user_agent")),
    }


def notification(doc: dict) -> dict:
    return {
        "id": str(doc["_id"]),
        "kind": doc["kind"],
        "ticket_id": _id(doc.get("ticket_id")),
        "text": doc["text"],
        "read": doc.get("read_at") is not None,
        "read_at": iso(doc.get("read_at")),
        "created_at": iso(doc["created_at"]),
        "cursor": cursors.encode(doc["created_at"], doc["_id"]),
    }


def canned_reply(doc: dict, identity) -> dict:
    """A canned reply as the dashboard and its manager page use it: `editable` says whether
    this caller may change it (team replies: admins; personal ones: their owner)."""
    team = doc["scope"] == "team"
    return {
        "id": str(doc["_id"]),
        "scope": doc["scope"],
        "shortcut": doc["shortcut"],
        "title": doc["title"],
        "body": doc["body"],
        "editable": identity.is_admin if team else doc["owner_key"] == identity.id,
        "updated_at": iso(doc.get("updated_at")),
    }


def person_choice(doc: dict) -> dict:
    """An account as the audit page's person filter suggests it (admins only)."""
    return {"id": str(doc["_id"]), "name": doc["name"], "email": doc["email"], "role": doc["role"],
            "active": doc.get("active", True)}


def ticket_choice(doc: dict) -> dict:
    """A ticket as the audit page's ticket filter suggests it."""
    return {"id": str(doc["_id"]), "subject": doc.get("subject", ""), "guest_name": doc.get("guest_name", ""),
            "status": doc.get("status"), "created_at": iso(doc.get("created_at"))}


def agent_option(doc: dict) -> dict:
    """An agent as others pick them (assignee lists): no e-mail, no account details."""
    return {"id": str(doc["_id"]), "name": doc["name"], "role": doc["role"]}


def job(doc: dict) -> dict:
    """A job as admins see it: what it was for and why it failed, never its whole payload
    (an e-mail's body)."""
    payload = doc.get("payload") or {}
    return {
        "id": str(doc["_id"]),
        "kind": doc["kind"],
        "status": doc["status"],
        "attempts": doc.get("attempts", 0),
        "max_attempts": doc.get("max_attempts"),
        "last_error": doc.get("last_error"),
        "to": payload.get("to") if doc["kind"] == "email" else None,
        "created_at": iso(doc.get("created_at")),
        "updated_at": iso(doc.get("updated_at")),
        "cursor": cursors.encode(doc["updated_at"], doc["_id"]),
    }


def api_token(doc: dict) -> dict:
    """An API token as admins see it: never the token or its hash, only its first
    characters to tell it apart."""
    return {
        "id": str(doc["_id"]),
        "name": doc["name"],
        "scope": doc["scope"],
        "prefix": doc["prefix"],
        "created_at": iso(doc["created_at"]),
        "created_by": (doc.get("created_by") or {}).get("name"),
        "last_used_at": iso(doc.get("last_used_at")),
        "revoked_at": iso(doc.get("revoked_at")),
        "active": doc.get("revoked_at") is None,
    }


def webhook(doc: dict) -> dict:
    """A webhook as admins see it: never its secret."""
    return {
        "id": str(doc["_id"]),
        "url": doc["url"],
        "events": list(doc.get("events", [])),
        "include_notes": bool(doc.get("include_notes")),
        "active": bool(doc.get("active")),
        "description": doc.get("description", ""),
        "created_at": iso(doc["created_at"]),
        "created_by": (doc.get("created_by") or {}).get("name"),
        "updated_at": iso(doc.get("updated_at")),
    }


def webhook_delivery(doc: dict) -> dict:
    """One attempt in a webhook's delivery log (without the body it sent)."""
    return {
        "id": str(doc["_id"]),
        "delivery_id": doc["delivery_id"],
        "event": doc["event"],
        "ticket_id": _id(doc.get("ticket_id")),
        "attempt": doc["attempt"],
        "redelivery": bool(doc.get("redelivery")),
        "status": doc["status"],
        "response_code": doc.get("response_code"),
        "duration_ms": doc.get("duration_ms"),
        "error": doc.get("error"),
        "at": iso(doc["at"]),
        "cursor": cursors.encode(doc["at"], doc["_id"]),
    }
