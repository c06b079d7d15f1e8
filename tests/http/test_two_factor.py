"""Two-factor sign-in: enrolment confirmed by one code, a half-signed-in state that can do
nothing but give a code, codes rate limited and never accepted twice, backup codes used
once, turning it off with password and code, admins resetting it, REQUIRE_2FA."""

import asyncio
import dataclasses
import re

import pyotp
import pytest
import socketio

from app import clock
from app.security import SESSION_COOKIE
from tests.conftest import PASSWORD, cookie_header, login
from tests.fakeclock import FakeClock


async def call(session, method, path, **kwargs):
    async with session.request(method, path, **kwargs) as resp:
        return resp.status, await resp.json()


async def enrol(session) -> tuple[str, list[str]]:
    """Set up two-factor sign-in for the signed-in browser; the secret and backup codes."""
    status, setup = await call(session, "POST", "/api/account/two-factor/setup", json={})
    assert status == 200, setup
    status, body = await call(session, "POST", "/api/account/two-factor/enable",
                              json={"code": pyotp.TOTP(setup["secret"]).now()})
    assert status == 200, body
    return setup["secret"], body["backup_codes"]


async def password_step(session, account) -> dict:
    status, body = await call(session, "POST", "/api/auth/login",
                              json={"email": account["email"], "password": account["password"]})
    assert status == 200, body
    return body


def next_code(secret: str) -> str:
    """The code of the next 30-second step (accepted: clocks drift), unused so far."""
    totp = pyotp.TOTP(secret)
    return totp.at(clock.utcnow(), counter_offset=1)


@pytest.fixture
async def enrolled(http, agent):
    session = http()
    await login(session, agent)
    secret, codes = await enrol(session)
    return {**agent, "secret": secret, "backup_codes": codes}


async def test_enrolment_shows_a_qr_code_and_the_secret_and_is_confirmed_by_one_code(http, agent, live_server):
    session = http()
    await login(session, agent)
    status, setup = await call(session, "POST", "/api/account/two-factor/setup", json={})
    assert status == 200
    assert re.fullmatch(r"[A-Z2-7]{32}", setup["secret"])
    assert setup["uri"].startswith("otpauth://totp/Support:alan%40example.com?secret=" + setup["secret"])
    assert setup["qr_svg"].startswith("<svg") and "<script" not in setup["qr_svg"]
    status, body = await call(session, "POST", "/api/account/two-factor/enable", json={"code": "000000"})
    assert status == 422 and body["error"]["field"] == "code"
    status, me = await call(session, "GET", "/api/auth/me")
    assert me["user"]["two_factor"] is False

    status, body = await call(session, "POST", "/api/account/two-factor/enable",
                              json={"code": pyotp.TOTP(setup["secret"]).now()})
    assert status == 200 and len(body["backup_codes"]) == 10 and len(set(body["backup_codes"])) == 10
    assert all(re.fullmatch(r"[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}", c) for c in body["backup_codes"])
    _, me = await call(session, "GET", "/api/auth/me")
    assert me["user"]["two_factor"] is True
    stored = await live_server.ctx.db.users.find_one({"email": agent["email"]})
    assert len(stored["backup_codes"]) == 10
    for code in body["backup_codes"]:  # kept as hashes only
        assert code not in repr(stored) and code.replace("-", "") not in repr(stored)
    trail = repr(await live_server.ctx.db.audit_events.find({}).to_list(None))
    assert setup["secret"] not in trail and "user.2fa_enable" in trail


