from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..config import Settings
from ..db import Database
from .events import Events


@dataclass
class Ctx:
    """What every service function needs: the database, the settings, and the event sink."""

    db: Database
    settings: Settings
    events: Events
    # Made on first use from the settings (services/ratelimit.py).
    limiter: Any = None
    # Audit events whose write failed: retried in the background (services/audit.py).
    audit_backlog: deque = field(default_factory=deque)
    # Fire-and-forget tasks (e-mails), kept referenced until done.
    background: set = field(default_factory=set)
