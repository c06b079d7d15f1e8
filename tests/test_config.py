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
    })
    assert (settings.host, settings.port, settings.production) == ("0.0.0.0", 9000, True)
    assert settings.mongodb_db == "helpdesk" and not settings.embedded_db and not settings.seed_demo
    assert settings.allowed_origins == ("https://a.example", "https://b.example")
    assert (settings.admin_email, settings.admin_password) == ("boss@example.com", "long-enough-pw")


@pytest.mark.parametrize("env,fragment", [
    ({"APP_ENV": "production"}, "SECRET_KEY is required"),
    ({"APP_ENV": "staging"}, "APP_ENV must be one of"),
    ({"PORT": "eighty"}, "PORT must be a number"),
    ({"PORT": "70000"}, "PORT must be between"),
    ({"MONGODB_URI": "postgres://nope"}, "MONGODB_URI is malformed"),
    ({"ALLOWED_ORIGINS": "example.com"}, "ALLOWED_ORIGINS"),
    ({"ADMIN_EMAIL": "a@example.com"}, "must be set together"),
])
def test_bad_configuration_is_one_clear_error(env, fragment):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert fragment in str(caught.value) and "\n" not in str(caught.value)


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
        code, out, err = await run_py(run_env(PORT=str(port)))
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
            line = await asyncio.wait_for(proc.stdout.readline(), 30)
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
