from dataclasses import replace

from app import security
from app.services.people import sessions, users


async def test_start_up_creates_the_configured_admin_once_and_demo_accounts(live_server):
    ctx = live_server.ctx
    settings = replace(ctx.settings, admin_email="boss@example.com", admin_password="boss-password-1", seed_demo=True)
    first = await users.seed(ctx.db, settings)
    again = await users.seed(ctx.db, settings)
    assert first[0] == "admin boss@example.com: created" and again[0] == "admin boss@example.com: exists"
    boss = await ctx.db.users.find_one({"email": "boss@example.com"})
    assert boss["role"] == "admin" and boss["password_hash"] != "boss-password-1"
    assert await security.check_password("boss-password-1", boss["password_hash"])
    assert await ctx.db.users.count_documents({}) == 3  # boss + demo admin + demo agent


async def test_a_deactivated_or_version_bumped_account_loses_its_token(live_server, agent):
    ctx = live_server.ctx
    user = await users.check_credentials(ctx.db, email=agent["email"], password=agent["password"],
                                         settings=ctx.settings)
    started = await sessions.start(ctx, user=user)
    assert (await users.identity_from_token(ctx.db, started.token, ctx.settings)).id == agent["id"]
    await ctx.db.users.update_one({"email": agent["email"]}, {"$inc": {"token_version": 1}})
    assert await users.identity_from_token(ctx.db, started.token, ctx.settings) is None
