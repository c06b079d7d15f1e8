"""Hardening: CSRF checks on cookie-authenticated mutations, security headers, body size,
and X-Forwarded-For trusted only behind TRUST_PROXY."""

import aiohttp
import pytest

from tests.conftest import PASSWORD


async def raw_session(live_server, cookies_from=None):
    """A session without the headers our pages' JavaScript adds."""
    session = aiohttp.ClientSession(base_url=live_server.url, cookie_jar=aiohttp.CookieJar(unsafe=True))
    if cookies_from is not None:
        for cookie in cookies_from.cookie_jar:
            session.cookie_jar.update_cookies({cookie.key: cookie.value})
    return session


async def test_a_cross_site_form_post_is_refused(agent_session, guest, live_server):
    async with await raw_session(live_server, agent_session) as evil:
        async with evil.post(f"/api/tickets/{guest.ticket_id}/notes",
                             data={"body": "forged", "client_msg_id": "f1"},
                             headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 403
            assert (await resp.json())["error"]["code"] == "forbidden"
        async with evil.post("/api/auth/logout", headers={"Origin": "https://evil.example"}) as resp:
            assert resp.status == 403
    async with agent_session.get("/api/auth/me") as resp:
        assert resp.status == 200  # still signed in: the forged logout did nothing
    assert await live_server.ctx.db.messages.count_documents({"kind": "note"}) == 0


@pytest.mark.parametrize("headers", [
    {"Origin": "https://evil.example", "X-Requested-With": "fetch"},       # wrong origin
    {"X-Requested-With": "fetch"},                                           # no origin, no referer
    {"Referer": "https://evil.example/page", "X-Requested-With": "fetch"},  # wrong referer
    {"Origin": "null", "X-Requested-With": "fetch"},                         # sandboxed frame
])
async def test_mutations_with_a_foreign_or_missing_origin_are_refused(agent_session, guest, live_server, headers):
    async with await raw_session(live_server, agent_session) as session:
        async with session.post(f"/api/tickets/{guest.ticket_id}/notes", headers=headers,
                                json={"body": "x", "client_msg_id": "x1"}) as resp:
            assert resp.status == 403
    assert await live_server.ctx.db.messages.count_documents({"kind": "note"}) == 0


async def test_same_origin_without_the_custom_header_is_refused(guest, live_server):
    async with await raw_session(live_server, guest.session) as session:
        async with session.post(f"/api/tickets/{guest.ticket_id}/notes", headers={"Origin": live_server.origin},
                                json={"body": "x", "client_msg_id": "x1"}) as resp:
            assert resp.status == 403
        # A guest's chat start is a cookie mutation too.
        async with session.post("/api/guest/tickets", headers={"Origin": live_server.origin},
                                json={"name": "G", "message": "hi"}) as resp:
            assert resp.status == 403
    assert await live_server.ctx.db.tickets.count_documents({}) == 1


async def test_our_pages_requests_pass_with_origin_or_referer(agent_session, guest, live_server):
    async with await raw_session(live_server, agent_session) as session:
        for headers in ({"Origin": live_server.origin, "X-Requested-With": "fetch"},
                        {"Referer": live_server.url + "/dashboard", "X-Requested-With": "fetch"}):
            async with session.post(f"/api/tickets/{guest.ticket_id}/notes", headers=headers,
                                    json={"body": "ok", "client_msg_id": f"ok-{len(headers)}-{next(iter(headers))}"}) as resp:
                assert resp.status == 201, await resp.text()


async def test_a_first_login_without_cookies_needs_no_csrf_header(live_server, agent):
    async with await raw_session(live_server) as session:
        async with session.post("/api/auth/login", json={"email": agent["email"], "password": PASSWORD}) as resp:
            assert resp.status == 200


async def test_security_headers_on_pages_apis_and_errors(http, live_server):
    session = http()
    for path in ("/login", "/api/auth/me", "/no-such-page", "/healthz"):
        async with session.get(path, allow_redirects=False) as resp:
            headers = resp.headers
            csp = headers["Content-Security-Policy"]
            assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp, path
            assert "frame-ancestors 'none'" in csp and headers["X-Frame-Options"] == "DENY"
            host = live_server.url.split("//")[1]
            assert f"connect-src 'self' ws://{host} wss://{host}" in csp
            assert headers["X-Content-Type-Options"] == "nosniff"
            assert headers["Referrer-Policy"] in ("strict-origin-when-cross-origin", "no-referrer")


@pytest.fixture
def settings(settings):
    import dataclasses

    return dataclasses.replace(settings, widget_allowed_origins=("https://shop.example",))


async def test_only_the_widget_may_be_framed_and_only_by_allowed_sites(http):
    async with http().get("/widget") as resp:
        csp = resp.headers["Content-Security-Policy"]
        assert "frame-ancestors 'self' https://shop.example" in csp
        assert "X-Frame-Options" not in resp.headers
        assert "script-src 'self'" in csp
    async with http().get("/dashboard", allow_redirects=False) as resp:
        assert "frame-ancestors 'none'" in resp.headers["Content-Security-Policy"]


async def test_bodies_over_64_kib_answer_413(http):
    async with http().post("/api/guest/tickets", data=b"x" * (65 * 1024),
                           headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 413


async def test_x_forwarded_for_is_ignored_without_trust_proxy(http, agent, live_server):
    assert not live_server.ctx.settings.trust_proxy
    async with http().post("/api/auth/login", json={"email": agent["email"], "password": PASSWORD},
                           headers={"X-Forwarded-For": "198.51.100.1"}) as resp:
        assert resp.status == 200
    [event] = await live_server.ctx.db.audit_events.find({"action": "auth.login"}).to_list(5)
    assert event["ip"] == "127.0.0.1"


async def test_production_cookies_are_all_secure(aiohttp_server, port):
    """Session cookie, renewed cookie after a password change, and the guest cookie."""
    from app import create_app
    from app.config import Settings
    from app.keys import ctx_key
    from app.services.people import users
    from tests.conftest import SECRET

    settings = Settings(port=port, secret_key=SECRET, app_env="production", seed_demo=False, bcrypt_rounds=4)
    app = create_app(settings)
    server = await aiohttp_server(app, port=port)
    await users.create_user(app[ctx_key].db, email="p@example.com", name="P", password="password-123",
                            role="agent", settings=settings)
    origin = str(server.make_url("")).rstrip("/")
    async with aiohttp.ClientSession(headers={"Origin": origin, "X-Requested-With": "fetch"}) as session:
        async with session.post(server.make_url("/api/auth/login"),
                                json={"email": "p@example.com", "password": "password-123"}) as resp:
            cookie = resp.cookies["sc_session"]
            assert cookie["secure"] and resp.headers["Strict-Transport-Security"]
        async with session.post(server.make_url("/api/auth/password"), headers={"Cookie": f"sc_session={cookie.value}"},
                                json={"old_password": "password-123", "new_password": "password-456"}) as resp:
            assert resp.status == 200, await resp.text()
            assert resp.cookies["sc_session"]["secure"] and resp.cookies["sc_session"]["httponly"]
