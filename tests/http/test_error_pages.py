"""Error pages: a page request that fails gets a page in the product's style with a way back
(the top bar too, for someone signed in); the JSON API answers exactly as before."""

import logging

import pytest

from tests.conftest import login


async def page(session, path, method="GET"):
    async with session.request(method, path) as resp:
        return resp.status, resp.content_type, await resp.text()


async def test_an_unknown_page_is_a_404_page_with_a_way_back(http):
    status, kind, body = await page(http(), "/no/such/page")
    assert (status, kind) == (404, "text/html")
    assert "Page not found" in body and 'href="/login"' in body and "<code>/no/such/page</code>" in body
    assert 'class="topbar"' not in body and "<script>" not in body


async def test_a_signed_in_person_gets_the_top_bar_and_the_dashboard_on_an_error_page(http, agent):
    session = http()
    await login(session, agent)
    status, _, body = await page(session, "/no/such/page")
    assert status == 404 and 'href="/dashboard">Back to the dashboard' in body
    assert 'id="sign-out"' in body and "Alan Agent" in body
    status, kind, body = await page(session, "/admin/audit")
    assert (status, kind) == (403, "text/html")
    assert "You do not have access to this page" in body and "Only admins can open this page." in body


@pytest.mark.logs_errors
async def test_a_page_that_fails_is_a_500_page_without_details(http, agent, live_server, monkeypatch, caplog):
    from app.http import pages

    session = http()
    await login(session, agent)

    session_of = pages.identity.session

    async def broken(request, **kwargs):
        await session_of(request)  # signed in: the failure comes after
        raise RuntimeError("secret internals: mongodb://user:pass@db")

    monkeypatch.setattr(pages.identity, "page_user", broken)
    caplog.set_level(logging.ERROR)
    status, kind, body = await page(session, "/dashboard")
    assert (status, kind) == (500, "text/html")
    assert "Something went wrong on our side" in body and "secret internals" not in body
    assert "Traceback" not in body and 'href="/dashboard"' in body
    assert any("GET /dashboard failed" in r.getMessage() for r in caplog.records)


async def test_a_wrong_method_on_a_page_is_a_page_that_says_which_are_allowed(http):
    async with http().post("/login") as resp:
        assert (resp.status, resp.content_type) == (405, "text/html")
        assert "GET" in resp.headers["Allow"]
        assert "This request could not be handled" in await resp.text()


async def test_api_errors_stay_json_exactly(http, agent_session):
    async with http().get("/api/no-such-thing") as resp:
        assert resp.status == 404 and await resp.json() == {"error": {"code": "not_found", "message": "Not found."}}
    async with agent_session.get("/api/audit") as resp:
        assert resp.status == 403 and (await resp.json())["error"]["code"] == "forbidden"
    async with http().get("/static/no-such-file.js") as resp:
        assert resp.status == 404 and resp.content_type != "text/html"
