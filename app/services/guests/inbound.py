"""Replies by e-mail: mail to reply+<signed token>@REPLY_DOMAIN (the Reply-To of every e-mail to
a guest) becomes the guest's message in that conversation, through messages.send, as if they
had typed it in the widget: a pending or resolved ticket opens again, a closed one refuses.

What is kept of an e-mail is what the guest wrote above the quoted conversation: quoted
lines ("> ..."), the "On ... wrote:" line and everything after it, forwarded headers
("-----Original Message-----", "From: ..."), signatures (after "-- ") and mobile footers
("Sent from my ...") are dropped. The listener itself is app/inbound_smtp.py."""

from __future__ import annotations

import hashlib
import re
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser

from ... import security
from ...errors import Invalid
from ...security import Identity
from ...store import tickets as stored_tickets
from ..conversations import messages
from ..core import Ctx

_LOCAL = re.compile(r"^reply\+([0-9a-fA-F]{24}\.[0-9a-fA-F]+)$")
_WROTE = re.compile(r"^(on\b.*\bwrote\b|am\b.*\bschrieb\b|le\b.*\ba écrit\b).*:\s*$", re.IGNORECASE)
_CUT = (
    re.compile(r"^-{2,}\s*(original message|forwarded message|ursprüngliche nachricht)", re.IGNORECASE),
    re.compile(r"^_{10,}\s*$"),
    re.compile(r"^(sent from my|get outlook for|von meinem .* gesendet)", re.IGNORECASE),
)
_HEADER_BLOCK = re.compile(r"^(from|von|de|sent|gesendet|date|to|an|subject|betreff)\s*:", re.IGNORECASE)


def ticket_of_address(ctx: Ctx, address: str) -> str | None:
    """The ticket id a reply address stands for, if it is one of ours and its signature holds."""
    if not isinstance(address, str) or address.count("@") != 1 or not ctx.settings.reply_domain:
        return None
    local, domain = address.strip().strip("<>").rsplit("@", 1)
    if domain.lower() != ctx.settings.reply_domain:
        return None
    match = _LOCAL.match(local)
    return security.verify_reply_token(match.group(1), ctx.settings) if match else None


def strip_quoted(text: str) -> str:
    """What the guest wrote above the quoted history and their signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for index, line in enumerate(lines):
        stripped = line.strip()
        if line.rstrip() == "--" or line == "-- ":
            break
        following = lines[index + 1].strip() if index + 1 < len(lines) else ""
        if _WROTE.match(stripped) or (stripped.lower().startswith(("on ", "am ", "le "))
                                      and _WROTE.match(f"{stripped} {following}")):
            break
        if any(pattern.match(stripped) for pattern in _CUT):
            break
        if _HEADER_BLOCK.match(stripped) and kept and not kept[-1].strip() \
                and _HEADER_BLOCK.match(following or "x:"):
            break  # a forwarded message's headers, two or more in a row after a blank line
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


class _HtmlText(HTMLParser):
    """The text of an HTML e-mail, without quoted parts (<blockquote>), styles or scripts."""

    BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3"})
    SKIP = frozenset({"blockquote", "style", "script", "head"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1
        elif tag in self.BREAKS:
            self.parts.append("\n")

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


def body_text(email: EmailMessage) -> str:
    """The e-mail's text: its text/plain part, else its HTML part as text."""
    part = email.get_body(preferencelist=("plain",))
    if part is not None:
        return part.get_content()
    part = email.get_body(preferencelist=("html",))
    if part is None:
        return ""
    parser = _HtmlText()
    parser.feed(part.get_content())
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.parts))


def parse(raw: bytes) -> EmailMessage:
    return BytesParser(policy=policy.default).parsebytes(raw)


def client_msg_id(email: EmailMessage, raw: bytes) -> str:
    """One message per e-mail, however often it is delivered (a mail server retrying after a
    lost answer): keyed by its Message-ID, or by its bytes when it has none."""
    key = (email.get("Message-ID") or "").strip().encode() or raw
    return "email-" + hashlib.sha256(key).hexdigest()[:40]


async def receive(ctx: Ctx, *, ticket_id: str, raw: bytes) -> messages.Sent:
    """Add the reply as the guest's message. Raises the domain errors messages.send raises
    (closed, rate_limited), or Invalid when nothing is left once the quotes are gone."""
    email = parse(raw)
    try:
        text = strip_quoted(body_text(email))
    except (LookupError, UnicodeError, ValueError):  # an unknown charset, a broken part
        raise Invalid("The e-mail's text could not be read.") from None
    if not text:
        raise Invalid("The e-mail has no text of its own above the quoted conversation.")
    text = text[: messages.BODY_MAX]
    ticket = await stored_tickets.get(ctx.db, ticket_id=ticket_id)
    if ticket is None:
        raise Invalid("This conversation does not exist any more.")
    guest = Identity(role="guest", id=ticket["guest_id"], name=ticket.get("guest_name", ""))
    return await messages.send(ctx, identity=guest, ticket_id=str(ticket["_id"]), body=text,
                               client_msg_id=client_msg_id(email, raw))
