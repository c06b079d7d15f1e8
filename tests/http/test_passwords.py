"""Any password a person can type works, in every path that sets one: 8 to 128 characters
of any script, however many bytes that is (bcrypt itself reads at most 72)."""

import re

import bcrypt
import pytest
from bson import ObjectId

from app import security
from tests.conftest import PASSWORD, login
from tests.http.test_accounts import inbox, reset_link, settings, status_of  # noqa: F401

# 40 characters, 80 bytes in UTF-8: bcrypt 5 refuses it as it is.
UMLAUTS = "ü" * 40
# 100 characters, mixed scripts, emoji, spaces at both ends (kept as typed).
LONG_MIXED = " Пароль 密码 كلمة 🔐🙂 " + "x" * 70 + " ÆØÅ ß "
LONG_MIXED = (LONG_MIXED * 2)[:100]
PASSWORDS = [UMLAUTS, LONG_MIXED, "🔐" * 128]


@pytest.fixture
async def admin_session(http, admin):
    session = http()
    await login(session, admin)
    return session


@pytest.mark.parametrize("password", PASSWORDS, ids=["umlauts-80-bytes", "100-mixed", "128-emoji"])
async def test_a_person_created_with_a_long_non_ascii_password_signs_in_with_it(
        live_server, http, password):
    from app.services.people import users

    ctx = live_server.ctx
    await users.create_user(ctx.db, email="u@example.com", name="U", password=password, role="agent",
                            settings=ctx.settings)
    await login(http(), {"email": "u@example.com", "password": password})
    status, _ = await status_of(http(), "POST", "/api/auth/login",
                                json={"email": "u@example.com", "password": password[:-1] + "?"})
    assert status == 401


@pytest.mark.parametrize("password", PASSWORDS, ids=["umlauts-80-bytes", "100-mixed", "128-emoji"])
async def test_changing_to_a_long_non_ascii_password_works(http, agent, password):
    session = http()
    await login(session, agent)
    status, body = await status_of(session, "POST", "/api/auth/password",
                                   json={"old_password": PASSWORD, "new_password": password})
    assert status == 200, body
    await login(http(), {**agent, "password": password})
    # Passwords that differ only after the 72nd byte are different passwords.
    status, _ = await status_of(http(), "POST", "/api/auth/login",
                                json={"email": agent["email"], "password": password[:36]})
    assert status == 401


@pytest.mark.parametrize("password", PASSWORDS, ids=["umlauts-80-bytes", "100-mixed", "128-emoji"])
async def test_resetting_to_a_long_non_ascii_password_works(http, agent, inbox, password):  # noqa: F811
    session = http()
    await status_of(session, "POST", "/api/auth/forgot-password", json={"email": agent["email"]})
    _, message = await inbox.next()
    token = reset_link(message).split("token=")[1]
    status, body = await status_of(session, "POST", "/api/auth/reset-password",
                                   json={"token": token, "password": password})
    assert status == 200, body
    await login(http(), {**agent, "password": password})


@pytest.mark.parametrize("password", ["short", "x" * 129, "ü" * 7, 12345678, None])
async def test_a_password_outside_8_to_128_characters_is_refused_with_a_clear_error(
        http, agent, password):
    session = http()
    await login(session, agent)
    status, body = await status_of(session, "POST", "/api/auth/password",
                                   json={"old_password": PASSWORD, "new_password": password})
    assert status == 422 and body["error"]["field"] == "new_password"
    await login(http(), agent)  # unchanged


async def test_the_same_password_typed_composed_or_decomposed_signs_in(live_server, http):
    from app.services.people import users

    ctx = live_server.ctx
    composed, decomposed = "Grüße aus Köln", "Gru\u0308ße aus Ko\u0308ln"
    await users.create_user(ctx.db, email="k@example.com", name="K", password=composed, role="agent",
                            settings=ctx.settings)
    await login(http(), {"email": "k@example.com", "password": decomposed})


async def test_a_hash_made_before_the_pre_hash_still_signs_in_and_is_upgraded(live_server, http):
    ctx = live_server.ctx
    old_hash = bcrypt.hashpw(b"an-old-password-1", bcrypt.gensalt(rounds=4)).decode()
    user_id = ObjectId()
    # A document as the store held it before the pre-hash existed.
    await ctx.db.users.insert_one({"_id": user_id, "email": "old@example.com", "name": "Old", "role": "agent",
                                   "password_hash": old_hash, "token_version": 0, "active": True})
    await login(http(), {"email": "old@example.com", "password": "an-old-password-1"})
    stored = (await ctx.db.users.find_one({"_id": user_id}))["password_hash"]
    assert stored.startswith(security.PREHASHED) and security.hash_cost(stored) == 4
    await login(http(), {"email": "old@example.com", "password": "an-old-password-1"})


async def test_stored_hashes_are_bcrypt_of_the_pre_hash_never_the_password(live_server, agent):
    stored = (await live_server.ctx.db.users.find_one({"email": agent["email"]}))["password_hash"]
    assert re.fullmatch(r"sc1\$\$2b\$04\$[./A-Za-z0-9]{53}", stored)
    assert PASSWORD not in stored
