"""GET /api/search: one box that finds tickets by guest name, e-mail, subject, message text
and tag, with the snippet that matched, paged by cursor, for agents only. What is typed is
text: regex characters and `$` operators find text, never an error or an operator."""

from __future__ import annotations

import pytest

from tests.http.test_ticket_update import patch

# MongoDB looks for a phrase as typed (in any case); the stand-in matches its words in turn,
# skipping the punctuation between them, so "^Hello" finds "Hello there" there.
PHRASE_BY_WORDS = "a phrase is matched word by word, its punctuation ignored (MongoDB: as typed)"


async def search(session, q: str, **params) -> tuple[int, dict]:
    async with session.get("/api/search", params={"q": q, **params}) as resp:
        return resp.status, await resp.json()


def found(body: dict) -> list[tuple[str, str, str]]:
    return [(r["ticket"]["guest_name"], r["field"], r["snippet"]) for r in body["results"]]


async def test_one_box_finds_tickets_by_name_email_subject_message_note_and_tag(
        start_chat, agent_session, agent_socket):
    maria = await start_chat(name="Maria Lopez", email="maria@example.com",
                             message="My blender arrived broken")
    again = await start_chat(name="Maria L.", email="MARIA@example.com", message="Invoice question")
    bob = await start_chat(name="Bob", message="Where is parcel 7731?")
    await agent_socket.call("message:send", {"ticket_id": bob.ticket_id, "client_msg_id": "a1",
                                             "body": "We refunded EUR 120 to the card ending 4242 today."})
    await agent_socket.call("note:add", {"ticket_id": bob.ticket_id, "client_msg_id": "n1",
                                         "body": "Customer is a wholesaler, be generous"})
    await patch(agent_session, maria.ticket_id, {"add_tags": ["warranty"]})

    status, body = await search(agent_session, "maria@example.com")
    assert status == 200
    assert {(name, field) for name, field, _ in found(body)} == {
        ("Maria Lopez", "guest_email"), ("Maria L.", "guest_email")}
    assert {r["ticket"]["id"] for r in body["results"]} == {maria.ticket_id, again.ticket_id}

    assert found((await search(agent_session, "bob"))[1]) == [("Bob", "guest_name", "Bob")]
    assert found((await search(agent_session, "blender"))[1]) == [
        ("Maria Lopez", "subject", "My blender arrived broken")]
    assert found((await search(agent_session, "warranty"))[1]) == [("Maria Lopez", "tag", "warranty")]
    _, body = await search(agent_session, "card ending 4242")
    assert found(body) == [("Bob", "message", "We refunded EUR 120 to the card ending 4242 today.")]
    assert found((await search(agent_session, "wholesaler"))[1]) == [
        ("Bob", "note", "Customer is a wholesaler, be generous")]
    assert (await search(agent_session, "nothing-like-this"))[1] == {"results": [], "next_cursor": None}


async def test_a_long_message_shows_the_part_around_the_match(start_chat, agent_session):
    words = " ".join(f"word{i}" for i in range(200))
    await start_chat(name="Ann", message=f"{words} the tracking code is ZX-81 {words}")
    _, body = await search(agent_session, "ZX-81")
    [(_, field, snippet)] = found(body)
    assert field == "message" and "tracking code is ZX-81" in snippet
    assert snippet.startswith("…") and snippet.endswith("…") and len(snippet) <= 162


async def test_results_page_by_cursor_newest_first_without_repeats(start_chat, agent_session):
    made = [await start_chat(name=f"Guest {i}", message=f"Order refund number {i}") for i in range(5)]
    seen, cursor = [], None
    while True:
        params = {"limit": "2", **({"before": cursor} if cursor else {})}
        status, body = await search(agent_session, "refund", **params)
        assert status == 200 and len(body["results"]) <= 2
        seen += [r["ticket"]["id"] for r in body["results"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [g.ticket_id for g in reversed(made)]


@pytest.mark.parametrize("q", ["$5.00 (approx", ".*", "a|b", "[x]", "\\d+", '{"$ne": ""}', "$where",
                               pytest.param("^Hello", marks=pytest.mark.standin_limit(PHRASE_BY_WORDS)),
                               "((", "?*+"])
async def test_regex_characters_and_operators_are_searched_as_text(start_chat, agent_session, q):
    await start_chat(name="Price", message="The price is $5.00 (approx.) for me")
    await start_chat(name="Other", message="Hello there, nothing special")
    status, body = await search(agent_session, q)
    assert status == 200
    names = [r["ticket"]["guest_name"] for r in body["results"]]
    assert names == (["Price"] if q == "$5.00 (approx" else [])


@pytest.mark.parametrize("q", ["", " ", "a", "x" * 101])
async def test_a_search_too_short_or_too_long_answers_422(agent_session, q):
    status, body = await search(agent_session, q)
    assert status == 422 and body["error"]["field"] == "q"


async def test_search_is_for_agents_only(guest, http):
    status, _ = await search(guest.session, "Hello")
    assert status == 401
    status, _ = await search(http(), "Hello")
    assert status == 401


async def test_internal_lines_are_not_searched(guest, agent_session):
    await patch(agent_session, guest.ticket_id, {"priority": "urgent"})
    assert (await search(agent_session, "set priority"))[1]["results"] == []
