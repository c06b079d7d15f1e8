"""Hostile input over HTTP: every malformed request gets a documented error, changes nothing,
and leaves no ERROR or traceback in the server's log (issue 10)."""

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
