"""The one source of "now", so tests can pin time."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    # MongoDB keeps milliseconds; truncating here makes stored and returned times equal.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
