"""The WebSocket transport: permessage-deflate only when WS_COMPRESSION=1."""

from dataclasses import replace

import aiohttp
import pytest

from app import create_app
from app.config import Settings


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
