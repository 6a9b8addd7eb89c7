"""RFC 9457 problem details: every API error leaves as `application/problem+json`.

One shape for every failure, with title and detail in the request's language (LocaleMiddleware has
already activated it), so a client can show `detail` as is and act on `code` and `errors`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.encoding import force_str
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from ninja import Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError
from pydantic import Field

from civicpush.core.errors import DomainError, RateLimited

logger = logging.getLogger("civicpush.api")

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://civicpush.example/problems/"
NON_FIELD = "__all__"

# Short, stable titles per problem code; unknown codes fall back to the title for their status.
CODE_TITLES: dict[str, Any] = {
    "invalid": gettext_lazy("Invalid request"),
    "validation_failed": gettext_lazy("Invalid input"),
    "not_authenticated": gettext_lazy("Authentication required"),
    "invalid_api_key": gettext_lazy("Invalid API key"),
    "forbidden": gettext_lazy("Forbidden"),
    "csrf_failed": gettext_lazy("CSRF check failed"),
    "not_found": gettext_lazy("Not found"),
    "method_not_allowed": gettext_lazy("Method not allowed"),
    "conflict": gettext_lazy("Conflict"),
    "rate_limited": gettext_lazy("Too many requests"),
    "server_error": gettext_lazy("Server error"),
}
STATUS_CODES: dict[int, str] = {
    400: "invalid",
    401: "not_authenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    429: "rate_limited",
    500: "server_error",
}


class Problem(Schema):
    """An error response (RFC 9457 problem details) with CivicPush's `code` and per-field `errors`."""

    type: str = Field(examples=["https://civicpush.example/problems/not_found"])
    title: str = Field(examples=["Not found"])
    status: int = Field(examples=[404])
    detail: str = Field(examples=["Not found."])
    code: str = Field(examples=["not_found"])
    errors: dict[str, list[str]] = Field(
        default_factory=dict, description="Messages per input field; `__all__` for the input as a whole."
    )


def problem_responses(*statuses: int) -> dict[int, type[Problem]]:
    """`response=` entries documenting the error statuses an operation can answer with."""
    return {status: Problem for status in (*statuses, 500)}


