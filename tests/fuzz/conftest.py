"""Fuzz tests: generated malformed input against a live server (issue 10). Each test counts
the cases it sent and the time it took; the totals are printed after the run
(tests/figures.py)."""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import log_problems

# Each case has a time limit of its own (a hung server fails it in seconds); a whole fuzz
# test is hundreds of cases, which on a busy machine take longer than pytest-timeout's
# 120 s for a hung test (pyproject.toml) without hanging.
FUZZ_TIMEOUT = 600
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.timeout(FUZZ_TIMEOUT))


@pytest.fixture
def settings(settings):
    # Limits high enough that generated sign-ins and chat starts reach the code behind them
    # (a 429 is still a correct answer, it just stops there).
    return dataclasses.replace(
        settings, rate_login_per_ip="100000/minute", rate_login_per_email="100000/minute",
        rate_chat_start_per_guest="100000/minute", rate_chat_start_per_ip="100000/minute",
    )


@dataclass
class Fuzz:
    """The cases a fuzz test sent, and the server log they left (checked after each case)."""

    name: str
    caplog: pytest.LogCaptureFixture
    cases: int = 0
    started: float = field(default_factory=time.perf_counter)
    seen: int = 0

    def sent(self, case: object) -> None:
        """Count one case, and fail on any ERROR or traceback it left in the server log."""
        self.cases += 1
        records = self.caplog.records[self.seen:]
        self.seen += len(records)
        problems = log_problems(records)
        assert not problems, f"the server logged {problems} for {case!r}"[:3000]


@pytest.fixture
def fuzz(request, caplog):
    caplog.set_level(logging.WARNING)
    recorder = Fuzz(name=request.node.name, caplog=caplog)
    yield recorder
    request.node.user_properties.append(("fuzz", {
        "name": recorder.name, "cases": recorder.cases, "seconds": time.perf_counter() - recorder.started}))
