"""The schemathesis run's figures, printed after the tests: operations, cases, failures."""

from __future__ import annotations


def pytest_terminal_summary(terminalreporter):
    from tests.api import test_schemathesis as run

    if not run.STATS["cases"]:
        return
    statuses = {k.split()[1]: v for k, v in run.STATS.items() if k.startswith("status ")}
    terminalreporter.section("schemathesis: generated requests against the live server")
    terminalreporter.write_line(
        f"{run.STATS['operations']} operations, {run.STATS['cases']} cases, {len(run.FAILURES)} failures; "
        f"answers {dict(sorted(statuses.items()))}; {run.STATS['milliseconds'] / 1000:.1f} s in requests")
    for failure in run.FAILURES[:20]:
        terminalreporter.write_line("  " + failure)
