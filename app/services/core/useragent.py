"""A user agent in a few words ("Firefox on Windows"), for the audit page's rows.

Hand-written rather than ua-parser: the audit page needs the browser family and the
operating system of the handful of browsers people use, nothing finer, and the full string
is one click away. ua-parser's thousand regexes (and their yearly updates) would bring a
dependency and a start-up cost for versions and devices nobody reads here. The order of
the checks matters: Edge, Opera and Samsung Internet also say "Chrome", Chrome also says
"Safari", and every browser on iOS is WebKit under its own name."""

from __future__ import annotations

import re

# (token in the user agent, name shown), first match wins.
_BROWSERS = (
    ("Edg/", "Edge"), ("EdgA/", "Edge"), ("EdgiOS/", "Edge"), ("Edge/", "Edge"),
    ("OPR/", "Opera"), ("OPT/", "Opera"), ("Opera", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"), ("Vivaldi/", "Vivaldi"), ("YaBrowser/", "Yandex Browser"),
    ("Firefox/", "Firefox"), ("FxiOS/", "Firefox"),
    ("CriOS/", "Chrome"), ("Chrome/", "Chrome"), ("Chromium/", "Chromium"),
    ("Trident/", "Internet Explorer"), ("MSIE ", "Internet Explorer"),
)
_OSES = (
    ("Windows Phone", "Windows Phone"), ("Windows", "Windows"),
    ("iPhone", "iPhone"), ("iPod", "iPod"), ("iPad", "iPad"),
    ("Android", "Android"), ("CrOS", "ChromeOS"),
    ("Macintosh", "macOS"), ("Mac OS X", "macOS"),
    ("Linux", "Linux"), ("FreeBSD", "FreeBSD"),
)
# Programs rather than browsers ("curl/8.5.0", "python-requests/2.32", "Python/3.12 aiohttp/3.9").
_TOOL = re.compile(r"(curl|wget|python-requests|python-httpx|aiohttp|okhttp|Go-http-client|node-fetch|"
                   r"PostmanRuntime|insomnia)/", re.IGNORECASE)
_FIRST_PRODUCT = re.compile(r"^([A-Za-z][A-Za-z0-9._ -]{0,30}?)/")
SHORT_MAX = 40


def browser(user_agent: str) -> str | None:
    for token, name in _BROWSERS:
        if token in user_agent:
            return name
    if "Safari/" in user_agent and ("Version/" in user_agent or "Mobile/" in user_agent):
        return "Safari"
    return None


def operating_system(user_agent: str) -> str | None:
    for token, name in _OSES:
        if token in user_agent:
            return name
    return None


def short(user_agent: str | None) -> str:
    """"Firefox on Windows", "Safari on iPhone", "curl", or the first product named; "" when
    there is no user agent at all."""
    text = (user_agent or "").strip()
    if not text:
        return ""
    tool = _TOOL.search(text)
    if tool:
        return tool.group(1)
    name, system = browser(text), operating_system(text)
    if name and system:
        return f"{name} on {system}"
    if name or system:
        return name or system or ""
    product = _FIRST_PRODUCT.match(text)
    return (product.group(1) if product else text)[:SHORT_MAX]
