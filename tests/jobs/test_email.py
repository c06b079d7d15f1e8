"""E-mail to guests who are away: really sent over SMTP to a server the test runs."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field, replace
from email import message_from_bytes, policy

import pytest
from aiosmtpd.controller import Controller

from app.services.operations import mail
from tests.conftest import free_port


@dataclass
class Inbox:
    """An SMTP server's collected mail; the test awaits arrivals without sleeping."""

    loop: asyncio.AbstractEventLoop
    messages: list = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server, session, envelope):  # aiosmtpd's handler hook (its thread)
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        self.loop.call_soon_threadsafe(self.arrived.set)
        return "250 Message accepted"

    async def wait(self, count: int = 1, timeout: float = 10) -> list:
        async def enough():
            while len(self.messages) < count:
                self.arrived.clear()
                if len(self.messages) >= count:
                    break
                await self.arrived.wait()

        await asyncio.wait_for(enough(), timeout)
        return self.messages


@pytest.fixture
async def smtp_inbox():
    inbox = Inbox(loop=asyncio.get_running_loop())
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield inbox, controller.port
    controller.stop()


@pytest.fixture
def settings(settings, smtp_inbox):
    _, port = smtp_inbox
    return replace(settings, smtp_url=f"smtp://127.0.0.1:{port}", mail_from="Help Desk <help@example.com>")


async def reply(agent_socket, ticket_id: str, body: str, client_msg_id: str) -> dict:
    answer = await agent_socket.call("message:send", {"ticket_id": ticket_id, "body": body,
                                                      "client_msg_id": client_msg_id})
    assert answer["ok"], answer
    return answer["message"]


async def test_an_agent_reply_reaches_a_guest_who_is_away_by_email(
        start_chat, agent_socket, smtp_inbox, live_server):
    inbox, _ = smtp_inbox
    guest = await start_chat(name="Grace", message="Where is my parcel?", email="grace@example.com")
    message = await reply(agent_socket, guest.ticket_id, "It left the warehouse today.", "r-1")
    await reply(agent_socket, guest.ticket_id, "It left the warehouse today.", "r-1")  # a resend

    (sender, recipients, email), = await inbox.wait(1)
    assert sender == "help@example.com" and recipients == ["grace@example.com"]
    assert email["To"] == "grace@example.com" and email["From"] == "Help Desk <help@example.com>"
    assert email["Subject"] == "Re: Where is my parcel?"
    text = email.get_content()
    assert "Alan Agent replied to your conversation" in text
    assert "It left the warehouse today." in text
    assert f"{live_server.url}/widget/resume?token=" in text  # a signed resume link (tests/http/test_guest_return.py)
    jobs = await live_server.ctx.db.jobs.find({"kind": "email"}).to_list(None)
    assert [j["dedupe_key"] for j in jobs] == [f"email:reply:{message['id']}"]  # one per reply


async def test_a_guest_in_the_room_gets_no_email_until_they_leave(
        start_chat, agent_socket, connect, smtp_inbox, live_server):
    inbox, _ = smtp_inbox
    guest = await start_chat(name="Grace", message="Hi", email="grace@example.com")
    guest_socket = await connect(guest.cookie)
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    await reply(agent_socket, guest.ticket_id, "Seen live, no e-mail", "r-1")
    await guest_socket.wait_for("message:new", where=lambda m: m["body"] == "Seen live, no e-mail")
    assert await live_server.ctx.db.jobs.count_documents({"kind": "email"}) == 0

    await guest_socket.call("ticket:leave", {"ticket_id": guest.ticket_id})
    await reply(agent_socket, guest.ticket_id, "You left, so this comes by e-mail", "r-2")
    messages = await inbox.wait(1)
    assert len(messages) == 1 and "You left, so this comes by e-mail" in messages[0][2].get_content()
    assert "Seen live" not in messages[0][2].get_content()


async def test_no_email_without_an_address_nor_for_the_guests_own_messages(
        start_chat, agent_socket, connect, live_server):
    anonymous = await start_chat(name="Anon", message="Hi")
    await reply(agent_socket, anonymous.ticket_id, "Hello!", "r-1")
    with_email = await start_chat(name="Grace", message="Hi", email="grace@example.com")
    guest_socket = await connect(with_email.cookie)
    answer = await guest_socket.call("message:send", {"ticket_id": with_email.ticket_id,
                                                      "body": "more", "client_msg_id": "g-1"})
    assert answer["ok"]
    assert await live_server.ctx.db.jobs.count_documents({"kind": "email"}) == 0


async def test_a_refused_email_is_retried(start_chat, agent_socket, live_server, smtp_inbox, monkeypatch):
    inbox, port = smtp_inbox
    calls = []
    real_connect = mail.aiosmtplib.SMTP.connect

    async def flaky(smtp, *args, **kwargs):
        calls.append(smtp.port)
        if len(calls) == 1:
            raise ConnectionRefusedError("try later")
        return await real_connect(smtp, *args, **kwargs)

    monkeypatch.setattr(mail.aiosmtplib.SMTP, "connect", flaky)
    guest = await start_chat(name="Grace", message="Hi", email="grace@example.com")
    message = await reply(agent_socket, guest.ticket_id, "Second time lucky", "r-1")
    job = await live_server.ctx.db.jobs.find_one({"dedupe_key": f"email:reply:{message['id']}"})
    # run the retry now rather than after its backoff
    await _wait_for_status(live_server, job["_id"], "queued", lambda j: j["attempts"] == 1)
    await live_server.ctx.db.jobs.update_one({"_id": job["_id"]}, {"$set": {"run_at": job["created_at"]}})
    live_server.ctx.job_signal.notify()
    await inbox.wait(1)
    assert calls == [port, port]


async def _wait_for_status(live_server, job_id, status, where, timeout=5.0):
    """Poll the job until it has this status (a job's outcome has no event to await)."""
    async def poll():
        while True:
            job = await live_server.ctx.db.jobs.find_one({"_id": job_id})
            if job["status"] == status and where(job):
                return job
            await asyncio.sleep(0.01)

    return await asyncio.wait_for(poll(), timeout)


async def test_without_smtp_the_email_is_written_to_the_log(live_server, caplog):
    ctx = live_server.ctx
    ctx_without = replace(ctx, settings=replace(ctx.settings, smtp_url=None))
    with caplog.at_level(logging.INFO, logger="app.services.operations.mail"):
        await mail.send(ctx_without, {"to": "g@example.com", "subject": "Re: hi", "body": "the reply"})
    assert "SMTP_URL is not set" in caplog.text and "g@example.com" in caplog.text and "the reply" in caplog.text
