"""The checks `python3 run.py test` runs before the tests (run.py's checks()): with the rules
in pyproject.toml, ruff finds unsorted imports and missing blank lines (preview rules, easy
to switch off by accident), and mypy finds errors inside unannotated functions and ignores
without a code or with no use."""

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "pyproject.toml"

CROWDED = '''import sys
import os
def first() -> str:
    return os.sep + sys.platform
class Handle:
    pass
'''

UNTYPED = '''class Handle:
    users = None


def lookup(handle):
    return Handle().tickets


value: int = "text"  # type: ignore
other: int = 1  # type: ignore[assignment]
'''


def run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=300)


def test_ruff_finds_unsorted_imports_and_missing_blank_lines(tmp_path):
    module = tmp_path / "crowded.py"
    module.write_text(CROWDED)
    found = run([sys.executable, "-m", "ruff", "check", "--config", str(CONFIG), "--no-cache",
                 "--output-format", "json", str(module)], tmp_path)
    assert found.returncode == 1, found.stdout + found.stderr
    codes = Counter(finding["code"] for finding in json.loads(found.stdout))
    assert codes["I001"] == 1  # imports sorted and grouped
    assert codes["E302"] == 2  # two blank lines before each top-level definition


def test_mypy_looks_inside_unannotated_functions_and_at_every_ignore(tmp_path):
    module = tmp_path / "untyped.py"
    module.write_text(UNTYPED)
    found = run([sys.executable, "-m", "mypy", "--config-file", str(CONFIG), str(module)], tmp_path)
    assert found.returncode == 1, found.stdout + found.stderr
    assert 'untyped.py:6: error: "Handle" has no attribute "tickets"' in found.stdout
    assert "untyped.py:9: error:" in found.stdout and "[ignore-without-code]" in found.stdout
    assert 'untyped.py:10: error: Unused "type: ignore" comment' in found.stdout
