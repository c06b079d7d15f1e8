"""The JSON API described as an OpenAPI 3.1 document (/api/openapi.json), and a page that
renders it (/api/docs, on the server: no script).

Every /api/ route is in it (tests/api/test_openapi.py enumerates the router and fails on a
route missing here), with its request and response schemas and the errors it answers.
Schemas are JSON Schema 2020-12, as OpenAPI 3.1 has them; they describe what the payload
functions in services/conversations/payloads.py build. HEAD, which aiohttp answers for every GET with the
same headers and no body, is not listed."""

from __future__ import annotations

import json
from typing import Any

import aiohttp_jinja2
from aiohttp import web

from ..services.conversations import messages, tickets
from ..services.operations import audit, notifications, webhooks
from ..services.people import api_tokens, users

routes = web.RouteTableDef()

REF = "#/components/schemas/"


def ref(name: str) -> dict:
    return {"$ref": REF + name}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def obj(properties: dict, required: tuple | list | None = None, *, extra: bool = True, **more) -> dict:
    """An object with these properties; all of them required unless `required` says which."""
    schema = {"type": "object", "properties": properties,
              "required": list(properties if required is None else required), **more}
    if not extra:
        schema["additionalProperties"] = False
    return schema


ID = {"type": "string", "pattern": "^[0-9a-f]{24}$", "description": "An id (24 hexadecimal digits)."}
TIME = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601 with a Z."}
MAYBE_TIME = nullable(TIME)
TEXT = {"type": "string"}
MAYBE_TEXT = nullable(TEXT)
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
CURSOR = {"type": "string", "minLength": 1, "maxLength": 64,
          "description": "Opaque: the next_cursor of the previous page."}
NEXT = nullable(CURSOR)
OK = obj({"ok": {"const": True}})


def _list(name: str, key: str, *, cursor: bool = False, **more) -> dict:
    properties: dict = {key: {"type": "array", "items": ref(name)}}
    if cursor:
        properties["next_cursor"] = NEXT
    properties.update(more)
    return obj(properties)


