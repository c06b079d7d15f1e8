"""Privacy requests about a guest, for admins: export everything held about them, and erase
it. Both are audited (guest.export, guest.erase; each erased ticket also ticket.erase).

A guest is found by an e-mail address or one of their tickets, then widened once: every
ticket with one of the guest ids (the browser's cookie) or e-mail addresses of the tickets
found. The export holds those tickets as agents see them, every message of each (what the
guest wrote, the team's replies, internal notes and lines, marked by `kind`), the audit
events about those tickets or made by the guest, and attachment records when there are
any.

Erasing replaces the words of every message and note in those tickets with a marker,
removes the guest's name, e-mail and guest id from the tickets (so the cookie no longer
finds them) and from their messages, removes their name, e-mail, words, IP address and
browser from the audit trail (who did what, when, stays), replaces the text of
notifications about those tickets, deletes the webhook delivery log and the jobs not
running that carry their words or address, and deletes attachments when there are any.
Each ticket changes through tickets.change(), so its version rises and open dashboards are
told (messages already on a screen keep their words until it reloads). Erasing again
changes nothing: by ticket id it answers that ticket with zero changes; by e-mail it
answers 404, since nothing held names that address any more."""

from __future__ import annotations

from dataclasses import dataclass, field

from bson import ObjectId

from ... import clock
from ...errors import Forbidden, Invalid, NotFound
from ...security import Identity
from ...store import audit as stored_audit
from ...store import jobs as stored_jobs
from ...store import messages as stored_messages
from ...store import notifications as stored_notifications
from ...store import tickets as stored_tickets
from ...store import webhook_deliveries as stored_deliveries
from ..conversations import payloads, tickets
from ..core import Ctx, validate
from . import audit

ERASED_TEXT = "[erased]"
ERASED_NAME = "Erased guest"
ERASED_NOTIFICATION = "A message from a guest whose data was erased"
TICKETS_MAX = 1000  # tickets of one guest handled in one request
ACTIONS = ("guest.export", "guest.erase", "ticket.erase")


@dataclass
class Guest:
    """The tickets of one guest, and what identifies them."""

    tickets: list[dict]
    guest_ids: list[str] = field(default_factory=list)
    emails: list[str] = field(default_factory=list)

    @property
    def ticket_ids(self) -> list[str]:
        return [str(t["_id"]) for t in self.tickets]

    @property
    def pseudonyms(self) -> list[str]:
        """The ids the audit trail knows this guest by (services/operations/audit.py guest_actor)."""
        return [audit.guest_actor(g, "")["id"] for g in self.guest_ids]


def _require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden("Only admins can export or erase a guest's data.")


async def find_guest(ctx: Ctx, *, email: object = None, ticket_id: object = None) -> Guest:
    """The guest of an e-mail address or a ticket id (exactly one of them)."""
    given = [name for name, value in (("email", email), ("ticket_id", ticket_id))
             if value not in (None, "")]
    if len(given) != 1:
        raise Invalid("Give an email or a ticket_id (one of them).", field="email")
    if email not in (None, ""):
        emails = [validate.email(email)]
        found = await stored_tickets.of_guests(ctx.db, guest_ids=[], emails=emails, limit=TICKETS_MAX)
    else:
        ticket = await stored_tickets.get(ctx.db, ticket_id=validate.object_id(ticket_id, "ticket_id"))
        found = [ticket] if ticket else []
    if not found:
        raise NotFound("No conversation was found for this guest.")
    guest_ids = sorted({t["guest_id"] for t in found if t.get("guest_id")})
    emails = sorted({t["guest_email"] for t in found if t.get("guest_email")})
    widened = await stored_tickets.of_guests(ctx.db, guest_ids=guest_ids, emails=emails, limit=TICKETS_MAX)
    every = {t["_id"]: t for t in [*found, *widened]}
    # What identifies them, from every ticket found (the widening itself goes one step).
    return Guest(tickets=sorted(every.values(), key=lambda t: (t["created_at"], t["_id"])),
                 guest_ids=sorted({t["guest_id"] for t in every.values() if t.get("guest_id")}),
                 emails=sorted({t["guest_email"] for t in every.values() if t.get("guest_email")}))


# --- export -------------------------------------------------------------------------------


async def attachments_of(ctx: Ctx, *, ticket_ids: list[ObjectId]) -> list[dict]:
    """Attachment records of these tickets, for the export. HOOK: the attachments feature
    returns its records here (name, type, size, created_at, message id), as payloads."""
    return []


