"""The audit trail in words: every action has a label, and a user agent becomes a browser and
a system ("Firefox on Windows")."""

import pytest

from app.services.core import useragent
from app.services.operations import audit
from app.services.people import accounts


def test_every_action_written_has_a_label_in_words_and_one_group():
    written = set(audit.ACTIONS) | set(accounts.ACTIONS)
    assert written <= set(audit.ACTION_LABELS), sorted(written - set(audit.ACTION_LABELS))
    grouped = [action for _, group in audit.ACTION_GROUPS for action in group]
    assert len(grouped) == len(set(grouped))
    assert audit.action_label("user.deactivate") == "Deactivated an account"
    assert audit.action_label("something.new") == "something.new"  # named, never blank


@pytest.mark.parametrize("agent,short", [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox on Windows"),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
     "Safari/537.36 Edg/126.0.2592.87", "Edge on Windows"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
     "Safari/605.1.15", "Safari on macOS"),
    ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1", "Chrome on iPhone"),
    ("Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 "
     "Mobile/15E148 Safari/604.1", "Safari on iPad"),
    ("Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
     "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36", "Samsung Internet on Android"),
    ("Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile "
     "Safari/537.36", "Chrome on Android"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 "
     "OPR/111.0.0.0", "Opera on Linux"),
    ("Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 "
     "Safari/537.36", "Chrome on ChromeOS"),
    ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 "
     "Safari/537.36", "Chrome on Linux"),
    ("Mozilla/5.0 (Windows NT 10.0; Trident/7.0; rv:11.0) like Gecko", "Internet Explorer on Windows"),
    ("curl/8.5.0", "curl"),
    ("Python/3.12 aiohttp/3.9.5", "aiohttp"),
    ("python-requests/2.32.3", "python-requests"),
    ("AuditTest/1.0", "AuditTest"),
    ("", ""),
    (None, ""),
])
def test_a_user_agent_in_a_few_words(agent, short):
    assert useragent.short(agent) == short


def test_a_user_agent_that_names_nothing_known_is_cut_short():
    assert len(useragent.short("x" * 300)) <= useragent.SHORT_MAX


def test_every_action_the_code_records_has_words_on_the_audit_page():
    import re
    from pathlib import Path

    from app.services.operations import audit

    root = Path(__file__).resolve().parents[2] / "app"
    recorded = set()
    for path in root.rglob("*.py"):
        recorded |= set(re.findall(r'action="([a-z_]+\.[a-z_0-9]+)"', path.read_text()))
    labelled = {action for _, actions in audit.ACTION_GROUPS for action in actions}
    assert recorded and sorted(recorded - labelled) == []