SCHEMAS: dict[str, Any] = {
    "Error": obj({"error": obj({
        "code": {"type": "string", "enum": ["unauthorized", "forbidden", "not_found", "invalid",
                                            "bad_request", "conflict", "closed", "too_large",
                                            "rate_limited", "method_not_allowed", "internal"]},
        "message": {"type": "string", "description": "Readable by people."},
        "field": {"type": "string", "description": "The input at fault, when there is one."},
        "retry_after": {"type": "integer", "minimum": 1, "description": "Seconds (429 only)."},
    }, ["code", "message"])}),
    "Ticket": obj({
        "id": ID, "subject": TEXT, "guest_name": TEXT, "guest_email": MAYBE_TEXT,
        "status": {"enum": list(tickets.STATUSES)}, "version": INT,
        "priority": {"enum": list(tickets.PRIORITIES)}, "assignee_id": nullable(ID),
        "tags": {"type": "array", "items": TEXT}, "last_message_preview": TEXT,
        "created_at": MAYBE_TIME, "updated_at": MAYBE_TIME, "last_message_at": MAYBE_TIME,
        "first_response_at": MAYBE_TIME, "escalated_at": MAYBE_TIME, "closed_at": MAYBE_TIME,
    }, description="A ticket as agents (and API tokens) see it. `version` rises with every change."),
    "GuestTicket": obj({
        "id": ID, "subject": TEXT, "guest_name": TEXT, "guest_email": MAYBE_TEXT,
        "status": {"enum": list(tickets.STATUSES)}, "version": INT, "created_at": MAYBE_TIME,
        "updated_at": MAYBE_TIME, "last_message_at": MAYBE_TIME, "closed_at": MAYBE_TIME,
    }, description="A ticket as its guest sees it (no triage fields)."),
    "CannedReply": obj({
        "id": ID, "scope": {"enum": ["team", "personal"]}, "shortcut": TEXT, "title": TEXT, "body": TEXT,
        "editable": BOOL, "updated_at": MAYBE_TIME,
    }, description="A canned reply; `editable`: whether this caller may change it."),
    "Message": obj({
        "id": ID, "ticket_id": ID, "kind": {"enum": ["message", "note", "system"]},
        "sender_role": {"enum": ["guest", "agent", "system"]}, "sender_name": TEXT, "body": TEXT,
        "client_msg_id": MAYBE_TEXT, "created_at": TIME, "seq": nullable(INT), "cursor": nullable(TEXT),
    }, description="A message, note (agents only) or system line, numbered in its ticket (`seq`)."),
    "User": obj({
        "id": ID, "email": TEXT, "name": TEXT, "role": {"enum": list(users.ROLES)}, "active": BOOL,
        "created_at": MAYBE_TIME, "last_seen_at": MAYBE_TIME, "two_factor": BOOL, "invited": BOOL,
    }),
    "AgentOption": obj({"id": ID, "name": TEXT, "role": {"enum": list(users.ROLES)}}),
    "Session": obj({
        "id": TEXT, "current": BOOL, "stage": {"enum": ["active", "code", "enrol"]}, "created_at": TIME,
        "last_seen_at": MAYBE_TIME, "expires_at": TIME, "ip": MAYBE_TEXT, "user_agent": MAYBE_TEXT,
    }),
    "Notification": obj({
        "id": ID, "kind": {"enum": list(notifications.KINDS)}, "ticket_id": nullable(ID), "text": TEXT,
        "read": BOOL, "read_at": MAYBE_TIME, "created_at": TIME, "cursor": TEXT,
    }),
    "Job": obj({
        "id": ID, "kind": TEXT, "status": {"enum": ["queued", "processing", "succeeded", "dead"]},
        "attempts": INT, "max_attempts": nullable(INT), "last_error": MAYBE_TEXT, "to": MAYBE_TEXT,
        "created_at": MAYBE_TIME, "updated_at": MAYBE_TIME, "cursor": TEXT,
    }),
    "AuditEvent": obj({
        "id": ID, "at": TIME,
        "actor": obj({"id": MAYBE_TEXT, "role": MAYBE_TEXT, "name": MAYBE_TEXT}, ["id", "role"]),
        "action": TEXT, "entity": obj({"type": MAYBE_TEXT, "id": MAYBE_TEXT}),
        "before": nullable({"type": "object"}), "after": nullable({"type": "object"}),
        "changes": {"type": "array", "items": obj({"field": TEXT, "before": {}, "after": {}})},
        "meta": nullable({"type": "object"}), "ip": MAYBE_TEXT, "user_agent": MAYBE_TEXT,
    }),
    "ApiToken": obj({
        "id": ID, "name": TEXT, "scope": {"enum": list(api_tokens.SCOPES)},
        "prefix": {"type": "string", "description": "The token's first characters, to tell it apart."},
        "created_at": TIME, "created_by": MAYBE_TEXT, "last_used_at": MAYBE_TIME,
        "revoked_at": MAYBE_TIME, "active": BOOL,
    }, description="An API token, without the token itself (shown once, at creation)."),
    "Webhook": obj({
        "id": ID, "url": {"type": "string", "format": "uri"},
        "events": {"type": "array", "items": {"enum": list(webhooks.EVENTS)}},
        "include_notes": BOOL, "active": BOOL, "description": TEXT, "created_at": TIME,
        "created_by": MAYBE_TEXT, "updated_at": MAYBE_TIME,
    }, description="A registered webhook, without its secret (shown once)."),
    "WebhookDelivery": obj({
        "id": ID, "delivery_id": {"type": "string", "description": "X-Support-Delivery: the same on every attempt."},
        "event": {"enum": list(webhooks.EVENTS)}, "ticket_id": nullable(ID), "attempt": INT,
        "redelivery": BOOL, "status": {"enum": ["succeeded", "failed"]},
        "response_code": nullable(INT), "duration_ms": {"type": "number"}, "error": MAYBE_TEXT,
        "at": TIME, "cursor": TEXT,
    }, description="One attempt in a webhook's delivery log."),
    "WebhookEvent": obj({
        "id": {"type": "string", "description": "The delivery id (also X-Support-Delivery)."},
        "event": {"enum": list(webhooks.EVENTS)}, "created_at": TIME,
        "actor": obj({"type": {"enum": ["guest", "agent", "api", "system"]}, "id": MAYBE_TEXT,
                      "name": TEXT}),
        "data": obj({
            "ticket": ref("Ticket"), "message": ref("Message"),
            "changes": {"type": "object", "additionalProperties": obj({"before": {}, "after": {}}),
                        "description": "ticket.updated and ticket.closed: each changed field."},
            "csat": obj({"rating": nullable(INT), "comment": MAYBE_TEXT, "submitted_at": MAYBE_TIME},
                        description="csat.submitted only."),
        }, ["ticket"]),
    }, description="The body POSTed to a webhook (not an answer of this API): signed with "
                   "`X-Support-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of \"<t>.<body>\">`."),
    "GuestExport": obj({
        "exported_at": TIME,
        "guest": obj({"names": {"type": "array", "items": TEXT}, "emails": {"type": "array", "items": TEXT}}),
        "tickets": {"type": "array", "items": {"allOf": [ref("Ticket"), obj({
            "erased": BOOL, "messages": {"type": "array", "items": ref("Message")}})]}},
        "audit_events": {"type": "array", "items": ref("AuditEvent")},
        "attachments": {"type": "array", "items": {"type": "object"}},
    }),
    "Erased": obj({
        "tickets": {"type": "array", "items": ref("Ticket")}, "messages": INT, "audit_events": INT,
        "notifications": INT, "webhook_deliveries": INT, "jobs": INT, "attachments": INT,
    }),
    "SignedIn": obj({"stage": {"enum": ["active", "code", "enrol"]}, "user": ref("User"),
                     "backup_codes": {"type": "array", "items": TEXT}}, ["stage"]),
}

