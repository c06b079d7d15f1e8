"""Pages: who is sent where, and what each page is served with."""

import re

import pytest


async def fetch(session, path):
    async with session.get(path, allow_redirects=False) as resp:
        return resp.status, resp.headers.get("Location"), await resp.text()


async def test_root_sends_each_visitor_to_the_right_place(http, agent_session, guest):
    assert (await fetch(http(), "/"))[:2] == (302, "/login")
    assert (await fetch(guest.session, "/"))[:2] == (302, "/widget")
    assert (await fetch(agent_session, "/"))[:2] == (302, "/dashboard")


async def test_dashboard_needs_a_signed_in_agent(http, agent_session, guest):
    assert (await fetch(http(), "/dashboard"))[:2] == (302, "/login?next=/dashboard")
    assert (await fetch(guest.session, "/dashboard"))[0] == 302
    status, _, html = await fetch(agent_session, "/dashboard")
    assert status == 200 and "Alan Agent" in html


async def test_a_ticket_has_an_address_of_its_own_on_the_dashboard(http, agent_session, guest):
    path = f"/dashboard/tickets/{guest.ticket_id}"
    assert (await fetch(http(), path))[:2] == (302, f"/login?next={path}")
    status, _, html = await fetch(agent_session, path)
    assert status == 200 and 'id="dashboard"' in html


@pytest.mark.parametrize("target,expected", [
    ("/dashboard", "/dashboard"),
    ("/admin/users?x=1", "/admin/users?x=1"),
    ("https://evil.example/", "/dashboard"),
    ("http:evil.example", "/dashboard"),
    ("javascript:alert(1)", "/dashboard"),
    ("evil.example", "/dashboard"),
    ("//evil.example/x", "/dashboard"),
    ("/\\evil.example", "/dashboard"),
    ("\\\\evil.example", "/dashboard"),
    ("/%09/evil.example", "/dashboard"),  # a tab: browsers drop it and read //evil.example
    ("/%0A/evil.example", "/dashboard"),
    ("/%0D%0A/evil.example", "/dashboard"),
    ("/%00/evil.example", "/dashboard"),
    ("/%20/evil.example", "/dashboard"),
    ("/%E2%80%A8/evil.example", "/dashboard"),
    ("/%2509/evil.example", "/dashboard"),  # encoded twice: a tab once decoded
    ("/%252F/evil.example", "/dashboard"),
    ("/%2F/evil.example", "/dashboard"),
    ("/%5Cevil.example", "/dashboard"),
    ("%2F%2Fevil.example", "/dashboard"),
    ("", "/dashboard"),
])
async def test_login_page_only_returns_to_local_paths(http, target, expected):
    status, _, html = await fetch(http(), f"/login?next={target}")
    assert status == 200
    assert f'data-next="{expected.replace("&", "&amp;")}"' in html
    assert "evil.example" not in html


def test_local_path_refuses_control_characters_backslashes_and_other_hosts():
    from app.http.pages import local_path

    for hostile in ("/\t/evil.example", "/\n/evil.example", "/\r\n/x", "/\x00", "/\x7f", "/\u2028/x",
                    "//evil.example", "/\\evil.example", "/ok\\..\\..", "https://evil.example", None, 5,
                    "/" + "a" * 2001):
        assert local_path(hostile, fallback="/dashboard") == "/dashboard", repr(hostile)
    assert local_path("/notifications?unread=1#top", fallback="/dashboard") == "/notifications?unread=1#top"


async def test_widget_and_login_pages_are_served_with_labelled_inputs_and_no_inline_script(http):
    for path in ("/widget", "/login"):
        status, _, html = await fetch(http(), path)
        assert status == 200
        assert "<script>" not in html and "onclick=" not in html
        assert "<label" in html
    _, _, html = await fetch(http(), "/widget")
    assert "aria-live" in html
    assert re.search(r"/static/v/[0-9a-f]+/vendor/socket\.io/socket\.io\.min\.js", html)  # versioned


async def test_the_vendored_socket_io_client_is_served_with_its_licence(http):
    session = http()
    async with session.get("/static/vendor/socket.io/socket.io.min.js") as resp:
        assert resp.status == 200 and "javascript" in resp.headers["Content-Type"]
    async with session.get("/static/vendor/socket.io/LICENSE") as resp:
        assert resp.status == 200 and "MIT" in await resp.text()
