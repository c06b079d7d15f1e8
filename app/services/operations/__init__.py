"""operations"""

from ..conversations import effects
from . import audit, mail, notifications, webhooks

effects.listen("audit trail", audit.on_change)
effects.listen("e-mail", mail.on_change)
effects.listen("notifications", notifications.on_change)
effects.listen("webhooks", webhooks.on_change)
