"""Hostile input over HTTP: every malformed request gets a documented error, changes nothing,
and leaves no ERROR or traceback in the server's log (issue 10)."""

import asyncio

import pytest

from tests.conftest import login

pytestmark = pytest.mark.usefixtures("clean_log")


async def error_of(resp) -> tuple[int, dict]:
    return resp.status, (await resp.json())["error"]


@pytest.mark.parametrize("limit", ["%C2%B2", "9" * 5000, "%D9%A3", "true", "-1", "1.5", ""])
async def test_a_limit_that_is_not_ascii_digits_answers_422_on_every_paged_list(
        http, agent, guest, limit):
    session = http()
    await login(session, agent)
    for path in ("/api/tickets", f"/api/tickets/{guest.ticket_id}/messages", "/api/notifications"):
        async with session.get(f"{path}?limit={limit}") as resp:
            status, error = await error_of(resp)
            assert (status, error["code"], error["field"]) == (422, "invalid", "limit"), path
    async with guest.session.get(f"/api/tickets/{guest.ticket_id}/messages?limit={limit}") as resp:
        assert resp.status == 422


async def test_a_limit_of_plain_digits_still_pages(http, agent, guest):
    session = http()
    await login(session, agent)
    async with session.get("/api/tickets?limit=0001") as resp:
        assert resp.status == 200 and len((await resp.json())["tickets"]) == 1


def json_routes(guest, agent) -> list[tuple[str, str]]:
    """Every route that reads a JSON body (all of them through middleware.read_json)."""
    return [
        ("POST", "/api/auth/login"), ("POST", "/api/auth/password"),
        ("POST", "/api/auth/forgot-password"), ("POST", "/api/auth/reset-password"),
        ("POST", "/api/guest/tickets"), ("PATCH", f"/api/tickets/{guest.ticket_id}"),
        ("POST", f"/api/tickets/{guest.ticket_id}/notes"), ("POST", "/api/admin/users"),
        ("PATCH", f"/api/admin/users/{agent['id']}"),
    ]


@pytest.fixture
async def admin_session(http, admin):
    session = http()
    await login(session, admin)
    return session


async def counts(live_server) -> dict:
    db = live_server.ctx.db
    return {name: await getattr(db, name).count_documents({})
            for name in ("tickets", "messages", "users", "audit_events", "jobs")}


async def nothing_was_written(live_server, before: dict) -> None:
    assert await counts(live_server) == before
    assert not live_server.ctx.audit_backlog


async def test_json_nested_thirty_thousand_deep_answers_400_on_every_json_route(
        admin_session, guest, agent, live_server):
    before = await counts(live_server)
    for method, path in json_routes(guest, agent):
        async with admin_session.request(method, path, data="[" * 30_000,
                                         headers={"Content-Type": "application/json"}) as resp:
            status, error = await error_of(resp)
            assert (status, error["code"]) == (400, "invalid"), path
    async with admin_session.post("/api/guest/tickets", json={"name": [[[[[[[[[[[[[[[[[["G"]]]]]]]]]]]]]]]]]]}) as resp:
        status, error = await error_of(resp)
        assert (status, error["code"]) == (422, "invalid") and "nested too deeply" in error["message"]
    await nothing_was_written(live_server, before)


async def test_a_five_thousand_digit_integer_answers_422_naming_the_field_on_every_json_route(
        admin_session, guest, agent, live_server):
    before = await counts(live_server)
    for method, path in json_routes(guest, agent):
        async with admin_session.request(method, path, data='{"email": %s}' % ("9" * 5000),
                                         headers={"Content-Type": "application/json"}) as resp:
            status, error = await error_of(resp)
            assert (status, error["code"], error["field"]) == (422, "invalid", "email"), path
    for number in (10**300, -(2**53), 2**63):
        async with admin_session.patch(f"/api/tickets/{guest.ticket_id}",
                                       json={"priority": "high", "tags": ["a", number]}) as resp:
            status, error = await error_of(resp)
            assert (status, error["field"]) == (422, "tags.1")
    async with admin_session.post("/api/guest/tickets", data='{"name": NaN, "message": "hi"}',
                                  headers={"Content-Type": "application/json"}) as resp:
        assert (await error_of(resp))[0] == 422
    await nothing_was_written(live_server, before)


async def test_an_unknown_or_non_utf8_charset_answers_415_on_every_json_route(
        admin_session, guest, agent, live_server):
    before = await counts(live_server)
    for charset in ("bogus-charset", "utf-16", "latin-1", "rot13"):
        for method, path in json_routes(guest, agent):
            async with admin_session.request(
                    method, path, data=b'{"email": "a@example.com"}',
                    headers={"Content-Type": f"application/json; charset={charset}"}) as resp:
                status, error = await error_of(resp)
                assert (status, error["code"]) == (415, "invalid"), (charset, path)
    async with admin_session.post("/api/guest/tickets", data=b'{"name": "G", "message": "hi"}',
                                  headers={"Content-Type": "application/json; charset=UTF-8"}) as resp:
        assert resp.status == 201
    before["tickets"] += 1
    before["messages"] += 1
    before["audit_events"] += 1
    await nothing_was_written(live_server, before)


async def test_a_body_that_is_not_utf8_answers_400(admin_session):
    async with admin_session.post("/api/guest/tickets", data=b'{"name": "\xff\xfe", "message": "hi"}',
                                  headers={"Content-Type": "application/json"}) as resp:
        assert (await error_of(resp))[0] == 400


