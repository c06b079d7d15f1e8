"""Invitations instead of typed passwords: an admin gives name, e-mail and role; the person
gets a welcome e-mail with a single-use link to choose their password (72 hours)."""

from datetime import timedelta

from app import clock
from tests.conftest import login
from tests.fakeclock import FakeClock
from tests.http.test_accounts import admin_session, inbox, settings, status_of, welcome_link  # noqa: F401


async def invite(admin_session, inbox, email="bea@example.com", role="agent"):  # noqa: F811
    status, body = await status_of(admin_session, "POST", "/api/admin/users",
                                   json={"email": email, "name": "Bea Bright", "role": role})
    assert status == 201, body
    _, message = await inbox.next()
    return body["user"], message


async def test_an_invitation_welcomes_the_person_and_lets_them_choose_a_password(
        admin_session, inbox, http, live_server):  # noqa: F811
    user, message = await invite(admin_session, inbox)
    assert message["To"] == "bea@example.com" and message["Subject"] == "Welcome to the support team"
    text = message.get_payload(decode=True).decode()
    assert "Hello Bea Bright" in text and "Ada Admin has made you a support account (agent)" in text
    assert "within 72 hours" in text
    link = welcome_link(message)
    assert link.startswith(live_server.url + "/welcome?token=")
    token = link.split("token=")[1]
    stored = await live_server.ctx.db.users.find_one({"email": "bea@example.com"})
    assert token not in repr(stored) and stored["password_hash"] is None
    assert stored["invitation"]["expires_at"] - stored["invitation"]["sent_at"] == timedelta(hours=72)

    # Before accepting, no password opens the account.
    status, _ = await status_of(http(), "POST", "/api/auth/login", json={"email": "bea@example.com", "password": ""})
    assert status == 401
    async with http().get(link.replace(live_server.url, "")) as resp:
        assert resp.status == 200 and resp.headers["Referrer-Policy"] == "no-referrer"
    status, body = await status_of(http(), "POST", "/api/auth/accept-invitation",
                                   json={"token": token, "password": "Bea's own pässword"})
    assert status == 200 and body == {"ok": True, "email": "bea@example.com"}
    await login(http(), {"email": "bea@example.com", "password": "Bea's own pässword"})
    status, body = await status_of(http(), "POST", "/api/auth/accept-invitation",
                                   json={"token": token, "password": "someone-elses-pw"})
    assert status == 422 and body["error"]["field"] == "token"  # single use
    trail = await live_server.ctx.db.audit_events.find({"entity.id": user["id"]}).to_list(None)
    assert [e["action"] for e in trail if e["action"].startswith("user.")] == [
        "user.create", "user.invite", "user.invitation_accept"]
    assert token not in repr(trail)


async def test_an_invitation_expires_after_72_hours(admin_session, inbox, http, monkeypatch):  # noqa: F811
    _, message = await invite(admin_session, inbox)
    token = welcome_link(message).split("token=")[1]
    fake = FakeClock(monkeypatch, start=clock.utcnow() + timedelta(hours=72, seconds=1))
    status, body = await status_of(http(), "POST", "/api/auth/accept-invitation",
                                   json={"token": token, "password": "long-password-1"})
    assert status == 422 and "Ask an admin for a new one" in body["error"]["message"]
    fake.now -= timedelta(seconds=2)  # just before the end, it still works
    status, _ = await status_of(http(), "POST", "/api/auth/accept-invitation",
                                json={"token": token, "password": "long-password-1"})
    assert status == 200


async def test_a_resent_invitation_replaces_the_first_link(admin_session, inbox, http, live_server):  # noqa: F811
    user, first = await invite(admin_session, inbox)
    status, body = await status_of(admin_session, "POST", f"/api/admin/users/{user['id']}/invitation")
    assert status == 200 and body["user"]["invited"]
    _, second = await inbox.next()
    old, new = (welcome_link(m).split("token=")[1] for m in (first, second))
    assert old != new
    status, _ = await status_of(http(), "POST", "/api/auth/accept-invitation",
                                json={"token": old, "password": "long-password-1"})
    assert status == 422
    status, _ = await status_of(http(), "POST", "/api/auth/accept-invitation",
                                json={"token": new, "password": "long-password-1"})
    assert status == 200
    status, body = await status_of(admin_session, "POST", f"/api/admin/users/{user['id']}/invitation")
    assert status == 409 and "chosen a password already" in body["error"]["message"]
    assert await live_server.ctx.db.audit_events.count_documents({"action": "user.invitation_resend"}) == 1


async def test_agents_cannot_invite(http, agent, inbox):  # noqa: F811
    session = http()
    await login(session, agent)
    status, _ = await status_of(session, "POST", "/api/admin/users",
                                json={"email": "x@example.com", "name": "X", "role": "admin"})
    assert status == 403
    status, _ = await status_of(session, "POST", f"/api/admin/users/{agent['id']}/invitation")
    assert status == 403
    assert inbox.received.empty()


async def test_a_deactivated_invitees_link_stops_working(admin_session, inbox, http):  # noqa: F811
    user, message = await invite(admin_session, inbox)
    await status_of(admin_session, "POST", f"/api/admin/users/{user['id']}/deactivate")
    token = welcome_link(message).split("token=")[1]
    status, _ = await status_of(http(), "POST", "/api/auth/accept-invitation",
                                json={"token": token, "password": "long-password-1"})
    assert status == 422


async def test_an_invited_person_can_use_password_reset_instead_and_the_invitation_is_spent(
        admin_session, inbox, http, live_server):  # noqa: F811
    from tests.http.test_accounts import reset_link

    _, invitation = await invite(admin_session, inbox)
    async with http().post("/api/auth/forgot-password", json={"email": "bea@example.com"}) as resp:
        assert resp.status == 200
    _, reset = await inbox.next()
    status, _ = await status_of(http(), "POST", "/api/auth/reset-password",
                                json={"token": reset_link(reset).split("token=")[1], "password": "long-password-1"})
    assert status == 200
    status, _ = await status_of(http(), "POST", "/api/auth/accept-invitation",
                                json={"token": welcome_link(invitation).split("token=")[1],
                                      "password": "another-password-2"})
    assert status == 422
    stored = await live_server.ctx.db.users.find_one({"email": "bea@example.com"})
    assert "invitation" not in stored
    await login(http(), {"email": "bea@example.com", "password": "long-password-1"})