ERRORS = {
    "400": "The body is not a JSON object, or a header is not UTF-8 text.",
    "401": "Not signed in (no cookie, or a bad or revoked API token).",
    "403": "Not allowed: the caller's role, a read-only token, or the CSRF check of a "
           "cookie-authenticated change.",
    "404": "Not found.",
    "409": "A conflict: the state changed, or it is not in the state this needs.",
    "413": "The body is over 64 KiB.",
    "415": "The body's charset is not UTF-8.",
    "422": "A field or query parameter is not valid (`field` names it).",
    "429": "Over a rate limit: wait `Retry-After` seconds.",
}
GENERAL = ("400", "401", "403", "404", "422", "429")
BODY_ERRORS = ("409", "413", "415")


def _responses() -> dict:
    out = {}
    for code, text in ERRORS.items():
        response: dict = {"description": text,
                          "content": {"application/json": {"schema": ref("Error")}}}
        if code == "429":
            response["headers"] = {"Retry-After": {"schema": {"type": "integer"},
                                                   "description": "Seconds to wait."}}
        out[code] = response
    return out


def _param(name: str, schema: dict, description: str = "", *, where: str = "query",
           required: bool = False) -> dict:
    param = {"name": name, "in": where, "required": required or where == "path", "schema": schema}
    if description:
        param["description"] = description
    return param


LIMIT = _param("limit", {"type": "integer", "minimum": 1, "maximum": 100}, "Page size.")
BEFORE = _param("before", CURSOR, "The next page (older).")

# Who may call: a signed-in person's cookie, an API token, the guest's cookie, or anyone.
Security = list[dict[str, list[str]]]
PEOPLE: Security = [{"sessionCookie": []}]
AGENTS: Security = [{"sessionCookie": []}, {"apiToken": []}]
ANYONE_SIGNED: Security = [{"sessionCookie": []}, {"apiToken": []}, {"guestCookie": []}]
PUBLIC: Security = [{}]
GUEST: Security = [{"guestCookie": []}, {}]


