"""schemathesis against a live server: every operation of /api/openapi.json gets generated
requests (valid and invalid ones), authenticated with a read-write API token; none may
answer 5xx, and every answer must match the document (status, content type, headers,
schema). The figures (operations, cases, failures) are printed after the run.

schemathesis calls the server synchronously (requests), so the server runs in a thread of
its own with its own event loop, not in the test's."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time

import pytest
import schemathesis
from aiohttp import web
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode, checks

from app import create_app
from app.http import openapi
from app.keys import ctx_key
from app.services.people import api_tokens
from tests.conftest import free_port

EXAMPLES = 25  # per operation and mode: about half a minute in all
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_schema_conformance, checks.response_headers_conformance]


@dataclasses.dataclass
class ThreadedServer:
    url: str
    token: str
    loop: asyncio.AbstractEventLoop


def _settings(port: int):
    from app.config import Settings
    from tests.conftest import SECRET

    return Settings(
        host="127.0.0.1", port=port, secret_key=SECRET, allowed_origins=(f"http://127.0.0.1:{port}",),
        seed_demo=False, bcrypt_rounds=4, rate_messages_per_ticket="100000/minute",
        rate_login_per_ip="100000/minute", rate_login_per_email="100000/minute",
        rate_chat_start_per_guest="100000/minute", rate_chat_start_per_ip="100000/minute",
        rate_api_token="100000/minute", job_poll_interval=0.05,
    )


@pytest.fixture(scope="module")
def api_server():
    port = free_port()
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    state: dict = {}

    async def start() -> None:
        app = create_app(_settings(port))
        runner = web.AppRunner(app, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        ctx = app[ctx_key]
        from app.security import Identity
        from app.services.conversations import tickets

        admin = Identity(role="admin", id="0" * 24, name="Schemathesis")
        _, state["token"] = await api_tokens.create(ctx, identity=admin, name="schemathesis",
                                                    scope="read-write")
        await tickets.start_by_guest(ctx, guest_id="a" * 32, name="Grace", email=None, body="Hello")
        state["runner"] = runner

    def run() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(start())
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=run, name="schemathesis server", daemon=True)
    thread.start()
    assert ready.wait(30), "the server did not start"
    yield ThreadedServer(url=f"http://127.0.0.1:{port}", token=state["token"], loop=loop)
    asyncio.run_coroutine_threadsafe(state["runner"].cleanup(), loop).result(30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


# The document is code (app/http/openapi.py): loaded at collection, one test per operation
# and generation mode (valid requests, then invalid ones).
DOCUMENT = openapi.document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]


def _has_input(operation) -> bool:
    """Whether there is anything to make invalid (parameters or a body)."""
    defined = DOCUMENT["paths"][operation.path][operation.method.lower()]
    return bool(defined.get("parameters") or defined.get("requestBody"))


RUNS = [(operation, mode) for operation in OPERATIONS
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        if mode is GenerationMode.POSITIVE or _has_input(operation)]


# Known failures, each a bug in the server (xfail_strict: once fixed, the run says so).
KNOWN = {
    # aiohttp refuses a request line over 8190 bytes itself, with a text/plain 400, before
    # the app can answer in JSON as the document says; the invalid e-mails generated for
    # this query reach that length. It failed whenever this test ran alone; in the whole
    # suite it passed or failed by which of app's modules earlier tests had imported
    # (tests/conftest.py imports them all first now).
    "GET /api/admin/privacy/export negative": "a request line over 8190 bytes gets a text/plain 400",
}
CASES = [pytest.param(operation, mode, id=f"{operation.label} {mode.value}",
                      marks=[pytest.mark.xfail(reason=KNOWN[f"{operation.label} {mode.value}"])]
                      if f"{operation.label} {mode.value}" in KNOWN else [])
         for operation, mode in RUNS]


@pytest.mark.parametrize("operation,mode", CASES)
def test_every_operation_answers_generated_requests_as_documented(api_server, operation, mode, figures):
    figures.stats["operations"] += 1 if mode is GenerationMode.POSITIVE else 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              database=None, derandomize=True, phases=[Phase.explicit, Phase.generate])
    def run(case):
        figures.stats["cases"] += 1
        started = time.perf_counter()
        try:
            response = case.call_and_validate(
                base_url=api_server.url, checks=CHECKS, timeout=20,
                headers={"Authorization": f"Bearer {api_server.token}"})
        except Exception as exc:
            figures.failures.append(f"{operation.label} ({mode.value}): {str(exc)[:400]}")
            raise
        finally:
            figures.stats["milliseconds"] += int((time.perf_counter() - started) * 1000)
        figures.stats[f"status {response.status_code // 100}xx"] += 1

    run()
