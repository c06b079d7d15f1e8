"""The handshake: no valid cookie or a foreign Origin, no connection."""

from datetime import timedelta

import jwt
import pytest
import socketio

from app import clock
from app.config import Settings
from app.keys import sio_key
from app.security import GUEST_COOKIE, SESSION_COOKIE, sign_guest_id
from app.sockets.server import HANDSHAKE_KEYS
from tests.conftest import cookie_header


async def test_connection_without_cookie_is_refused(connect):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(None)


async def test_forged_guest_cookie_is_refused(connect, guest):
    guest_id = guest.cookie.split(f"{GUEST_COOKIE}=")[1].split(".")[0]
    forged = sign_guest_id(guest_id, Settings(secret_key="another-secret-key-entirely"))
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(f"{GUEST_COOKIE}={forged}")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(f"{GUEST_COOKIE}={guest_id}")  # unsigned


async def test_forged_agent_token_is_refused(connect, agent):
    now = clock.utcnow()
    claims = {"sub": agent["id"], "role": "admin", "tv": 0, "jti": "x", "exp": now + timedelta(hours=1)}
    forged = jwt.encode(claims, "not-the-server-secret-key-but-long-enough-0123456789", algorithm="HS256")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(f"{SESSION_COOKIE}={forged}")
    unsigned = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(f"{SESSION_COOKIE}={unsigned}")


async def test_foreign_origin_is_refused_even_with_a_valid_cookie(connect, agent_session):
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(cookie_header(agent_session), origin="http://evil.example")


async def test_valid_agent_and_guest_cookies_connect(connect, agent_session, guest):
    agent_client = await connect(cookie_header(agent_session))
    guest_client = await connect(guest.cookie)
    assert agent_client.sio.connected and guest_client.sio.connected


async def test_a_connected_socket_keeps_only_the_handshake_keys_it_reads(connect, live_server, guest):
    """Memory per idle connection: the saved handshake keeps what the connect handler reads
    (cookies, client address, user agent), not every header; the socket works on."""
    client = await connect(guest.cookie)
    sio = live_server.app[sio_key]
    ((sid, _),) = sio.manager.get_participants("/", None)
    environ = sio.get_environ(sid)
    assert set(environ) <= set(HANDSHAKE_KEYS)
    assert "HTTP_COOKIE" in environ and "aiohttp.request" in environ
    assert (await sio.get_session(sid))["client"].user_agent  # read before the rest was dropped
    assert client.sio.connected
