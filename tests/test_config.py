"""Settings from the environment, and start-up that fails with one clear line."""

import asyncio
import os
import socket
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from app.config import ConfigError, Settings
from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_defaults_are_development_on_loopback_with_the_embedded_store():
    settings = Settings.from_env({})
    assert (settings.host, settings.port, settings.app_env) == ("127.0.0.1", 8080, "development")
    assert settings.embedded_db and settings.seed_demo and settings.secret_key_generated
    assert settings.allowed_origins == ()


def test_every_variable_is_read():
    settings = Settings.from_env({
        "HOST": "0.0.0.0", "PORT": "9000", "APP_ENV": "production", "SECRET_KEY": "s" * 40,
        "MONGODB_URI": "mongodb://db.internal:27017/helpdesk", "ALLOWED_ORIGINS": "https://a.example, https://b.example/",
        "ADMIN_EMAIL": "Boss@Example.com", "ADMIN_PASSWORD": "long-enough-pw",
        "SMTP_URL": "smtp://mail.internal:587", "REQUIRE_2FA": "Admins", "ASSIGNMENT": "Round_Robin",
    })
    assert (settings.host, settings.port, settings.production) == ("0.0.0.0", 9000, True)
    assert settings.mongodb_db == "helpdesk" and not settings.embedded_db and not settings.seed_demo
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert (settings.admin_email, settings.admin_password) == ("boss@example.com", "long-enough-pw")
    assert settings.require_2fa == "admins" and not settings.mail_log_only
    assert settings.assignment == "round_robin"


@pytest.mark.parametrize("env,fragment", [
    ({"APP_ENV": "production"}, "SECRET_KEY is required"),
    ({"APP_ENV": "staging"}, "APP_ENV must be one of"),
    ({"PORT": "eighty"}, "PORT must be a number"),
    ({"PORT": "70000"}, "PORT must be between"),
    ({"MONGODB_URI": "postgres://nope"}, "MONGODB_URI is malformed"),
    ({"ALLOWED_ORIGINS": "example.com"}, "ALLOWED_ORIGINS"),
    ({"ADMIN_EMAIL": "a@example.com"}, "must be set together"),
    ({"ADMIN_EMAIL": "a@example.com", "ADMIN_PASSWORD": "x" * 129}, "8 to 128 characters"),
    ({"APP_ENV": "production", "SECRET_KEY": "s" * 40}, "SMTP_URL is required when APP_ENV=production"),
    ({"MAIL_LOG_ONLY": "maybe"}, "MAIL_LOG_ONLY must be 1 or 0"),
    ({"REQUIRE_2FA": "yes"}, "REQUIRE_2FA must be off, admins or all"),
    ({"ASSIGNMENT": "random"}, "ASSIGNMENT must be one of manual, round_robin"),
])
def test_bad_configuration_is_one_clear_error(env, fragment):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


# How long run.py may take to print that it is ready: a new Python process importing
# everything and compressing the static files, more on a busy machine. (Start-up is timed
# by the bench, not here.)
STARTS_WITHIN = 60


def run_env(**extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("MONGODB_URI", "SECRET_KEY", "APP_ENV")}
    env.update(SUPPORT_CHAT_NO_VENV="1", **extra)
    return env


async def run_py(env: dict) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.parametrize("env,fragment", [
    ({"APP_ENV": "production"}, "error: SECRET_KEY is required when APP_ENV=production"),
    ({"MONGODB_URI": "mongodb://"}, "error: MONGODB_URI is malformed"),
    ({"APP_ENV": "production", "SECRET_KEY": "s" * 40, "SMTP_URL": ""},
     "error: SMTP_URL is required when APP_ENV=production (or set MAIL_LOG_ONLY=1"),
])
async def test_run_py_ends_bad_configuration_with_one_line(env, fragment):
    code, out, err = await run_py(run_env(**env))
    assert code == 2
    assert err.strip().splitlines() == [err.strip()] and err.strip().startswith(fragment)
    assert "Traceback" not in err + out


async def test_run_py_reports_a_port_in_use_in_one_line():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        code, _out, err = await run_py(run_env(PORT=str(port)))
    assert code == 1
    assert "Traceback" not in err
    assert f"error: cannot listen on 127.0.0.1:{port}" in err.strip().splitlines()[-1]


async def test_run_py_serves_the_embedded_store_with_demo_accounts():
    port = free_port()
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), cwd=ROOT, env=run_env(PORT=str(port)),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        banner = b""
        while b"Ctrl+C" not in banner:
            line = await asyncio.wait_for(proc.stdout.readline(), STARTS_WITHIN)
            assert line, f"run.py exited before it was ready: {banner.decode()}"
            banner += line
        assert b"demo agent: agent@example.com / agent-demo-1234" in banner
        async with aiohttp.ClientSession() as session:
            async with session.post(f"http://127.0.0.1:{port}/api/auth/login",
                                    json={"email": "agent@example.com", "password": "agent-demo-1234"}) as resp:
                assert resp.status == 200
            async with session.get(f"http://127.0.0.1:{port}/readyz") as resp:
                assert resp.status == 200
        print(f"run.py ready after {time.perf_counter() - started:.2f}s")
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    text = err.decode()
    assert "EMBEDDED IN-MEMORY" in text and "SECRET_KEY is not set" in text


