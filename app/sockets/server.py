"""The Socket.IO server: created per app, authenticated at the handshake from the same
cookies as HTTP, with every event answered through one wrapper."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import socketio

from .. import wirelog
from ..config import Settings
from ..errors import MESSAGES, DomainError, Invalid
from ..security import (
    GUEST_COOKIE,
    SESSION_COOKIE,
    Identity,
    parse_cookie_header,
    verify_guest_cookie,
)
from ..services.conversations import (
    ADMINS_ROOM,
    AGENTS_ROOM,
    assignment,
    guest_room,
    presence,
    user_room,
)
from ..services.core import Ctx, client, validate
from ..services.people import users
from . import sessions
from .engine import SocketServer
from .transport import WirePacket, use_wire_transport

log = logging.getLogger(__name__)

Handler = Callable[[Ctx, str, Identity, dict], Awaitable[dict]]


def create_sio(settings: Settings) -> socketio.AsyncServer:
    if settings.redis_url:  # several processes as one: emits and presence go through Redis
        from .cluster import ClusterManager

        client_manager = ClusterManager(settings.redis_url)
    else:
        client_manager = sessions.LocalManager()
    sio = SocketServer(
        async_mode="aiohttp",
        client_manager=client_manager,
        # None is engine.io's same-origin rule: the handshake's Origin must be this server.
        cors_allowed_origins=list(settings.allowed_origins) or None,
        cors_credentials=True,
        # Packets decoded our way, and the libraries' loggers with our filter: a client's
        # malformed input is one rate-limited WARNING line, not a traceback (transport.py).
        serializer=WirePacket,
        # ERROR, as the libraries set their own loggers: their warnings are about clients.
        logger=wirelog.library_logger(wirelog.SOCKETIO_LOGGER, level=logging.ERROR),
        engineio_logger=wirelog.library_logger(wirelog.ENGINEIO_LOGGER, level=logging.ERROR),
    )
    use_wire_transport(sio.eio, compression=settings.ws_compression)
    return sio


async def authenticate(ctx: Ctx, environ: dict, auth: Any) -> Identity | None:
    """The identity behind the handshake's cookies. A page may ask to be the guest
    (`auth: {as: "guest"}`) when the same browser also holds an agent session; a framed
    widget whose cookie is blocked presents the same signed value as `auth.guest_token`."""
    cookies = parse_cookie_header(environ.get("HTTP_COOKIE"))
    wants_guest = isinstance(auth, dict) and auth.get("as") == "guest"
    if not wants_guest:
        identity = await users.identity_from_token(ctx.db, cookies.get(SESSION_COOKIE), ctx.settings)
        if identity is not None:
            return identity
    guest_id = verify_guest_cookie(cookies.get(GUEST_COOKIE), ctx.settings)
    if guest_id is None and isinstance(auth, dict):
        guest_id = verify_guest_cookie(auth.get("guest_token"), ctx.settings)
    if guest_id is not None:
        return Identity(role="guest", id=guest_id, name="")
    return None


# What authenticate() and handshake_client() read: python-socketio hands the same environ
# to the connect handler again if the client connects the namespace anew.
HANDSHAKE_KEYS = ("HTTP_COOKIE", "HTTP_X_FORWARDED_FOR", "HTTP_USER_AGENT", "REMOTE_ADDR", "aiohttp.request")


def keep_handshake_keys(environ: dict) -> None:
    """Empty the handshake's WSGI-style environ down to HANDSHAKE_KEYS, in place: engine.io's
    and python-socketio's frames hold it for the connection's life, with a key and slot for
    every header (about 1-2 KB per socket), and nothing reads the rest after connecting."""
    kept = {key: environ[key] for key in HANDSHAKE_KEYS if key in environ}
    environ.clear()  # a dict does not shrink on deletion: clear() frees its table
    environ.update(kept)


def handshake_client(ctx: Ctx, environ: dict) -> client.ClientInfo:
    """IP and user agent of the handshake, kept in the socket's session for audit events
    and rate limits (environ's REMOTE_ADDR is a placeholder under aiohttp: ask the request)."""
    request = environ.get("aiohttp.request")
    return client.resolve(
        remote=request.remote if request is not None else environ.get("REMOTE_ADDR"),
        forwarded_for=environ.get("HTTP_X_FORWARDED_FOR"),
        user_agent=environ.get("HTTP_USER_AGENT"),
        trust_proxy=ctx.settings.trust_proxy,
    )


async def message_queue(app):
    """cleanup_ctx: with REDIS_URL, listen to the other processes from start-up (not from the
    first client), keep this process's presence in Redis, and close it all at shutdown."""
    from ..keys import sio_key
    from .cluster import ClusterManager

    manager = app[sio_key].manager
    if not isinstance(manager, ClusterManager):
        yield
        return
    await manager.start()
    yield
    await manager.close()


def register(sio: socketio.AsyncServer, ctx: Ctx) -> None:
    from . import chat

    @sio.event
    async def connect(sid: str, environ: dict, auth: Any = None) -> None:
        identity = await authenticate(ctx, environ, auth)
        if identity is None:
            raise ConnectionRefusedError("unauthorized")
        await sio.save_session(sid, {"identity": identity, "client": handshake_client(ctx, environ),
                                     "in_order": asyncio.Lock(), "counted_as": identity.role})
        if identity.is_agent:
            await sio.enter_room(sid, AGENTS_ROOM)
            await sio.enter_room(sid, user_room(identity.id))
            if identity.is_admin:  # live audit events (a demoted admin is disconnected)
                await sio.enter_room(sid, ADMINS_ROOM)
            await sessions.watch(sio, ctx, sid, identity)  # ends with its sign-in session
            await presence.remember(ctx, sid=sid, identity=identity)  # who is viewing what
            await assignment.agent_connected(ctx, identity=identity)  # online: tickets may wait
        else:
            await sio.enter_room(sid, guest_room(identity.id))
        keep_handshake_keys(environ)
        ctx.metrics.socket_connected(identity.role)

    @sio.event
    async def disconnect(sid: str, reason: Any = None) -> None:
        # Only a connection that was counted: a refused handshake never reaches here.
        try:
            role = (await sio.get_session(sid)).get("counted_as")
        except KeyError:  # its engine.io session is already gone
            return
        if role is not None:
            ctx.metrics.socket_disconnected(role)
        await sessions.forget(sio, sid)
        try:
            session = await sio.get_session(sid)
            if session.get("identity") is not None:
                await chat.left_everything(ctx, sid, session["identity"])
        except Exception:  # a hint for the others: never a reason for a disconnect to fail
            log.warning("could not tell who is left in the tickets of %s", sid, exc_info=True)

    for name, handler in chat.HANDLERS.items():
        # Timed from outside the wrapper: waiting behind the socket's earlier events counts.
        sio.on(name, ctx.metrics.timed(name, _answering(sio, ctx, name, handler)))
    sio.on("*", _unknown_event)


def _answering(sio: socketio.AsyncServer, ctx: Ctx, name: str, handler: Handler):
    """Turn a handler into an acknowledged event: {"ok": true, ...} or {"ok": false, "error"}.
    Whatever a client sends (no payload, extra arguments, text the database cannot store,
    numbers out of range) is answered here, before the handler runs."""

    @functools.wraps(handler)
    async def event(sid: str, *args: Any) -> dict:
        try:
            session = await sio.get_session(sid)
            identity = session.get("identity")
            if identity is None:
                return _error("unauthorized", MESSAGES["unauthorized"])
            data = _payload(args)
            token = client.bind(session.get("client") or client.ClientInfo())
            try:
                # One event of a socket at a time, in the order they arrived: a browser sends
                # without waiting for answers, and its messages must be numbered, stored and
                # delivered in the order it sent them. The lock is taken before anything
                # here waits, and asyncio.Lock serves waiters first come, first served.
                async with session["in_order"]:
                    return {"ok": True, **await handler(ctx, sid, identity, data)}
            finally:
                client.reset(token)
        except DomainError as exc:
            return {"ok": False, "error": exc.to_dict()}
        except Exception:
            log.exception("socket event %s failed", name)
            return _error("internal", MESSAGES["internal"])

    return event


def _payload(args: tuple) -> dict:
    """The event's one argument, an object every value of which can be stored
    (validate.storable, the same check as every HTTP JSON body)."""
    if len(args) != 1:
        raise Invalid("Send one payload object.")
    return validate.payload(validate.storable(args[0]))


async def _unknown_event(event: Any, sid: str, *args: Any) -> dict:
    # Without this, an event no handler knows gets no acknowledgement and the client waits.
    return _error("invalid", "There is no such event.")


def _error(code: str, message: str) -> dict:
    return {"ok": False, "error": {"code": code, "message": message}}