@pytest.mark.parametrize("field", ["email", "password"])
async def test_a_lone_surrogate_at_sign_in_answers_422_naming_the_field_and_is_not_audited(
        http, agent, live_server, field):
    fields = {"email": agent["email"], "password": "correct-horse-battery"}
    fields[field] = "\ud800"  # json.dumps sends it as the escape \ud800, valid JSON
    async with http().post("/api/auth/login", json=fields) as resp:
        status, error = await error_of(resp)
        assert (status, error["code"], error["field"]) == (422, "invalid", field)
    assert await live_server.ctx.db.audit_events.count_documents({}) == 0
    assert not live_server.ctx.audit_backlog


async def test_lone_surrogates_answer_422_naming_the_field_on_every_json_route(
        admin_session, guest, agent, live_server):
    before = await counts(live_server)
    bodies = {
        "/api/guest/tickets": '{"name": "G", "message": "x\\udfff"}',
        f"/api/tickets/{guest.ticket_id}/notes": '{"body": "\\ud800", "client_msg_id": "n1"}',
    }
    for method, path in json_routes(guest, agent):
        body = bodies.get(path, '{"message": "\\ud83d"}')
        async with admin_session.request(method, path, data=body,
                                         headers={"Content-Type": "application/json"}) as resp:
            status, error = await error_of(resp)
            assert (status, error["code"]) == (422, "invalid"), path
            assert error["field"] in ("message", "body"), path
            assert "not valid text" in error["message"]
    async with admin_session.post("/api/guest/tickets", data='{"name": "G", "message": "hi", "\\ud800": 1}',
                                  headers={"Content-Type": "application/json"}) as resp:
        status, error = await error_of(resp)
        assert (status, error["field"]) == (422, "\\ud800")
    await nothing_was_written(live_server, before)


async def raw_request(live_server, request: bytes) -> tuple[int, bytes]:
    """Send bytes no HTTP client library would, and read the status and the body."""
    host, port = live_server.url.removeprefix("http://").split(":")
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        writer.write(request)
        await writer.drain()
        response = await reader.read()
    finally:
        writer.close()
    head, _, body = response.partition(b"\r\n\r\n")
    return int(head.split(b" ")[1]), body


@pytest.mark.parametrize("name", ["a" * 5000, "a" * 256, "a/" * 3000, "css/" + "b" * 300 + ".css"])
async def test_an_over_long_static_path_answers_404_anonymously(http, name):
    async with http().get(f"/static/{name}") as resp:
        assert resp.status == 404
    async with http().get("/static/css/app.css") as resp:
        assert resp.status == 200


@pytest.mark.parametrize("header", [b"User-Agent: \xed\xa0\x80", b"User-Agent: caf\xe9",
                                    b"Cookie: sc_session=\xed\xa0\x80", b"Cookie: sc_guest=\x80\x81"])
async def test_a_header_that_is_not_utf8_answers_400_and_is_not_audited(live_server, agent, header):
    body = b'{"email": "%s", "password": "wrong-password"}' % agent["email"].encode()
    for request in (
        b"GET /api/auth/me HTTP/1.1\r\nHost: x\r\n%s\r\nConnection: close\r\n\r\n" % header,
        b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nOrigin: http://x\r\nX-Requested-With: fetch\r\n"
        b"%s\r\nContent-Type: application/json\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n%s" % (header, len(body), body),
    ):
        status, answer = await raw_request(live_server, request)
        assert status == 400 and b'"code": "invalid"' in answer
    assert await live_server.ctx.db.audit_events.count_documents({}) == 0
    assert not live_server.ctx.audit_backlog


async def test_escaped_bytes_in_a_query_that_are_not_utf8_never_reach_a_500(admin_session):
    for query in ("actor=%ED%A0%80", "entity_id=%FF%FE", "action=%C0%80"):
        async with admin_session.get(f"/api/audit?{query}") as resp:
            assert resp.status in (200, 422), query


@pytest.mark.parametrize("query", [
    "to=9999-12-31", "from=9999-12-31T23:00:00-05:00", "to=0001-01-01T00:00:00%2B01:00",
    "from=0001-01-01T00:30:00%2B01:00", "to=9999-12-31T23:59:59.999999-00:01",
])
async def test_audit_dates_past_the_year_limits_answer_422_in_json_and_csv(admin_session, query):
    for path in ("/api/audit", "/api/audit.csv"):
        for fmt in ("", "&format=csv"):
            async with admin_session.get(f"{path}?{query}{fmt}") as resp:
                status, error = await error_of(resp)
                assert (status, error["code"]) == (422, "invalid"), (path, query)
                assert error["field"] in ("from", "to")


async def test_audit_dates_at_the_year_limits_still_filter(admin_session):
    async with admin_session.get("/api/audit?from=0001-01-01&to=9999-12-30") as resp:
        assert resp.status == 200


# (A first line that is not HTTP at all aiohttp already logs at DEBUG only.)
@pytest.mark.parametrize("request_line", [b"GET /api/tickets?limit=\x80 HTTP/1.1", b"GET /static/\xff HTTP/1.1",
                                          b"GET / HTTP/1.1\r\nBad Header", b"GET /" + b"a" * 9000 + b" HTTP/1.1"])
async def test_a_request_aiohttp_cannot_parse_answers_400_and_logs_one_warning_line(
        live_server, caplog, monkeypatch, request_line):
    from app import wirelog

    monkeypatch.setattr(wirelog.NOISE, "passed", 0)  # the process-wide rate limit, fresh
    status, _ = await raw_request(live_server, request_line + b"\r\nHost: x\r\n\r\n")
    assert status == 400
    [line] = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert line.levelname == "WARNING" and line.exc_info is None
    assert line.getMessage().startswith("client input refused: Error handling request from 127.0.0.1")
