"""Files attached to a conversation by its guest or an agent.

An upload is checked before anything is stored: its size (MAX_UPLOAD_MB: 413 `too_large`)
and its type, read from its first bytes and never from what the client says (an allow-list:
PNG, JPEG, GIF, WebP, PDF and plain text; anything else, SVG and HTML included: 422
`invalid`). Then the file is stored (app/store/attachments.py) and sent as a message of
the conversation, numbered like every message, whose `attachment` names it; if the message
is refused (a closed conversation, a rate limit) the file is deleted again. A file is
served only to those who may read its ticket."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from ... import clock
from ...errors import Invalid, NotFound, TicketClosed, TooLarge
from ...security import Identity
from ...store import attachments as stored
from ..core import Ctx, validate
from . import messages, tickets

# Shown inline (as thumbnails, and opened in the browser); everything else is a download.
SAFE_IMAGES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/gif": "GIF", "image/webp": "WebP"}
TEXT_EXTENSIONS = (".txt", ".text", ".log", ".csv")
NAME_MAX = 120
_MARKUP = re.compile(rb"^\s*<(\?xml|!doctype|html|svg|script)", re.IGNORECASE)


@dataclass(frozen=True)
class Download:
    name: str
    type: str
    inline: bool
    data: bytes


def max_bytes(ctx: Ctx) -> int:
    return ctx.settings.max_upload_mb * 1024 * 1024


def too_large(ctx: Ctx) -> TooLarge:
    return TooLarge(f"Files can be at most {ctx.settings.max_upload_mb} MB.")


def sniff(data: bytes, filename: str) -> str | None:
    """The file's type from its first bytes, if it is one we take; None otherwise."""
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if filename.lower().endswith(TEXT_EXTENSIONS) and b"\x00" not in data and not _MARKUP.match(data[:512]):
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return "text/plain"
    return None


def clean_name(value: object) -> str:
    """The file's name as given, without a path, control characters or extra spaces."""
    if not isinstance(value, str):
        return "file"
    name = re.split(r"[\\/]", value)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C")
    name = " ".join(name.split()).strip(" .")
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        name = ""
    if len(name) > NAME_MAX:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: NAME_MAX - len(ext) - 2] + "…" + dot + ext) if dot and len(ext) <= 10 else name[:NAME_MAX]
    return name or "file"


async def check_upload(ctx: Ctx, *, identity: Identity, ticket_id: object) -> dict:
    """Before reading the file: the caller may write in this conversation, which is open."""
    ticket = await tickets.get_accessible(ctx, identity=identity, ticket_id=ticket_id)
    if ticket["status"] == "closed":
        raise TicketClosed()
    return ticket


async def upload(ctx: Ctx, *, identity: Identity, ticket_id: object, filename: object, data: bytes,
                 client_msg_id: object, skip_sid: str | None = None) -> messages.Sent:
    """Store a file and send it as a message; nothing is stored if either is refused."""
    client_msg_id = validate.client_msg_id(client_msg_id)
    ticket = await check_upload(ctx, identity=identity, ticket_id=ticket_id)
    if len(data) > max_bytes(ctx):
        raise too_large(ctx)
    if not data:
        raise Invalid("The file is empty.", field="file")
    name = clean_name(filename)
    content_type = sniff(data, name)
    if content_type is None:
        raise Invalid("This type of file cannot be sent. Send an image (PNG, JPEG, GIF, WebP), "
                      "a PDF or a text file.", field="file")
    uploader = {"role": "agent" if identity.is_agent else "guest",
                "id": identity.id if identity.is_agent else None}
    file_id = await stored.put(ctx.db, data=data, filename=name, content_type=content_type,
                               ticket_id=ticket["_id"], uploaded_by=uploader, at=clock.utcnow())
    meta = {"id": file_id, "name": name, "size": len(data), "type": content_type,
            "image": content_type in SAFE_IMAGES}
    try:
        sent = await messages.send(ctx, identity=identity, ticket_id=ticket["_id"], body=name,
                                   client_msg_id=client_msg_id, attachment=meta, skip_sid=skip_sid)
    except BaseException:
        await stored.delete(ctx.db, file_id=file_id)
        raise
    if not sent.created:  # the same upload again: the first one's file stands
        await stored.delete(ctx.db, file_id=file_id)
    return sent


async def download(ctx: Ctx, *, identity: Identity, attachment_id: object) -> Download:
    """The file, for someone who may read its ticket (agents; the ticket's guest)."""
    file_id = validate.object_id(attachment_id, "attachment_id")
    info = await stored.info(ctx.db, file_id=file_id)
    if info is None:
        raise NotFound("This file does not exist.")
    await tickets.get_accessible(ctx, identity=identity, ticket_id=info["metadata"]["ticket_id"])
    data = await stored.read(ctx.db, file_id=file_id)
    if data is None:
        raise NotFound("This file does not exist.")
    content_type = info["metadata"]["content_type"]
    return Download(name=info["filename"], type=content_type, inline=content_type in SAFE_IMAGES,
                    data=data)
