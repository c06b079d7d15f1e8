"""Hypothesis strategies for hostile input: the kinds of value issue 10's fuzzer found to
break the server (non-ASCII digits, numbers of thousands of digits, lone surrogates, deep
nesting, unknown charsets, dates at the year limits, over-long paths), mixed with valid
values and real ids so that generated requests also reach past the first check."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bson import ObjectId
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st

# For every fuzz test: no deadline (a live server's answer times vary), nothing saved to
# disk, and no shrinking: the cases share one live server, so a failure depends on what came
# before it and cannot be replayed alone (shrinking would only time out); the failing case is
# in the assertion message as it was sent.
FUZZ = settings(deadline=None, database=None, phases=(Phase.explicit, Phase.generate),
                report_multiple_bugs=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large])

# Field names the routes and events read, so that generated objects hit real code paths.
FIELDS = ("ticket_id", "body", "client_msg_id", "before", "after", "limit", "typing", "status",
          "priority", "assignee_id", "tags", "email", "password", "name", "message", "role",
          "old_password", "new_password", "token", "active", "subject", "add_tags", "remove_tags",
          "context", "availability", "capacity", "shortcut", "title", "scope", "note")
QUERY_NAMES = ("limit", "before", "after", "status", "assignee", "priority", "unread", "from", "to", "q", "tag",
               "actor", "action", "entity_type", "entity_id", "format", "next", "token", "EIO",
               "transport", "sid", "t")
CONTENT_TYPES = (None, "application/json", "application/json; charset=utf-8", "application/json; charset=UTF8",
                 "application/json; charset=bogus-charset", "application/json; charset=utf-16",
                 "application/json; charset=latin-1", "application/json; charset=", "text/plain",
                 "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml",
                 "application/json; charset=utf-8; charset=ascii", "APPLICATION/JSON", "*/*")


@dataclass(frozen=True)
class RawNumber:
    """A JSON number written as it is: json.dumps cannot write integers over 4,300 digits."""

    text: str


def to_python(value: Any) -> Any:
    """The value as a Python client can send it (RawNumber made a number where Python can)."""
    if isinstance(value, RawNumber):
        try:
            return json.loads(value.text)
        except ValueError:  # more digits than Python converts
            return 10**4000
    if isinstance(value, dict):
        return {k: to_python(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_python(v) for v in value]
    return value


def to_json(value: Any) -> str:
    """JSON text for a generated value; lone surrogates go out as \\uXXXX escapes (valid
    JSON), RawNumber as its digits."""
    if isinstance(value, RawNumber):
        return value.text
    if isinstance(value, dict):
        return "{" + ",".join(f"{json.dumps(k)}:{to_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(to_json(v) for v in value) + "]"
    return json.dumps(value)


def object_ids(real: list[str]) -> st.SearchStrategy[str]:
    """Ids of things that exist (so requests reach past the lookup), and of things that do not."""
    fresh = st.binary(min_size=12, max_size=12).map(lambda b: str(ObjectId(b)))
    return st.sampled_from(real) | fresh if real else fresh


digits = st.sampled_from("0123456789")
hostile_text = st.one_of(
    st.text(max_size=40),  # any code point, lone surrogates included
    st.sampled_from(["", " ", "²", "٣", "１２", "\ud800", "x\udfff", "\x00", "-1", "0", "1e3", "NaN",
                     "Infinity", "true", "null", "[]", "{}", "../../etc/passwd", "%00", "a" * 300,
                     "9999-12-31", "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-05:00",
                     "2026-13-45", "csv", "json", "open", "closed", "urgent", "admin", "agent",
                     "a@example.com", "MTIzNDU2Nzg5MC4" + "A" * 20]),
    st.text(digits, min_size=1, max_size=30),
    st.integers(min_value=90, max_value=6000).map(lambda n: "9" * n),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, 1, -1, 50, 101, 2**53, -(2**53), 2**63, 10**300]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=21, max_value=6000).map(lambda n: RawNumber("9" * n)),
    st.integers(min_value=21, max_value=400).map(lambda n: RawNumber("-1" + "0" * n)),
    st.sampled_from([RawNumber("1e400"), RawNumber("-1e400"), RawNumber("NaN"), RawNumber("Infinity"),
                     RawNumber("1" + "0" * 400 + ".5")]),
)


def leaves(ids: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.none(), st.booleans(), numbers, hostile_text, ids,
                     st.sampled_from(["open", "pending", "resolved", "closed", "low", "high", "agent",
                                      "admin", "hello", "m-1"]))


def json_values(ids: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """Any JSON value, nested a few levels, with keys mostly the ones our routes read."""
    keys = st.sampled_from(FIELDS) | hostile_text
    return st.recursive(
        leaves(ids),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=5),
        max_leaves=8,
    )


def payloads(ids: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """What a route or event is sent: mostly an object of the fields it reads."""
    objects = st.dictionaries(st.sampled_from(FIELDS) | hostile_text, json_values(ids), max_size=5)
    deep = st.integers(min_value=17, max_value=200).map(lambda n: RawNumber("[" * n + "]" * n))
    return st.one_of(objects, objects, objects, json_values(ids), deep)


def raw_bodies(ids: st.SearchStrategy[str]) -> st.SearchStrategy[bytes]:
    """Request bodies: JSON text (valid or not), deep nesting, bytes that are not UTF-8."""
    whole = payloads(ids).map(lambda v: to_json(v).encode("utf-8", "surrogatepass"))
    return st.one_of(
        whole, whole, whole, whole,
        payloads(ids).map(to_json).map(lambda t: t.encode("utf-8", "surrogatepass")[: len(t) // 2]),
        st.integers(min_value=1, max_value=40_000).map(lambda n: b"[" * n),
        st.integers(min_value=1, max_value=6000).map(lambda n: b'{"email": ' + b"9" * n + b"}"),
        st.binary(max_size=200),
        st.sampled_from([b"", b"null", b"[]", b'"x"', b"{", b'{"a":1}{', b"\xef\xbb\xbf{}", b'{"a":"\xed\xa0\x80"}']),
    )