async def test_after_the_password_a_half_signed_in_session_can_only_give_a_code(
        http, enrolled, connect, guest):
    session = http()
    body = await password_step(session, enrolled)
    assert body == {"stage": "code"}
    assert any(c.key == SESSION_COOKIE for c in session.cookie_jar)
    for method, path in (("GET", "/api/auth/me"), ("GET", "/api/tickets"), ("GET", "/api/account/sessions"),
                         ("POST", "/api/account/two-factor/setup"), ("GET", f"/api/tickets/{guest.ticket_id}"),
                         ("POST", "/api/auth/password")):
        status, answer = await call(session, method, path, json={})
        assert status == 401, (method, path, answer)
    async with session.get("/dashboard", allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"].startswith("/login")
    with pytest.raises(socketio.exceptions.ConnectionError):
        await connect(cookie_header(session))

    status, body = await call(session, "POST", "/api/auth/code", json={"code": next_code(enrolled["secret"])})
    assert status == 200 and body["stage"] == "active" and body["user"]["email"] == enrolled["email"]
    assert (await call(session, "GET", "/api/auth/me"))[0] == 200
    socket = await connect(cookie_header(session))
    assert socket.sio.connected


async def test_the_full_session_is_a_new_one_and_the_half_open_one_is_gone(http, enrolled, live_server):
    session = http()
    await password_step(session, enrolled)
    half = next(c.value for c in session.cookie_jar if c.key == SESSION_COOKIE)
    await call(session, "POST", "/api/auth/code", json={"code": next_code(enrolled["secret"])})
    full = next(c.value for c in session.cookie_jar if c.key == SESSION_COOKIE)
    assert half != full
    replay = http()
    replay.cookie_jar.update_cookies({SESSION_COOKIE: half})
    status, _ = await call(replay, "POST", "/api/auth/code", json={"code": pyotp.TOTP(enrolled["secret"]).now()})
    assert status == 401


async def test_a_code_is_never_accepted_twice(http, enrolled):
    code = next_code(enrolled["secret"])
    first = http()
    await password_step(first, enrolled)
    assert (await call(first, "POST", "/api/auth/code", json={"code": code}))[0] == 200
    second = http()
    await password_step(second, enrolled)
    status, body = await call(second, "POST", "/api/auth/code", json={"code": code})
    assert status == 422 and body["error"]["message"] == "That code has been used already. Wait for the next one."
    # Nor an older one: the step before has passed too.
    older = pyotp.TOTP(enrolled["secret"]).at(clock.utcnow(), counter_offset=-1)
    status, _ = await call(second, "POST", "/api/auth/code", json={"code": older})
    assert status == 422


async def test_two_requests_racing_with_one_code_let_one_in(http, enrolled):
    code = next_code(enrolled["secret"])
    browsers = [http() for _ in range(4)]
    for browser in browsers:
        await password_step(browser, enrolled)
    answers = await asyncio.gather(*(call(b, "POST", "/api/auth/code", json={"code": code}) for b in browsers))
    assert sorted(status for status, _ in answers) == [200, 422, 422, 422]


async def test_a_backup_code_signs_in_once(http, enrolled, live_server):
    code = enrolled["backup_codes"][3]
    session = http()
    await password_step(session, enrolled)
    status, body = await call(session, "POST", "/api/auth/code", json={"code": code.upper().replace("-", " ")})
    assert status == 200 and body["stage"] == "active"
    again = http()
    await password_step(again, enrolled)
    status, _ = await call(again, "POST", "/api/auth/code", json={"code": code})
    assert status == 422
    stored = await live_server.ctx.db.users.find_one({"email": enrolled["email"]})
    assert len(stored["backup_codes"]) == 9
    [used] = await live_server.ctx.db.audit_events.find({"action": "user.2fa_backup_code_used"}).to_list(None)
    assert used["meta"] == {"remaining": 9}
    [login_event] = await live_server.ctx.db.audit_events.find(
        {"action": "auth.login", "meta.method": "password+backup_code"}).to_list(None)
    assert login_event["actor"]["id"] == enrolled["id"]


async def test_wrong_codes_are_rate_limited_per_account(http, enrolled, live_server):
    session = http()
    await password_step(session, enrolled)
    for n in range(5):  # the per-e-mail rule: 5 per 10 minutes
        status, _ = await call(session, "POST", "/api/auth/code", json={"code": f"{n:06d}"})
        assert status == 422
    status, body = await call(session, "POST", "/api/auth/code", json={"code": next_code(enrolled["secret"])})
    assert status == 429 and "Try again in" in body["error"]["message"]
    # Another browser of the same account is held too: the limit is the account's.
    other = http()
    await password_step(other, enrolled)
    status, _ = await call(other, "POST", "/api/auth/code", json={"code": enrolled["backup_codes"][0]})
    assert status == 429
    assert await live_server.ctx.db.audit_events.count_documents({"action": "auth.code_failed"}) == 5


async def test_signing_in_with_a_code_takes_at_most_ten_minutes(http, enrolled, monkeypatch):
    session = http()
    await password_step(session, enrolled)
    clock_ = FakeClock(monkeypatch)
    clock_.advance(10 * 60 + 1)
    status, body = await call(session, "POST", "/api/auth/code", json={"code": next_code(enrolled["secret"])})
    assert status == 401 and body["error"]["message"] == "Signing in took too long. Please start again."


async def test_turning_it_off_needs_the_password_and_a_code(http, enrolled, live_server):
    session = http()
    await password_step(session, enrolled)
    await call(session, "POST", "/api/auth/code", json={"code": next_code(enrolled["secret"])})
    status, body = await call(session, "POST", "/api/account/two-factor/disable",
                              json={"password": "wrong-password", "code": enrolled["backup_codes"][0]})
    assert status == 422 and body["error"]["field"] == "password"
    status, body = await call(session, "POST", "/api/account/two-factor/disable",
                              json={"password": PASSWORD, "code": "123456"})
    assert status == 422 and body["error"]["field"] == "code"
    status, body = await call(session, "POST", "/api/account/two-factor/disable",
                              json={"password": PASSWORD, "code": enrolled["backup_codes"][0]})
    assert status == 200
    assert (await password_step(http(), enrolled))["stage"] == "active"
    actions = {e["action"] for e in await live_server.ctx.db.audit_events.find({}).to_list(None)}
    assert {"user.2fa_disable_failed", "user.2fa_disable"} <= actions


async def test_an_admin_resets_someones_two_factor_and_agents_cannot(http, enrolled, admin, live_server):
    agent_browser = http()
    await password_step(agent_browser, enrolled)
    await call(agent_browser, "POST", "/api/auth/code", json={"code": next_code(enrolled["secret"])})
    status, _ = await call(agent_browser, "POST", f"/api/admin/users/{admin['id']}/two-factor/reset", json={})
    assert status == 403

    admin_browser = http()
    await login(admin_browser, admin)
    status, body = await call(admin_browser, "POST", f"/api/admin/users/{enrolled['id']}/two-factor/reset", json={})
    assert status == 200 and body["user"]["two_factor"] is False
    status, body = await call(admin_browser, "POST", f"/api/admin/users/{enrolled['id']}/two-factor/reset", json={})
    assert status == 409
    assert (await password_step(http(), enrolled))["stage"] == "active"
    [reset] = await live_server.ctx.db.audit_events.find({"action": "user.2fa_reset"}).to_list(None)
    assert reset["actor"]["id"] == admin["id"] and reset["entity"]["id"] == enrolled["id"]


@pytest.fixture
def settings(settings, request):
    policy = getattr(request, "param", "off")
    return dataclasses.replace(settings, require_2fa=policy)


@pytest.mark.parametrize("settings", ["admins"], indirect=True)
async def test_require_2fa_admins_makes_admins_set_it_up_at_their_next_sign_in(http, admin, agent, settings):
    assert (await password_step(http(), agent))["stage"] == "active"  # agents are not asked
    session = http()
    assert (await password_step(session, admin)) == {"stage": "enrol"}
    assert (await call(session, "GET", "/api/auth/me"))[0] == 401
    assert (await call(session, "POST", "/api/auth/code", json={"code": "123456"}))[0] == 401
    async with session.get("/two-factor?next=/admin/users", allow_redirects=False) as resp:
        assert resp.status == 200
    status, setup = await call(session, "POST", "/api/account/two-factor/setup", json={})
    assert status == 200
    status, body = await call(session, "POST", "/api/account/two-factor/enable",
                              json={"code": pyotp.TOTP(setup["secret"]).now()})
    assert status == 200 and body["stage"] == "active" and len(body["backup_codes"]) == 10
    assert (await call(session, "GET", "/api/auth/me"))[0] == 200
    # Required, so it cannot be turned off.
    status, body = await call(session, "POST", "/api/account/two-factor/disable",
                              json={"password": PASSWORD, "code": body["backup_codes"][0]})
    assert status == 403 and body["error"]["message"] == "Two-factor sign-in is required for your account."


@pytest.mark.parametrize("settings", ["all"], indirect=True)
async def test_require_2fa_all_asks_everyone(http, agent):
    assert (await password_step(http(), agent)) == {"stage": "enrol"}


async def test_every_step_is_audited(http, agent, live_server):
    session = http()
    await login(session, agent)
    _status, setup = await call(session, "POST", "/api/account/two-factor/setup", json={})
    await call(session, "POST", "/api/account/two-factor/enable", json={"code": "000000"})
    await call(session, "POST", "/api/account/two-factor/enable", json={"code": pyotp.TOTP(setup["secret"]).now()})
    again = http()
    await password_step(again, agent)
    await call(again, "POST", "/api/auth/code", json={"code": "000000"})
    await call(again, "POST", "/api/auth/code", json={"code": next_code(setup["secret"])})
    events = await live_server.ctx.db.audit_events.find({}).sort("at", 1).to_list(None)
    assert [e["action"] for e in events] == [
        "auth.login", "user.2fa_setup_start", "user.2fa_setup_failed", "user.2fa_enable",
        "auth.login_second_step", "auth.code_failed", "auth.login",
    ]
    assert events[-1]["meta"] == {"method": "password+totp"}
    assert setup["secret"] not in repr(events)