def problem_response(
    status: int,
    *,
    code: str | None = None,
    detail: Any = None,
    errors: Mapping[str, Iterable[Any]] | None = None,
    headers: Mapping[str, str] | None = None,
) -> HttpResponse:
    """Render one problem. `detail` and messages may be lazy; they are rendered in the active language."""
    code = code or STATUS_CODES.get(status, "invalid")
    title = CODE_TITLES.get(code) or CODE_TITLES[STATUS_CODES.get(status, "invalid")]
    body = {
        "type": PROBLEM_TYPE_BASE + code,
        "title": force_str(title),
        "status": status,
        "detail": force_str(detail if detail is not None else title),
        "code": code,
        "errors": {str(field): [force_str(m) for m in messages] for field, messages in (errors or {}).items()},
    }
    response = HttpResponse(json.dumps(body, ensure_ascii=False), status=status, content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


# --- exception handlers (registered on the NinjaAPI in api.py) ---------------------------------


class InvalidApiKey(AuthenticationError):
    """A key was presented but is unknown, revoked or malformed. Not falling through to other schemes."""


class CsrfFailed(HttpError):
    def __init__(self) -> None:
        super().__init__(403, "CSRF check failed")


WWW_AUTHENTICATE = 'Bearer realm="CivicPush API"'


def handle_domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return problem_response(exc.status, code=exc.code, detail=exc.message, errors=exc.field_errors, headers=headers)


def handle_authentication_error(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    if isinstance(exc, InvalidApiKey):
        return problem_response(
            401,
            code="invalid_api_key",
            detail=_("The API key is not valid or has been revoked."),
            headers={"WWW-Authenticate": WWW_AUTHENTICATE + ', error="invalid_token"'},
        )
    return problem_response(
        401,
        code="not_authenticated",
        detail=_("Sign in as staff or send a unit API key (Authorization: Bearer cpk_…)."),
        headers={"WWW-Authenticate": WWW_AUTHENTICATE},
    )


def handle_http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if isinstance(exc, CsrfFailed):
        return problem_response(
            403,
            code="csrf_failed",
            detail=_("This request needs a valid CSRF token (X-CSRFToken header) when signed in with a session."),
        )
    if exc.status_code == 400:
        # ninja's own 400s (e.g. a body that is not JSON) carry English text; say it in the user's language.
        return problem_response(400, detail=_("The request could not be read. Send valid JSON."))
    return problem_response(exc.status_code)


def handle_not_found(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(404, detail=_("Not found."))


def handle_django_permission_denied(request: HttpRequest, exc: Exception) -> HttpResponse:
    return problem_response(403, detail=_("You do not have permission to do this."))


def handle_unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    logger.exception("Unhandled error in API %s %s", request.method, request.path, exc_info=exc)
    return problem_response(
        500, detail=_("Something went wrong on our side. The error has been logged; please try again later.")
    )


def handle_validation_error(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """Input that does not parse: 400 (as for DomainError ValidationFailed), one message list per field."""
    errors: dict[str, list[str]] = {}
    for error in exc.errors:
        field, message = _field_and_message(error)
        errors.setdefault(field, []).append(message)
    return problem_response(
        400, code="validation_failed", detail=_("Some of the information is not valid."), errors=errors
    )


def _field_and_message(error: Mapping[str, Any]) -> tuple[str, str]:
    loc = list(error.get("loc") or ())
    if not loc:  # e.g. ninja's cursor errors: {"cursor": "Invalid Cursor"}
        keys = [k for k in error if k not in ("type", "msg", "ctx", "url")]
        return (keys[0] if keys else NON_FIELD), _("Enter a valid value.")
    source, rest = loc[0], loc[1:]
    if source == "body" and len(rest) > 1:
        rest = rest[1:]  # drop the view's parameter name: ("body", "payload", "title") → "title"
    field = ".".join(str(part) for part in rest) or NON_FIELD
    return field, _pydantic_message(str(error.get("type", "")), error.get("ctx") or {})


def _pydantic_message(kind: str, ctx: Mapping[str, Any]) -> str:
    if kind == "missing":
        return _("This field is required.")
    if kind.startswith("int_") or kind.startswith("float_") or kind.startswith("decimal_"):
        return _("Enter a number.")
    if kind.startswith(("datetime_", "date_", "time_")):
        return _("Enter a valid date and time (ISO 8601, e.g. 2026-11-22T09:30:00+08:00).")
    if kind.startswith("bool_"):
        return _("Enter true or false.")
    if kind == "string_too_long":
        return _("Ensure this value has at most %(limit)s characters.") % {"limit": ctx.get("max_length")}
    if kind == "string_too_short":
        return _("Ensure this value has at least %(limit)s characters.") % {"limit": ctx.get("min_length")}
    if kind in ("greater_than_equal", "greater_than"):
        return _("Ensure this value is at least %(limit)s.") % {"limit": ctx.get("ge", ctx.get("gt"))}
    if kind in ("less_than_equal", "less_than"):
        return _("Ensure this value is at most %(limit)s.") % {"limit": ctx.get("le", ctx.get("lt"))}
    if kind in ("enum", "literal_error"):
        return _("Select a valid choice.")
    if kind == "json_invalid":
        return _("The request body is not valid JSON.")
    return _("Enter a valid value.")


def install(api: Any) -> None:
    """Register the handlers on a NinjaAPI (most specific classes first does not matter: MRO lookup)."""
    api.add_exception_handler(DomainError, handle_domain_error)
    api.add_exception_handler(AuthenticationError, handle_authentication_error)
    api.add_exception_handler(HttpError, handle_http_error)
    api.add_exception_handler(ValidationError, handle_validation_error)
    api.add_exception_handler(Http404, handle_not_found)
    api.add_exception_handler(DjangoPermissionDenied, handle_django_permission_denied)
    api.add_exception_handler(Exception, handle_unexpected)
