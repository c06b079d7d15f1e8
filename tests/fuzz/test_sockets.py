"""Every socket event, taken from the server's handlers so that a new event is covered the
day it is added, gets generated malformed payloads from a guest's and an agent's socket:
each must be acknowledged with {"ok": true, ...} or a documented error code, never
`internal`. Then raw Engine.IO/Socket.IO frames over a raw WebSocket: the connection must
go on answering. In both, the server log must hold no ERROR or traceback."""

from __future__ import annotations

import asyncio
import json
import re

import aiohttp
import pytest
import socketio
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.sockets import chat
from tests.fuzz.strategies import FUZZ, hostile_text, object_ids, payloads, to_json, to_python

EVENT_EXAMPLES = 800
FRAME_EXAMPLES = 400
# The protocol's codes (design.md); `internal` is what must never come back.
CODES = {"unauthorized", "forbidden", "not_found", "invalid", "closed", "rate_limited", "conflict"}


@pytest.fixture
async def sockets(guest, guest_socket, agent_socket):
    return {"guest": guest_socket, "agent": agent_socket, "ids": [guest.ticket_id]}


@settings(FUZZ, max_examples=EVENT_EXAMPLES)
@given(data=st.data())
async def test_every_socket_event_acknowledges_generated_payloads_with_a_documented_answer(
        sockets, fuzz, data):
    ids = object_ids(sockets["ids"])
    event = data.draw(st.sampled_from(sorted(chat.HANDLERS)) | hostile_text, label="event")
    assume(event not in ("connect", "disconnect"))  # python-socketio's, never events
    who = data.draw(st.sampled_from(["guest", "agent"]), label="socket")
    # Mostly the one payload the protocol has; sometimes none, or extra arguments.
    one = payloads(ids).map(lambda p: [p])
    args = data.draw(st.one_of(one, one, one, st.lists(payloads(ids), max_size=3)), label="args")
    args = tuple(to_python(arg) for arg in args)

    case = (who, event, json.dumps(args, default=str)[:500])
    try:
        answer = await sockets[who].sio.call(event, args, timeout=5)
    except socketio.exceptions.TimeoutError:
        pytest.fail(f"no acknowledgement for {case}")
    assert isinstance(answer, dict) and isinstance(answer.get("ok"), bool), (answer, case)
    if not answer["ok"]:
        assert answer["error"]["code"] in CODES and answer["error"]["message"], (answer, case)
    fuzz.sent(case)


@pytest.fixture
async def raw_ws(live_server, guest):
    url = live_server.url.replace("http://", "ws://") + "/socket.io/?EIO=4&transport=websocket"
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url, headers={"Origin": live_server.origin, "Cookie": guest.cookie}) as ws:
            await ws.receive_str()  # Engine.IO's open packet
            await ws.send_str("40")
            assert (await ws.receive_str()).startswith("40{")
            yield ws, guest.ticket_id


def frames(ids) -> st.SearchStrategy[str | bytes]:
    """Engine.IO frames, most carrying a Socket.IO packet, each part valid or not."""
    event = st.builds(lambda name, args: to_json([name, *args]),
                      st.sampled_from(sorted(chat.HANDLERS)) | hostile_text,
                      st.lists(payloads(ids), max_size=3))
    data = st.one_of(event, event, payloads(ids).map(to_json), hostile_text,
                     st.integers(1, 3000).map(lambda n: "[" * n),
                     st.integers(90, 6000).map(lambda n: '["ticket:join",{"ticket_id":' + "9" * n + "}]"))
    socketio_packet = st.builds(
        lambda kind, attachments, namespace, packet_id, body: f"{kind}{attachments}{namespace}{packet_id}{body}",
        st.sampled_from("0123456789x²-/") | hostile_text.map(lambda t: t[:2]),
        st.sampled_from(["", "", "", "0-", "x-", "99999999999-"]),
        st.sampled_from(["", "", "", "/", "/,", "/other,", "/a?b=c,"]),
        st.sampled_from(["", "", "7", "9" * 101, "-1"]) | st.text("0123456789", max_size=20),
        data,
    )
    engineio = st.one_of(
        socketio_packet.map(lambda p: "4" + p), socketio_packet.map(lambda p: "4" + p),
        socketio_packet.map(lambda p: "4" + p), socketio_packet,
        st.sampled_from(["", "0", "2", "2probe", "3", "5", "6", "7", "8", "9", "b", "b!!!", "bAAAA"]),
        hostile_text,
    )
    # A text frame is UTF-8 on the wire (a client cannot send a lone surrogate raw; aiohttp
    # would close with 1007): one inside JSON is sent as its \uXXXX escape instead.
    text = engineio.map(lambda frame: frame.encode("utf-8", "backslashreplace").decode("utf-8"))
    return st.one_of(text, text, text, st.binary(max_size=100))


def _ends_the_session(frame: str | bytes) -> bool:
    """Frames that end the connection (Engine.IO CLOSE) or the namespace (Socket.IO
    DISCONNECT), or make the next frame a binary attachment, as the protocol says: the probe
    after them could not be answered by design."""
    if isinstance(frame, bytes):
        return False
    return frame[:1] == "1" or frame[:2] == "41" or re.match(r"^4[56][1-9]\d{0,9}-", frame) is not None


@settings(FUZZ, max_examples=FRAME_EXAMPLES)
@given(data=st.data())
async def test_raw_malformed_engineio_and_socketio_frames_leave_the_connection_answering(raw_ws, fuzz, data):
    ws, ticket_id = raw_ws
    frame = data.draw(frames(object_ids([ticket_id])), label="frame")
    assume(not _ends_the_session(frame))
    if isinstance(frame, bytes):
        await ws.send_bytes(frame)
    else:
        await ws.send_str(frame)
    fuzz.cases  # noqa: B018 (count below, after the probe)
    probe_id = 900_000 + fuzz.cases
    await ws.send_str(f"42{probe_id}" + json.dumps(["ticket:leave", {"ticket_id": ticket_id}]))
    prefix = f"43{probe_id}["
    try:
        async with asyncio.timeout(5):
            while True:
                message = await ws.receive()
                assert message.type == aiohttp.WSMsgType.TEXT, (message, frame[:200])
                if message.data == "2":
                    await ws.send_str("3")
                elif message.data.startswith(prefix):
                    break
    except TimeoutError:
        pytest.fail(f"the connection stopped answering after {frame[:200]!r}")
    assert json.loads(message.data[len(prefix) - 1:]) == [{"ok": True}]
    fuzz.sent(frame[:200])
