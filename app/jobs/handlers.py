"""The job kinds this server knows, each a thin call into a service."""

from __future__ import annotations

from ..services import mail, notifications
from .worker import Handler

HANDLERS: dict[str, Handler] = {
    notifications.JOB_KIND: notifications.deliver,
    mail.JOB_KIND: mail.send,
}
