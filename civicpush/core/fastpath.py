"""Lean WSGI routes in front of Django for a few hot, narrow requests (ADR 0014).

Django's full stack (twelve middleware, URL resolution, the view machinery) costs a fixed few hundred
microseconds a request. For the handful of requests that dominate load — a signed-in citizen opening
the inbox, a unit's system posting a coin transfer with its API key — a handler registered here
answers straight from the WSGI environ, doing exactly the checks the Django path does for that
request (session or API key, CSRF cookie, the same security headers), and returns `None` for
anything outside its narrow case so that Django answers it as before. A handler must therefore be a
strict subset of the Django view's behaviour; each one has a test comparing both paths' responses.

`FastPathApplication` wraps the Django WSGI application (`civicpush.config.wsgi`). Handlers are
registered by `(method, path)` from the owning app's `ready()`; with `CIVICPUSH_FASTPATH=0` none runs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from typing import Any

from django.db import close_old_connections

from . import request_context

Environ = dict[str, Any]
StartResponse = Callable[..., Any]
# A handler answers the request (returning the WSGI body) or returns None to let Django answer it.
Handler = Callable[[Environ, StartResponse], Iterable[bytes] | None]

# The middleware chain whose effects the handlers reproduce for the requests they answer (security
# headers, session, language, CSRF cookie, request context …). A handler checks settings.MIDDLEWARE
# against it and stays off when the chain differs, until it has been brought in line.
REPRODUCED_MIDDLEWARE = (
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "civicpush.core.middleware.RequestContextMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "civicpush.core.middleware.StaffIdleTimeoutMiddleware",
    "civicpush.citizens.middleware.CitizenMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
)

_routes: dict[tuple[str, str], Handler] = {}


def register(method: str, path: str, handler: Handler) -> None:
    """Route `method path` (exact PATH_INFO, no query-string matching) to `handler` first."""
    _routes[(method.upper(), path)] = handler


def enabled() -> bool:
    return os.environ.get("CIVICPUSH_FASTPATH", "1") != "0"


def routes() -> dict[tuple[str, str], Handler]:
    return dict(_routes)


class FastPathApplication:
    """The WSGI entry point: a registered handler first, Django for everything else."""

    def __init__(self, django_application: Callable[[Environ, StartResponse], Iterable[bytes]]) -> None:
        self.django_application = django_application
        self.active = enabled()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        if self.active:
            handler = _routes.get((environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "")))
            if handler is not None:
                answered = self._run(handler, environ, start_response)
                if answered is not None:
                    return answered
        return self.django_application(environ, start_response)

    @staticmethod
    def _run(handler: Handler, environ: Environ, start_response: StartResponse) -> Iterable[bytes] | None:
        # Django's request_started/request_finished keep database connections healthy (closing those
        # past CONN_MAX_AGE or broken); a fast-path request does the same, without the signal fan-out.
        # RequestContextMiddleware's per-request context (client address for audit and logs) likewise.
        close_old_connections()
        token = request_context.set_current(
            request_context.RequestContext(client_ip=request_context.client_ip_of(_Meta(environ)))
        )
        try:
            return handler(environ, start_response)
        finally:
            request_context.reset(token)
            close_old_connections()


class _Meta:
    """`request.META` for request_context.client_ip_of (the WSGI environ is what Django's META is)."""

    __slots__ = ("META",)

    def __init__(self, environ: Environ) -> None:
        self.META = environ


__all__ = ["FastPathApplication", "enabled", "register", "routes"]
