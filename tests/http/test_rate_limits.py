"""Rate limits: the right count gives 429 with Retry-After (or rate_limited with
retry_after on a socket), and one IP's, e-mail's or guest's bucket never blocks another's."""

import asyncio
import dataclasses

import pytest

from app.services.core import ratelimit
from tests.conftest import PASSWORD


@pytest.fixture
def settings(settings):
    return dataclasses.replace(
        settings, trust_proxy=True, rate_login_per_ip="4/10 minutes", rate_login_per_email="3/10 minutes",
        rate_chat_start_per_guest="2/hour", rate_chat_start_per_ip="3/hour", rate_messages_per_ticket="3/minute",
    )


def ip(address: str) -> dict:
    return {"X-Forwarded-For": address}


async def post(session, path, payload, headers=None):
    async with session.post(path, json=payload, headers=headers or {}) as resp:
        return resp.status, resp.headers.get("Retry-After"), await resp.json()


async def test_login_is_limited_per_ip_and_other_ips_are_not_blocked(http, agent, live_server):
    session = http()
    for n in range(4):
        status, _, _ = await post(session, "/api/auth/login",
                                  {"email": f"user{n}@example.com", "password": "x"}, ip("192.0.2.1"))
        assert status == 401
    status, retry_after, body = await post(session, "/api/auth/login",
                                           {"email": agent["email"], "password": PASSWORD}, ip("192.0.2.1"))
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert 1 <= int(retry_after) <= 600 and body["error"]["retry_after"] == int(retry_after)
    status, _, _ = await post(session, "/api/auth/login",
                              {"email": agent["email"], "password": PASSWORD}, ip("192.0.2.2"))
    assert status == 200


async def test_login_is_limited_per_email_and_other_emails_are_not_blocked(http, agent, admin):
    session = http()
    for n in range(3):
        status, _, _ = await post(session, "/api/auth/login",
                                  {"email": agent["email"], "password": "wrong"}, ip(f"198.51.100.{n}"))
        assert status == 401
    status, retry_after, _body = await post(session, "/api/auth/login",
                                           {"email": agent["email"].upper(), "password": PASSWORD},
                                           ip("198.51.100.99"))
    assert status == 429 and int(retry_after) >= 1
    status, _, _ = await post(session, "/api/auth/login",
                              {"email": admin["email"], "password": PASSWORD}, ip("198.51.100.99"))
    assert status == 200


async def test_successful_sign_ins_do_not_count_against_either_limit(http, agent, admin):
    """An agent signing in ten times, and an office where everyone signs in from one
    address, are never locked out: only failures count (4 per IP, 3 per e-mail here)."""
    for _ in range(10):
        for account in (agent, admin):
            status, _, body = await post(http(), "/api/auth/login",
                                         {"email": account["email"], "password": PASSWORD}, ip("192.0.2.7"))
            assert status == 200, body
    for _ in range(3):
        status, _, _ = await post(http(), "/api/auth/login",
                                  {"email": agent["email"], "password": "wrong"}, ip("192.0.2.7"))
        assert status == 401
    status, _, _ = await post(http(), "/api/auth/login",
                              {"email": admin["email"], "password": PASSWORD}, ip("192.0.2.7"))
    assert status == 200  # 3 failures from this address so far: under its limit of 4


