"""Where and how a guest started a chat: the page (address and title), the browser, the time
zone and language. The widget sends them with the first message (`context` of
POST /api/guest/tickets); they are checked here and kept as the ticket's `context`, which
only agents see, beside the conversation."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from ...errors import Invalid
from ..core import validate

FIELDS = {"page_url": 2000, "page_title": 200, "user_agent": 400, "timezone": 64, "locale": 35}
# An IANA zone name as browsers report it (Intl): "Europe/Lisbon", "America/Argentina/Salta",
# "UTC", "Etc/GMT+3". Checked by shape only: the server's own zone database may be older.
_TIMEZONE = re.compile(r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$")
# A BCP 47 language tag as navigator.language gives it: "pt-BR", "sr-Latn-RS", "en".
_LOCALE = re.compile(r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8}){0,5}$")


def check(value: Any, *, user_agent: str | None = None) -> dict:
    """The context to store: the fields given (none is required), each a bounded text of
    the right shape. `user_agent`: the request's own, used when the widget sends none."""
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise Invalid("context must be an object.", field="context")
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise Invalid(f"context.{unknown[0]} is not a known field.", field=f"context.{unknown[0]}")
    context: dict = {}
    for name, max_len in FIELDS.items():
        raw = value.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        context[name] = validate.text(raw, f"context.{name}", max_len=max_len)
    if "page_url" in context:
        parts = urlsplit(context["page_url"])
        if parts.scheme not in ("http", "https") or not parts.netloc or re.search(r"\s", context["page_url"]):
            raise Invalid("context.page_url must be an http(s) address.", field="context.page_url")
    if "timezone" in context and not _TIMEZONE.match(context["timezone"]):
        raise Invalid("context.timezone must be a time zone name such as Europe/Lisbon.",
                      field="context.timezone")
    if "locale" in context and not _LOCALE.match(context["locale"]):
        raise Invalid("context.locale must be a language tag such as pt-BR.", field="context.locale")
    if "user_agent" not in context and user_agent:
        context["user_agent"] = user_agent[:FIELDS["user_agent"]]
    return context


# Most specific first: Edge and Opera also say "Chrome", Chrome also says "Safari".
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("SamsungBrowser/", "Samsung Internet"),
             ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"), ("CriOS/", "Chrome"),
             ("Chrome/", "Chrome"), ("Version/", "Safari"))
_SYSTEMS = (("Windows NT", "Windows"), ("iPhone", "iOS"), ("iPad", "iPadOS"), ("Android", "Android"),
            ("CrOS", "ChromeOS"), ("Mac OS X", "macOS"), ("Linux", "Linux"))


def describe_browser(user_agent: str | None) -> str | None:
    """"Firefox 128 on Windows" from a user agent string, or None when nothing is known."""
    if not user_agent:
        return None
    browser = None
    for marker, name in _BROWSERS:
        found = re.search(re.escape(marker) + r"(\d+)", user_agent)
        if found:
            browser = f"{name} {found.group(1)}"
            break
    system = next((name for marker, name in _SYSTEMS if marker in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system
