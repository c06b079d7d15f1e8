"""The one top bar: the pages a person may open, Reports only once a reports page exists."""

import aiohttp
from aiohttp import web

from app import create_app
from app.keys import ctx_key
from tests.conftest import LiveServer, login, make_account


async def test_agents_see_the_dashboard_and_admins_the_admin_pages_too(http, agent, admin):
    for account, links in ((agent, ["/dashboard"]), (admin, ["/dashboard", "/admin/users", "/admin/audit",
                                                             "/admin/jobs"])):
        session = http()
        await login(session, account)
        async with session.get("/notifications") as resp:
            body = await resp.text()
        nav = body[body.index('aria-label="Pages"'):body.index("</nav>")]
        assert [part.split('"')[0] for part in nav.split('href="')[1:]] == links
        assert "Reports" not in nav and body.count('class="topbar"') == 1


async def test_a_reports_page_gets_its_link_in_the_top_bar_once_it_exists(aiohttp_server, settings):
    app = create_app(settings)

    async def reports(request: web.Request) -> web.Response:
        return web.Response(text="reports")

    app.router.add_get("/reports", reports, name="reports")
    server = await aiohttp_server(app, host="127.0.0.1", port=settings.port)
    live = LiveServer(url=str(server.make_url("")).rstrip("/"), app=app)
    assert app[ctx_key] is live.ctx
    agent = await make_account(live, role="agent", name="Alan Agent", email="alan@example.com")
    async with aiohttp.ClientSession(base_url=live.url, cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     headers={"Origin": live.origin, "X-Requested-With": "fetch"}) as session:
        await login(session, agent)
        async with session.get("/dashboard") as resp:
            body = await resp.text()
    assert '<a class="topbar__link" href="/reports">Reports</a>' in body
