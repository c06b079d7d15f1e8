"""Broadcasts: framed once and written straight to each member's connection where that keeps
the member's order (app/sockets/sessions.py LocalManager.emit, transport.write_now)."""

import asyncio

import engineio.packet

from app.keys import sio_key
from app.services.conversations import ticket_room
from app.sockets import transport


def server_socket(live_server, client):
    """The Engine.IO socket on the server side of a test client."""
    sio = live_server.app[sio_key]
    eio_sid = sio.manager.eio_sid_from_sid(client.sio.get_sid("/"), "/")
    return sio.eio.sockets[eio_sid]


async def writer_waiting(socket) -> None:
    """Until the socket's writer waits with nothing queued (what a direct write needs)."""
    for _ in range(200):
        if getattr(socket, "_idle_ws", None) is not None:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the socket's writer never waited")


def recording(client, *names) -> list:
    got = []
    for name in names:
        client.sio.on(name, lambda payload, name=name: got.append((name, payload)))
    return got


async def test_a_broadcast_is_written_straight_to_every_member(live_server, guest, connect, monkeypatch):
    members = [await connect(guest.cookie) for _ in range(3)]
    for member in members:
        assert (await member.call("ticket:join", {"ticket_id": guest.ticket_id}))["ok"]
        await writer_waiting(server_socket(live_server, member))
    direct = []
    real = transport.write_now
    monkeypatch.setattr(transport, "write_now", lambda *a: direct.append(real(*a)) or direct[-1])
    heard = [recording(member, "bench:ping") for member in members]
    await live_server.app[sio_key].emit("bench:ping", {"n": 1, "text": "Grüße"}, to=ticket_room(guest.ticket_id))
    for got in heard:
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == [("bench:ping", {"n": 1, "text": "Grüße"})]
    assert direct == [True, True, True]


async def test_a_broadcast_never_overtakes_what_a_member_already_has_queued(live_server, guest, connect,
                                                                           monkeypatch):
    member = await connect(guest.cookie)
    assert (await member.call("ticket:join", {"ticket_id": guest.ticket_id}))["ok"]
    socket = server_socket(live_server, member)
    await writer_waiting(socket)
    got = recording(member, "first", "second")
    direct = []
    real = transport.write_now
    monkeypatch.setattr(transport, "write_now", lambda *a: direct.append(real(*a)) or direct[-1])
    # A packet queued for this socket (its writer woken, not yet run), then a broadcast at once.
    socket.queue.put_nowait(engineio.packet.Packet(engineio.packet.MESSAGE, '2["first",{}]'))
    await live_server.app[sio_key].emit("second", {}, to=ticket_room(guest.ticket_id))
    for _ in range(200):
        if len(got) == 2:
            break
        await asyncio.sleep(0.01)
    assert [name for name, _ in got] == ["first", "second"]
    assert direct == [False]  # it went through the queue, behind the first


def test_a_text_frame_is_what_rfc_6455_says_for_each_length():
    assert transport.text_frame("4hi") == b"\x81\x03" + b"4hi"
    mid = transport.text_frame("x" * 300)
    assert mid[:4] == b"\x81\x7e\x01\x2c" and len(mid) == 304
    big = transport.text_frame("y" * 70_000)
    assert big[:2] == b"\x81\x7f" and int.from_bytes(big[2:10], "big") == 70_000 and len(big) == 70_010


async def test_one_members_broken_connection_never_costs_the_others_the_broadcast(
        live_server, guest, connect, monkeypatch, caplog):
    members = [await connect(guest.cookie) for _ in range(3)]
    for member in members:
        assert (await member.call("ticket:join", {"ticket_id": guest.ticket_id}))["ok"]
    broken = server_socket(live_server, members[0])
    real = transport.write_now

    def failing(socket, *args):
        if socket is broken:
            raise ConnectionResetError("gone")
        return real(socket, *args)

    monkeypatch.setattr(transport, "write_now", failing)
    heard = [recording(member, "bench:ping") for member in members[1:]]
    await live_server.app[sio_key].emit("bench:ping", {"n": 2}, to=ticket_room(guest.ticket_id))
    for got in heard:
        for _ in range(200):
            if got:
                break
            await asyncio.sleep(0.01)
        assert got == [("bench:ping", {"n": 2})]
    assert "a broadcast did not reach socket" in caplog.text


async def test_an_acknowledgement_is_written_straight_to_the_sender(live_server, guest, connect, monkeypatch):
    member = await connect(guest.cookie)
    assert (await member.call("ticket:join", {"ticket_id": guest.ticket_id}))["ok"]
    await writer_waiting(server_socket(live_server, member))
    direct = []
    real = transport.write_now
    monkeypatch.setattr(transport, "write_now", lambda *a: direct.append(real(*a)) or direct[-1])
    answer = await member.call("message:send", {"ticket_id": guest.ticket_id, "body": "Straight back",
                                                "client_msg_id": "ack-direct-1"})
    assert answer["ok"] and answer["message"]["body"] == "Straight back" and not answer["duplicate"]
    assert direct == [True]  # the acknowledgement (no one else is in the room)


async def test_an_acknowledgement_never_overtakes_what_the_sender_already_has_queued(
        live_server, guest, connect, monkeypatch):
    member = await connect(guest.cookie)
    assert (await member.call("ticket:join", {"ticket_id": guest.ticket_id}))["ok"]
    socket = server_socket(live_server, member)
    await writer_waiting(socket)
    order = []
    member.sio.on("first", lambda payload: order.append("first"))
    real_put = socket.queue.put_nowait
    direct = []
    real = transport.write_now

    def write_now(target, *args):
        if target is socket and not direct:
            # The moment the acknowledgement is ready: a packet queued just before it.
            real_put(engineio.packet.Packet(engineio.packet.MESSAGE, '2["first",{}]'))
        direct.append(real(target, *args))
        return direct[-1]

    monkeypatch.setattr(transport, "write_now", write_now)
    answer = await member.call("message:send", {"ticket_id": guest.ticket_id, "body": "After it",
                                                "client_msg_id": "ack-order-1"})
    order.append("ack")
    assert answer["ok"]
    assert order == ["first", "ack"] and direct == [False]
