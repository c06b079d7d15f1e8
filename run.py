#!/usr/bin/env python3
"""Entry point.

    python3 run.py            serve the product (embedded store unless MONGODB_URI is set)
    python3 run.py worker     run background jobs only (use with JOBS_IN_PROCESS=0 on servers)
    python3 run.py test ...   run the checks, then the whole test suite (with arguments: only
                              pytest, which gets them)
    python3 run.py check      run only the checks: ruff and mypy (configured in pyproject.toml)
    python3 run.py lock       bring requirements.lock and requirements-test.lock in line with
                              pyproject.toml (--upgrade: newest versions within its ranges),
                              and tests/standin/requirements.lock with its requirements.in
    python3 run.py standin    a stand-in MongoDB (mongoeco) on port 27017, for the tests

Serving, testing and checking first create or reuse the virtual environment in .venv and
install the exact versions of the lock file (hashes checked), so a fresh clone needs nothing
else.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
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
        subprocess.run([*pip, "--require-hashes", "--no-deps", "-r", str(lock)], check=True)
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
    subprocess.run([*pip, "pip-tools>=7.4,<8"], check=True)
    upgrade = ["--upgrade"] if "--upgrade" in args else []
    compile_ = [str(VENV_PYTHON), "-m", "piptools", "compile", *PIP_COMPILE, *upgrade]
    # Relative paths, so that the files' headers do not name this machine's directories.
    subprocess.run([*compile_, "-o", LOCK.name, "pyproject.toml"], check=True, cwd=ROOT)
    subprocess.run([*compile_, "--extra", "test", "-c", LOCK.name, "-o", TEST_LOCK.name,
                               "pyproject.toml"], check=True, cwd=ROOT)
    print(f"wrote {LOCK.name} and {TEST_LOCK.name}")
    return refresh_standin_lock(upgrade)


def refresh_standin_lock(upgrade: list[str]) -> int:
    """The stand-in's lock is compiled by a Python that can install it (3.13+), in a
    virtual environment made for that and removed after."""
    import tempfile

    try:
        base = find_standin_python()
    except CannotRun as exc:
        print(f"error: {STANDIN_LOCK.relative_to(ROOT)} not refreshed: {exc}", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="standin-lock-") as scratch:
        python = Path(scratch) / "bin" / "python"
        subprocess.run([base, "-m", "venv", scratch], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q",
                        "pip-tools>=7.4,<8"], check=True)
        subprocess.run([str(python), "-m", "piptools", "compile", *PIP_COMPILE, *upgrade,
                        "-o", STANDIN_LOCK.name, "requirements.in"], check=True, cwd=STANDIN_DIR)
    print(f"wrote {STANDIN_LOCK.relative_to(ROOT)}")
    return 0


def _in_venv() -> bool:
    return Path(sys.prefix).resolve() == VENV.resolve()


# `python3 run.py test` with no arguments runs every pass below, one after the other, each a
# pytest run of its own, and ends with a table of their results and times. With arguments it
# is one pytest run of what they name (e.g. `python3 run.py test tests/sockets -x`).
# A pass is (name, what it covers, pytest arguments, extra environment).
TestPass = tuple[str, str, list[str], dict[str, str]]

# What goes through PyMongo's driver to the store: the store's contract, and the services,
# sockets, HTTP routes and jobs on top of it; and two server processes on one database.
STANDIN_TESTS = ["tests/store", "tests/services", "tests/sockets", "tests/http", "tests/jobs",
                 "tests/test_shutdown.py::test_shutdown_writes_the_audit_backlog_and_hands_back_the_job_in_hand",
                 "tests/scale/test_two_processes.py"]


# The embedded pass runs on pytest-xdist workers, more than the 2 cores CI has: a test
# spends much of its time waiting (on Chromium, timers, sockets), when another can run.
TEST_WORKERS = 4


def test_passes() -> list[TestPass]:
    return [
        # Embedded even when TEST_MONGODB_URI is set around `run.py test` (an empty value is unset).
        ("embedded", "the whole suite on the embedded store",
         ["-n", str(TEST_WORKERS), "--dist", "worksteal"], {"TEST_MONGODB_URI": ""}),
        ("stand-in", "the driver path on mongoeco, a MongoDB wire server (tests/standin)",
         STANDIN_TESTS, {}),
    ]


class CannotRun(Exception):
    """A pass that cannot run on this machine; the message says why and what to do."""


# A pass that needs a server of its own names it here: a context manager that starts it,
# yields the environment that points the tests at it, and stops it afterwards (or raises
# CannotRun).
def _pass_servers() -> dict[str, Callable[[], contextlib.AbstractContextManager[dict[str, str]]]]:
    return {"stand-in": standin_environment}


# The checks: ruff over the repository and mypy over app/, the lock file's versions, the rules
# in pyproject.toml. Any finding fails them.
def checks() -> list[tuple[str, list[str]]]:
    return [
        ("ruff", [sys.executable, "-m", "ruff", "check", "."]),
        ("mypy", [sys.executable, "-m", "mypy"]),
    ]


def run_checks() -> int:
    failed = 0
    for name, command in checks():
        print(f"\n===== check: {name} =====", flush=True)
        code = subprocess.run(command, cwd=ROOT).returncode
        if code != 0:
            print(f"{name} failed (exit code {code}): see its findings above", flush=True)
            failed = failed or code
    return failed


def run_tests(args: list[str]) -> int:
    if args:
        import pytest

        return pytest.main(args)
    results = []
    started = time.perf_counter()
    code = run_checks()
    verdict = "passed" if code == 0 else f"FAILED (exit code {code})"
    results.append(("checks", code, verdict, time.perf_counter() - started))
    servers = _pass_servers()
    for name, covers, pytest_args, extra_env in test_passes():
        print(f"\n===== test pass: {name} ({covers}) =====", flush=True)
        started = time.perf_counter()
        try:
            with servers.get(name, contextlib.nullcontext)() as server_env:
                env = dict(os.environ, **extra_env, **(server_env or {}))
                code = subprocess.run([sys.executable, "-m", "pytest", *pytest_args],
                                      env=env, cwd=ROOT).returncode
            verdict = "passed" if code == 0 else f"FAILED (pytest exit code {code})"
        except CannotRun as exc:
            print(f"NOT RUN: {exc}", flush=True)
            # In CI (CI=true) a pass that cannot run fails the run: it must never go missing
            # unnoticed. On a developer's machine the table says so and the others count.
            code = 1 if os.environ.get("CI") else 0
            verdict = "NOT RUN (see above)" + (": fails in CI" if code else "")
        results.append((name, code, verdict, time.perf_counter() - started))
    print("\n===== test passes =====")
    for name, _code, verdict, seconds in results:
        print(f"  {name:<12} {verdict:<32} {seconds / 60:5.1f} min")
    return max(code for _, code, _, _ in results)


# --- the stand-in MongoDB --------------------------------------------------------------------
# mongoeco (PyPI), a MongoDB wire-protocol server written in Python, in a virtual environment
# of its own: it needs Python 3.13 or newer, which may not be the python3 that runs this
# script. Its lock file is apart from the project's (tests/standin/requirements.lock).

STANDIN_DIR = ROOT / "tests" / "standin"
STANDIN_LOCK = STANDIN_DIR / "requirements.lock"
STANDIN_VENV = ROOT / ".venv-standin"
STANDIN_VENV_PYTHON = STANDIN_VENV / "bin" / "python"
STANDIN_PYTHON_MIN = (3, 13)  # mongoeco 4.11's Requires-Python
STANDIN_START_TIMEOUT = 60  # seconds; its imports (numpy, shapely) take a few on a busy machine


def _python_version(executable: str | Path) -> tuple[int, int] | None:
    """(major, minor) of a Python that runs and can make a virtual environment with pip;
    None for anything else (pyenv's shims for versions that are not selected exit with an
    error, and Debian's Pythons lack ensurepip until python3.N-venv is installed)."""
    try:
        done = subprocess.run([str(executable), "-c",
                               "import sys, venv, ensurepip; print(*sys.version_info[:2])"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    major, minor = done.stdout.split()
    return int(major), int(minor)


def _standin_python_candidates() -> Iterator[str]:
    if os.environ.get("STANDIN_PYTHON"):
        yield os.environ["STANDIN_PYTHON"]
        return
    for minor in range(20, STANDIN_PYTHON_MIN[1] - 1, -1):
        if found := shutil.which(f"python3.{minor}"):
            yield found
    if found := shutil.which("python3"):
        yield found
    pyenv_versions = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv_versions.is_dir():
        def version_key(path: Path) -> tuple[int, ...]:
            return tuple(int(part) for part in path.name.split(".") if part.isdigit())

        for version in sorted(pyenv_versions.glob("3.*"), key=version_key, reverse=True):
            yield str(version / "bin" / "python3")


def find_standin_python() -> str:
    """The newest Python 3.13+ on this machine: STANDIN_PYTHON if set, else python3.N on the
    PATH, python3, or pyenv's versions directory."""
    tried = []
    for candidate in _standin_python_candidates():
        version = _python_version(candidate)
        if version is not None and version >= STANDIN_PYTHON_MIN:
            return candidate
        tried.append(f"{candidate} ({'.'.join(map(str, version)) if version else 'does not run'})")
    needed = ".".join(map(str, STANDIN_PYTHON_MIN))
    raise CannotRun(
        f"the stand-in MongoDB (mongoeco) needs Python {needed} or newer, and none was found "
        f"(tried: {', '.join(tried) or 'nothing'}). Install one (pyenv, your system's packages, "
        f"python.org) or name it with STANDIN_PYTHON=/path/to/python3.13."
    )


def standin_python() -> Path:
    """Create or reuse .venv-standin and install the stand-in's lock file (hashes checked)
    when it changed; its Python."""
    version = _python_version(STANDIN_VENV_PYTHON) if STANDIN_VENV_PYTHON.exists() else None
    if version is None or version < STANDIN_PYTHON_MIN:
        base = find_standin_python()
        print(f"creating the stand-in's virtual environment in {STANDIN_VENV.name} with {base} ...",
              flush=True)
        shutil.rmtree(STANDIN_VENV, ignore_errors=True)
        made = subprocess.run([base, "-m", "venv", str(STANDIN_VENV)], capture_output=True, text=True)
        if made.returncode != 0:
            raise CannotRun(f"{base} -m venv {STANDIN_VENV.name} failed: {made.stderr.strip()[-500:]}")
    digest = hashlib.sha256(STANDIN_LOCK.read_bytes()).hexdigest()
    stamp = STANDIN_VENV / ".installed"
    if not stamp.exists() or stamp.read_text() != digest:
        print(f"installing {STANDIN_LOCK.relative_to(ROOT)} into {STANDIN_VENV.name} ...", flush=True)
        pip = [str(STANDIN_VENV_PYTHON), "-m", "pip", "install", "--disable-pip-version-check", "-q",
               "--require-hashes", "--no-deps", "-r", str(STANDIN_LOCK)]
        installed = subprocess.run(pip, capture_output=True, text=True)
        if installed.returncode != 0:
            raise CannotRun(f"installing the stand-in failed:\n{installed.stderr.strip()[-2000:]}")
        stamp.write_text(digest)
    return STANDIN_VENV_PYTHON


@contextlib.contextmanager
def standin_server(port: int = 0) -> Iterator[tuple[subprocess.Popen, str]]:
    """The stand-in MongoDB, started on `port` (0: a free one) and stopped on leaving; the
    process and its URI."""
    python = standin_python()
    process = subprocess.Popen([str(python), str(STANDIN_DIR / "serve.py"), "--port", str(port)],
                               stdout=subprocess.PIPE, text=True, cwd=ROOT)
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        try:
            line = lines.get(timeout=STANDIN_START_TIMEOUT)
        except queue.Empty:
            line = ""
        if not line.startswith("ready "):
            code = process.poll()
            raise CannotRun(f"the stand-in MongoDB did not start within {STANDIN_START_TIMEOUT} s"
                            if code is None else
                            f"the stand-in MongoDB stopped at start-up (exit code {code}; its errors are above)")
        yield process, line.split()[1]
    finally:
        if process.poll() is None:
            process.terminate()
            try:  # it stops at once, unless a long request holds its one thread
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def standin_environment() -> Iterator[dict[str, str]]:
    with standin_server() as (_, uri):
        print(f"stand-in MongoDB (mongoeco) at {uri}", flush=True)
        yield {"TEST_MONGODB_URI": uri}


def serve_standin(args: list[str]) -> int:
    """`python3 run.py standin [PORT]`: a stand-in MongoDB in the foreground (default port
    27017), for `TEST_MONGODB_URI` or `MONGODB_URI` in another terminal."""
    port = int(args[0]) if args else 27017
    try:
        with standin_server(port) as (process, uri):
            print(f"stand-in MongoDB (mongoeco, in memory) at {uri}\n"
                  f"  TEST_MONGODB_URI='{uri}' python3 run.py test tests/store\n"
                  "(press Ctrl+C to stop; everything it holds is lost then)", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                process.wait()
    except CannotRun as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


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
    if command == "standin":
        return serve_standin(sys.argv[2:])
    if not _in_venv() and not os.environ.get("SUPPORT_CHAT_NO_VENV"):
        _bootstrap(with_tests=command in ("test", "check"))
    if command == "test":
        return run_tests(sys.argv[2:])
    if command == "check":
        return run_checks()
    if command == "serve":
        return serve()
    if command == "worker":
        return work()
    print(f"error: unknown command {command!r} (use: serve, worker, test, check, lock, standin)",
          file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
