"""The OpenAPI document at /api/openapi.json: it names every /api/ route of the router, and
the server's real answers, along a walk through the main routes as a person, an admin, an
API token and a guest, match its schemas (successes and errors alike)."""

from __future__ import annotations

import re

import aiohttp
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.conftest import login
from tests.receiver import Receiver

FETCH = {"X-Requested-With": "fetch"}
BASE = "urn:support-openapi"


def api_routes(app) -> set[tuple[str, str]]:
    found = set()
    for route in app.router.routes():
        canonical = route.resource.canonical if route.resource is not None else ""
        if canonical.startswith("/api/") and route.method != "HEAD":
            found.add((route.method.lower(), canonical))
    return found


@pytest.fixture
async def document(live_server) -> dict:
    async with aiohttp.ClientSession() as session:
        async with session.get(live_server.url + "/api/openapi.json") as resp:
            assert resp.status == 200 and resp.content_type == "application/json"
            return await resp.json()


async def test_every_api_route_of_the_router_is_in_the_document_and_nothing_else(live_server, document):
    documented = {(method, path) for path, item in document["paths"].items() for method in item}
    assert document["openapi"] == "3.1.0"
    assert api_routes(live_server.app) - documented == set(), "routes missing from the document"
    assert documented - api_routes(live_server.app) == set(), "documented routes that do not exist"


async def test_every_schema_in_the_document_is_valid_json_schema(document):
    for schema in document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)
    for path, item in document["paths"].items():
        for method, operation in item.items():
            assert operation["responses"], (method, path)
            for param in operation.get("parameters", []):
                Draft202012Validator.check_schema(param["schema"])
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                Draft202012Validator.check_schema(body["schema"])


class Checker:
    """Validates real answers against the document, and counts them."""

    def __init__(self, document: dict) -> None:
        self.document = document
        resource = Resource.from_contents({**document, "$id": BASE}, default_specification=DRAFT202012)
        self.registry = Registry().with_resource(BASE, resource)
        self.checked: list[tuple[str, str, int]] = []

    def _template(self, method: str, path: str) -> str:
        path = path.split("?")[0]
        for template in self.document["paths"]:
            pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{")
                                   .replace(r"\}", "}")) + "$"
            if re.match(pattern, path) and method in self.document["paths"][template]:
                return template
        raise AssertionError(f"{method.upper()} {path} is not in the document")

    async def __call__(self, resp: aiohttp.ClientResponse, *, expect: int | None = None):
        method = resp.method.lower()
        template = self._template(method, resp.url.path)
        responses = self.document["paths"][template][method]["responses"]
        status = str(resp.status)
        assert status in responses, f"{method.upper()} {template} answered {status}, undocumented"
        response = responses[status]
        if "$ref" in response:
            response = self.document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        if expect is not None:
            assert resp.status == expect, await resp.text()
        content = response.get("content", {})
        if resp.content_type == "application/json":
            assert "application/json" in content, f"{template} {status}: JSON is not documented"
            pointer = "/".join(["#", "paths", template.replace("~", "~0").replace("/", "~1"), method,
                                "responses", status, "content", "application~1json", "schema"])
            if "$ref" in responses[status]:
                code = responses[status]["$ref"].rsplit("/", 1)[1]
                pointer = f"#/components/responses/{code}/content/application~1json/schema"
            body = await resp.json()
            validator = Draft202012Validator({"$ref": BASE + pointer}, registry=self.registry)
            errors = sorted(validator.iter_errors(body), key=str)
            assert not errors, f"{method.upper()} {template} {status}: {errors[0].message} at {list(errors[0].absolute_path)}"
        else:
            assert resp.content_type in content, f"{template} {status}: {resp.content_type} not documented"
        self.checked.append((method, template, resp.status))
        return await resp.json() if resp.content_type == "application/json" else await resp.text()