async def delete_attachments(ctx: Ctx, *, ticket_ids: list[ObjectId]) -> int:
    """Delete the attachments of these tickets, records and files; returns how many. HOOK:
    the attachments feature deletes them here (idempotent: 0 the second time)."""
    return 0


async def export(ctx: Ctx, *, identity: Identity, email: object = None,
                 ticket_id: object = None) -> dict:
    """Everything held about a guest, as one JSON document (audited, without its content)."""
    _require_admin(identity)
    guest = await find_guest(ctx, email=email, ticket_id=ticket_id)
    exported = []
    for ticket in guest.tickets:
        messages = await stored_messages.every_of_ticket(ctx.db, ticket_id=ticket["_id"])
        exported.append({**payloads.ticket(ticket), "erased": bool(ticket.get("erased_at")),
                         "messages": [payloads.message(m) for m in messages]})
    events = await stored_audit.every_about(ctx.db, ticket_ids=guest.ticket_ids,
                                            actor_ids=guest.pseudonyms)
    document = {
        "exported_at": payloads.iso(clock.utcnow()),
        "guest": {
            "names": sorted({t["guest_name"] for t in guest.tickets if t.get("guest_name")}),
            "emails": guest.emails,
        },
        "tickets": exported,
        "audit_events": [audit.payload(e) for e in events],
        "attachments": await attachments_of(ctx, ticket_ids=[t["_id"] for t in guest.tickets]),
    }
    await audit.record(ctx, actor=identity, action="guest.export", entity=_entity(guest),
                       meta={"tickets": guest.ticket_ids, "by": "email" if email else "ticket_id"})
    return document


def _entity(guest: Guest) -> tuple:
    return ("guest", guest.pseudonyms[0] if guest.pseudonyms else None)


# --- erasure ------------------------------------------------------------------------------


@dataclass
class Erased:
    tickets: list[dict]
    messages: int
    audit_events: int
    notifications: int
    webhook_deliveries: int
    jobs: int
    attachments: int


def _unlink(current: dict) -> tickets.Plan | None:
    wanted = {"guest_name": ERASED_NAME, "guest_email": None, "guest_id": None,
              "subject": ERASED_TEXT, "last_message_preview": ERASED_TEXT}
    if current.get("erased_at") and all(current.get(k) == v for k, v in wanted.items()):
        return None  # erased before: nothing to change, nothing to tell
    return tickets.Plan(set={**wanted, "erased_at": current.get("erased_at") or clock.utcnow()})


async def erase(ctx: Ctx, *, identity: Identity, email: object = None,
                ticket_id: object = None) -> Erased:
    """Erase a guest (see the module's docstring); idempotent."""
    _require_admin(identity)
    guest = await find_guest(ctx, email=email, ticket_id=ticket_id)
    ids = [t["_id"] for t in guest.tickets]
    done: list[dict] = []
    messages = 0
    for ticket in guest.tickets:
        # The ticket first: once its guest id is gone, the guest can add nothing more.
        after, plan = await tickets.change_as_planned(ctx, ticket=ticket, actor=identity,
                                                      kind="erase", decide=_unlink)
        changed = await stored_messages.erase_of_ticket(ctx.db, ticket_id=ticket["_id"],
                                                        body=ERASED_TEXT, guest_name=ERASED_NAME)
        if changed and plan is None:
            # Words left by an erasure cut short (or written since): clients are told too.
            after = await tickets.change(ctx, ticket=after, actor=identity, kind="erase",
                                         decide=lambda t: tickets.Plan(set={"erased_at": clock.utcnow()}))
        messages += changed
        done.append(after)
    redacted = await stored_audit.redact_about(ctx.db, ticket_ids=guest.ticket_ids,
                                               actor_ids=guest.pseudonyms, marker=ERASED_TEXT,
                                               name=ERASED_NAME)
    notes = await stored_notifications.redact_about_tickets(ctx.db, ticket_ids=ids,
                                                            text=ERASED_NOTIFICATION)
    deliveries = await stored_deliveries.delete_about_tickets(ctx.db, ticket_ids=ids)
    jobs_deleted = await stored_jobs.delete_about(ctx.db, ticket_ids=guest.ticket_ids, emails=guest.emails)
    attachments = await delete_attachments(ctx, ticket_ids=ids)
    result = Erased(tickets=done, messages=messages, audit_events=redacted, notifications=notes,
                    webhook_deliveries=deliveries, jobs=jobs_deleted, attachments=attachments)
    await audit.record(ctx, actor=identity, action="guest.erase", entity=_entity(guest),
                       meta={"tickets": guest.ticket_ids, "messages": messages,
                             "audit_events": redacted, "attachments": attachments})
    return result
