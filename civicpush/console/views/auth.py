"""Staff sign-in and sign-out for the console."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_POST

from civicpush.console.staff_auth import sign_in_page, sign_out


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    return sign_in_page(request, surface="console", home_url=reverse("console:home"), template="console/login.html")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    sign_out(request, surface="console")
    return HttpResponseRedirect(reverse("console:login"))
