"""The transport as python-engineio and python-socketio read it for us (app/sockets/transport.py):
permessage-deflate only when WS_COMPRESSION=1, malformed raw Engine.IO/Socket.IO packets
answered or skipped with one WARNING line, the connection going on, and engine.io's pings and
timeouts kept with few tasks per idle connection."""

import asyncio
import inspect
import json
import logging
from dataclasses import replace

import aiohttp
import engineio.async_socket
import engineio.packet
import pytest
import socketio
import socketio.packet
from engineio.async_drivers import aiohttp as engineio_aiohttp
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from app import create_app, wirelog
from app.config import Settings
from app.keys import sio_key
from app.sockets import transport
from app.sockets.server import create_sio
from tests.conftest import log_problems


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


def test_the_library_internals_the_transport_relies_on_are_still_there(settings):
    """transport.py subclasses python-engineio's aiohttp WebSocket and python-socketio's
    Packet and swaps entries of the server's `_async` table; if an upgrade moves any of
    these, this fails before the behaviour tests below do, and says where to look."""
    sio = create_sio(settings)
    assert sio.packet_class is transport.WirePacket
    assert sio.eio._async["websocket"] is transport.WireWebSocket
    assert "translate_request" in engineio_aiohttp._async
    assert list(inspect.signature(engineio_aiohttp.WebSocket.__init__).parameters) == ["self", "handler", "server"]
    assert inspect.iscoroutinefunction(engineio_aiohttp.WebSocket.wait)
    assert inspect.iscoroutinefunction(engineio_aiohttp.WebSocket.__call__)
    assert list(inspect.signature(engineio_aiohttp.translate_request).parameters) == ["request"]
    assert list(inspect.signature(socketio.packet.Packet.decode).parameters) == ["self", "encoded_packet"]
    assert list(inspect.signature(socketio.packet.Packet.add_attachment).parameters) == ["self", "attachment"]
    assert socketio.packet.Packet.json is not None  # the class attribute decode() parses with
    # serve_websocket stands in for this handler, and start_background_task for _send_ping's sleep
    assert inspect.iscoroutinefunction(engineio.async_socket.AsyncSocket._websocket_handler)
    assert inspect.iscoroutinefunction(engineio.async_socket.AsyncSocket._send_ping)
    assert engineio.packet.packet_names == ["OPEN", "CLOSE", "PING", "PONG", "MESSAGE", "UPGRADE", "NOOP"]
    assert set(socketio.AsyncServer.reserved_events) >= {"connect", "disconnect"}
    # The loggers are ours, so the libraries attach no StreamHandler (each line twice).
    assert sio.logger is logging.getLogger(wirelog.SOCKETIO_LOGGER) and not sio.logger.handlers
    assert sio.eio.logger is logging.getLogger(wirelog.ENGINEIO_LOGGER) and not sio.eio.logger.handlers


def _live_timers(loop) -> int:
    return sum(1 for handle in loop._scheduled if not handle.cancelled())


async def test_a_long_polling_client_gets_its_pings_too(aiohttp_server, settings):
    async with aiohttp.ClientSession() as session:
        server = await _engineio_server(aiohttp_server, settings, ping_interval=0.05)
        headers = {"Origin": str(server.make_url("")).rstrip("/")}
        url = str(server.make_url("/socket.io/")) + "?EIO=4&transport=polling"
        async with session.get(url, headers=headers) as resp:
            sid = json.loads((await resp.text())[1:])["sid"]
        for _ in range(2):
            async with session.get(f"{url}&sid={sid}", headers=headers) as resp:
                assert await asyncio.wait_for(resp.text(), 2) == "2"  # PING
            async with session.post(f"{url}&sid={sid}", data="3", headers=headers) as resp:
                assert resp.status == 200  # PONG: the next ping is scheduled


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