def _op(method: str, path: str, tag: str, summary: str, *, security: list, ok: dict | None = None,
        status: str = "200", body: dict | None = None, params: list | None = None,
        description: str = "", content_type: str = "application/json", more_ok: dict | None = None) -> tuple:
    operation: dict = {"tags": [tag], "summary": summary, "operationId": _operation_id(method, path),
                       "security": security}
    if description:
        operation["description"] = description
    path_params = [_param(name, ID if name.endswith("_id") and name != "session_id" else
                          {"type": "string", "minLength": 1, "maxLength": 64}, where="path")
                   for name in _path_params(path)]
    if path_params or params:
        operation["parameters"] = path_params + (params or [])
    if body is not None:
        operation["requestBody"] = {"required": True,
                                    "content": {"application/json": {"schema": body}}}
    success: dict = {"description": "Done."}
    if ok is not None:
        success["content"] = {content_type: {"schema": ok}}
    responses = {status: success, **(more_ok or {})}
    codes = GENERAL + (BODY_ERRORS if method in ("post", "patch", "put", "delete") else ())
    for code in codes:
        responses[code] = {"$ref": f"#/components/responses/{code}"}
    operation["responses"] = responses
    return method, path, operation


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{")]


def _operation_id(method: str, path: str) -> str:
    words = [p.strip("{}").replace("-", "_").replace(".", "_") for p in path.split("/")[2:] if p]
    return method + "_" + "_".join(words)


EMAIL = {"type": "string", "minLength": 3, "maxLength": 254, "format": "email"}
PASSWORD = {"type": "string", "minLength": 8, "maxLength": 128}
BODY = {"type": "string", "minLength": 1, "maxLength": messages.BODY_MAX}
CLIENT_MSG_ID = {"type": "string", "pattern": "^[A-Za-z0-9_.:-]{1,64}$"}
SEQ_CURSOR = {"type": "string", "pattern": "^[0-9]{1,15}$", "description": "A message number (`cursor`)."}
MESSAGE_BODY = obj({"body": BODY, "client_msg_id": CLIENT_MSG_ID},
                   description="The same client_msg_id again returns the stored message (200).")
MESSAGE_ANSWER = obj({"message": ref("Message")})
TICKET_PAGE = obj({"tickets": {"type": "array", "items": ref("Ticket")}, "next_cursor": NEXT})
FORMAT_CSV = {"text/csv": {"schema": {"type": "string"}}}


CANNED_FIELDS = {"scope": {"enum": ["team", "personal"]},
                 "shortcut": {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,31}$"},
                 "title": {"type": "string", "minLength": 1, "maxLength": 80},
                 "body": {"type": "string", "minLength": 1, "maxLength": 5000}}
TICKET_LIST = obj({"tickets": {"type": "array", "items": ref("Ticket")}})
CSAT_FIELDS = {"rating": {"type": "integer", "minimum": 1, "maximum": 5},
               "comment": nullable({"type": "string", "maxLength": 1000})}
CSAT_BODY = obj(CSAT_FIELDS, ["rating"])
REPORT_RANGE = [
    _param("range", {"enum": ["7d", "30d", "custom"]}, "A preset, or custom with from and to."),
    _param("from", {"type": "string", "format": "date", "maxLength": 10}, "First day (custom)."),
    _param("to", {"type": "string", "format": "date", "maxLength": 10}, "Last day (custom)."),
    _param("tz", {"type": "string", "maxLength": 64}, "The time zone days are counted in."),
]
_DURATIONS = obj({"count": INT, "median_seconds": nullable({"type": "number"}),
                  "p90_seconds": nullable({"type": "number"})})
REPORT = obj({
    "scope": TEXT,
    "range": obj({"preset": TEXT, "from": TEXT, "to": TEXT, "tz": TEXT}),
    "conversations": obj({"total": INT, "per_day": {"type": "array", "items": obj(
        {"day": TEXT, "count": INT})}}),
    "first_response": _DURATIONS,
    "resolution": _DURATIONS,
    "satisfaction": obj({"count": INT, "average": nullable({"type": "number"})}),
    "backlog": {"type": "object", "additionalProperties": INT},
    "agents": {"type": "array", "items": obj({
        "id": TEXT, "name": TEXT, "assigned": INT, "resolved": INT, "first_responses": INT,
        "median_first_response_seconds": nullable({"type": "number"})})},
})


def operations() -> list[tuple]:
    t, a, g = "Tickets", "Sign-in and account", "Guests"
    adm, integ, priv = "Admin: accounts, jobs, audit", "Admin: integrations", "Admin: privacy"
    return [
        # --- signing in -----------------------------------------------------------------
        _op("post", "/api/auth/login", a, "Sign in with e-mail and password", security=PUBLIC,
            body=obj({"email": EMAIL, "password": {"type": "string", "minLength": 1, "maxLength": 1024}}),
            ok=ref("SignedIn"), description="Sets the session cookie. `stage` says what is left: "
                                            "a two-factor code (`code`) or its set-up (`enrol`)."),
        _op("post", "/api/auth/code", a, "Give the two-factor code (second step)", security=PEOPLE,
            body=obj({"code": {"type": "string", "minLength": 1, "maxLength": 32}}), ok=ref("SignedIn")),
        _op("post", "/api/auth/logout", a, "Sign out (this session)", security=PEOPLE, ok=OK),
        _op("get", "/api/auth/me", a, "The signed-in person", security=PEOPLE, ok=obj({"user": ref("User")})),
        _op("post", "/api/auth/password", a, "Change one's password", security=PEOPLE,
            body=obj({"old_password": {"type": "string", "minLength": 1, "maxLength": 1024},
                      "new_password": PASSWORD}), ok=ref("SignedIn")),
        _op("post", "/api/auth/forgot-password", a, "Ask for a password-reset e-mail", security=PUBLIC,
            body=obj({"email": EMAIL}), ok=obj({"ok": {"const": True}, "message": TEXT}),
            description="The same answer whether or not the e-mail has an account."),
        _op("post", "/api/auth/reset-password", a, "Set a new password with a reset link's token",
            security=PUBLIC, body=obj({"token": {"type": "string", "minLength": 1, "maxLength": 128},
                                       "password": PASSWORD}), ok=OK),
        _op("post", "/api/auth/accept-invitation", a, "Choose a password from an invitation",
            security=PUBLIC, body=obj({"token": {"type": "string", "minLength": 1, "maxLength": 128},
                                       "password": PASSWORD}), ok=obj({"ok": {"const": True}, "email": TEXT})),
        _op("get", "/api/account/sessions", a, "One's open sessions", security=PEOPLE,
            ok=_list("Session", "sessions")),
        _op("delete", "/api/account/sessions/{session_id}", a, "End one session", security=PEOPLE,
            ok=obj({"ok": {"const": True}, "signed_out": BOOL})),
        _op("post", "/api/account/sessions/end-all", a, "Sign out everywhere", security=PEOPLE,
            ok=obj({"ok": {"const": True}, "signed_out": BOOL})),
        _op("post", "/api/account/two-factor/setup", a, "Start setting up two-factor sign-in",
            security=PEOPLE, ok=obj({"secret": TEXT, "uri": TEXT, "qr_svg": TEXT})),
        _op("post", "/api/account/two-factor/enable", a, "Confirm two-factor sign-in with a code",
            security=PEOPLE, body=obj({"code": {"type": "string", "minLength": 1, "maxLength": 32}}),
            ok=ref("SignedIn")),
        _op("post", "/api/account/two-factor/disable", a, "Turn two-factor sign-in off", security=PEOPLE,
            body=obj({"password": {"type": "string", "minLength": 1, "maxLength": 1024},
                      "code": {"type": "string", "minLength": 1, "maxLength": 32}}), ok=OK),
        # --- guests ---------------------------------------------------------------------
        _op("post", "/api/guest/tickets", g, "Start a chat (the widget)", security=GUEST, status="201",
            body=obj({"name": {"type": "string", "minLength": 1, "maxLength": 80},
                      "email": nullable(EMAIL), "message": BODY}, ["name", "message"]),
            ok=obj({"ticket": ref("GuestTicket"), "message": ref("Message")}),
            description="Sets the guest cookie (a new guest unless the request has one)."),
        _op("get", "/api/guest/tickets", g, "The guest's own chats", security=GUEST,
            ok=_list("GuestTicket", "tickets")),
        # --- tickets --------------------------------------------------------------------
        _op("get", "/api/tickets", t, "The queue", security=AGENTS, ok=TICKET_PAGE, params=[
            _param("status", {"enum": [*tickets.STATUSES, "all", "active"]}, "`active`: open and pending."),
            _param("assignee", {"anyOf": [{"enum": ["me", "none", "all"]}, ID]}),
            _param("priority", {"enum": [*tickets.PRIORITIES, "all"]}), BEFORE, LIMIT]),
        _op("get", "/api/tickets/{ticket_id}", t, "One ticket", security=ANYONE_SIGNED,
            ok=obj({"ticket": {"anyOf": [ref("Ticket"), ref("GuestTicket")]}}),
            description="Agents and tokens get the full ticket; its guest the guest's view."),
        _op("patch", "/api/tickets/{ticket_id}", t, "Change status, priority or assignee", security=AGENTS,
            body=obj({"status": {"enum": list(tickets.STATUSES)},
                      "priority": {"enum": list(tickets.PRIORITIES)},
                      "assignee_id": nullable(ID)}, [], extra=False, minProperties=1),
            ok=obj({"ticket": ref("Ticket")}), description="Needs a read-write token."),
        _op("get", "/api/agents", t, "Agents one may assign", security=AGENTS,
            ok=_list("AgentOption", "agents")),
        _op("get", "/api/tickets/{ticket_id}/messages", t, "A page of the conversation",
            security=ANYONE_SIGNED, params=[
                _param("before", SEQ_CURSOR, "The page before this message (older)."),
                _param("after", SEQ_CURSOR, "The messages after this one (catch-up)."), LIMIT],
            ok=obj({"messages": {"type": "array", "items": ref("Message")}, "next_cursor": nullable(TEXT),
                    "has_more": BOOL}),
            description="Oldest first. Guests see no notes and no internal lines."),
        _op("post", "/api/tickets/{ticket_id}/messages", t, "Reply to the guest", security=AGENTS,
            status="201", body=MESSAGE_BODY, ok=MESSAGE_ANSWER,
            more_ok={"200": {"description": "Sent before with this client_msg_id: the stored message.",
                             "content": {"application/json": {"schema": MESSAGE_ANSWER}}}},
            description="Stored, numbered and sent to the room like a reply from the dashboard. "
                        "Needs a read-write token."),
        _op("post", "/api/tickets/{ticket_id}/notes", t, "Write an internal note", security=AGENTS,
            status="201", body=MESSAGE_BODY, ok=MESSAGE_ANSWER,
            more_ok={"200": {"description": "Sent before with this client_msg_id: the stored note.",
                             "content": {"application/json": {"schema": MESSAGE_ANSWER}}}}),
        # --- an agent's inbox -------------------------------------------------------------
        _op("get", "/api/notifications", a, "One's notifications", security=PEOPLE,
            params=[BEFORE, LIMIT, _param("unread", {"enum": ["true", "false", "1", "0"]})],
            ok=_list("Notification", "notifications", cursor=True, unread=INT)),
        _op("get", "/api/notifications/unread-count", a, "How many are unread", security=PEOPLE,
            ok=obj({"unread": INT})),
        _op("post", "/api/notifications/read-all", a, "Mark all read", security=PEOPLE,
            ok=obj({"changed": INT, "unread": INT})),
        _op("post", "/api/notifications/{notification_id}/read", a, "Mark one read", security=PEOPLE,
            ok=obj({"notification": ref("Notification"), "unread": INT})),
        _op("post", "/api/notifications/{notification_id}/unread", a, "Mark one unread", security=PEOPLE,
            ok=obj({"notification": ref("Notification"), "unread": INT})),
        # --- admins -----------------------------------------------------------------------
        _op("get", "/api/admin/users", adm, "Accounts, by name", security=PEOPLE,
            params=[_param("after", {"type": "string", "minLength": 1, "maxLength": 400}), LIMIT],
            ok=_list("User", "users", cursor=True)),
        _op("get", "/api/admin/users/{user_id}", adm, "One account", security=PEOPLE,
            ok=obj({"user": ref("User")})),
        _op("post", "/api/admin/users", adm, "Invite someone", security=PEOPLE, status="201",
            body=obj({"email": EMAIL, "name": {"type": "string", "minLength": 1, "maxLength": 80},
                      "role": {"enum": list(users.ROLES)}}), ok=obj({"user": ref("User")})),
        _op("post", "/api/admin/users/{user_id}/invitation", adm, "Send the invitation again",
            security=PEOPLE, ok=obj({"user": ref("User")})),
        _op("post", "/api/admin/users/{user_id}/two-factor/reset", adm, "Reset someone's two-factor sign-in",
            security=PEOPLE, ok=obj({"user": ref("User")})),
        _op("patch", "/api/admin/users/{user_id}", adm, "Rename, or change the role", security=PEOPLE,
            body=obj({"name": {"type": "string", "minLength": 1, "maxLength": 80},
                      "role": {"enum": list(users.ROLES)}}, [], extra=False, minProperties=1),
            ok=obj({"user": ref("User")})),
        _op("post", "/api/admin/users/{user_id}/deactivate", adm, "Deactivate an account", security=PEOPLE,
            ok=obj({"user": ref("User")})),
        _op("post", "/api/admin/users/{user_id}/reactivate", adm, "Reactivate an account", security=PEOPLE,
            ok=obj({"user": ref("User")})),
        _op("get", "/api/admin/jobs", adm, "Jobs that failed every attempt", security=PEOPLE,
            params=[_param("status", {"const": "dead"}), BEFORE, LIMIT],
            ok=_list("Job", "jobs", cursor=True, total=INT)),
        _op("post", "/api/admin/jobs/{job_id}/retry", adm, "Queue a dead job again", security=PEOPLE,
            ok=obj({"job": ref("Job")})),
        _op("get", "/api/audit", adm, "The audit trail, newest first", security=PEOPLE,
            params=[_param(name, {"type": "string", "maxLength": 64}) for name in
                    ("actor", "action", "entity_type", "entity_id")]
            + [_param("from", {"type": "string", "maxLength": 40}, "ISO 8601 date or time."),
               _param("to", {"type": "string", "maxLength": 40}, "ISO 8601 date or time."),
               _param("format", {"enum": ["json", "csv"]}), BEFORE,
               _param("limit", {"type": "integer", "minimum": 1, "maximum": 200})],
            ok=_list("AuditEvent", "events", cursor=True),
            description="`format=csv` answers every matching event as CSV "
                                    f"(actions include {', '.join(audit.ACTIONS[:3])}, ...)."),
        _op("get", "/api/audit/people", adm, "People to filter the audit trail by", security=PEOPLE,
            params=[_param("q", {"type": "string", "minLength": 1, "maxLength": 80},
                           "Part of a name or e-mail.", required=True)],
            ok=obj({"people": {"type": "array", "items": obj({
                "id": ID, "name": TEXT, "email": TEXT, "role": {"enum": list(users.ROLES)},
                "active": {"type": "boolean"}})}})),
        _op("get", "/api/audit/tickets", adm, "Tickets to filter the audit trail by", security=PEOPLE,
            params=[_param("q", {"type": "string", "minLength": 1, "maxLength": 80},
                           "Part of a subject or guest name.", required=True)],
            ok=obj({"tickets": {"type": "array", "items": {"type": "object"}}})),
        _op("get", "/api/audit.csv", adm, "The audit trail as CSV", security=PEOPLE,
            params=[_param(name, {"type": "string", "maxLength": 64}) for name in
                    ("actor", "action", "entity_type", "entity_id", "from", "to")],
            ok={"type": "string"}, content_type="text/csv"),
        # --- integrations -------------------------------------------------------------------
        _op("get", "/api/admin/tokens", integ, "API tokens", security=PEOPLE, ok=_list("ApiToken", "tokens")),
        _op("post", "/api/admin/tokens", integ, "Make an API token", security=PEOPLE, status="201",
            body=obj({"name": {"type": "string", "minLength": 1, "maxLength": api_tokens.NAME_MAX},
                      "scope": {"enum": list(api_tokens.SCOPES)}}),
            ok=obj({"token": ref("ApiToken"), "secret": {"type": "string", "pattern": "^sct_"}}),
            description="`secret` is the token: shown this once, stored only as a hash."),
        _op("delete", "/api/admin/tokens/{token_id}", integ, "Revoke an API token", security=PEOPLE,
            ok=obj({"token": ref("ApiToken")})),
        _op("get", "/api/admin/webhooks", integ, "Webhooks", security=PEOPLE, ok=_list("Webhook", "webhooks")),
        _op("post", "/api/admin/webhooks", integ, "Register a webhook", security=PEOPLE, status="201",
            body=obj({"url": {"type": "string", "minLength": 1, "maxLength": 2000},
                      "events": {"type": "array", "minItems": 1, "items": {"enum": list(webhooks.EVENTS)}},
                      "include_notes": BOOL,
                      "description": {"type": "string", "maxLength": webhooks.DESCRIPTION_MAX}},
                     ["url", "events"]),
            ok=obj({"webhook": ref("Webhook"), "secret": {"type": "string", "pattern": "^whsec_"}}),
            description="`secret` signs the deliveries: shown this once. The URL must be http(s), "
                        "without credentials, and resolve to public addresses only."),
        _op("get", "/api/admin/webhooks/{webhook_id}", integ, "One webhook", security=PEOPLE,
            ok=obj({"webhook": ref("Webhook")})),
        _op("patch", "/api/admin/webhooks/{webhook_id}", integ, "Change a webhook", security=PEOPLE,
            body=obj({"url": {"type": "string", "minLength": 1, "maxLength": 2000},
                      "events": {"type": "array", "minItems": 1, "items": {"enum": list(webhooks.EVENTS)}},
                      "include_notes": BOOL, "active": BOOL,
                      "description": {"type": "string", "maxLength": webhooks.DESCRIPTION_MAX}},
                     [], extra=False, minProperties=1), ok=obj({"webhook": ref("Webhook")})),
        _op("delete", "/api/admin/webhooks/{webhook_id}", integ, "Remove a webhook and its log",
            security=PEOPLE, ok=OK),
        _op("post", "/api/admin/webhooks/{webhook_id}/secret", integ, "A new secret for a webhook",
            security=PEOPLE, ok=obj({"webhook": ref("Webhook"), "secret": {"type": "string", "pattern": "^whsec_"}})),
        _op("get", "/api/admin/webhooks/{webhook_id}/deliveries", integ, "A webhook's delivery log",
            security=PEOPLE, params=[BEFORE, LIMIT], ok=_list("WebhookDelivery", "deliveries", cursor=True)),
        _op("post", "/api/admin/webhooks/{webhook_id}/deliveries/{attempt_id}/redeliver", integ,
            "Send a logged delivery again", security=PEOPLE, status="202",
            ok=obj({"ok": {"const": True}, "queued": {"const": True}})),
        # --- privacy ------------------------------------------------------------------------
        _op("get", "/api/admin/privacy/export", priv, "Everything held about a guest", security=PEOPLE,
            params=[_param("email", EMAIL), _param("ticket_id", ID)], ok=ref("GuestExport"),
            description="Give `email` or `ticket_id`. Audited."),
        _op("post", "/api/admin/privacy/erase", priv, "Erase a guest", security=PEOPLE,
            body={"oneOf": [obj({"email": EMAIL}, extra=False), obj({"ticket_id": ID}, extra=False)]},
            ok=ref("Erased"), description="Idempotent; audited. Every ticket's version rises."),
        # --- the agent's working day ------------------------------------------------------
        _op("get", "/api/search", t, "Search tickets by guest, e-mail, subject, message and tag",
            security=AGENTS, params=[_param("q", {"type": "string", "minLength": 1, "maxLength": 200},
                                            "Words to find (as text: no operators).", required=True),
                                     BEFORE, LIMIT],
            ok=obj({"results": {"type": "array", "items": obj({
                "ticket": ref("Ticket"), "field": TEXT, "snippet": TEXT})}, "next_cursor": NEXT})),
        _op("get", "/api/tags", t, "The tags in use", security=AGENTS,
            ok=obj({"tags": {"type": "array", "items": TEXT}})),
        _op("get", "/api/tickets/{ticket_id}/related", t, "The guest's other conversations",
            security=AGENTS, ok=TICKET_LIST),
        _op("get", "/api/tickets/{ticket_id}/activity", t, "The ticket's audit entries",
            security=AGENTS, params=[BEFORE, LIMIT],
            ok=obj({"events": {"type": "array", "items": {"type": "object"}}, "next_cursor": NEXT}),
            description="What was done to this ticket, by whom and when (no IP or browser)."),
        _op("put", "/api/me/availability", a, "Online or away for automatic assignment",
            security=AGENTS, body=obj({"availability": {"enum": ["online", "away"]}}, ["availability"]),
            ok=obj({"availability": {"enum": ["online", "away"]}})),
        _op("get", "/api/canned-replies", t, "Canned replies: the team's and one's own",
            security=AGENTS, ok=obj({"replies": {"type": "array", "items": ref("CannedReply")},
                                     "placeholders": {"type": "array", "items": TEXT}})),
        _op("post", "/api/canned-replies", t, "Add a canned reply", security=AGENTS, status="201",
            body=obj(CANNED_FIELDS, ["shortcut", "title", "body"]), ok=obj({"reply": ref("CannedReply")}),
            description="`scope` team: admins only."),
        _op("patch", "/api/canned-replies/{reply_id}", t, "Change a canned reply", security=AGENTS,
            body=obj(CANNED_FIELDS, [], extra=False, minProperties=1), ok=obj({"reply": ref("CannedReply")})),
        _op("delete", "/api/canned-replies/{reply_id}", t, "Remove a canned reply", security=AGENTS,
            ok={"type": "object"}),
        # --- the guest comes back -----------------------------------------------------------
        _op("post", "/api/tickets/{ticket_id}/csat", g, "The guest rates a closed conversation",
            security=ANYONE_SIGNED, body=CSAT_BODY, ok=obj({"ticket": ref("GuestTicket")}),
            description="The ticket's guest only, after the close; changeable for 7 days."),
        _op("post", "/api/csat", g, "Rate through the closing e-mail's link", security=PUBLIC,
            body=obj({"token": {"type": "string", "minLength": 1, "maxLength": 200}, **CSAT_FIELDS},
                     ["token", "rating"]),
            ok=obj({"csat": nullable({"type": "object"})})),
        _op("get", "/api/guest/unread", g, "Unread replies, for the launcher's badge", security=PUBLIC,
            params=[_param("badge", {"type": "string", "maxLength": 200}, "The badge token.",
                           required=True)],
            ok=obj({"unread": INT, "color": TEXT})),
        _op("post", "/api/tickets/{ticket_id}/attachments", g, "Attach a file (multipart/form-data)",
            security=ANYONE_SIGNED, status="201", ok=MESSAGE_ANSWER,
            more_ok={"200": {"description": "Sent before (the same client_msg_id)."}},
            description="Parts `client_msg_id`, then `file`; at most MAX_UPLOAD_MB (413); PNG, "
                        "JPEG, GIF, WebP, PDF or text, told from the bytes (422 otherwise)."),
        _op("get", "/api/attachments/{attachment_id}", g, "Download an attachment",
            security=ANYONE_SIGNED, ok={"type": "string", "format": "binary"},
            content_type="application/octet-stream",
            description="Served with its own type: images inline, anything else as a download."),
        _op("get", "/api/admin/settings", adm, "The widget's settings and opening hours",
            security=PEOPLE, ok={"type": "object"}),
        _op("put", "/api/admin/settings", adm, "Change the widget's settings and opening hours",
            security=PEOPLE, body={"type": "object"}, ok={"type": "object"}),
        # --- reports ----------------------------------------------------------------------
        _op("get", "/api/reports", "Reports", "Conversations, answer times, satisfaction, backlog",
            security=AGENTS, params=REPORT_RANGE, ok=REPORT,
            description="Admins see the team; everyone else their own conversations. Days are "
                        "counted in `tz` (an IANA time zone; UTC when not given)."),
        _op("get", "/api/reports/{report}.csv", "Reports", "One report as CSV", security=AGENTS,
            params=REPORT_RANGE, ok={"type": "string"}, content_type="text/csv"),
        # --- this document --------------------------------------------------------------------
        _op("get", "/api/openapi.json", "API", "This document", security=PUBLIC, ok={"type": "object"}),
        _op("get", "/api/docs", "API", "This document as a page", security=PUBLIC,
            ok={"type": "string"}, content_type="text/html"),
    ]


def document() -> dict:
    paths: dict = {}
    for method, path, operation in operations():
        paths.setdefault(path, {})[method] = operation
    # format=csv: the same trail as CSV.
    paths["/api/audit"]["get"]["responses"]["200"]["content"].update(FORMAT_CSV)
    paths["/api/tickets/{ticket_id}/attachments"]["post"]["requestBody"] = {
        "required": True, "content": {"multipart/form-data": {"schema": obj({
            "client_msg_id": CLIENT_MSG_ID, "file": {"type": "string", "format": "binary"}},
            ["file"])}}}
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Support chat API",
            "version": "1",
            "description": (
                "The JSON API of the support chat server. Integrations send an API token "
                "(`Authorization: Bearer sct_...`, made by an admin at /admin/tokens): a `read` "
                "token may only GET; a `read-write` token also changes tickets, replies and "
                "writes notes. Tokens are never admins. The pages use the session cookie, and "
                "their changes need `X-Requested-With: fetch` and an Origin of this server. "
                "Every error is `{\"error\": {\"code\", \"message\"}}`; a 429 has Retry-After. "
                "Every GET also answers HEAD. Webhook bodies: see the WebhookEvent schema."),
        },
        "servers": [{"url": "/"}],
        "tags": [{"name": name} for name in (
            "Tickets", "Guests", "Sign-in and account", "Admin: accounts, jobs, audit",
            "Admin: integrations", "Admin: privacy", "Reports", "API")],
        "paths": paths,
        "components": {
            "schemas": SCHEMAS,
            "responses": _responses(),
            "securitySchemes": {
                "apiToken": {"type": "http", "scheme": "bearer",
                             "description": "An API token (sct_...), for /api/ routes."},
                "sessionCookie": {"type": "apiKey", "in": "cookie", "name": "sc_session",
                                  "description": "A signed-in person's session (HttpOnly)."},
                "guestCookie": {"type": "apiKey", "in": "cookie", "name": "sc_guest",
                                "description": "A guest's cookie, set when they start a chat."},
            },
        },
    }


