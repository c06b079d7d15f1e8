"""Sign-in, sign-out and the session cookie."""

import jwt

from app.config import Settings
from app.security import SESSION_COOKIE, _jwt_key
from tests.conftest import SECRET, login


def session_cookie(resp):
    return resp.cookies[SESSION_COOKIE]


async def test_login_sets_an_httponly_lax_cookie_with_the_token_version(http, agent):
    session = http()
    async with session.post("/api/auth/login", json={"email": agent["email"], "password": agent["password"]}) as resp:
        assert resp.status == 200
        body = await resp.json()
        morsel = session_cookie(resp)
        raw_header = resp.headers.getall("Set-Cookie")
    assert body["user"] == {**body["user"], "email": agent["email"], "name": "Alan Agent", "role": "agent"}
    assert "password_hash" not in body["user"]
    assert morsel["httponly"] and morsel["samesite"] == "Lax" and morsel["path"] == "/"
    assert not morsel["secure"]  # development
    assert any("HttpOnly" in h for h in raw_header)
    claims = jwt.decode(morsel.value, _jwt_key(Settings(secret_key=SECRET)), algorithms=["HS256"])
    assert claims["sub"] == agent["id"] and claims["role"] == "agent" and claims["tv"] == 0
    assert {"jti", "exp"} <= set(claims)


async def test_each_login_issues_a_new_token(http, agent):
    session = http()
    first = (await login(session, agent), next(c.value for c in session.cookie_jar if c.key == SESSION_COOKIE))[1]
    await login(session, agent)
    second = next(c.value for c in session.cookie_jar if c.key == SESSION_COOKIE)
    assert first != second


async def test_wrong_password_and_unknown_email_get_the_same_answer_byte_for_byte(http, agent):
    session = http()
    answers = []
    for email, password in ((agent["email"], "wrong-password"), ("nobody@example.com", "wrong-password"),
                            (agent["email"].upper(), "nope")):
        async with session.post("/api/auth/login", json={"email": email, "password": password}) as resp:
            answers.append((resp.status, await resp.read(), SESSION_COOKIE in resp.cookies))
    assert answers[0] == answers[1] == answers[2]
    assert answers[0][0] == 401 and answers[0][2] is False


async def test_login_email_is_case_insensitive(http, agent):
    session = http()
    await login(session, {**agent, "email": agent["email"].upper()})


async def test_me_answers_the_signed_in_agent_and_logout_ends_it(http, agent):
    session = http()
    async with session.get("/api/auth/me") as resp:
        assert resp.status == 401
        assert (await resp.json())["error"]["code"] == "unauthorized"
    await login(session, agent)
    async with session.get("/api/auth/me") as resp:
        assert (await resp.json())["user"]["id"] == agent["id"]
    async with session.post("/api/auth/logout") as resp:
        assert resp.status == 200
    async with session.get("/api/auth/me") as resp:
        assert resp.status == 401


async def test_production_cookies_are_secure(aiohttp_server, port):
    import aiohttp

    from app import create_app

    settings = Settings(port=port, secret_key=SECRET, app_env="production", seed_demo=False, bcrypt_rounds=4)
    app = create_app(settings)
    server = await aiohttp_server(app, port=port)
    from app.keys import ctx_key
    from app.services.people import users

    await users.create_user(app[ctx_key].db, email="p@example.com", name="P", password="password-123",
                            role="agent", settings=settings)
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/api/auth/login"),
                                json={"email": "p@example.com", "password": "password-123"}) as resp:
            assert resp.cookies[SESSION_COOKIE]["secure"]
        async with session.post(server.make_url("/api/guest/tickets"),
                                json={"name": "G", "message": "hi"}) as resp:
            assert resp.status == 201
            guest_cookie = resp.cookies["sc_guest"]
            # a framed widget on another site still gets its cookie
            assert guest_cookie["secure"] and guest_cookie["samesite"] == "None"
            assert any("Partitioned" in h for h in resp.headers.getall("Set-Cookie"))


async def test_login_rejects_malformed_bodies_without_a_stack_trace(http):
    session = http()
    async with session.post("/api/auth/login", data="{not json", headers={"Content-Type": "application/json"}) as resp:
        assert resp.status == 400
        body = await resp.json()
        assert body["error"]["code"] == "invalid" and "Traceback" not in str(body)
    async with session.post("/api/auth/login", json=["a", "b"]) as resp:
        assert resp.status == 400
    async with session.post("/api/auth/login", json={"email": 5, "password": None}) as resp:
        assert resp.status == 401
