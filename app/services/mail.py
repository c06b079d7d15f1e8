"""Outgoing e-mail: aiosmtplib to SMTP_URL (smtp://[user:password@]host:port, or smtps://).
Without SMTP_URL the e-mail is written to the log instead (development)."""

from __future__ import annotations

import asyncio
import logging
from email.message import EmailMessage
from urllib.parse import unquote, urlsplit

import aiosmtplib

from .context import Ctx

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 15


def build(ctx: Ctx, *, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = ctx.settings.mail_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


async def send(ctx: Ctx, *, to: str, subject: str, body: str) -> None:
    message = build(ctx, to=to, subject=subject, body=body)
    url = ctx.settings.smtp_url
    if not url:
        log.warning("SMTP_URL is not set; this e-mail was not sent:\nTo: %s\nSubject: %s\n\n%s",
                    to, subject, body)
        return
    parts = urlsplit(url)
    secure = parts.scheme == "smtps"
    await aiosmtplib.send(
        message,
        hostname=parts.hostname or "localhost",
        port=parts.port or (465 if secure else 25),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        use_tls=secure,
        timeout=TIMEOUT_SECONDS,
    )


def send_later(ctx: Ctx, *, to: str, subject: str, body: str) -> asyncio.Task:
    """Send without making the caller wait (or showing, by its timing, that it sent)."""

    async def deliver() -> None:
        try:
            await send(ctx, to=to, subject=subject, body=body)
        except Exception:
            log.exception("could not send e-mail %r to %s", subject, to)

    task = asyncio.create_task(deliver())
    ctx.background.add(task)
    task.add_done_callback(ctx.background.discard)
    return task
