"""Figures that tests report, printed after the run: the fuzz tests' cases and the
schemathesis run's requests. A test adds them to its own report (`user_properties`, as
("fuzz", {...}) or ("schemathesis", {...})); the process that prints the summary gathers
them from the reports. With pytest-xdist that is the controller, which runs no test and
loads none of the conftest files below tests/, so the gathering and printing live here,
a plugin of tests/conftest.py."""

from __future__ import annotations

from collections import Counter

import pytest

FIGURES: dict[str, list[dict]] = {"fuzz": [], "schemathesis": []}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # The teardown report carries every property the test and its fixtures added.
    if report.when != "teardown":
        return
    for name, value in report.user_properties:
        if name in FIGURES:
            FIGURES[name].append(value)


def pytest_terminal_summary(terminalreporter) -> None:
    _fuzz(terminalreporter, FIGURES["fuzz"])
    _schemathesis(terminalreporter, FIGURES["schemathesis"])


def _fuzz(terminal, runs: list[dict]) -> None:
    if not runs:
        return
    terminal.section("fuzz: generated cases sent to the live server")
    for run in runs:
        terminal.write_line(f"{run['cases']:6d} cases in {run['seconds']:5.1f} s  {run['name']}")
    total = sum(run["cases"] for run in runs)
    seconds = sum(run["seconds"] for run in runs)
    terminal.write_line(f"{total:6d} cases in {seconds:5.1f} s  in all")


def _schemathesis(terminal, runs: list[dict]) -> None:
    stats: Counter = Counter()
    failures: list[str] = []
    for run in runs:
        stats.update(run["stats"])
        failures += run["failures"]
    if not stats["cases"]:
        return
    statuses = {k.split()[1]: v for k, v in stats.items() if k.startswith("status ")}
    terminal.section("schemathesis: generated requests against the live server")
    terminal.write_line(
        f"{stats['operations']} operations, {stats['cases']} cases, {len(failures)} failures; "
        f"answers {dict(sorted(statuses.items()))}; {stats['milliseconds'] / 1000:.1f} s in requests")
    for failure in failures[:20]:
        terminal.write_line("  " + failure)
