"""Admin pages and APIs (accounts, audit trail), and the password-reset pages."""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from ..errors import Invalid
from ..keys import ctx_key
from ..services.conversations import payloads
from ..services.operations import audit, jobs
from ..services.people import accounts, twofactor, users
from . import identity
from .middleware import read_json

routes = web.RouteTableDef()


# --- pages ----------------------------------------------------------------------------


@routes.get("/admin/users", name="admin_users")
@aiohttp_jinja2.template("admin_users.html")
async def admin_users_page(request: web.Request) -> dict:
    _, user = await identity.page_user(request, admin=True)
    return {"user": user, "roles": users.ROLES}


@routes.get("/admin/audit", name="admin_audit")
@aiohttp_jinja2.template("admin_audit.html")
async def admin_audit_page(request: web.Request) -> dict:
    _, user = await identity.page_user(request, admin=True)
    return {"user": user, "action_groups": audit.ACTION_GROUPS}


@routes.get("/admin/jobs", name="admin_jobs")
@aiohttp_jinja2.template("admin_jobs.html")
async def admin_jobs_page(request: web.Request) -> dict:
    _, user = await identity.page_user(request, admin=True)
    days = round(request.app[ctx_key].settings.dead_job_retention / 86400)
    return {"user": user, "retention": f"{days} day{'s' if days != 1 else ''}"}


@routes.get("/forgot-password", name="forgot_password")
@aiohttp_jinja2.template("forgot_password.html")
async def forgot_password_page(request: web.Request) -> dict:
    return {}


@routes.get("/reset-password", name="reset_password")
@aiohttp_jinja2.template("reset_password.html")
async def reset_password_page(request: web.Request) -> dict:
    return {"token": request.query.get("token", "")[:128]}


# --- accounts API ---------------------------------------------------------------------


@routes.get("/api/admin/users", name="admin_users_list")
async def list_users(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    page = await accounts.list_users(request.app[ctx_key], identity=caller, after=request.query.get("after"),
                                     limit=request.query.get("limit"), search=request.query.get("q"))
    return web.json_response({"users": [payloads.user(u) for u in page.users],
                              "next_cursor": page.next_cursor})


@routes.get("/api/admin/users/{user_id}", name="admin_users_one")
async def one_user(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    user = await accounts.account(request.app[ctx_key], identity=caller, user_id=request.match_info["user_id"])
    return web.json_response({"user": payloads.user(user)})


@routes.post("/api/admin/users", name="admin_users_create")
async def create_user(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    body = await read_json(request)
    user = await accounts.invite(
        request.app[ctx_key], identity=caller, email=body.get("email"), name=body.get("name"),
        role=body.get("role"), password=body.get("password"),
    )
    return web.json_response({"user": payloads.user(user)}, status=201)


@routes.post("/api/admin/users/{user_id}/invitation", name="admin_users_invitation")
async def resend_invitation(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    user = await accounts.resend_invitation(request.app[ctx_key], identity=caller,
                                            user_id=request.match_info["user_id"])
    return web.json_response({"user": payloads.user(user)})


@routes.post("/api/admin/users/{user_id}/two-factor/reset", name="admin_users_two_factor_reset")
async def reset_two_factor(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    user = await twofactor.reset(request.app[ctx_key], identity=caller,
                                 user_id=request.match_info["user_id"])
    return web.json_response({"user": payloads.user(user)})


@routes.patch("/api/admin/users/{user_id}", name="admin_users_update")
async def update_user(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    user = await accounts.update(request.app[ctx_key], identity=caller,
                                 user_id=request.match_info["user_id"], changes=await read_json(request))
    return web.json_response({"user": payloads.user(user)})


@routes.post("/api/admin/users/{user_id}/deactivate", name="admin_users_deactivate")
async def deactivate_user(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    user = await accounts.deactivate(request.app[ctx_key], identity=caller,
                                     user_id=request.match_info["user_id"])
    return web.json_response({"user": payloads.user(user)})


@routes.post("/api/admin/users/{user_id}/reactivate", name="admin_users_reactivate")
async def reactivate_user(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    user = await accounts.reactivate(request.app[ctx_key], identity=caller,
                                     user_id=request.match_info["user_id"])
    return web.json_response({"user": payloads.user(user)})


# --- jobs API -------------------------------------------------------------------------


@routes.get("/api/admin/jobs", name="admin_jobs_list")
async def list_jobs(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    if request.query.get("status", "dead") != "dead":
        raise Invalid("Only status=dead can be listed.", field="status")
    page = await jobs.dead(request.app[ctx_key], identity=caller, before=request.query.get("before"),
                           limit=request.query.get("limit"))
    return web.json_response({"jobs": [payloads.job(j) for j in page.jobs],
                              "next_cursor": page.next_cursor, "total": page.total})


@routes.post("/api/admin/jobs/{job_id}/retry", name="admin_jobs_retry")
async def retry_job(request: web.Request) -> web.Response:
    caller = await identity.require_admin(request)
    job = await jobs.retry(request.app[ctx_key], identity=caller, job_id=request.match_info["job_id"])
    return web.json_response({"job": payloads.job(job)})


# --- audit API ------------------------------------------------------------------------


async def _csv_download(request: web.Request, ctx, caller, filters) -> web.StreamResponse:
    """Every matching event, streamed as it is read: no row limit, no export held in memory."""
    chunks = audit.csv_chunks(audit.export(ctx, identity=caller, filters=filters))
    response = web.StreamResponse(headers={
        "Content-Type": "text/csv; charset=utf-8",
        "Content-Disposition": 'attachment; filename="audit.csv"',
    })
    await response.prepare(request)
    if request.method != "HEAD":  # a HEAD answer is the headers alone
        async for chunk in chunks:
            await response.write(chunk.encode())
    await response.write_eof()
    return response


@routes.get("/api/audit", name="audit_list")
async def audit_list(request: web.Request) -> web.StreamResponse:
    caller = await identity.require_admin(request)
    ctx = request.app[ctx_key]
    filters = audit.parse_filters(request.query)
    fmt = request.query.get("format", "json")
    if fmt == "csv":
        return await _csv_download(request, ctx, caller, filters)
    if fmt != "json":
        raise Invalid("format must be json or csv.", field="format")
    page = await audit.search(ctx, identity=caller, filters=filters,
                              before=request.query.get("before"), limit=request.query.get("limit"))
    return web.json_response({"events": [audit.row(e, page.names) for e in page.events],
                              "next_cursor": page.next_cursor})


@routes.get("/api/audit/people", name="audit_people")
async def audit_people(request: web.Request) -> web.Response:
    """Suggestions for the audit page's person filter."""
    caller = await identity.require_admin(request)
    found = await audit.suggest_people(request.app[ctx_key], identity=caller, text=request.query.get("q"))
    return web.json_response({"people": [payloads.person_choice(u) for u in found]})


@routes.get("/api/audit/tickets", name="audit_tickets")
async def audit_tickets(request: web.Request) -> web.Response:
    """Suggestions for the audit page's ticket filter."""
    caller = await identity.require_admin(request)
    found = await audit.suggest_tickets(request.app[ctx_key], identity=caller, text=request.query.get("q"))
    return web.json_response({"tickets": [payloads.ticket_choice(t) for t in found]})


@routes.get("/api/audit.csv", name="audit_csv")
async def audit_csv(request: web.Request) -> web.StreamResponse:
    caller = await identity.require_admin(request)
    ctx = request.app[ctx_key]
    filters = audit.parse_filters(request.query)
    return await _csv_download(request, ctx, caller, filters)
