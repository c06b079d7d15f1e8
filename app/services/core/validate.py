"""Checks on untrusted input, shared by HTTP routes and socket events."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from bson import ObjectId

from ...errors import Invalid

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# A tag: letters and digits of any script, then also - _ . (no spaces: "late delivery"
# becomes "late-delivery"), so that it reads the same in a URL, a filter and a line.
_TAG = re.compile(r"^\w[\w.-]*$")
TAG_MAX = 32
TAGS_MAX = 20
# ASCII digits only: str.isdigit() also accepts "²" and other digits that int() refuses.
_LIMIT_DIGITS = re.compile(r"[0-9]{1,6}")


# A JavaScript client's numbers are exact up to here; no id, count or limit is larger, and
# MongoDB refuses integers beyond 8 bytes.
MAX_SAFE_INTEGER = 2**53 - 1
# The deepest payload the protocol has is three levels (ticket:update's tags); JSON from a
# client deeper than this is refused before any service walks it.
MAX_DEPTH = 16
# Python's int() is quadratic in the number of digits and refuses more than 4,300: a JSON
# integer longer than this is never converted.
_MAX_INT_CHARS = 20


@dataclass(frozen=True, slots=True)
class OversizedNumber:
    """Stands in for a JSON integer too long to convert, so that `storable` can refuse it
    naming its field instead of the decoder failing on the whole request."""

    digits: int


def _parse_int(text: str) -> int | OversizedNumber:
    return int(text) if len(text) <= _MAX_INT_CHARS else OversizedNumber(len(text))


# Made once: json.loads with an option builds a decoder on every call (every socket event).
_DECODER = json.JSONDecoder(parse_int=_parse_int)


def loads(text: str | bytes) -> Any:
    """JSON from a client, with over-long integers as OversizedNumber. Raises ValueError
    (JSONDecodeError) on bad syntax and RecursionError on nesting deeper than Python's
    parser goes; check the result with `storable`."""
    if isinstance(text, str):
        return _DECODER.decode(text)
    return json.loads(text, parse_int=_parse_int)  # bytes: its encoding detected first


def storable(value: Any, field: str | None = None) -> Any:
    """Check a decoded JSON value from a client before any service reads it: text (keys too)
    that encodes as UTF-8, so no lone surrogates, which no database or hash can take;
    whole numbers within +/- MAX_SAFE_INTEGER, finite numbers, no binary, at most MAX_DEPTH
    levels. Raises Invalid naming the field (`email`, `tags.2`); returns the value."""
    _walk(value, field, 0)
    return value


def _walk(value: Any, field: str | None, depth: int) -> None:
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, str):
        _encodable(value, field)
    elif isinstance(value, int):
        if not -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:
            raise Invalid(f"{_name(field)} is out of range.", field=field)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise Invalid(f"{_name(field)} must be a finite number.", field=field)
    elif isinstance(value, OversizedNumber):
        raise Invalid(f"{_name(field)} is out of range.", field=field)
    elif isinstance(value, (dict, list)):
        if depth >= MAX_DEPTH:
            raise Invalid(f"{_name(field)} is nested too deeply.", field=field)
        if isinstance(value, dict):
            for key, item in value.items():
                if not isinstance(key, str):
                    raise Invalid(f"{_name(field)} has a key that is not text.", field=field)
                inner = _join(field, key)
                _encodable(key, inner)
                _walk(item, inner, depth + 1)
        else:
            for index, item in enumerate(value):
                _walk(item, _join(field, str(index)), depth + 1)
    else:  # bytes (Socket.IO binary attachments) and anything else JSON cannot carry
        raise Invalid(f"{_name(field)} must be text, a number, true/false, a list or an object.",
                      field=field)


def _encodable(text: str, field: str | None) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Invalid(f"{_name(field)} contains characters that are not valid text.",
                      field=field) from None


def _join(field: str | None, key: str) -> str:
    # The field name goes back to the client and into the log: make it printable and short.
    key = key.encode("utf-8", "backslashreplace").decode("utf-8")[:64]
    return f"{field}.{key}" if field else key


def _name(field: str | None) -> str:
    return field or "The payload"


def payload(value: Any) -> dict:
    if not isinstance(value, dict):
        raise Invalid("The payload must be an object.")
    return value


def object_id(value: Any, field: str) -> ObjectId:
    if not isinstance(value, str) or not ObjectId.is_valid(value) or len(value) != 24:
        raise Invalid(f"{field} is not a valid id.", field=field)
    return ObjectId(value)


def text(value: Any, field: str, *, max_len: int, min_len: int = 1) -> str:
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text.", field=field)
    value = value.strip()
    if len(value) < min_len:
        raise Invalid(f"{field} must not be empty.", field=field)
    if len(value) > max_len:
        raise Invalid(f"{field} must be at most {max_len} characters.", field=field)
    if "\x00" in value:
        raise Invalid(f"{field} contains a NUL character.", field=field)
    return value


def optional_email(value: Any, field: str = "email") -> str | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return email(value, field)


def email(value: Any, field: str = "email") -> str:
    value = text(value, field, max_len=254)
    if not _EMAIL.match(value):
        raise Invalid(f"{field} is not a valid e-mail address.", field=field)
    return value.lower()


def client_msg_id(value: Any) -> str:
    if not isinstance(value, str) or not _CLIENT_MSG_ID.match(value):
        raise Invalid(
            "client_msg_id must be 1 to 64 letters, digits or - _ . :", field="client_msg_id"
        )
    return value


def tag(value: Any, field: str = "tags") -> str:
    """One tag as stored: lower-case, whitespace inside turned into "-", 1 to 32 characters
    of letters, digits, - _ and ."""
    if not isinstance(value, str):
        raise Invalid(f"{field} must be text.", field=field)
    value = "-".join(value.strip().lower().split())
    if not value:
        raise Invalid(f"{field} must not be empty.", field=field)
    if len(value) > TAG_MAX:
        raise Invalid(f"A tag must be at most {TAG_MAX} characters.", field=field)
    if not _TAG.match(value):
        raise Invalid("A tag is letters, digits, - _ and . only, starting with a letter or digit.",
                      field=field)
    return value


def tags(value: Any, field: str = "tags", *, max_items: int = TAGS_MAX) -> list[str]:
    """A list of tags, each checked as `tag`, without repeats, in the order given."""
    if not isinstance(value, list):
        raise Invalid(f"{field} must be a list of tags.", field=field)
    if len(value) > max_items:
        raise Invalid(f"At most {max_items} tags.", field=field)
    return list(dict.fromkeys(tag(item, field) for item in value))


def boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise Invalid(f"{field} must be true or false.", field=field)
    return value


def limit(value: Any, *, default: int, maximum: int = 100) -> int:
    if value is None:
        return default
    if isinstance(value, str) and _LIMIT_DIGITS.fullmatch(value):
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise Invalid(f"limit must be a whole number from 1 to {maximum}.", field="limit")
    return value


def choice(value: Any, field: str, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise Invalid(f"{field} must be one of {', '.join(choices)}.", field=field)
    return value
