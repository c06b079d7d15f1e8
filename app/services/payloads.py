"""What clients receive: one function per shape, built from the stored document.

Ids become strings and times ISO-8601 with a Z. Guest ids and password hashes never leave."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from . import cursors, useragent


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _id(value: Any) -> str | None:
    return None if value is None else str(value)


def message(doc: dict, *, for_guest: bool = False) -> dict:
    """A message as clients receive it. `seq` is its number in what the receiver may read
    (every message for agents, the guest's own numbering for guests, which skips notes and
    internal lines without showing that they exist), and `cursor` pages history from it."""
    seq = doc.get("guest_seq") if for_guest else doc.get("seq")
    return {
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
    }


GUEST_TICKET_FIELDS = (
    "id", "subject", "guest_name", "guest_email", "status", "version", "created_at", "updated_at",
    "last_message_at", "closed_at",
)


def guest_ticket(doc: dict) -> dict:
    """The ticket as its guest sees it: the conversation's state, not the team's triage
    (priority, assignee, tags, escalation)."""
    full = ticket(doc)
    return {name: full[name] for name in GUEST_TICKET_FIELDS}


def ticket_for(identity, doc: dict) -> dict:
    return ticket(doc) if identity.is_agent else guest_ticket(doc)


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
