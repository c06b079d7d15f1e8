"""Where the current request or socket event comes from: IP address and user agent.

HTTP middleware and the socket event wrapper bind it for the duration of one request or
event (a context variable, so each task sees its own); services read it for audit events
and per-IP rate limits without every signature carrying it."""

from __future__ import annotations

import ipaddress
from contextvars import ContextVar, Token
from dataclasses import dataclass

UA_MAX = 300


@dataclass(frozen=True)
class ClientInfo:
    ip: str | None = None
    user_agent: str | None = None


# ClientInfo is frozen, so sharing one default instance is safe.
_current: ContextVar[ClientInfo] = ContextVar("client_info", default=ClientInfo())  # noqa: B039


def current() -> ClientInfo:
    return _current.get()


def bind(info: ClientInfo) -> Token:
    return _current.set(info)


def reset(token: Token) -> None:
    _current.reset(token)


def _valid_ip(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def resolve(*, remote: str | None, forwarded_for: str | None, user_agent: str | None,
            trust_proxy: bool) -> ClientInfo:
    """The client's address: the peer's, or with TRUST_PROXY (one reverse proxy in front)
    the last address in X-Forwarded-For, the one that proxy appended: earlier entries are
    whatever the client chose to send."""
    ip = _valid_ip(remote)
    if trust_proxy and forwarded_for:
        ip = _valid_ip(forwarded_for.split(",")[-1]) or ip
    ua = user_agent[:UA_MAX] if isinstance(user_agent, str) and user_agent else None
    return ClientInfo(ip=ip, user_agent=ua)
