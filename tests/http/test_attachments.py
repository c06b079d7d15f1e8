"""Attachments over HTTP: guests and agents send files into a conversation; only those who
may read the ticket get them back; too large or the wrong type is refused and stores nothing."""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib

import aiohttp
import pytest

from app.store import attachments as stored_files


def png(width: int = 2, height: int = 2) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xff\x00\x00" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def form(data: bytes, filename: str, content_type: str = "application/octet-stream",
         client_msg_id: str = "file-1") -> aiohttp.FormData:
    body = aiohttp.FormData()
    body.add_field("client_msg_id", client_msg_id)
    body.add_field("file", io.BytesIO(data), filename=filename, content_type=content_type)
    return body


@pytest.fixture
def settings(settings):
    return dataclasses.replace(settings, max_upload_mb=1)


async def test_a_guests_image_reaches_the_room_and_is_served_inline_to_the_agent(
        guest, agent_socket, agent_session, live_server):
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    async with guest.session.post(f"/api/tickets/{guest.ticket_id}/attachments",
                                  data=form(png(), "photo.png", "text/html")) as resp:
        assert resp.status == 201, await resp.text()
        message = (await resp.json())["message"]
    assert message["attachment"]["type"] == "image/png" and message["attachment"]["image"] is True
    live = await agent_socket.wait_for("message:new", where=lambda m: m.get("attachment"))
    # The agent gets the guest's message itself, with its file.
    assert live[0]["id"] == message["id"] and live[0]["attachment"]["name"] == "photo.png"
    async with agent_session.get(message["attachment"]["url"]) as resp:
        assert resp.status == 200 and await resp.read() == png()
        assert resp.headers["Content-Type"] == "image/png"
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Content-Disposition"].startswith("inline")
    # The same upload again (a retry): one message, one file.
    async with guest.session.post(f"/api/tickets/{guest.ticket_id}/attachments",
                                  data=form(png(), "photo.png")) as resp:
        assert resp.status == 200 and (await resp.json())["message"]["id"] == message["id"]
    assert await stored_files.count(live_server.ctx.db) == 1


async def test_an_agent_sends_a_pdf_the_guest_downloads_it_and_nobody_else_can(
        guest, agent_session, start_chat, http):
    async with agent_session.post(f"/api/tickets/{guest.ticket_id}/attachments",
                                  data=form(b"%PDF-1.4\n%...\n", "invoice.pdf", "image/png")) as resp:
        assert resp.status == 201, await resp.text()
        url = (await resp.json())["message"]["attachment"]["url"]
    async with guest.session.get(url) as resp:
        assert resp.status == 200 and resp.headers["Content-Type"] == "application/pdf"
        assert resp.headers["Content-Disposition"].startswith('attachment; filename="invoice.pdf"')
    other = await start_chat(name="Mallory")
    async with other.session.get(url) as resp:
        assert resp.status == 403
    async with http().get(url) as resp:
        assert resp.status == 401


@pytest.mark.parametrize(("data", "name"), [
    (b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>', "cat.svg"),
    (b"<!doctype html><script>alert(1)</script>", "page.txt"),
    (b"MZ\x90\x00binary", "setup.exe"),
    (b"\xff\xfe\x00t\x00e", "notes.txt"),
])
async def test_a_file_of_a_type_we_do_not_take_is_refused_with_422_and_nothing_is_stored(
        guest, live_server, data, name):
    async with guest.session.post(f"/api/tickets/{guest.ticket_id}/attachments",
                                  data=form(data, name, "image/png")) as resp:
        assert resp.status == 422
        assert "cannot be sent" in (await resp.json())["error"]["message"]
    assert await stored_files.count(live_server.ctx.db) == 0
    assert await live_server.ctx.db.messages.count_documents({}) == 1


async def test_a_file_over_max_upload_mb_is_refused_with_413_and_nothing_is_stored(guest, live_server):
    big = png() + b"\x00" * (1024 * 1024)
    async with guest.session.post(f"/api/tickets/{guest.ticket_id}/attachments",
                                  data=form(big, "huge.png")) as resp:
        assert resp.status == 413
        assert "at most 1 MB" in (await resp.json())["error"]["message"]
    assert await stored_files.count(live_server.ctx.db) == 0
    assert await live_server.ctx.db.messages.count_documents({}) == 1


async def test_a_closed_conversation_takes_no_file(guest, agent_socket, live_server):
    await agent_socket.call("ticket:close", {"ticket_id": guest.ticket_id})
    async with guest.session.post(f"/api/tickets/{guest.ticket_id}/attachments",
                                  data=form(png(), "late.png")) as resp:
        assert resp.status == 409
    assert await stored_files.count(live_server.ctx.db) == 0


async def test_an_upload_that_is_not_multipart_is_a_clean_400(guest):
    async with guest.session.post(f"/api/tickets/{guest.ticket_id}/attachments", data=b"xx",
                                  headers={"Content-Type": "application/octet-stream"}) as resp:
        assert resp.status == 400
    async with guest.session.post(f"/api/tickets/{guest.ticket_id}/attachments", data=b"--x\r\nbroken",
                                  headers={"Content-Type": "multipart/form-data; boundary=x"}) as resp:
        assert resp.status in (400, 422)
