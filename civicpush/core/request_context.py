"""Per-request facts (client address, request id) that services need without taking a request."""

from __future__ import annotations

import contextvars
import uuid
from dataclasses import dataclass, field


@dataclass(frozen=True)
class RequestContext:
    client_ip: str | None = None
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)


_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "civicpush_request_context", default=None
)
_EMPTY = RequestContext(request_id="")


def current() -> RequestContext:
    return _current.get() or _EMPTY


def set_current(ctx: RequestContext) -> contextvars.Token[RequestContext | None]:
    return _current.set(ctx)


def reset(token: contextvars.Token[RequestContext | None]) -> None:
    _current.reset(token)


def client_ip_of(request) -> str | None:  # type: ignore[no-untyped-def]
    """The client's address. X-Forwarded-For is trusted only when a proxy is configured in front."""
    import os

    if os.environ.get("CIVICPUSH_TRUST_X_FORWARDED_FOR") == "1":
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.META.get("REMOTE_ADDR")
