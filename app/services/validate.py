"""Checks on untrusted input, shared by HTTP routes and socket events."""

from __future__ import annotations

import re
from typing import Any

from bson import ObjectId

from ..errors import Invalid

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
_CLIENT_MSG_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
# ASCII digits only: str.isdigit() also accepts "²" and other digits that int() refuses.
_LIMIT_DIGITS = re.compile(r"[0-9]{1,6}")


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
