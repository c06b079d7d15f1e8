"""Without SMTP_URL, e-mails go to the log, but never their links: a password-reset or
invitation link carries a live token."""

import logging
import re

from tests.conftest import login


async def test_without_smtp_reset_and_invitation_emails_are_logged_without_their_links(
        http, agent, admin, live_server, caplog):
    assert live_server.ctx.settings.smtp_url is None
    with caplog.at_level(logging.INFO):
        async with http().post("/api/auth/forgot-password", json={"email": agent["email"]}) as resp:
            assert resp.status == 200
        admin_session = http()
        await login(admin_session, admin)
        async with admin_session.post("/api/admin/users",
                                      json={"email": "new@example.com", "name": "Nia", "role": "agent"}) as resp:
            assert resp.status == 201
        for task in list(live_server.ctx.background):
            await task
    text = caplog.text
    assert "Reset your password" in text and "Welcome to the support team" in text
    assert "[link not logged]" in text
    assert "token=" not in text and not re.search(r"https?://\S+/(reset-password|welcome)", text)
    stored = await live_server.ctx.db.users.find_one({"email": agent["email"]})
    assert stored["password_reset"]["token_hash"] not in text
