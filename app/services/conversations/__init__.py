"""conversations: tickets and what happens in them.

Public: tickets (a guest starts one, agents list, join, change, close and search them;
every change through tickets.change), messages (sending, history), attachments,
assignment (round robin, capacity, availability), escalation (the sweeps), presence (who is
connected where), payloads (what clients receive, one function per shape), effects (a
ticket change handed to its listeners: `Change`, `effects.listen`), the live events
(`Events`, `NoEvents`) and the names of the Socket.IO rooms. Private: lines.py (the system
lines a change writes), guest_context.py (where a guest started).

Imports core only. Effects of a ticket change that belong to another package (the audit
trail, e-mail, notifications, webhooks) are that package's listeners: effects.py hands each
change to every listener registered, in order, without knowing them. This package registers
its own three first; operations/__init__.py adds its four.

How this package is used from outside follows the rule in core/__init__.py."""

from . import (
    assignment,
    attachments,
    effects,
    escalation,
    events,
    lines,
    messages,
    payloads,
    presence,
    tickets,
)
from .effects import Change
from .events import (
    ADMINS_ROOM,
    AGENTS_ROOM,
    Events,
    NoEvents,
    guest_room,
    guest_ticket_room,
    presence_room,
    staff_room,
    ticket_room,
    user_room,
)

__all__ = [
    "ADMINS_ROOM", "AGENTS_ROOM", "Change", "Events", "NoEvents", "assignment", "attachments",
    "effects", "escalation", "guest_room", "guest_ticket_room", "messages", "payloads",
    "presence", "presence_room", "staff_room", "ticket_room", "tickets", "user_room",
]

# What a ticket change does here, first: the agents' open counts, the system lines, the
# socket events.
effects.listen("open counts", assignment.on_change)
effects.listen("system lines", lines.on_change)
effects.listen("live events", events.on_change)
