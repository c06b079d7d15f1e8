"""Every HTTP route, enumerated from the application's router so that a new route is covered
the day it is added, gets generated malformed requests (methods, path parameters, query
strings, bodies, content types and charsets, with and without the CSRF headers, as nobody,
a guest, an agent and an admin): none may answer 5xx or `internal`, every /api/ error is
JSON with a code, and the server log holds no ERROR or traceback."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from urllib.parse import quote

import aiohttp
import pytest
from aiohttp import web
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from yarl import URL

from app.errors import HTTP_STATUS
from tests.conftest import login, make_account
from tests.fuzz.strategies import (
    CONTENT_TYPES,
    FUZZ,
    QUERY_NAMES,
    hostile_text,
    object_ids,
    raw_bodies,
)

EXAMPLES = 800
METHODS = ("GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS", "HEAD")
# Every code an /api/ error may carry (app/errors.py and the error middleware).
CODES = (set(HTTP_STATUS) | {"method_not_allowed", "bad_credentials"}) - {"internal"}


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    params: tuple[str, ...]


def routes_of(app: web.Application) -> list[Route]:
    found = []
    for route in app.router.routes():
        resource = route.resource
        if isinstance(resource, web.StaticResource):
            template = resource.canonical + "/{filename}"
        else:
            template = resource.canonical
        params = tuple(re.findall(r"{(\w+)(?::[^}]*)?}", template))
        found.append(Route(route.method, template, params))
    return found


@dataclass
class World:
    url: str
    routes: list[Route]
    sessions: dict[str, aiohttp.ClientSession]
    accounts: dict[str, dict]
    ids: list[str]


@pytest.fixture
async def world(live_server, start_chat, agent, admin):
    """A server with a chat, an agent, an admin and an account that generated requests may
    change; one client session per caller."""
    guest = await start_chat()
    victim = await make_account(live_server, role="agent", name="Vic Victim", email="vic@example.com")
    headers = {"Origin": live_server.origin, "X-Requested-With": "fetch"}
    sessions = {who: aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), headers=headers)
                for who in ("anonymous", "agent", "admin")}
    sessions["guest"] = guest.session
    for who, account in (("agent", agent), ("admin", admin)):
        await login(_based(sessions[who], live_server.url), account)
    yield World(url=live_server.url, routes=routes_of(live_server.app), sessions=sessions,
                accounts={"agent": agent, "admin": admin}, ids=[guest.ticket_id, victim["id"]])
    for who in ("anonymous", "agent", "admin"):
        await sessions[who].close()


class _based:
    """A session that takes paths, for tests.conftest.login."""

    def __init__(self, session: aiohttp.ClientSession, base: str):
        self.session, self.base = session, base

    def post(self, path: str, **kwargs):
        return self.session.post(self.base + path, **kwargs)


def _quoted(text: str, *, safe: str = "") -> str:
    # Percent-escape the UTF-8 bytes, lone surrogates included (they arrive as bad UTF-8).
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)


@settings(FUZZ, max_examples=EXAMPLES)
@given(data=st.data())
async def test_every_http_route_answers_generated_malformed_requests_with_a_documented_error(
        world, fuzz, data):
    ids = object_ids(world.ids)
    route = data.draw(st.sampled_from(world.routes), label="route")
    method = data.draw(st.sampled_from((route.method,) * 6 + METHODS), label="method")
    path = route.template
    for name in route.params:
        value = data.draw(ids | hostile_text | st.text(max_size=400), label=name)
        quoted = _quoted(value, safe="/" if name == "filename" else "")
        path = re.sub(r"\{" + name + r"(?::[^}]*)?\}", lambda _, q=quoted: q, path)
    query = data.draw(st.dictionaries(st.sampled_from(QUERY_NAMES) | hostile_text, hostile_text | ids,
                                      max_size=4), label="query")
    if query:  # (aiohttp refuses a request line over 8,190 bytes itself, before any route)
        path += "?" + "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in query.items())
    assume(len(path) < 8000)
    who = data.draw(st.sampled_from(sorted(world.sessions)), label="caller")
    body = data.draw(st.none() | raw_bodies(ids), label="body") if method != "GET" else None
    headers = {}
    # Mostly what our pages send, so that most requests reach the route behind the checks.
    content_type = data.draw(st.sampled_from(("application/json",) * len(CONTENT_TYPES) + CONTENT_TYPES),
                             label="content type")
    if content_type:
        headers["Content-Type"] = content_type
    if data.draw(st.sampled_from([False] * 9 + [True]), label="drop the CSRF headers"):
        headers.update({"Origin": "https://evil.example", "X-Requested-With": ""})

    case = (method, path[:300], who, body[:200] if body else body, headers)
    async with world.sessions[who].request(method, URL(world.url + path, encoded=True), data=body,
                                           headers=headers, allow_redirects=False) as resp:
        answer = await resp.read()
    assert resp.status < 500, (resp.status, answer[:300], case)
    if resp.status >= 400 and path.startswith("/api/") and method != "HEAD":
        error = json.loads(answer)["error"]
        assert error["code"] in CODES and error["message"], (error, case)
    fuzz.sent(case)
    if resp.status == 401 and who in world.accounts:  # a generated logout: sign in again
        await login(_based(world.sessions[who], world.url), world.accounts[who])
