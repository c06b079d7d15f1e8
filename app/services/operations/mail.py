"""Outgoing e-mail over SMTP (aiosmtplib); without SMTP_URL it is written to the log, without
its links (production refuses to start that way unless MAIL_LOG_ONLY=1).

Replies to guests are queued as durable `email` jobs. Password-reset e-mails are sent in
the background instead (send_later): a job would keep the reset link, and so the token, in
the jobs collection, where the token must never be stored but as a hash."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from email.message import EmailMessage
from email.utils import make_msgid
from urllib.parse import urlencode

import aiosmtplib

from ... import security
from ...config import parse_smtp_url
from ..conversations import Change, presence
from ..core import Ctx
from . import jobs

log = logging.getLogger(__name__)

JOB_KIND = "email"
SMTP_TIMEOUT = 30


def conversation_link(ctx: Ctx, ticket: dict) -> str:
    """A signed resume link: it opens this conversation in any browser, giving that browser
    the guest's identity, until RESUME_LINK_DAYS have passed (app/security.py). The address
    rides along unsigned, only to fill in the start form if the link has expired."""
    token = security.resume_token(ticket["guest_id"], str(ticket["_id"]), ctx.settings)
    query = {"token": token}
    if ticket.get("guest_email"):
        query["email"] = ticket["guest_email"]
    return f"{ctx.settings.public_url}/widget/resume?{urlencode(query)}"


def rating_link(ctx: Ctx, ticket: dict) -> str:
    return f"{ctx.settings.public_url}/rate?{urlencode({'token': security.rating_token(str(ticket['_id']), ctx.settings)})}"


def reply_address(ctx: Ctx, ticket: dict) -> str | None:
    """reply+<signed ticket token>@REPLY_DOMAIN: mail to it becomes the guest's message in
    this conversation (services/guests/inbound.py). None without REPLY_DOMAIN."""
    if not ctx.settings.reply_domain:
        return None
    return f"reply+{security.reply_token(str(ticket['_id']), ctx.settings)}@{ctx.settings.reply_domain}"


def _to_guest(ctx: Ctx, ticket: dict, subject: str, body: str) -> dict:
    payload = {"to": ticket["guest_email"], "subject": subject, "body": body}
    reply_to = reply_address(ctx, ticket)
    if reply_to:
        payload["reply_to"] = reply_to
    return payload


def _answer_hint(ctx: Ctx) -> str:
    return "You can answer this e-mail directly.\n" if ctx.settings.reply_domain else ""


def reply_email(ctx: Ctx, *, ticket: dict, message: dict) -> dict:
    """The e-mail that brings an agent's reply to a guest who is not in the conversation."""
    subject = ticket.get("subject") or "your conversation"
    body = (
        f"Hello {ticket.get('guest_name') or 'there'},\n\n"
        f"{message['sender_name']} replied to your conversation:\n\n"
        f"{message['body']}\n\n"
        f"{_answer_hint(ctx)}"
        f"Continue the conversation: {conversation_link(ctx, ticket)}\n"
    )
    return _to_guest(ctx, ticket, f"Re: {subject}", body)


def closing_email(ctx: Ctx, *, ticket: dict) -> dict:
    """The e-mail that says a conversation was closed, with a link to rate it."""
    subject = ticket.get("subject") or "your conversation"
    body = (
        f"Hello {ticket.get('guest_name') or 'there'},\n\n"
        f"Your conversation “{subject}” has been closed.\n\n"
        f"How did we do? Rate it from 1 to 5 (you can change your rating for 7 days):\n"
        f"{rating_link(ctx, ticket)}\n\n"
        f"Read the conversation again: {conversation_link(ctx, ticket)}\n"
    )
    return _to_guest(ctx, ticket, f"Closed: {subject}", body)


async def enqueue_closing(ctx: Ctx, *, ticket: dict) -> dict:
    """One e-mail per close (a ticket reopened and closed again gets another)."""
    return await jobs.enqueue(ctx, JOB_KIND, closing_email(ctx, ticket=ticket),
                              dedupe_key=f"email:closed:{ticket['_id']}:{ticket['version']}")


async def enqueue_reply(ctx: Ctx, *, ticket: dict, message: dict) -> dict:
    """One e-mail per reply: a second enqueue for the same message is a no-op."""
    return await jobs.enqueue(
        ctx, JOB_KIND, reply_email(ctx, ticket=ticket, message=message),
        dedupe_key=f"email:reply:{message['_id']}",
    )


_LINK = re.compile(r"\b[a-z][a-z0-9+.-]*://\S+", re.IGNORECASE)


def without_links(body: str) -> str:
    """The body as the log may show it: a link can carry a live token (password reset,
    invitation), and whoever reads the log must not be able to use it."""
    return _LINK.sub("[link not logged]", body)


def build(ctx: Ctx, payload: dict) -> EmailMessage:
    email = EmailMessage()
    email["From"] = ctx.settings.mail_from
    email["To"] = payload["to"]
    email["Subject"] = payload["subject"]
    if payload.get("reply_to"):
        email["Reply-To"] = payload["reply_to"]
    email["Message-ID"] = make_msgid(domain="support-chat")
    email.set_content(payload["body"])
    return email


async def send(ctx: Ctx, payload: dict) -> None:
    """The `email` job: send one e-mail, or log it when no SMTP server is configured. A
    failure raises, so the job is retried."""
    email = build(ctx, payload)
    if not ctx.settings.smtp_url:
        log.info("e-mail not sent (SMTP_URL is not set) to %s: %s\n%s",
                 email["To"], email["Subject"], without_links(payload["body"]))
        return
    target = parse_smtp_url(ctx.settings.smtp_url)
    smtp = aiosmtplib.SMTP(hostname=target.hostname, port=target.port, username=target.username,
                           password=target.password, use_tls=target.use_tls, timeout=SMTP_TIMEOUT)
    # Not `async with smtp`: on any way out, its exit says QUIT and waits up to SMTP_TIMEOUT
    # for the answer, so a worker stopping at shutdown (which cancels the job to give it
    # back) would wait that long on a stalled server. Quit politely only after a success.
    try:
        await smtp.connect()
        await smtp.send_message(email)
    except BaseException:
        smtp.close()
        raise
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await smtp.quit()


def send_later(ctx: Ctx, *, to: str, subject: str, body: str) -> asyncio.Task:
    """Send without making the caller wait (or showing, by its timing, that it sent)."""

    async def deliver() -> None:
        try:
            await send(ctx, {"to": to, "subject": subject, "body": body})
        except Exception:
            log.exception("could not send e-mail %r to %s", subject, to)

    task = asyncio.create_task(deliver())
    ctx.background.add(task)
    task.add_done_callback(ctx.background.discard)
    return task


# --- the listener: e-mail to the guest about ticket changes (conversations' effects) ---------


async def on_change(ctx: Ctx, change: Change) -> None:
    """An agent's reply to a guest who is not in the room; the closing e-mail. Nothing is
    queued (no write at all) when the guest is there to see it, or left no address."""
    ticket = change.after
    if not ticket.get("guest_email"):
        return
    if change.kind == "message" and change.person.is_agent:
        if not await presence.guest_in_ticket_room(ctx, ticket=ticket):
            await enqueue_reply(ctx, ticket=ticket, message=change.posted)
    elif change.kind == "update" and change.diff().get("status") == "closed":
        await enqueue_closing(ctx, ticket=ticket)
