"""The checks every untrusted JSON value goes through before a service reads it."""

import pytest

from app.errors import Invalid
from app.services.core import validate


def refused(value) -> Invalid:
    with pytest.raises(Invalid) as caught:
        validate.storable(value)
    return caught.value


def test_ordinary_payloads_pass_unchanged():
    payload = {"ticket_id": "a" * 24, "body": "héllo 👋", "limit": 50, "typing": True,
               "tags": ["vip", "refund"], "ratio": 0.5, "none": None}
    assert validate.storable(payload) is payload


def test_over_long_integers_are_never_converted_and_are_refused_by_field():
    value = validate.loads('{"ticket_id": %s}' % ("9" * 5000))
    assert isinstance(value["ticket_id"], validate.OversizedNumber)
    assert refused(value).field == "ticket_id"
    assert refused({"a": {"b": [1, 2**53]}}).field == "a.b.1"
    assert validate.storable({"n": -(2**53 - 1)})


def test_text_that_cannot_be_encoded_is_refused_by_field_and_key():
    assert refused({"body": "ok \ud800"}).field == "body"
    error = refused({"\udfff": 1})
    assert error.field == "\\udfff"  # printable, so the answer itself can be sent
    assert "not valid text" in error.message


def test_non_finite_numbers_binary_and_deep_nesting_are_refused():
    assert refused({"x": float("nan")}).field == "x"
    assert refused(validate.loads('{"x": 1e999}')).field == "x"
    assert refused({"x": b"\x00"}).field == "x"
    deep: list = []
    for _ in range(validate.MAX_DEPTH + 1):
        deep = [deep]
    assert "nested too deeply" in refused({"x": deep}).message


@pytest.mark.parametrize("value", ["²", "٣", "9" * 5000, "1.0", " 1", "1\n", True, 0, 101, 2.0])
def test_limit_takes_only_a_small_whole_number(value):
    with pytest.raises(Invalid):
        validate.limit(value, default=10)


def test_limit_reads_ascii_digits():
    assert validate.limit("25", default=10) == 25
    assert validate.limit(None, default=10) == 10
