"""Hostile input over Socket.IO: every event is acknowledged with a documented error whatever
its payload, and the server's log holds no ERROR or traceback (issue 10)."""

import pytest

pytestmark = pytest.mark.usefixtures("clean_log")


@pytest.mark.parametrize("limit", ["²", "9" * 5000, "٣", True, 10**30, -1, 2.5, "1e3"])
@pytest.mark.parametrize("event", ["ticket:join", "messages:history"])
async def test_a_limit_that_is_not_a_small_whole_number_answers_invalid(guest, guest_socket, event, limit):
    answer = await guest_socket.call(event, {"ticket_id": guest.ticket_id, "limit": limit})
    assert answer["ok"] is False
    assert (answer["error"]["code"], answer["error"]["field"]) == ("invalid", "limit")
