"""Store app shell: staff sign-in (same lock-out as the console) and a home with the coming features."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from civicpush.console.decorators import staff_required_for
from civicpush.console.staff_auth import sign_in_page, sign_out

store_staff_required = staff_required_for("store_web:login", "store_web/error.html")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    return sign_in_page(request, surface="store", home_url=reverse("store_web:home"), template="store_web/login.html")


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    sign_out(request, surface="store")
    return HttpResponseRedirect(reverse("store_web:login"))


@require_GET
@store_staff_required
@never_cache
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "store_web/home.html")
