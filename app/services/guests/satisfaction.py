"""Satisfaction (CSAT): after a close, the guest rates the conversation from 1 to 5, with an
optional comment, in the widget or through the closing e-mail's link. One rating per ticket,
which the guest may change for RATING_DAYS after the close; stored as ticket["csat"] =
{rating, comment, at} through tickets.change(), so that it is one atomic change with its
effects (conversations/effects.py, kind "csat": audit, an internal line, ticket:updated,
the csat.submitted webhook)."""

from __future__ import annotations

from datetime import timedelta

from ... import clock, security
from ...errors import Conflict, Invalid, NotFound
from ...security import Identity
from ...store import tickets as stored
from ..conversations import tickets
from ..core import Ctx, validate

RATING_DAYS = 7
COMMENT_MAX = 1000


def check_rating(rating: object, comment: object) -> tuple[int, str | None]:
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise Invalid("Choose a rating from 1 to 5.", field="rating")
    if comment is None or (isinstance(comment, str) and not comment.strip()):
        return rating, None
    return rating, validate.text(comment, "comment", max_len=COMMENT_MAX)


def open_until(ticket: dict):
    """Until when the guest may rate (or change their rating), or None when not closed."""
    if ticket.get("status") != "closed" or not ticket.get("closed_at"):
        return None
    return ticket["closed_at"] + timedelta(days=RATING_DAYS)


async def rate(ctx: Ctx, *, identity: Identity, ticket_id: object, rating: object,
               comment: object = None) -> dict:
    """The guest of the ticket rates it from the widget."""
    rating, comment = check_rating(rating, comment)
    ticket = await tickets.get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    if not identity.is_guest:
        raise Invalid("Only the guest rates a conversation.")
    return await _store(ctx, ticket, rating, comment)


async def rate_by_link(ctx: Ctx, *, token: object, rating: object, comment: object = None) -> dict:
    """The same, from the closing e-mail's link (its signed token names the ticket)."""
    rating, comment = check_rating(rating, comment)
    ticket = await ticket_of_link(ctx, token=token)
    return await _store(ctx, ticket, rating, comment)


async def ticket_of_link(ctx: Ctx, *, token: object) -> dict:
    ticket_id = security.verify_rating_token(token, ctx.settings)
    if ticket_id is None:
        raise NotFound("This rating link is not valid.")
    ticket = await stored.get(ctx.db, ticket_id=ticket_id)
    if ticket is None:
        raise NotFound("This conversation does not exist.")
    return ticket


async def _store(ctx: Ctx, ticket: dict, rating: int, comment: str | None) -> dict:
    guest = Identity(role="guest", id=ticket["guest_id"], name=ticket.get("guest_name", ""))

    def decide(current: dict) -> tickets.Plan | None:
        until = open_until(current)
        if until is None:
            raise Conflict("You can rate this conversation once it is closed.")
        if clock.utcnow() >= until:
            raise Conflict(f"Ratings can be changed for {RATING_DAYS} days after the close; that time has passed.")
        held = current.get("csat") or {}
        if held.get("rating") == rating and held.get("comment") == comment:
            return None  # the same rating again: nothing changes
        return tickets.Plan(set={"csat": {"rating": rating, "comment": comment, "at": clock.utcnow()}})

    return await tickets.change(ctx, ticket=ticket, actor=guest, kind="csat", decide=decide)
