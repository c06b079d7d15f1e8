"""The browser and system an agent reads beside the conversation, from a user agent."""

import pytest

from app.services.conversations.guest_context import describe_browser


@pytest.mark.parametrize("user_agent,described", [
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87", "Edge 126 on Windows"),
    ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/126.0.6478.122 Mobile Safari/537.36", "Chrome 126 on Android"),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
     "Version/17.5 Safari/605.1.15", "Safari 17 on macOS"),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox 128 on Linux"),
    ("curl/8.5.0", None),
    ("", None),
    (None, None),
])
def test_a_user_agent_is_described_as_browser_and_system(user_agent, described):
    assert describe_browser(user_agent) == described
