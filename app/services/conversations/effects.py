"""A ticket change, and the listeners that carry out its effects.

A service changes a ticket with one atomic update and hands the result here as a `Change`:
the ticket before and after that update and who made it. `apply` hands it to every
listener, in the order they registered; each derives its own effects from that pair (never
from an earlier read). Effects does not know them: each package registers its listeners
when it is imported (its __init__.py), as Chatwoot's listeners are listed at start-up:

- conversations: the agents' open counts (assignment.py), the system lines in the
  conversation (lines.py), the socket events (events.py);
- operations: the audit trail, e-mail to the guest, the agents' notifications, webhooks.

A new effect is a new listener; a new kind of change is a case in the listeners it
concerns. Effects run after the change is stored; a listener that fails is logged and the
others still run (the change itself stands, and the audit trail has its own retry)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ...security import Identity
from ..core import Ctx

log = logging.getLogger(__name__)

# The fields whose change is a change of the ticket itself (the rest is bookkeeping).
TRACKED = ("status", "priority", "assignee_id", "tags")


@dataclass(frozen=True)
class Change:
    """One atomic change of a ticket.

    kind: created, message, note, update (status, priority, assignee, tags, close, reopen),
    auto_assign, escalate, auto_resolve, erase (a guest's data removed, operations/privacy.py),
    csat (a satisfaction rating: details["csat"] = {rating, comment, submitted_at}),
    bookkeeping (a field nobody sees), line (a system line written in the conversation, the
    message: lines.py).
    actor: who did it (None: the system)."""

    kind: str
    after: dict
    before: dict | None = None
    actor: Identity | None = None
    message: dict | None = None  # the message, note or line that made it
    details: dict = field(default_factory=dict)  # what the kind needs to be described
    skip_sid: str | None = None  # the socket that made it: it has its answer already

    def diff(self) -> dict:
        """The tracked fields that differ, with their new values."""
        before = self.before or {}
        return {k: self.after.get(k) for k in TRACKED if before.get(k) != self.after.get(k)}

    @property
    def person(self) -> Identity:
        """Who made a change that a person makes (a message, a note, an update)."""
        if self.actor is None:
            raise ValueError(f"this {self.kind} change was made by the system, not a person")
        return self.actor

    @property
    def posted(self) -> dict:
        """The message, note or line that made a message, note or line change."""
        if self.message is None:
            raise ValueError(f"this {self.kind} change posted nothing")
        return self.message


Listener = Callable[[Ctx, Change], Awaitable[None]]

_listeners: dict[str, Listener] = {}


def listen(name: str, listener: Listener) -> None:
    """Register a listener under a name (the same name again replaces it, in its place)."""
    _listeners[name] = listener


def listeners() -> list[str]:
    """The listeners' names, in the order they run."""
    return list(_listeners)


async def apply(ctx: Ctx, change: Change) -> None:
    for name, listener in list(_listeners.items()):
        await guarded(listener(ctx, change),
                      f"{name} of a {change.kind} change of ticket {change.after.get('_id')}")


async def guarded(awaitable: Awaitable[Any], what: str) -> Any:
    """Await one effect; one that fails is logged (None), and the next still runs."""
    try:
        return await awaitable
    except Exception:
        log.exception("could not carry out %s", what)
        return None


def duration(seconds: float) -> str:
    """How long, in words (a line, a notification): 15 min, 3 h, 7 days."""
    minutes = round(seconds / 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = round(minutes / 60)
    return f"{hours} h" if hours < 48 else f"{round(hours / 24)} days"
