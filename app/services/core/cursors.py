"""Paging cursors as clients see them: opaque strings.

Lists (tickets, audit events, notifications) page by a (time, _id) pair, so that equal
times neither skip nor repeat. A ticket's messages page by their number in the ticket
(`seq`): a client may also give that number itself, which is how it catches up after the
last message it holds without a gap (design.md, "Ordering and catch-up")."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from bson import ObjectId

from ...errors import Invalid


def encode(at: datetime, oid: ObjectId) -> str:
    millis = int(at.timestamp() * 1000)
    raw = f"{millis}.{oid}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(value: object, field: str) -> tuple[datetime, ObjectId]:
    if not isinstance(value, str) or not 1 <= len(value) <= 64:
        raise Invalid(f"{field} is not a valid cursor.", field=field)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        millis, oid = raw.split(".")
        at = datetime.fromtimestamp(int(millis) / 1000, UTC)
        return at, ObjectId(oid)
    except Exception:
        raise Invalid(f"{field} is not a valid cursor.", field=field) from None


def position(value: object, field: str = "before") -> tuple[datetime, ObjectId] | None:
    """A list cursor from untrusted input, or None when none was given."""
    return None if value in (None, "") else decode(value, field)


def next_cursor(docs: list[dict], more: bool, field: str) -> str | None:
    """The cursor of the page after `docs` (None at the end)."""
    return encode(docs[-1][field], docs[-1]["_id"]) if more and docs else None


def encode_name(name: str, oid: ObjectId) -> str:
    """A cursor for lists in (name, _id) order (accounts)."""
    return base64.urlsafe_b64encode(f"{oid}.{name}".encode()).decode().rstrip("=")


def decode_name(value: object, field: str = "after") -> tuple[str, ObjectId] | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > 400:
        raise Invalid(f"{field} is not a valid cursor.", field=field)
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        oid, name = raw.split(".", 1)
        return name, ObjectId(oid)
    except Exception:
        raise Invalid(f"{field} is not a valid cursor.", field=field) from None


SEQ_MAX = 2**53  # what a JavaScript number holds exactly


def encode_seq(seq: int) -> str:
    return str(seq)


def decode_seq(value: object, field: str) -> int:
    """A message number (an int, or a cursor string of digits) from untrusted input."""
    if isinstance(value, str) and 1 <= len(value) <= 16 and value.isascii() and value.isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= SEQ_MAX:
        raise Invalid(f"{field} is not a valid cursor.", field=field)
    return value
