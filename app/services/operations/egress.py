"""Requests this server makes to addresses others chose (webhooks): never to this machine
or its private network, unless WEBHOOK_ALLOW_PRIVATE says so.

A URL is checked when it is registered and again before every delivery: its host is
resolved, every address in the answer is checked, and the connection goes to one of those
checked addresses (`PinnedResolver` hands aiohttp the checked answer instead of asking DNS
again), so a name that answers a public address to the check and a private one to the
connection (DNS rebinding) reaches nothing it should not."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult

from ...errors import Invalid

URL_MAX = 2000
RESOLVE_TIMEOUT = 5.0
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(Exception):
    """The destination is not one this server may reach; the message says why."""


def check_url(value: object, field: str = "url") -> SplitResult:
    """An http(s) URL with a host, without credentials or a fragment, at most URL_MAX
    characters; Invalid naming the field otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise Invalid(f"{field} must be an http:// or https:// URL.", field=field)
    url = value.strip()
    if len(url) > URL_MAX:
        raise Invalid(f"{field} must be at most {URL_MAX} characters.", field=field)
    if any(ord(c) < 0x21 or ord(c) == 0x7f for c in url) or not url.isascii():
        raise Invalid(f"{field} must be ASCII without spaces (percent-encode the rest).", field=field)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Invalid(f"{field} is not a valid URL.", field=field) from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Invalid(f"{field} must be an http:// or https:// URL.", field=field)
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise Invalid(f"{field} must not contain a user name or password.", field=field)
    if parts.fragment or url.endswith("#"):
        raise Invalid(f"{field} must not contain a fragment (#...).", field=field)
    if port == 0:
        raise Invalid(f"{field} has a bad port.", field=field)
    return parts


def port_of(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def forbidden(address: Address) -> str | None:
    """Why this address may not be reached (loopback, private, ...), or None when it is a
    public one. An IPv6 address that carries an IPv4 one (IPv4-mapped, 6to4, Teredo, NAT64)
    is judged by the IPv4 address too."""
    if isinstance(address, ipaddress.IPv6Address):
        inner = [address.ipv4_mapped, address.sixtofour]
        if address.teredo:
            inner.append(address.teredo[1])
        if address in ipaddress.IPv6Network("64:ff9b::/96"):
            inner.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
        for embedded in inner:
            if embedded is not None and (reason := forbidden(embedded)):
                return reason
    for reason in ("loopback", "unspecified", "link_local", "multicast", "private", "reserved"):
        if getattr(address, f"is_{reason}"):
            return reason.replace("_", "-")
    if not address.is_global:  # shared address space (100.64/10), documentation ranges...
        return "not public"
    return None


@dataclass(frozen=True)
class Destination:
    """A URL's host, and the addresses it resolved to, each checked."""

    host: str
    port: int
    addresses: tuple[tuple[socket.AddressFamily, str], ...]


async def _lookup(host: str, port: int) -> list[tuple[socket.AddressFamily, str]]:
    loop = asyncio.get_running_loop()
    infos = await asyncio.wait_for(
        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP),
        RESOLVE_TIMEOUT)
    # TCP's addresses: IPv4 and IPv6, each (host, port, ...) with the host as text
    return [(family, str(sockaddr[0])) for family, _, _, _, sockaddr in infos]


# Tests replace this to answer for names that do not exist (a rebinding name).
lookup = _lookup


async def resolve(parts: SplitResult, *, allow_private: bool) -> Destination:
    """Resolve the URL's host and check every address it answered; Refused when one of them
    may not be reached or the name does not resolve."""
    host, port = parts.hostname or "", port_of(parts)
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        answers = [(socket.AF_INET6 if literal.version == 6 else socket.AF_INET, str(literal))]
    else:
        try:
            answers = await lookup(host, port)
        except (OSError, TimeoutError, UnicodeError) as exc:
            raise Refused(f"{host} could not be resolved ({_reason(exc)})") from None
        if not answers:
            raise Refused(f"{host} could not be resolved")
    checked = []
    for family, text in dict.fromkeys(answers):
        address = ipaddress.ip_address(text.split("%", 1)[0])
        reason = forbidden(address)
        if reason and not allow_private:
            if literal is not None:
                raise Refused(f"{host} is not a public address ({reason})")
            raise Refused(f"{host} resolves to {address}, not a public address ({reason})")
        checked.append((family, text))
    return Destination(host=host, port=port, addresses=tuple(checked))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return getattr(exc, "strerror", None) or type(exc).__name__


class PinnedResolver(AbstractResolver):
    """aiohttp's resolver for one delivery: it answers the checked addresses of the one
    host it was made for, and nothing else (no second DNS query between check and
    connect)."""

    def __init__(self, destination: Destination) -> None:
        self.destination = destination

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        if host != self.destination.host:
            raise OSError(f"{host} was not checked")
        return [ResolveResult(hostname=host, host=address, port=port, family=fam,
                              proto=socket.IPPROTO_TCP, flags=socket.AI_NUMERICHOST)
                for fam, address in self.destination.addresses]

    async def close(self) -> None:
        return None