def test_trust_settings_are_read_and_validated():
    settings = Settings.from_env({
        "TRUST_PROXY": "true", "PUBLIC_URL": "https://support.example/", "SMTP_URL": "smtp://mail:2525",
        "MAIL_FROM": "Help <h@example.com>", "WIDGET_ALLOWED_ORIGINS": "https://shop.example, https://b.example",
        "RATE_LIMIT_LOGIN_PER_IP": "3/minute",
    })
    assert settings.trust_proxy and settings.public_url == "https://support.example"
    assert (settings.smtp_url, settings.mail_from) == ("smtp://mail:2525", "Help <h@example.com>")
    assert settings.widget_allowed_origins == ("https://shop.example", "https://b.example")
    assert settings.rate_login_per_ip == "3/minute" and settings.rate_login_per_email == "5/10 minutes"
    for env, fragment in (({"TRUST_PROXY": "maybe"}, "TRUST_PROXY"), ({"SMTP_URL": "mail:25"}, "SMTP_URL must look like"),
                          ({"WIDGET_ALLOWED_ORIGINS": "shop.example"}, "WIDGET_ALLOWED_ORIGINS"),
                          ({"RATE_LIMIT_MESSAGES_PER_TICKET": "lots"}, "RATE_LIMIT_MESSAGES_PER_TICKET"),
                          ({"PUBLIC_URL": "support.example"}, "PUBLIC_URL")):
        with pytest.raises(ConfigError) as caught:
            Settings.from_env(env)
        assert fragment in str(caught.value)


def test_background_job_settings_are_read_and_validated():
    settings = Settings.from_env({
        "JOBS_IN_PROCESS": "0", "ESCALATE_AFTER": "90s", "AUTO_RESOLVE_AFTER": "2d",
        "SMTP_URL": "smtps://mailer:s%40cret@smtp.example.com", "MAIL_FROM": "Help <help@example.com>",
        "PUBLIC_URL": "https://help.example.com/", "PORT": "9000",
    })
    assert settings.jobs_in_process is False
    assert (settings.escalate_after, settings.auto_resolve_after) == (90, 2 * 86400)
    assert settings.public_url == "https://help.example.com"
    assert settings.mail_from == "Help <help@example.com>"
    defaults = Settings.from_env({"PORT": "9000"})
    assert defaults.jobs_in_process and defaults.escalate_after == 15 * 60
    assert defaults.auto_resolve_after == 7 * 86400 and defaults.smtp_url is None
    assert defaults.public_url == "http://127.0.0.1:9000"
    assert Settings.from_env({"ESCALATE_AFTER": "900"}).escalate_after == 900


def test_the_smtp_url_is_split_into_its_parts():
    from app.config import parse_smtp_url

    target = parse_smtp_url("smtps://mailer:s%40cret@smtp.example.com")
    assert (target.hostname, target.port, target.username, target.password, target.use_tls) == (
        "smtp.example.com", 465, "mailer", "s@cret", True)
    plain = parse_smtp_url("smtp://localhost:2525")
    assert (plain.port, plain.username, plain.use_tls) == (2525, None, False)


@pytest.mark.parametrize("env,fragment", [
    ({"JOBS_IN_PROCESS": "maybe"}, "JOBS_IN_PROCESS must be"),
    ({"ESCALATE_AFTER": "soon"}, "ESCALATE_AFTER must be"),
    ({"ESCALATE_AFTER": "0"}, "ESCALATE_AFTER must be more than 0"),
    ({"AUTO_RESOLVE_AFTER": "-1d"}, "AUTO_RESOLVE_AFTER must be more than 0"),
    ({"SMTP_URL": "http://mail.example.com"}, "SMTP_URL must look like"),
    ({"SMTP_URL": "smtp://mail.example.com:99999"}, "SMTP_URL has a bad port"),
    ({"MAIL_FROM": "nobody"}, "MAIL_FROM must contain"),
    ({"PUBLIC_URL": "help.example.com"}, "PUBLIC_URL must start"),
])
def test_bad_background_job_settings_are_one_clear_error(env, fragment):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


async def test_run_py_worker_starts_alone_and_stops_cleanly_on_sigterm():
    import signal

    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(ROOT / "run.py"), "worker", cwd=ROOT, env=run_env(),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        line = await asyncio.wait_for(proc.stdout.readline(), STARTS_WITHIN)
        assert b"running" in line
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 0
    text = err.decode()
    assert "cannot push live events" in text and "SMTP_URL is not set" in text
    assert "Traceback" not in text


def test_every_environment_variable_is_documented_in_the_readme_and_env_example():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    source = (root / "app" / "config.py").read_text()
    names = set(re.findall(r'get\("([A-Z][A-Z0-9_]+)"\)', source))
    names |= set(re.findall(r'"([A-Z][A-Z0-9_]+)":\s*"rate_', source))
    names |= set(re.findall(r'\("([A-Z][A-Z0-9_]+)", "[a-z_]+", "', source))
    assert len(names) > 20, names  # the patterns still find the variables
    readme = (root / "README.md").read_text()
    example = (root / ".env.example").read_text()
    assert sorted(n for n in names if f"`{n}`" not in readme) == []
    assert sorted(n for n in names if not re.search(rf"^#?{n}=", example, re.M)) == []