async def test_the_429_says_how_many_minutes_to_wait(http, agent):
    for _ in range(3):
        await post(http(), "/api/auth/login", {"email": agent["email"], "password": "wrong"}, ip("192.0.2.8"))
    status, retry_after, body = await post(http(), "/api/auth/login",
                                           {"email": agent["email"], "password": PASSWORD}, ip("192.0.2.9"))
    assert status == 429
    minutes = -(-int(retry_after) // 60)
    unit = "minute" if minutes == 1 else "minutes"
    assert body["error"]["message"] == f"Too many failed attempts. Try again in {minutes} {unit}."
    assert 1 <= minutes <= 10


async def test_a_burst_of_parallel_guesses_is_held_to_the_limit(http, agent, live_server):
    """Attempts count while they are being checked: twenty guesses sent at once cannot all
    slip under a limit of three."""
    async def guess(n):
        status, _, _ = await post(http(), "/api/auth/login",
                                  {"email": agent["email"], "password": f"guess-{n}"}, ip(f"198.51.100.{n}"))
        return status

    statuses = await asyncio.gather(*(guess(n) for n in range(20)))
    assert statuses.count(401) == 3 and statuses.count(429) == 17
    failed = await live_server.ctx.db.audit_events.count_documents({"action": "auth.login_failed"})
    assert failed == 3  # only three passwords were ever checked


async def test_chat_starts_are_limited_per_guest(http, live_server):
    session = http()
    for _ in range(2):
        status, _, _ = await post(session, "/api/guest/tickets", {"name": "G", "message": "hi"}, ip("203.0.113.1"))
        assert status == 201
    status, retry_after, body = await post(session, "/api/guest/tickets", {"name": "G", "message": "hi"},
                                           ip("203.0.113.2"))
    assert status == 429 and int(retry_after) > 0 and body["error"]["code"] == "rate_limited"
    # Another guest on the same IP still can.
    status, _, _ = await post(http(), "/api/guest/tickets", {"name": "H", "message": "hi"}, ip("203.0.113.1"))
    assert status == 201
    assert await live_server.ctx.db.tickets.count_documents({}) == 3


async def test_chat_starts_are_limited_per_ip(http, live_server):
    for n in range(3):
        status, _, _ = await post(http(), "/api/guest/tickets", {"name": f"G{n}", "message": "hi"},
                                  ip("203.0.113.50"))
        assert status == 201
    status, retry_after, _ = await post(http(), "/api/guest/tickets", {"name": "G", "message": "hi"},
                                        ip("203.0.113.50"))
    assert status == 429 and int(retry_after) > 0
    status, _, _ = await post(http(), "/api/guest/tickets", {"name": "G", "message": "hi"}, ip("203.0.113.51"))
    assert status == 201
    assert await live_server.ctx.db.tickets.count_documents({}) == 4


async def test_messages_are_limited_per_sender_per_ticket(guest, guest_socket, agent_socket, start_chat, live_server):
    await guest_socket.call("ticket:join", {"ticket_id": guest.ticket_id})
    for n in range(3):
        answer = await guest_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": f"m{n}",
                                                          "client_msg_id": f"c{n}"})
        assert answer["ok"], answer
    answer = await guest_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": "too many",
                                                      "client_msg_id": "c9"})
    assert answer["ok"] is False and answer["error"]["code"] == "rate_limited"
    assert 1 <= answer["error"]["retry_after"] <= 60
    assert await live_server.ctx.db.messages.count_documents({"body": "too many"}) == 0
    # The agent in the same ticket is another sender; notes share the agent's bucket.
    for n in range(3):
        answer = await agent_socket.call("message:send", {"ticket_id": guest.ticket_id, "body": f"a{n}",
                                                          "client_msg_id": f"a{n}"})
        assert answer["ok"], answer
    answer = await agent_socket.call("note:add", {"ticket_id": guest.ticket_id, "body": "n",
                                                  "client_msg_id": "n1"})
    assert answer["error"]["code"] == "rate_limited"
    # The same guest in another of their tickets is another bucket.
    second = await start_chat(session=guest.session, message="another question")
    answer = await guest_socket.call("message:send", {"ticket_id": second.ticket_id, "body": "ok",
                                                      "client_msg_id": "x1"})
    assert answer["ok"], answer


def test_storage_is_memory_without_redis_and_redis_with_it(settings):
    assert ratelimit.storage_uri(settings) == "async+memory://"
    assert ratelimit.storage_uri(dataclasses.replace(settings, redis_url="redis://r:6379/0")) == \
        "async+redis://r:6379/0"
    assert ratelimit.storage_uri(dataclasses.replace(settings, redis_url="unix:///tmp/r.sock")) == \
        "async+redis+unix:///tmp/r.sock"


@pytest.fixture
async def redis_url(tmp_path):
    import asyncio
    import shutil
    import subprocess

    from tests.conftest import free_port

    if not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                await writer.wait_closed()
                break
            except OSError:
                await asyncio.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=5)


async def test_processes_sharing_redis_share_the_counters(settings, redis_url):
    from app.errors import RateLimited
    from app.services.core import Ctx

    shared = dataclasses.replace(settings, redis_url=redis_url)
    one, two = (Ctx(db=None, settings=shared, events=None) for _ in range(2))
    try:
        await ratelimit.hit(one, "login_email", "a@example.com")
        await ratelimit.hit(two, "login_email", "a@example.com")
        await ratelimit.hit(one, "login_email", "a@example.com")
        with pytest.raises(RateLimited) as caught:
            await ratelimit.hit(two, "login_email", "a@example.com")
        assert caught.value.retry_after >= 1
        await ratelimit.hit(two, "login_email", "b@example.com")
    finally:
        for ctx in (one, two):
            await ratelimit.close(ctx)
