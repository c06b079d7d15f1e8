"""The WebSocket transport: permessage-deflate only when WS_COMPRESSION=1; engine.io's
pings and timeouts; few tasks per idle connection."""

import asyncio
from dataclasses import replace

import aiohttp
import pytest

from app import create_app
from app.config import Settings
from app.keys import sio_key


@pytest.mark.parametrize("enabled", [False, True])
async def test_websocket_compression_is_negotiated_only_when_configured(aiohttp_server, settings, enabled):
    app = create_app(replace(settings, ws_compression=enabled))
    server = await aiohttp_server(app, host="127.0.0.1", port=settings.port)
    url = str(server.make_url("/socket.io/")) + "?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session:
        # aiohttp's client offers permessage-deflate, as browsers do.
        async with session.ws_connect(url, compress=15, headers={"Origin": str(server.make_url("")).rstrip("/")}) as ws:
            opening = await ws.receive_str()
            assert opening.startswith("0{")  # engine.io's open packet: the socket works
            assert bool(ws.compress) is enabled


def test_ws_compression_setting_is_read():
    assert not Settings.from_env({}).ws_compression
    assert Settings.from_env({"WS_COMPRESSION": "1"}).ws_compression
    assert not Settings.from_env({"WS_COMPRESSION": "0"}).ws_compression


async def _engineio_server(aiohttp_server, settings, *, ping_interval=None, ping_timeout=None):
    app = create_app(settings)
    eio = app[sio_key].eio
    if ping_interval is not None:
        eio.ping_interval = ping_interval
    if ping_timeout is not None:
        eio.ping_timeout = ping_timeout
    return await aiohttp_server(app, host="127.0.0.1", port=settings.port)


async def _open_engineio_socket(server, session):
    url = str(server.make_url("/socket.io/")) + "?EIO=4&transport=websocket"
    ws = await session.ws_connect(url, headers={"Origin": str(server.make_url("")).rstrip("/")})
    assert (await ws.receive_str()).startswith("0{")
    return ws


async def test_pings_come_on_time_while_the_client_answers(aiohttp_server, settings):
    async with aiohttp.ClientSession() as session:
        server = await _engineio_server(aiohttp_server, settings, ping_interval=0.05)
        ws = await _open_engineio_socket(server, session)
        for _ in range(3):
            assert await asyncio.wait_for(ws.receive_str(), 2) == "2"  # engine.io PING
            await ws.send_str("3")  # PONG: the next ping is scheduled
        await ws.close()


async def test_a_silent_client_is_disconnected_after_ping_interval_plus_timeout(aiohttp_server, settings):
    async with aiohttp.ClientSession() as session:
        server = await _engineio_server(aiohttp_server, settings, ping_interval=0.05, ping_timeout=0.05)
        ws = await _open_engineio_socket(server, session)
        received = []
        while True:
            msg = await asyncio.wait_for(ws.receive(), 3)
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            received.append(msg.data)
        assert received == ["2"]  # one ping, never answered, then the server closed
        assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)


async def test_an_idle_websocket_costs_few_tasks(aiohttp_server, settings):
    """Memory per idle connection: aiohttp's connection and handler tasks and the writer,
    not engine.io's per-wait tasks or a sleeping ping task per socket."""
    async with aiohttp.ClientSession() as session:
        server = await _engineio_server(aiohttp_server, settings)
        ws = await _open_engineio_socket(server, session)
        await asyncio.sleep(0.05)
        before = len(asyncio.all_tasks())
        more = [await _open_engineio_socket(server, session) for _ in range(3)]
        await asyncio.sleep(0.05)
        per_socket = (len(asyncio.all_tasks()) - before) / 3
        assert per_socket <= 3
        for w in [ws, *more]:
            await w.close()