async def test_a_client_that_answers_stays_connected_long_past_the_read_deadline(aiohttp_server, settings):
    async with aiohttp.ClientSession() as session:
        server = await _engineio_server(aiohttp_server, settings, ping_interval=0.05, ping_timeout=0.05)
        ws = await _open_engineio_socket(server, session)
        started = asyncio.get_running_loop().time()
        pings = 0
        while asyncio.get_running_loop().time() - started < 0.6:  # six times interval + timeout
            msg = await asyncio.wait_for(ws.receive(), 2)
            assert msg.type == aiohttp.WSMsgType.TEXT and msg.data == "2", msg
            pings += 1
            await ws.send_str("3")
        assert pings >= 5
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
    # No client timeouts: the timers counted are the server's.
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None)) as session:
        server = await _engineio_server(aiohttp_server, settings)
        ws = await _open_engineio_socket(server, session)
        await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        before, timers_before = len(asyncio.all_tasks()), _live_timers(loop)
        more = [await _open_engineio_socket(server, session) for _ in range(3)]
        await asyncio.sleep(0.05)
        per_socket = (len(asyncio.all_tasks()) - before) / 3
        assert per_socket <= 3
        # one timer each, for the next ping and the read deadline together (SocketTimer)
        assert (_live_timers(loop) - timers_before) / 3 <= 1
        for w in [ws, *more]:
            await w.close()


@pytest.fixture
def warnings_counted(caplog, monkeypatch):
    """The log at WARNING, with the process-wide rate limit of client-noise lines fresh."""
    monkeypatch.setattr(wirelog.NOISE, "passed", 0)
    caplog.set_level(logging.WARNING)
    return caplog


class RawSocket:
    """A Socket.IO client speaking raw frames over aiohttp's WebSocket client."""

    def __init__(self, ws):
        self.ws = ws
        self.sid = ""
        self.next_id = 100

    async def open(self) -> None:
        opening = await self.ws.receive_str()
        self.sid = json.loads(opening[1:])["sid"]
        await self.ws.send_str("40")
        assert (await self.ws.receive_str()).startswith("40{")

    async def ack(self, packet_id: int, timeout: float = 5) -> list:
        """Read frames until the acknowledgement with this id (answering pings)."""
        prefix = f"43{packet_id}"
        while True:
            frame = await asyncio.wait_for(self.ws.receive_str(), timeout)
            if frame == "2":
                await self.ws.send_str("3")
            elif frame.startswith(prefix) and frame[len(prefix)] == "[":
                return json.loads(frame[len(prefix):])

    async def call(self, event: str, payload) -> dict:
        self.next_id += 1
        await self.ws.send_str(f"42{self.next_id}" + json.dumps([event, payload]))
        return (await self.ack(self.next_id))[0]


@pytest.fixture
async def raw_socket(live_server, guest):
    url = live_server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers={"Origin": live_server.origin, "Cookie": guest.cookie}) as ws:
            socket = RawSocket(ws)
            await socket.open()
            yield socket


MALFORMED_FRAMES = [
    "", "x", "²", "１", "٣", "7", "9", "b!!!", "4", "42", "42[]", "42[{}]", "42[1]", '42{"a":1}', '42"abc"',
    "44", "45", "46", "47", "4/zzz,", "4/", "4-", "4" + "9" * 500, '40{{{{{', '42["connect",{}]', "4１", '4４2["ticket:join",{}]',
    '42["disconnect",{}]', '451-/other,["x",{"_placeholder":true,"num":0}]', "43", "431[]",
    '42["ticket:join",' + "[" * 30_000 + "]" * 30_000 + "]", b"\x00\x01", b"\xff" * 10,
]


# Acknowledgements of nothing the server asked: python-socketio drops them with a warning
# below the level its logger is set to.
IGNORED_QUIETLY = {"43", "431[]"}


@pytest.mark.parametrize("frame", MALFORMED_FRAMES, ids=lambda f: repr(f[:20]))
async def test_a_malformed_raw_packet_logs_one_warning_and_the_connection_goes_on(
        raw_socket, guest, warnings_counted, frame):
    caplog = warnings_counted
    if isinstance(frame, bytes):
        await raw_socket.ws.send_bytes(frame)
    else:
        await raw_socket.ws.send_str(frame)
    answer = await raw_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    assert answer["ok"] is True  # the same connection still works
    assert log_problems(caplog.records) == []
    refused = [r for r in caplog.records if "client input refused" in r.getMessage()]
    if frame in IGNORED_QUIETLY:
        assert refused == []
    else:
        [line] = refused
        assert line.levelname == "WARNING" and raw_socket.sid in line.getMessage()


