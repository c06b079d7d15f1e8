"""The Engine.IO server's per-socket packet queue: asyncio.Queue's behaviour, smaller."""

import asyncio

import pytest

from app.sockets.engine import EngineServer, PacketQueue, SocketServer
from app.sockets.server import create_sio


async def test_fifo_and_get_nowait():
    q = PacketQueue()
    with pytest.raises(asyncio.QueueEmpty):
        q.get_nowait()
    await q.put(1)
    q.put_nowait(2)
    assert q.qsize() == 2 and not q.empty()
    assert await q.get() == 1
    assert q.get_nowait() == 2
    assert q.empty()


async def test_get_waits_for_a_put():
    q = PacketQueue()
    getter = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    assert not getter.done()
    q.put_nowait("pkt")
    assert await asyncio.wait_for(getter, 1) == "pkt"


async def test_timed_out_get_leaves_no_waiter_and_loses_nothing():
    q = PacketQueue()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(q.get(), 0.01)
    assert q._getters is None
    q.put_nowait("later")
    assert q.get_nowait() == "later"


async def test_a_woken_then_cancelled_getter_passes_the_item_on():
    q = PacketQueue()
    first = asyncio.ensure_future(q.get())
    second = asyncio.ensure_future(q.get())
    await asyncio.sleep(0)
    q.put_nowait("only")
    first.cancel()  # woken (its future has a result) but cancelled before it ran
    assert await asyncio.wait_for(second, 1) == "only"
    assert first.cancelled()


async def test_join_waits_for_task_done():
    q = PacketQueue()
    await q.join()  # nothing unfinished: returns at once
    q.put_nowait("a")
    joiner = asyncio.ensure_future(q.join())
    await asyncio.sleep(0)
    assert not joiner.done()
    q.get_nowait()
    q.task_done()
    await asyncio.wait_for(joiner, 1)
    with pytest.raises(ValueError):
        q.task_done()


async def test_an_idle_queue_holds_no_buffers():
    q = PacketQueue()
    q.put_nowait("a")
    await q.get()
    assert (q._items, q._getters, q._joiners) == (None, None, None)


def test_the_socketio_server_gives_every_socket_a_packet_queue(settings):
    # The product's own server: a bare SocketServer() would give the libraries' loggers a
    # StreamHandler for the rest of the process (test_transport.py checks they have none).
    sio = create_sio(settings)
    assert isinstance(sio, SocketServer)
    assert isinstance(sio.eio, EngineServer)
    assert isinstance(sio.eio.create_queue(), PacketQueue)
    assert isinstance(sio.eio.create_queue(maxsize=1), asyncio.Queue)  # bounded: the stock one
