"""The inbound SMTP listener (aiosmtpd), on INBOUND_SMTP_PORT when it is set: guests' replies
by e-mail. It runs inside the web server's event loop (started and stopped by the app's
cleanup_ctx), so a reply becomes a message and reaches the conversation's room like any
other. Run it in one process only (or one per host): the others leave INBOUND_SMTP_PORT
unset.

The rules live in services/guests/inbound.py; here each SMTP step is translated:
- RCPT TO: only reply+<signed token>@REPLY_DOMAIN, with a signature that holds (550 else);
- DATA: larger than MAX_UPLOAD_MB is refused (552, aiosmtpd's own check, also announced as
  SIZE in EHLO so that a client can stop before sending); then each recipient's
  conversation gets the guest's message; a closed conversation answers 550 with a link to
  start a new one; a rate limit 451 (try later)."""

from __future__ import annotations

import logging

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from .errors import DomainError, RateLimited, TicketClosed
from .keys import ctx_key, settings_key
from .services.core import Ctx, client
from .services.guests import inbound

log = logging.getLogger(__name__)


class ReplyHandler:
    def __init__(self, ctx: Ctx) -> None:
        self.ctx = ctx

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope, address: str,
                          rcpt_options: list[str]) -> str:
        if inbound.ticket_of_address(self.ctx, address) is None:
            return "550 5.1.1 This is not a reply address of ours"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        peer = session.peer[0] if isinstance(session.peer, tuple) else None
        token = client.bind(client.ClientInfo(ip=peer, user_agent="smtp"))
        try:
            for address in envelope.rcpt_tos:
                ticket_id = inbound.ticket_of_address(self.ctx, address)
                if ticket_id is None:  # refused at RCPT already
                    return "550 5.1.1 This is not a reply address of ours"
                # the message's bytes as received (aiosmtpd sets them at DATA)
                await inbound.receive(self.ctx, ticket_id=ticket_id, raw=envelope.original_content or b"")
        except TicketClosed:
            return (f"550 5.7.1 This conversation is closed: start a new one at "
                    f"{self.ctx.settings.public_url}/widget")
        except RateLimited:
            return "451 4.7.1 Too many messages at once: try again later"
        except DomainError as exc:
            return f"550 5.6.0 {exc.message}"
        except Exception:
            log.exception("could not take a reply by e-mail")
            return "451 4.3.0 Something went wrong on our side: try again later"
        finally:
            client.reset(token)
        return "250 OK: your reply is in the conversation"


async def listener(app: web.Application):
    """cleanup_ctx: listen while the app runs (nothing without INBOUND_SMTP_PORT)."""
    import asyncio

    settings = app[settings_key]
    if not settings.inbound_smtp_port:
        yield
        return
    handler = ReplyHandler(app[ctx_key])
    limit = settings.max_upload_mb * 1024 * 1024
    server = await asyncio.get_running_loop().create_server(
        lambda: SMTP(handler, data_size_limit=limit, enable_SMTPUTF8=True,
                     hostname=settings.reply_domain, ident="support-chat"),
        host=settings.inbound_smtp_host, port=settings.inbound_smtp_port)
    log.info("replies by e-mail: listening on %s:%d for reply+...@%s", settings.inbound_smtp_host,
             settings.inbound_smtp_port, settings.reply_domain)
    yield
    server.close()
    await server.wait_closed()
