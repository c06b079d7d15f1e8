"""Messages: sending (numbered and stored before anyone is told), and history pages.

A message takes its number (`seq`) in the same atomic update that checks the ticket's
status and moves its activity fields, so it is either ordered before a close or refused
with `closed` and stored nowhere. Then it is stored with that number, then sent. History
pages by number: a client that holds every message up to number n asks for those after n
and misses nothing, whatever order the database committed them in."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bson import ObjectId
from pymongo.errors import DuplicateKeyError

from ... import clock
from ...errors import Conflict, Forbidden, Invalid, TicketClosed
from ...security import Identity
from ...store import messages as stored
from ...store import tickets as stored_tickets
from ..core import Ctx, cursors, ratelimit, validate
from . import effects, tickets  # tickets imports this module too: used at call time only

log = logging.getLogger(__name__)

BODY_MAX = 5000
PAGE_DEFAULT = 30
NUMBER_TRIES = 5


@dataclass
class Sent:
    message: dict
    created: bool  # False when the client_msg_id was already stored: nothing was broadcast


@dataclass
class HistoryPage:
    messages: list[dict]
    next_cursor: str | None
    has_more: bool


def check_send(identity: Identity, ticket: dict, kind: str) -> None:
    if kind == "note" and not identity.is_agent:
        raise Forbidden("Only agents can write internal notes.")
    if ticket["status"] == "closed":
        raise TicketClosed()


async def store_first(ctx: Ctx, *, ticket: dict, body: str, at) -> dict:
    """The first message of a new ticket, number 1 (taken with the ticket itself)."""
    message = await stored.insert(ctx.db, message={
        "ticket_id": ticket["_id"], "kind": "message", "sender_role": "guest",
        "sender_id": ticket["guest_id"], "sender_name": ticket["guest_name"], "body": body,
        "created_at": at, "seq": 1, "guest_seq": 1,
    })
    ctx.metrics.message_stored("message")
    return message


async def send(
    ctx: Ctx,
    *,
    identity: Identity,
    ticket_id: object,
    body: object,
    client_msg_id: object,
    kind: str = "message",
    skip_sid: str | None = None,
    attachment: dict | None = None,
) -> Sent:
    """Store a guest's or agent's message (or an agent's note), then tell the room. The
    same client_msg_id from the same sender again returns the stored message and tells
    nobody, whatever the ticket's status or the sender's rate limit now say: a client that
    resends after a reconnect learns that its message went through. `attachment`: a file
    already stored (services/conversations/attachments.py), which this message carries."""
    body = validate.text(body, "body", max_len=BODY_MAX)
    client_msg_id = validate.client_msg_id(client_msg_id)
    ticket_id = tickets.ticket_oid(ticket_id)
    if kind == "note" and not identity.is_agent:
        raise Forbidden("Only agents can write internal notes.")
    sender_id = identity.id
    # The sender's own message with this id (never another sender's), in any ticket state.
    stored_before = await stored.by_client_msg_id(
        ctx.db, ticket_id=ticket_id, sender_id=sender_id, client_msg_id=client_msg_id)
    if stored_before is not None:
        return Sent(message=stored_before, created=False)
    await ratelimit.hit(ctx, "message", f"{identity.role}:{sender_id}:{ticket_id}")
    at = clock.utcnow()
    before, after = await _number(ctx, ticket_id=ticket_id, identity=identity, kind=kind, body=body,
                                  at=at)
    ticket = after
    doc = {
        "ticket_id": ticket["_id"],
        "kind": kind,
        "sender_role": "agent" if identity.is_agent else "guest",
        "sender_id": sender_id,
        "sender_name": identity.name if identity.is_agent else ticket["guest_name"],
        "body": body,
        "client_msg_id": client_msg_id,
        "created_at": at,
        "seq": after["seq"],
    }
    if kind == "message":
        doc["guest_seq"] = after["guest_seq"]
    if attachment is not None:
        doc["attachment"] = attachment
    try:
        await stored.insert(ctx.db, message=doc)
    except DuplicateKeyError:
        # The same message sent twice at once (two tabs resending): the first one stored
        # wins; this number stays a hole, which clients skip once history confirms it.
        found = await stored.by_client_msg_id(
            ctx.db, ticket_id=ticket["_id"], sender_id=sender_id, client_msg_id=client_msg_id)
        if found is None:
            raise
        return Sent(message=found, created=False)
    ctx.metrics.message_stored(kind)
    await effects.apply(ctx, effects.Change(kind=kind, before=before, after=after, actor=identity,
                                            message=doc, skip_sid=skip_sid))
    return Sent(message=doc, created=True)


async def _number(ctx: Ctx, *, ticket_id, identity: Identity, kind: str, body: str,
                  at) -> tuple[dict, dict]:
    """Take the message's number, atomically with the check that the ticket is not closed
    (a message moves the ticket; a note only takes a number). Returns the ticket before
    and after.

    The common case takes one database call: the number is taken on the condition that the
    caller may write there and nothing but activity changes (an agent: any ticket not
    closed that they joined already; a guest: their own open ticket). Otherwise the ticket
    is read, the rules are applied to it (not found, not yours, closed, a guest's reply
    reopening it, an agent's first reply announced to the guest), and the number is taken
    on the condition that its status is still as read."""
    preview = tickets.preview(body)
    waiting_until = tickets.escalation_due(ctx, at) if identity.is_guest else None
    if kind == "note":
        after = await stored_tickets.take_seq(ctx.db, ticket_id=ticket_id, guest_visible=False,
                                              unless_closed=True)
    elif identity.is_agent:
        after = await stored_tickets.record_message(
            ctx.db, ticket_id=ticket_id, status=stored_tickets.NOT_CLOSED, at=at, preview=preview,
            by_guest=False, joined_by=identity.id)
    else:
        after = await stored_tickets.record_message(
            ctx.db, ticket_id=ticket_id, status="open", guest_id=identity.id, at=at, preview=preview,
            by_guest=True, waiting_until=waiting_until)
    if after is not None:
        await _name_first_responder(ctx, identity=identity, kind=kind, after=after, at=at)
        return after, after  # the status is as it was: only activity moved
    for _ in range(NUMBER_TRIES):
        ticket = await tickets.get_accessible(ctx, identity=identity, ticket_id=ticket_id)
        check_send(identity, ticket, kind)
        if kind == "note":
            after = await stored_tickets.take_seq(ctx.db, ticket_id=ticket["_id"], guest_visible=False,
                                                  unless_closed=True)
        else:
            reopen = identity.is_guest and ticket["status"] in ("pending", "resolved")
            # An agent's first reply in this conversation: the guest is told who joined,
            # in a line numbered just before the reply (lines.py writes it).
            first_reply = identity.is_agent and identity.id not in ticket.get("joined", [])
            after = await stored_tickets.record_message(
                ctx.db, ticket_id=ticket["_id"], status=ticket["status"], at=at, preview=preview,
                by_guest=identity.is_guest,
                # The guest wrote back: the ball is with the agents again.
                new_status="open" if reopen else None, waiting_until=waiting_until,
                announcing=identity.id if first_reply else None,
            )
        if after is not None:
            await _name_first_responder(ctx, identity=identity, kind=kind, after=after, at=at)
            return ticket, after
    raise Conflict("This conversation changed at the same moment. Please try again.")


async def _name_first_responder(ctx: Ctx, *, identity: Identity, kind: str, after: dict, at) -> None:
    """An agent's reply that holds the ticket's first response time names its agent (for
    the reports); only first answers pay this second, conditional write."""
    if kind == "message" and identity.is_agent and after.get("first_response_at") == at:
        await stored_tickets.claim_first_response(ctx.db, ticket_id=after["_id"], at=at,
                                                  seq=after["seq"], agent_id=ObjectId(identity.id))


async def history(
    ctx: Ctx,
    *,
    identity: Identity,
    ticket_id: object,
    before: object = None,
    after: object = None,
    limit: object = None,
    ticket: dict | None = None,
) -> HistoryPage:
    """A page of messages, oldest first. No cursor: the newest page. `before`: the page older
    than the cursor. `after`: the messages numbered after it (catch-up), with has_more.
    Cursors are message numbers in what the caller may read (a guest's skip notes and
    internal lines)."""
    size = validate.limit(limit, default=PAGE_DEFAULT)
    if before not in (None, "") and after not in (None, ""):
        raise Invalid("Give before or after, not both.", field="before")
    if ticket is None:
        ticket = await tickets.get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    number = stored.AGENT_SEQ if identity.is_agent else stored.GUEST_SEQ

    if after not in (None, ""):
        start = cursors.decode_seq(after, "after")
        docs, more = await stored.after(ctx.db, ticket_id=ticket["_id"], number=number, after=start,
                                        limit=size)
        next_cursor: str | None = cursors.encode_seq(docs[-1][number] if docs else start)
        return HistoryPage(messages=docs, next_cursor=next_cursor, has_more=more)

    end = cursors.decode_seq(before, "before") if before not in (None, "") else None
    docs, more = await stored.newest(ctx.db, ticket_id=ticket["_id"], number=number, before=end,
                                     limit=size)
    next_cursor = cursors.encode_seq(docs[0][number]) if more and docs else None
    return HistoryPage(messages=docs, next_cursor=next_cursor, has_more=more)
