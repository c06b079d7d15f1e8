"""Domain errors and the user-facing text for each; handlers map them to HTTP or socket answers."""

from __future__ import annotations

HTTP_STATUS = {
    "unauthorized": 401,
    "forbidden": 403,
    "not_found": 404,
    "invalid": 422,
    "bad_request": 400,
    "conflict": 409,
    "closed": 409,
    "too_large": 413,
    "rate_limited": 429,
    "internal": 500,
}

MESSAGES = {
    "unauthorized": "Please sign in.",
    "bad_credentials": "Wrong e-mail or password.",
    "forbidden": "You do not have access to this.",
    "not_found": "Not found.",
    "ticket_not_found": "This conversation does not exist.",
    "invalid": "The request is not valid.",
    "closed": "This conversation has been closed.",
    "internal": "Something went wrong on our side. Please try again.",
    "too_large": "The request is too large.",
    "rate_limited": "Too many attempts. Please wait a moment and try again.",
    "csrf": "This request did not come from one of our pages.",
    "last_admin": "This is the last active admin: make someone else an admin first.",
    "deactivated": "This account is deactivated. Ask an admin to reactivate it.",
    "too_many_failures": "Too many failed attempts. Try again in {minutes} {unit}.",
    "sign_in_expired": "Signing in took too long. Please start again.",
    "code_wrong": "That code is not right. Try the newest code from your app, or a backup code.",
    "code_used": "That code has been used already. Wait for the next one.",
    "two_factor_required": "Two-factor sign-in is required for your account.",
    "invitation_invalid": "This invitation link is not valid or has expired. Ask an admin for a new one.",
    "reset_invalid": "This reset link is not valid or has expired.",
}


def wait_message(seconds: int) -> str:
    """"Try again in N minutes": the rounded-up minutes of a wait in seconds."""
    minutes = max(1, -(-int(seconds) // 60))
    return MESSAGES["too_many_failures"].format(minutes=minutes, unit="minute" if minutes == 1 else "minutes")


class DomainError(Exception):
    code = "internal"

    def __init__(self, message: str | None = None, *, field: str | None = None):
        self.message = message or MESSAGES.get(self.code, self.code)
        self.field = field
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return HTTP_STATUS[self.code]

    def to_dict(self) -> dict:
        error = {"code": self.code, "message": self.message}
        if self.field:
            error["field"] = self.field
        return error


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Invalid(DomainError):
    code = "invalid"


class TicketClosed(DomainError):
    code = "closed"


class Conflict(DomainError):
    code = "conflict"


class TooLarge(DomainError):
    code = "too_large"


class RateLimited(DomainError):
    """Too many attempts; `retry_after` is whole seconds until the next one is allowed."""

    code = "rate_limited"

    def __init__(self, retry_after: int, message: str | None = None):
        super().__init__(message or MESSAGES["rate_limited"])
        self.retry_after = max(1, int(retry_after))

    @property
    def headers(self) -> dict:
        return {"Retry-After": str(self.retry_after)}

    def to_dict(self) -> dict:
        return {**super().to_dict(), "retry_after": self.retry_after}
