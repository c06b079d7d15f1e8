"""The job kinds this server knows, each a thin call into a service."""

from __future__ import annotations

from ..services.operations import mail, notifications, webhooks
from .worker import Handler

HANDLERS: dict[str, Handler] = {
    notifications.JOB_KIND: notifications.deliver,
    mail.JOB_KIND: mail.send,
    webhooks.JOB_KIND: webhooks.deliver,
}
