"""operations: running the desk behind the conversations.

Public: audit (the audit trail: recording, search, export), jobs (the durable job queue),
mail (e-mail out), notifications (agents' in-app notifications), webhooks, reports,
privacy (a guest's data exported or erased), metrics (`Metrics`, /metrics) and health
(readiness). Private: egress.py (which addresses webhooks may reach).

Imports core and conversations. Four of its modules are listeners of ticket changes,
registered here after conversations' own: the audit trail, e-mail to the guest, the
agents' notifications, webhooks.

How this package is used from outside follows the rule in core/__init__.py."""

from ..conversations import effects
from . import audit, health, jobs, mail, metrics, notifications, privacy, reports, webhooks
from .metrics import Metrics

__all__ = ["Metrics", "audit", "health", "jobs", "mail", "metrics", "notifications", "privacy",
           "reports", "webhooks"]

effects.listen("audit trail", audit.on_change)
effects.listen("e-mail", mail.on_change)
effects.listen("notifications", notifications.on_change)
effects.listen("webhooks", webhooks.on_change)
