"""Domain errors. Services raise these; surfaces turn them into a page message or problem+json.

Messages are lazily translated so that the user sees them in their own language.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _


class DomainError(Exception):
    status = 400
    code = "invalid"
    default_message: Any = _("The request could not be completed.")

    def __init__(
        self,
        message: Any = None,
        *,
        code: str | None = None,
        field_errors: dict[str, list[Any]] | None = None,
    ) -> None:
        self.message = message if message is not None else self.default_message
        if code:
            self.code = code
        self.field_errors = field_errors or {}
        super().__init__(str(self.message))


class ValidationFailed(DomainError):
    status = 400
    code = "validation_failed"
    default_message = _("Some of the information is not valid.")


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
    default_message = _("You do not have permission to do this.")


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = _("Not found.")


class Conflict(DomainError):
    status = 409
    code = "conflict"
    default_message = _("This conflicts with the current state.")


class RateLimited(DomainError):
    status = 429
    code = "rate_limited"
    default_message = _("Too many attempts. Please try again later.")

    def __init__(self, message: Any = None, *, retry_after: int = 60, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after
