"""Staff sign-in shared by the console and the store app: lock-out aware, audited.

It lives beside the console because the console is the first surface to need it; the store app
reuses it. It holds no domain rules of its own: lock-out is `org.auth_backend`'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from civicpush.core.audit import log_action
from civicpush.org.auth_backend import AccountLocked
from civicpush.org.models import County, StaffUser

TAIPEI = ZoneInfo("Asia/Taipei")


class SignInForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    password = forms.CharField(label=_("Password"), max_length=256, strip=False, widget=forms.PasswordInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "autocapitalize": "none"})
        self.fields["password"].widget.attrs.update({"autocomplete": "current-password"})


@dataclass(frozen=True)
class SignInResult:
    user: StaffUser | None
    error: str = ""
    status: int = 200


def idle_message() -> str:
    minutes = settings.STAFF_IDLE_TIMEOUT_SECONDS // 60
    return gettext("You have been idle for more than %(minutes)d minutes. Please sign in again.") % {"minutes": minutes}


def _known_user(username: str) -> StaffUser | None:
    return StaffUser.objects.filter(username__iexact=username).first()


def _deployment_county_id() -> int | None:
    # A failed sign-in with an unknown user name belongs to no account; file it under this
    # deployment's county so that the county's auditors see it.
    return County.objects.filter(code=settings.COUNTY_CODE).values_list("pk", flat=True).first()


def attempt_sign_in(request: HttpRequest, username: str, password: str, *, surface: str) -> SignInResult:
    """Authenticate and sign in a staff user, auditing success and failure.

    Returns the signed-in user, or a translated error message and the status to answer with.
    """
    try:
        user = authenticate(request, username=username, password=password)
    except AccountLocked as exc:
        known = _known_user(username)
        log_action(
            "org.staff.sign_in_failed",
            actor="anonymous",
            obj=known,
            county_id=None if known else _deployment_county_id(),
            data={"username": username[:150], "reason": "locked", "surface": surface},
        )
        until = timezone.localtime(exc.locked_until, TAIPEI)
        return SignInResult(
            None,
            gettext(
                "This account is locked after too many failed sign-ins. Try again after %(time)s "
                "(Taiwan time), or ask your unit account manager to unlock it."
            )
            % {"time": until.strftime("%Y-%m-%d %H:%M")},
            403,
        )
    if user is None or not user.is_active:
        known = _known_user(username)
        log_action(
            "org.staff.sign_in_failed",
            actor="anonymous",
            obj=known,
            county_id=None if known else _deployment_county_id(),
            data={"username": username[:150], "reason": "bad_credentials", "surface": surface},
        )
        return SignInResult(None, gettext("The user name or password is not correct."), 400)
    login(request, user)  # rotates the session key
    log_action("org.staff.signed_in", actor=user, obj=user, data={"surface": surface})
    return SignInResult(user)


def sign_out(request: HttpRequest, *, surface: str) -> None:
    user = request.user
    if user.is_authenticated:
        log_action("org.staff.signed_out", actor=user, obj=user, data={"surface": surface})  # type: ignore[arg-type]
    logout(request)


def safe_next(request: HttpRequest, candidate: str | None, default: str) -> str:
    """`candidate` if it is a path on this site, else `default` (no open redirects)."""
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return default


def sign_in_page(request: HttpRequest, *, surface: str, home_url: str, template: str) -> HttpResponse:
    """The staff sign-in page of one surface (console or store): the form, lock-out and idle notices.

    The caller wraps it with sensitive_post_parameters, csrf_protect and never_cache.
    """
    from civicpush.console.decorators import is_signed_in_staff

    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"), home_url)
    if request.method != "POST" and is_signed_in_staff(request):
        return HttpResponseRedirect(next_url)
    notice = idle_message() if getattr(request, "staff_session_expired", False) else ""
    error, status = "", 200
    if request.method == "POST":
        form = SignInForm(request.POST)
        if form.is_valid():
            result = attempt_sign_in(
                request, form.cleaned_data["username"], form.cleaned_data["password"], surface=surface
            )
            if result.user is not None:
                return HttpResponseRedirect(next_url)
            error, status = result.error, result.status
        else:
            status = 400
    else:
        form = SignInForm()
    context = {"form": form, "error": error, "notice": notice, "next": next_url}
    return render(request, template, context, status=status)