@pytest.mark.parametrize("packet,field", [
    ('422["ticket:join",{"ticket_id":' + "9" * 101 + "}]", "ticket_id"),
    ('422["messages:history",{"ticket_id":"x","limit":-' + "9" * 5000 + "}]", "limit"),
    ('422["message:send",{"ticket_id":"x","body":"hi","client_msg_id":"m","n":[' + "1" * 300 + "]}]", "n.0"),
])
async def test_a_raw_integer_too_long_to_decode_is_answered_invalid(raw_socket, clean_log, packet, field):
    await raw_socket.ws.send_str(packet)
    [answer] = await raw_socket.ack(2)
    assert answer["ok"] is False
    assert (answer["error"]["code"], answer["error"]["field"]) == ("invalid", field)


async def test_extra_arguments_in_a_raw_event_are_answered_invalid(raw_socket, clean_log):
    await raw_socket.ws.send_str('427["ticket:join",{},{},{}]')
    [answer] = await raw_socket.ack(7)
    assert answer["error"]["code"] == "invalid"


async def test_malformed_polling_payloads_log_one_warning_and_the_session_goes_on(
        live_server, guest, warnings_counted):
    caplog = warnings_counted
    base = live_server.url + "/socket.io/?EIO=4&transport=polling"
    headers = {"Origin": live_server.origin, "Cookie": guest.cookie}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(base) as resp:
            sid = json.loads((await resp.text())[1:])["sid"]
        url = f"{base}&sid={sid}"
        async with session.post(url, data="40") as resp:
            assert resp.status == 200
        async with session.get(url) as resp:
            assert (await resp.text()).startswith("40")
        for body in ("", "x", "9", "4\x1e²", "b!!!", "d=", "\x1e".join(["2"] * 20), b"\xff\xfe", "42[{}]"):
            async with session.post(url, data=body) as resp:
                assert resp.status in (200, 400)
        event = "421" + json.dumps(["ticket:join", {"ticket_id": guest.ticket_id}])
        async with session.post(url, data=event) as resp:
            assert resp.status == 200
        async with session.get(url) as resp:
            text = await resp.text()
        assert text.startswith("431[") and json.loads(text[3:])[0]["ok"] is True
    assert log_problems(caplog.records) == []
    assert any(sid in r.getMessage() for r in caplog.records if "client input refused" in r.getMessage())


@pytest.mark.parametrize("data", [
    ["message:new", {"body": "Grüße, 你好 🙂", "seq": 7, "at": "2026-11-30T12:00:00Z", "tags": []}],
    # what orjson refuses goes through the standard encoder: the packet is still sent
    ["message:new", {"body": "half a pair \ud800", "big": 10 ** 30}],
])
def test_the_server_encodes_packets_as_compact_json_a_client_decodes_back(data):
    encoded = transport.WirePacket(socketio.packet.EVENT, data=data).encode()
    assert encoded.startswith("2[")
    assert len(encoded) <= len("2" + json.dumps(data, separators=(",", ":")))  # compact
    decoded = socketio.packet.Packet(encoded_packet=encoded)
    assert decoded.packet_type == socketio.packet.EVENT and decoded.data == data


@hypothesis_settings(max_examples=300, deadline=None, database=None)
@given(data=st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=3),
              st.binary(max_size=2), st.binary(max_size=2).map(bytearray)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.lists(inner, max_size=3).map(tuple),
                            st.dictionaries(st.text(max_size=2), inner, max_size=3)),
    max_leaves=10))
def test_the_packet_finds_bytes_where_the_library_finds_them(data):
    assert transport.WirePacket.data_is_binary(data) is socketio.packet.Packet.data_is_binary(data)
