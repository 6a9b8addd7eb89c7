"""Store app shell: staff sign-in (same lock-out as the console) and a home with the coming features."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_POST

from civicpush.console.decorators import is_signed_in_staff, staff_required_for
from civicpush.console.staff_auth import SignInForm, attempt_sign_in, idle_message, safe_next, sign_out

store_staff_required = staff_required_for("store_web:login", "store_web/error.html")


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
def login_view(request: HttpRequest) -> HttpResponse:
    home = reverse("store_web:home")
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"), home)
    if request.method != "POST" and is_signed_in_staff(request):
        return HttpResponseRedirect(next_url)
    notice = idle_message() if getattr(request, "staff_session_expired", False) else ""
    error, status = "", 200
    if request.method == "POST":
        form = SignInForm(request.POST)
        if form.is_valid():
            result = attempt_sign_in(
                request, form.cleaned_data["username"], form.cleaned_data["password"], surface="store"
            )
            if result.user is not None:
                return HttpResponseRedirect(next_url)
            error, status = result.error, result.status
        else:
            status = 400
    else:
        form = SignInForm()
    return render(
        request,
        "store_web/login.html",
        {"form": form, "error": error, "notice": notice, "next": next_url},
        status=status,
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    sign_out(request, surface="store")
    return HttpResponseRedirect(reverse("store_web:login"))


@require_GET
@store_staff_required
@never_cache
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "store_web/home.html")
