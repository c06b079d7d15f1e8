"""The one top bar: the pages a person may open, the admin's occasional pages under "More"."""

from tests.conftest import login


def _nav(body: str) -> str:
    return body[body.index('aria-label="Pages"'):body.index("</nav>")]


def _hrefs(html: str) -> list[str]:
    return [part.split('"')[0] for part in html.split('href="')[1:]]


async def test_agents_see_their_pages_and_admins_the_admin_pages_too(http, agent, admin):
    everyone = ["/dashboard", "/reports", "/canned-replies"]
    admin_more = ["/admin/settings", "/admin/jobs", "/admin/webhooks", "/admin/tokens", "/admin/privacy"]
    for account, links in ((agent, everyone), (admin, [*everyone, "/admin/users", "/admin/audit", *admin_more])):
        session = http()
        await login(session, account)
        async with session.get("/notifications") as resp:
            body = await resp.text()
        nav = _nav(body)
        assert _hrefs(nav) == links
        assert body.count('class="topbar"') == 1
        if account is admin:
            more = nav[nav.index('id="admin-menu"'):]
            assert _hrefs(more) == admin_more  # the occasional ones under "More"


async def test_the_page_open_is_marked_current_in_the_top_bar(http, admin):
    session = http()
    await login(session, admin)
    for path, label in (("/reports", "Reports"), ("/admin/audit", "Audit"), ("/admin/jobs", "More")):
        async with session.get(path) as resp:
            assert resp.status == 200, path
            nav = _nav(await resp.text())
        current = nav[:nav.index('aria-current="page"')]
        assert current.rsplit("<", 1)[-1].split(">")[0].startswith(("a class=\"topbar__link\"", "summary")), path
        assert label in nav[nav.index('aria-current="page"'):][:200], path
