"""A ticket change reaches its effects through listeners that effects.py does not know:
each package registers its own, in a known order, and one that fails stops no other."""

from __future__ import annotations

import logging

import pytest

from app.services.conversations import Change, effects


def test_each_concern_listens_to_ticket_changes_once_in_order():
    assert effects.listeners() == [
        "open counts", "system lines", "live events",  # conversations' own, first
        "audit trail", "e-mail", "notifications", "webhooks",  # operations'
    ]


@pytest.mark.logs_errors
async def test_a_listener_that_fails_is_logged_and_the_next_still_runs(monkeypatch, caplog):
    monkeypatch.setattr(effects, "_listeners", dict(effects._listeners))
    heard: list[str] = []

    async def broken(ctx, change: Change) -> None:
        raise RuntimeError("the mail server is away")

    async def after(ctx, change: Change) -> None:
        heard.append(change.kind)

    effects.listen("broken", broken)
    effects.listen("after", after)
    # A sweep tidied a field nobody sees: the product's listeners have nothing to do, and
    # touch neither the database nor the sockets (no context is given).
    ticket = {"_id": "t1", "status": "open", "assignee_id": None, "version": 2}
    with caplog.at_level(logging.ERROR, logger="app.services.conversations.effects"):
        await effects.apply(None, Change(kind="bookkeeping", before={**ticket, "version": 1},
                                         after=ticket))
    assert heard == ["bookkeeping"]
    assert [r.getMessage() for r in caplog.records] == [
        "could not carry out broken of a bookkeeping change of ticket t1"]
