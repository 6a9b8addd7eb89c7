"""Request-scoped middleware: request context, staff idle timeout."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth import SESSION_KEY, logout
from django.http import HttpRequest, HttpResponse

from . import request_context

STAFF_LAST_SEEN_KEY = "staff_last_seen"


class RequestContextMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        token = request_context.set_current(
            request_context.RequestContext(client_ip=request_context.client_ip_of(request))
        )
        try:
            return self.get_response(request)
        finally:
            request_context.reset(token)


class StaffIdleTimeoutMiddleware:
    """Ends a staff session after STAFF_IDLE_TIMEOUT_SECONDS without a request.

    Citizens' sessions are long-lived (the PWA stays signed in), so the idle rule is applied here
    to staff sign-ins only rather than through SESSION_COOKIE_AGE.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY not in session:
            return self.get_response(request)  # nobody signed in as staff (citizens): no user to load
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = time.time()
            last_seen = request.session.get(STAFF_LAST_SEEN_KEY)
            if last_seen is not None and now - float(last_seen) > settings.STAFF_IDLE_TIMEOUT_SECONDS:
                logout(request)
                request.staff_session_expired = True  # type: ignore[attr-defined]
            else:
                request.session[STAFF_LAST_SEEN_KEY] = now
        return self.get_response(request)
