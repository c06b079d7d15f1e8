"""What admins set for the chat widget (/admin/settings): its title, greeting and colour,
whether an e-mail address is always required, and the opening hours (services/guests/availability.py).
Every save is audited with the values before and after."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ... import clock
from ...errors import Forbidden, Invalid
from ...security import Identity
from ...store import settings as stored
from ..conversations import tickets
from ..core import Ctx, validate
from ..operations import audit
from . import availability

DEFAULTS = {
    "title": "Chat with us",
    "greeting": "Hi there! Tell us what you need and we’ll get right back to you.",
    "color": "#1d4ed8",
    "email_required": False,
}
_COLOR = re.compile(r"^#[0-9a-fA-F]{6}$")
WHITE_TEXT_CONTRAST = 4.5  # WCAG AA: the header's white text on the chosen colour


@dataclass(frozen=True)
class WidgetView:
    """Everything the widget page shows before the guest does anything."""

    title: str
    greeting: str
    color: str
    email_required: bool  # always, or because the team is away now
    presence: availability.Presence


async def look(ctx: Ctx) -> dict:
    doc = await stored.get(ctx.db, name="widget") or {}
    return {key: doc.get(key, default) for key, default in DEFAULTS.items()}


async def for_widget(ctx: Ctx, *, with_reply_time: bool = True) -> WidgetView:
    current = await look(ctx)
    presence = await availability.presence(ctx, with_reply_time=with_reply_time)
    return WidgetView(title=current["title"], greeting=current["greeting"], color=current["color"],
                      email_required=current["email_required"] or not presence.online,
                      presence=presence)


async def start_chat(ctx: Ctx, *, guest_id: str, name: object, email: object, body: object,
                     context: object = None) -> tuple[dict, dict]:
    """A guest starts a conversation, on the terms the widget shows: an e-mail address
    required when the settings say so or the team is away, and then an automatic first
    answer saying when it is back."""
    widget = await for_widget(ctx, with_reply_time=False)
    presence = widget.presence
    welcome = tickets.Welcome(email_required=widget.email_required, online=presence.online,
                      away_line=None if presence.online
                      else availability.away_line(presence.back_at, presence.timezone))
    return await tickets.start_by_guest(ctx, guest_id=guest_id, name=name, email=email, body=body,
                                        context=context, welcome=welcome)


async def for_admin(ctx: Ctx, *, identity: Identity) -> dict:
    _require_admin(identity)
    return {"widget": await look(ctx), "hours": await availability.hours(ctx),
            "timezones": list(availability.timezones())}


def _require_admin(identity: Identity) -> None:
    if not identity.is_admin:
        raise Forbidden("Only admins can change the widget's settings.")


def _luminance(color: str) -> float:
    def channel(hex_pair: str) -> float:
        c = int(hex_pair, 16) / 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(color[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_with_white(color: str) -> float:
    return 1.05 / (_luminance(color) + 0.05)


def check_look(value: object) -> dict:
    if not isinstance(value, dict):
        raise Invalid("widget must be an object.", field="widget")
    unknown = sorted(set(value) - set(DEFAULTS))
    if unknown:
        raise Invalid(f"{unknown[0]} is not a widget setting.", field=f"widget.{unknown[0]}")
    title = validate.text(value.get("title"), "widget.title", max_len=60)
    greeting = validate.text(value.get("greeting"), "widget.greeting", max_len=300)
    color = value.get("color")
    if not isinstance(color, str) or not _COLOR.match(color):
        raise Invalid("The colour looks like #1d4ed8.", field="widget.color")
    if contrast_with_white(color) < WHITE_TEXT_CONTRAST:
        raise Invalid("Pick a darker colour: the header's white text must stay readable on it.",
                      field="widget.color")
    return {"title": title, "greeting": greeting, "color": color.lower(),
            "email_required": validate.boolean(value.get("email_required", False), "widget.email_required")}


async def save(ctx: Ctx, *, identity: Identity, changes: object) -> dict:
    """Save the widget's look and the opening hours (either or both), audited."""
    _require_admin(identity)
    changes = validate.payload(changes)
    unknown = sorted(set(changes) - {"widget", "hours"})
    if unknown:
        raise Invalid(f"{unknown[0]} cannot be changed here.", field=unknown[0])
    if not changes:
        raise Invalid("Give widget or hours to change.")
    wanted = {}
    if "widget" in changes:
        wanted["widget"] = check_look(changes["widget"])
    if "hours" in changes:
        wanted["hours"] = availability.check_hours(changes["hours"])
    before = {"widget": await look(ctx), "hours": await availability.hours(ctx)}
    now = clock.utcnow()
    for name, values in wanted.items():
        await stored.put(ctx.db, name=name, values=values, at=now)
    await audit.record(ctx, actor=identity, action="settings.update", entity=("settings", "widget"),
                       before={name: before[name] for name in wanted}, after=wanted)
    return await for_admin(ctx, identity=identity)
