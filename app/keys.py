"""Every application-wide object, reached through a typed AppKey."""

from __future__ import annotations

import socketio
from aiohttp import web

from .config import Settings
from .db import Database
from .jobs.runtime import Runtime
from .security import Identity
from .services.core import Ctx
from .services.operations import Metrics
from .services.people import sessions

settings_key = web.AppKey("settings", Settings)
db_key = web.AppKey("db", Database)
ctx_key = web.AppKey("ctx", Ctx)
sio_key = web.AppKey("sio", socketio.AsyncServer)
startup_notes_key = web.AppKey("startup_notes", list)
# This process's counters and their CollectorRegistry, one per app (services/operations/metrics.py).
metrics_key = web.AppKey("metrics", Metrics)
# The in-server worker and scheduler (app/jobs/runtime.py), absent with JOBS_IN_PROCESS=0.
jobs_runtime_key = web.AppKey("jobs_runtime", Runtime)

# Per-request: the sign-in session behind the cookie, at any stage (services/people/sessions.py).
session_key = web.RequestKey[sessions.Current | None]("session")
# Per-request: the API token's identity (None: the request sends none), app/http/identity.py.
token_identity_key = web.RequestKey[Identity | None]("token_identity")
