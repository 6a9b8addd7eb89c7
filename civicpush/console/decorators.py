"""Console access: a signed-in, active staff user; domain errors turned into error pages."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import render
from django.urls import reverse

from civicpush.core.errors import DomainError, NotFound, PermissionDenied

from .staff_auth import idle_message

View = Callable[..., HttpResponseBase]


def is_signed_in_staff(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.is_active)


def redirect_to_sign_in(request: HttpRequest, login_url_name: str) -> HttpResponse:
    if getattr(request, "staff_session_expired", False):
        messages.warning(request, idle_message())
    query = urlencode({"next": request.get_full_path()}, safe="/")
    return HttpResponseRedirect(f"{reverse(login_url_name)}?{query}")


def raise_as_http(exc: DomainError) -> None:
    """NotFound → 404 page, PermissionDenied → 403 page (with the error's message)."""
    if isinstance(exc, NotFound):
        raise Http404(str(exc.message)) from exc
    if isinstance(exc, PermissionDenied):
        raise DjangoPermissionDenied(str(exc.message)) from exc


def staff_required_for(login_url_name: str, error_template: str) -> Callable[[View], View]:
    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            if not is_signed_in_staff(request):
                return redirect_to_sign_in(request, login_url_name)
            try:
                return view(request, *args, **kwargs)
            except DomainError as exc:
                raise_as_http(exc)
                # Any other domain error the view did not show inline: a page with its message.
                return render(request, error_template, {"error": exc}, status=exc.status)

        return wrapped

    return decorator


staff_required = staff_required_for("console:login", "console/error.html")
