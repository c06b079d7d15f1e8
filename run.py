#!/usr/bin/env python3
"""Entry point.

    python3 run.py            serve the product (embedded store unless MONGODB_URI is set)
    python3 run.py worker     run background jobs only (use with JOBS_IN_PROCESS=0 on servers)
    python3 run.py test ...   run the whole test suite (extra arguments go to pytest)
    python3 run.py lock       bring requirements.lock and requirements-test.lock in line with
                              pyproject.toml (--upgrade: newest versions within its ranges)

Serving and testing first create or reuse the virtual environment in .venv and install the
exact versions of the lock file (hashes checked), so a fresh clone needs nothing else.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

STARTED = time.perf_counter()
ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"


LOCK = ROOT / "requirements.lock"  # what `python3 run.py` installs
TEST_LOCK = ROOT / "requirements-test.lock"  # the same pins, plus what the tests need
PIP_COMPILE = ["--generate-hashes", "--allow-unsafe", "--strip-extras", "--no-emit-index-url",
               "--no-emit-find-links", "--quiet"]


def _bootstrap(with_tests: bool) -> None:
    """Create or reuse .venv, install the lock file's exact versions (hashes checked) when
    they changed, and re-run this script inside it."""
    # run.py starts under whatever python3 the user has, which may be older than the project's.
    if sys.version_info < (3, 11):  # noqa: UP036
        found = ".".join(map(str, sys.version_info[:2]))
        sys.exit(f"error: Python 3.11 or newer is needed (found {found})")
    if not VENV_PYTHON.exists():
        print("creating the virtual environment in .venv ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    lock = TEST_LOCK if with_tests else LOCK
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    stamp = VENV / f".installed-{'test' if with_tests else 'run'}"
    if not stamp.exists() or stamp.read_text() != digest:
        print(f"installing {lock.name} into .venv ...", flush=True)
        pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
        subprocess.run(pip + ["--require-hashes", "--no-deps", "-r", str(lock)], check=True)
        stamp.write_text(digest)
    env = dict(os.environ, SUPPORT_CHAT_BOOTSTRAPPED="1")
    os.execve(str(VENV_PYTHON), [str(VENV_PYTHON), str(ROOT / "run.py"), *sys.argv[1:]], env)


def refresh_locks(args: list[str]) -> int:
    """`python3 run.py lock`: bring the two lock files in line with pyproject.toml, keeping
    the versions already pinned where they still fit (a new dependency is added at its
    newest version). `python3 run.py lock --upgrade`: the newest versions within the ranges.
    Review the diff and run the tests before committing it."""
    if not VENV_PYTHON.exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    pip = [str(VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["pip-tools>=7.4,<8"], check=True)
    upgrade = ["--upgrade"] if "--upgrade" in args else []
    compile_ = [str(VENV_PYTHON), "-m", "piptools", "compile", *PIP_COMPILE, *upgrade]
    # Relative paths, so that the files' headers do not name this machine's directories.
    subprocess.run(compile_ + ["-o", LOCK.name, "pyproject.toml"], check=True, cwd=ROOT)
    subprocess.run(compile_ + ["--extra", "test", "-c", LOCK.name, "-o", TEST_LOCK.name,
                               "pyproject.toml"], check=True, cwd=ROOT)
    print(f"wrote {LOCK.name} and {TEST_LOCK.name}")
    return 0


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


# `python3 run.py test` with no arguments runs every pass below, one after the other, each a
# pytest run of its own, and ends with a table of their results and times. With arguments it
# is one pytest run of what they name (e.g. `python3 run.py test tests/sockets -x`).
# A pass is (name, what it covers, pytest arguments, extra environment).
TestPass = tuple[str, str, list[str], dict[str, str]]


def test_passes() -> list[TestPass]:
    return [
        ("embedded", "the whole suite on the embedded store", [], {}),
    ]


def run_tests(args: list[str]) -> int:
    if args:
        import pytest

        return pytest.main(args)
    results = []
    for name, covers, pytest_args, extra_env in test_passes():
        print(f"\n===== test pass: {name} ({covers}) =====", flush=True)
        started = time.perf_counter()
        code = subprocess.run([sys.executable, "-m", "pytest", *pytest_args],
                              env=dict(os.environ, **extra_env), cwd=ROOT).returncode
        results.append((name, code, time.perf_counter() - started))
    print("\n===== test passes =====")
    for name, code, seconds in results:
        verdict = "passed" if code == 0 else f"FAILED (pytest exit code {code})"
        print(f"  {name:<12} {verdict:<32} {seconds / 60:5.1f} min")
    return max(code for _, code, _ in results)


# Process tuning for serving (tests build apps in their own process and keep the defaults).
BACKLOG = 2048  # aiohttp's 128 drops connection bursts of thousands of sockets
GC_THRESHOLDS = (50_000, 20, 100)  # see bench/README.md: young collections 70x rarer
# At shutdown the sockets are closed first (app/__init__.py); requests still running then
# get this long before their connections are cut.
SHUTDOWN_GRACE = 0.5


def _new_event_loop():
    """uvloop where it installs (not on Windows), else asyncio's own loop."""
    import asyncio

    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _settle_memory(app) -> None:
    """Once start-up has built everything that lives as long as the process, move it out of
    the cyclic collector's way (gc.freeze) and collect young objects less often: with
    thousands of sockets, the default thresholds spent more time in the collector than in
    the chat."""
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def _settings():
    """Settings from the environment, with logging set up; None (and one line on stderr)
    when the configuration is bad."""
    import logging

    from app.config import ConfigError, Settings

    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    logging.basicConfig(
        level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return settings


def _failed(what: str, exc: Exception) -> int:
    """A start-up failure (database unreachable, ...) as one line, not a traceback."""
    first_line = (str(exc) or type(exc).__name__).splitlines()[0][:300]
    print(f"error: {what} failed: {type(exc).__name__}: {first_line}", file=sys.stderr)
    return 1


def serve() -> int:
    import logging

    from aiohttp import web

    from app import create_app
    from app.keys import startup_notes_key

    settings = _settings()
    if settings is None:
        return 2
    log = logging.getLogger("run")
    if settings.embedded_db:
        log.warning(
            "MONGODB_URI is not set: using the EMBEDDED IN-MEMORY store. Nothing is durable: "
            "every ticket and message is lost when this process stops."
        )
    if settings.secret_key_generated:
        log.warning("SECRET_KEY is not set: made a random one. Sessions will not survive a restart.")

    app = create_app(settings)

    def banner(_: str) -> None:
        url = f"http://{settings.host}:{settings.port}"
        lines = [
            f"support chat ready in {time.perf_counter() - STARTED:.2f}s on {url}",
            f"  widget:    {url}/widget",
            f"  dashboard: {url}/dashboard",
            *[f"  {note}" for note in app[startup_notes_key]],
            "(press Ctrl+C to stop)",
        ]
        print("\n".join(lines), flush=True)

    app.on_startup.append(_settle_memory)  # after the app's own start-up (cleanup_ctx)
    try:
        web.run_app(app, host=settings.host, port=settings.port, print=banner, access_log=None,
                    backlog=BACKLOG, loop=_new_event_loop(), shutdown_timeout=SHUTDOWN_GRACE)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        print(f"error: cannot listen on {settings.host}:{settings.port}: {reason}", file=sys.stderr)
        return 1
    except Exception as exc:
        return _failed("start-up", exc)
    return 0


def work() -> int:
    import asyncio

    from app.jobs import standalone

    settings = _settings()
    if settings is None:
        return 2
    try:
        asyncio.run(standalone.main(settings))
    except Exception as exc:
        return _failed("worker", exc)
    return 0


def main() -> int:
    command = sys.argv[1] if len(sys.argv) > 1 else "serve"
    if command == "lock":
        return refresh_locks(sys.argv[2:])
    if not _in_venv() and not os.environ.get("SUPPORT_CHAT_NO_VENV"):
        _bootstrap(with_tests=command == "test")
    if command == "test":
        return run_tests(sys.argv[2:])
    if command == "serve":
        return serve()
    if command == "worker":
        return work()
    print(f"error: unknown command {command!r} (use: serve, worker, test, lock)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