async def test_real_answers_along_the_main_routes_match_the_document(
        live_server, document, http, admin, agent, start_chat, connect, settings):
    from dataclasses import replace

    live_server.ctx.settings = replace(live_server.ctx.settings, webhook_allow_private=True)
    check = Checker(document)
    receiver = await Receiver().start()
    admin_s, agent_s = http(), http()
    try:
        async with admin_s.post("/api/auth/login", json={"email": admin["email"], "password": "wrong-password"}) as r:
            await check(r, expect=401)
        async with admin_s.post("/api/auth/login", json={"email": admin["email"], "password": admin["password"]}) as r:
            await check(r, expect=200)
        await login(agent_s, agent)
        guest = await start_chat(email="grace@example.com")
        async with guest.session.get("/api/guest/tickets") as r:
            await check(r, expect=200)
        async with guest.session.post("/api/guest/tickets", json={"name": "G", "message": "again"}) as r:
            await check(r, expect=201)
        async with guest.session.get(f"/api/tickets/{guest.ticket_id}") as r:
            await check(r, expect=200)
        async with guest.session.get(f"/api/tickets/{guest.ticket_id}/messages") as r:
            await check(r, expect=200)

        async with admin_s.get("/api/auth/me") as r:
            await check(r, expect=200)
        async with admin_s.get("/api/account/sessions") as r:
            await check(r, expect=200)
        async with admin_s.post("/api/admin/tokens", json={"name": "Walk", "scope": "read-write"}) as r:
            token = (await check(r, expect=201))["secret"]
        async with admin_s.post("/api/admin/tokens", json={"name": "Reader", "scope": "read"}) as r:
            reader = await check(r, expect=201)
        async with admin_s.get("/api/admin/tokens") as r:
            await check(r, expect=200)
        bot = aiohttp.ClientSession(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})
        read_only = aiohttp.ClientSession(base_url=live_server.url,
                                          headers={"Authorization": f"Bearer {reader['secret']}"})
        try:
            async with admin_s.post("/api/admin/webhooks", json={
                    "url": receiver.url, "events": ["message.created", "ticket.updated"]}) as r:
                hook = (await check(r, expect=201))["webhook"]
            for params in ({}, {"status": "active", "limit": "5"}, {"assignee": "none"}):
                async with bot.get("/api/tickets", params=params) as r:
                    await check(r, expect=200)
            async with bot.get(f"/api/tickets/{guest.ticket_id}") as r:
                await check(r, expect=200)
            async with bot.patch(f"/api/tickets/{guest.ticket_id}", json={"assignee_id": agent["id"]}) as r:
                await check(r, expect=200)
            async with bot.patch(f"/api/tickets/{guest.ticket_id}", json={"colour": "red"}) as r:
                await check(r, expect=422)
            async with bot.post(f"/api/tickets/{guest.ticket_id}/messages",
                                json={"body": "Hi", "client_msg_id": "w1"}) as r:
                await check(r, expect=201)
            async with bot.post(f"/api/tickets/{guest.ticket_id}/messages",
                                json={"body": "Hi", "client_msg_id": "w1"}) as r:
                await check(r, expect=200)
            async with bot.post(f"/api/tickets/{guest.ticket_id}/notes",
                                json={"body": "note", "client_msg_id": "w2"}) as r:
                await check(r, expect=201)
            async with bot.get(f"/api/tickets/{guest.ticket_id}/messages", params={"limit": "2"}) as r:
                page = await check(r, expect=200)
            async with bot.get(f"/api/tickets/{guest.ticket_id}/messages",
                               params={"before": page["next_cursor"]}) as r:
                await check(r, expect=200)
            async with bot.get("/api/agents") as r:
                await check(r, expect=200)
            async with bot.get("/api/tickets/ffffffffffffffffffffffff") as r:
                await check(r, expect=404)
            async with bot.get("/api/tickets/not-an-id") as r:
                await check(r, expect=422)
            async with bot.get("/api/admin/users") as r:
                await check(r, expect=403)
            async with read_only.post(f"/api/tickets/{guest.ticket_id}/notes",
                                      json={"body": "x", "client_msg_id": "w3"}) as r:
                await check(r, expect=403)
            async with aiohttp.ClientSession(base_url=live_server.url) as nobody:
                async with nobody.get("/api/tickets", headers={"Authorization": "Bearer nope"}) as r:
                    await check(r, expect=401)
                async with nobody.post("/api/auth/login", data=b"[1]",
                                       headers={"Content-Type": "application/json"}) as r:
                    await check(r, expect=400)
                async with nobody.get("/api/openapi.json") as r:
                    await check(r, expect=200)
                async with nobody.get("/api/docs") as r:
                    await check(r, expect=200)
        finally:
            await bot.close()
            await read_only.close()

        async with agent_s.get("/api/notifications") as r:
            notes = await check(r, expect=200)
        async with agent_s.get("/api/notifications/unread-count") as r:
            await check(r, expect=200)
        if notes["notifications"]:
            async with agent_s.post(f"/api/notifications/{notes['notifications'][0]['id']}/read",
                                    headers=FETCH) as r:
                await check(r, expect=200)
        async with agent_s.post("/api/notifications/read-all", headers=FETCH) as r:
            await check(r, expect=200)

        await receiver.wait_for(2)
        async with admin_s.get(f"/api/admin/webhooks/{hook['id']}/deliveries") as r:
            log = await check(r, expect=200)
        for _ in range(100):
            if log["deliveries"]:
                break
            async with admin_s.get(f"/api/admin/webhooks/{hook['id']}/deliveries") as r:
                log = await check(r, expect=200)
        async with admin_s.post(f"/api/admin/webhooks/{hook['id']}/deliveries/{log['deliveries'][0]['id']}/redeliver",
                                headers=FETCH) as r:
            await check(r, expect=202)
        async with admin_s.get("/api/admin/webhooks") as r:
            await check(r, expect=200)
        async with admin_s.get(f"/api/admin/webhooks/{hook['id']}") as r:
            await check(r, expect=200)
        async with admin_s.patch(f"/api/admin/webhooks/{hook['id']}", headers=FETCH, json={"active": False}) as r:
            await check(r, expect=200)
        async with admin_s.post(f"/api/admin/webhooks/{hook['id']}/secret", headers=FETCH) as r:
            await check(r, expect=200)
        async with admin_s.post("/api/admin/webhooks", headers=FETCH,
                                json={"url": "ftp://x", "events": ["ticket.created"]}) as r:
            await check(r, expect=422)
        async with admin_s.get("/api/admin/users") as r:
            await check(r, expect=200)
        async with admin_s.post("/api/admin/users", headers=FETCH,
                                json={"email": "new@example.com", "name": "New", "role": "agent"}) as r:
            await check(r, expect=201)
        async with admin_s.get("/api/admin/jobs") as r:
            await check(r, expect=200)
        async with admin_s.get("/api/audit", params={"limit": "5"}) as r:
            await check(r, expect=200)
        async with admin_s.get("/api/audit", params={"format": "csv", "action": "ticket.update"}) as r:
            await check(r, expect=200)
        async with admin_s.get("/api/audit.csv") as r:
            await check(r, expect=200)
        async with admin_s.get("/api/admin/privacy/export", params={"email": "grace@example.com"}) as r:
            await check(r, expect=200)
        async with admin_s.post("/api/admin/privacy/erase", headers=FETCH,
                                json={"ticket_id": guest.ticket_id}) as r:
            await check(r, expect=200)
        async with admin_s.delete(f"/api/admin/tokens/{reader['token']['id']}", headers=FETCH) as r:
            await check(r, expect=200)
        async with admin_s.delete(f"/api/admin/webhooks/{hook['id']}", headers=FETCH) as r:
            await check(r, expect=200)
        async with admin_s.post("/api/auth/logout", headers=FETCH) as r:
            await check(r, expect=200)
        async with admin_s.get("/api/auth/me") as r:
            await check(r, expect=401)
    finally:
        await receiver.stop()
    operations = {(m, t) for m, t, _ in check.checked}
    print(f"\nOpenAPI walk: {len(check.checked)} answers checked, {len(operations)} operations")
    assert len(operations) >= 35


async def test_the_docs_page_lists_every_operation_and_its_errors(live_server, document):
    async with aiohttp.ClientSession() as session:
        async with session.get(live_server.url + "/api/docs") as resp:
            assert resp.status == 200 and resp.content_type == "text/html"
            assert "script-src 'self'" in resp.headers["Content-Security-Policy"]
            page = await resp.text()
    assert "<script" not in page  # rendered on the server
    for path in document["paths"]:
        assert f'<code class="docs__path">{path}</code>' in page
    assert "Retry-After" in page and "rate limit" in page