_DOCUMENT: dict | None = None


def cached_document() -> dict:
    global _DOCUMENT  # built once per process: it depends on nothing but the code
    if _DOCUMENT is None:
        _DOCUMENT = document()
    return _DOCUMENT


@routes.get("/api/openapi.json", name="openapi")
async def openapi_json(request: web.Request) -> web.Response:
    return web.json_response(cached_document())


METHOD_ORDER = ("get", "post", "patch", "put", "delete")


def _schema_text(schema: dict | None) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) if schema is not None else ""


@routes.get("/api/docs", name="api_docs")
@aiohttp_jinja2.template("api_docs.html")
async def api_docs(request: web.Request) -> dict:
    doc = cached_document()
    by_tag: dict[str, list] = {tag["name"]: [] for tag in doc["tags"]}
    for path, item in doc["paths"].items():
        for method in METHOD_ORDER:
            operation = item.get(method)
            if operation is None:
                continue
            body = (operation.get("requestBody") or {}).get("content", {}).get("application/json", {})
            responses = []
            for code, response in sorted(operation["responses"].items()):
                if "$ref" in response:
                    responses.append({"code": code, "text": ERRORS[code], "schema": ""})
                    continue
                content: dict = next(iter((response.get("content") or {}).values()), {})
                responses.append({"code": code, "text": response["description"],
                                  "schema": _schema_text(content.get("schema"))})
            by_tag[operation["tags"][0]].append({
                "id": operation["operationId"], "method": method.upper(), "path": path,
                "summary": operation["summary"], "description": operation.get("description", ""),
                "security": sorted({name for option in operation["security"] for name in option}),
                "parameters": operation.get("parameters", []),
                "body": _schema_text(body.get("schema")) if body else "",
                "responses": responses,
            })
    return {"doc": doc, "tags": by_tag, "errors": ERRORS,
            "schemas": {name: _schema_text(schema) for name, schema in doc["components"]["schemas"].items()}}
