from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..db import Database
from .events import Events


@dataclass
class Ctx:
    """What every service function needs: the database, the settings, and the event sink."""

    db: Database
    settings: Settings
    events: Events
