"""Replies by e-mail, over real SMTP: the guest answers the e-mail an agent's reply brought
(its Reply-To is reply+<signed token>@REPLY_DOMAIN) and the answer lands in the conversation;
unsigned or altered addresses are refused at RCPT, oversized mail at DATA."""

from __future__ import annotations

import dataclasses
from email.message import EmailMessage

import aiosmtplib
import pytest

from app.services.guests import inbound
from app.services.operations import mail
from tests.conftest import free_port
from tests.jobs.test_email import reply, smtp_inbox  # noqa: F401  (fixture)

DOMAIN = "reply.example.com"


@pytest.fixture
def settings(settings, smtp_inbox):  # noqa: F811
    _, port = smtp_inbox
    return dataclasses.replace(settings, smtp_url=f"smtp://127.0.0.1:{port}", inbound_smtp_port=free_port(),
                               reply_domain=DOMAIN, max_upload_mb=1)


def email_to(address: str, text: str, message_id: str = "<m1@guest.example>") -> EmailMessage:
    message = EmailMessage()
    message["From"] = "grace@example.com"
    message["To"] = address
    message["Subject"] = "Re: Where is my parcel?"
    message["Message-ID"] = message_id
    message.set_content(text)
    return message


async def send(settings, message: EmailMessage) -> None:
    await aiosmtplib.send(message, hostname="127.0.0.1", port=settings.inbound_smtp_port, timeout=10)


async def test_a_guest_answers_an_agents_email_and_the_answer_is_their_message(
        start_chat, agent_socket, smtp_inbox, live_server, settings):  # noqa: F811
    inbox, _ = smtp_inbox
    guest = await start_chat(name="Grace", message="Where is my parcel?", email="grace@example.com")
    await agent_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    await reply(agent_socket, guest.ticket_id, "It left the warehouse today.", "r-1")
    (_, _, sent), = await inbox.wait(1)
    reply_to = sent["Reply-To"]
    assert reply_to.startswith("reply+") and reply_to.endswith("@" + DOMAIN)
    assert "/widget/resume?token=" in sent.get_content()

    answer = ("Great, thank you!\nSee you.\n\n-- \nGrace Hopper\nSent with love\n\n"
              "On Mon, 3 Mar 2025 at 10:00, Support <help@example.com> wrote:\n> It left the warehouse today.\n")
    await send(settings, email_to(reply_to, answer))
    live = await agent_socket.wait_for("message:new", where=lambda m: m["sender_role"] == "guest" and "Great" in m["body"])
    assert live[0]["body"] == "Great, thank you!\nSee you."
    # The same e-mail delivered twice (a mail server retrying): one message.
    await send(settings, email_to(reply_to, answer))
    assert await live_server.ctx.db.messages.count_documents({"body": "Great, thank you!\nSee you."}) == 1


async def test_an_email_reply_reopens_a_resolved_ticket_as_a_chat_message_would(
        guest, agent_socket, live_server, settings):
    await agent_socket.call("ticket:update", {"ticket_id": guest.ticket_id, "status": "resolved"})
    ticket = await live_server.ctx.db.tickets.find_one({})
    await send(settings, email_to(mail.reply_address(live_server.ctx, ticket), "Actually, one more thing"))
    assert (await live_server.ctx.db.tickets.find_one({}))["status"] == "open"


async def test_unsigned_or_altered_addresses_are_refused_at_rcpt(guest, live_server, settings):
    ticket = await live_server.ctx.db.tickets.find_one({})
    good = mail.reply_address(live_server.ctx, ticket)
    local, domain = good.split("@")
    altered = local[:-1] + ("a" if local[-1] != "a" else "b") + "@" + domain
    for address in (f"reply+{guest.ticket_id}@{DOMAIN}", altered, f"{local}@other.example", f"support@{DOMAIN}"):
        with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as refused:
            await send(settings, email_to(address, "Let me in"))
        assert refused.value.recipients[0].code == 550
    assert await live_server.ctx.db.messages.count_documents({"body": "Let me in"}) == 0


async def test_oversized_mail_and_mail_to_a_closed_conversation_are_refused(
        guest, agent_socket, live_server, settings):
    ticket = await live_server.ctx.db.tickets.find_one({})
    address = mail.reply_address(live_server.ctx, ticket)
    with pytest.raises(aiosmtplib.SMTPResponseException) as big:
        await send(settings, email_to(address, "x" * (1024 * 1024 + 10)))
    assert big.value.code == 552
    await agent_socket.call("ticket:close", {"ticket_id": guest.ticket_id})
    with pytest.raises(aiosmtplib.SMTPResponseException) as closed:
        await send(settings, email_to(address, "Hello again", "<m2@guest.example>"))
    assert closed.value.code == 550 and "closed" in closed.value.message
    assert await live_server.ctx.db.messages.count_documents({"sender_role": "guest"}) == 1


@pytest.mark.parametrize(("text", "kept"), [
    ("Thanks!\n\nOn Tue, Mar 4, 2025 at 9:12 AM Support <s@x.example>\nwrote:\n> old", "Thanks!"),
    ("Danke!\n\nAm 04.03.2025 um 09:12 schrieb Support <s@x.example>:\n> alt", "Danke!"),
    ("Yes please.\n\n-----Original Message-----\nFrom: Support\nSent: today", "Yes please."),
    ("Top line\n> quoted\nBottom line\n\nSent from my iPhone", "Top line\nBottom line"),
    ("Hi\n\nFrom: Support <s@x.example>\nSent: Monday\nTo: me\n\nold text", "Hi"),
    ("Only a signature follows\n-- \nGrace", "Only a signature follows"),
])
def test_quoted_history_and_signatures_are_stripped(text, kept):
    assert inbound.strip_quoted(text) == kept
