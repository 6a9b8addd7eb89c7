"""Citizen PWA views: parse, check who is signed in, call one service, render.

Sign-in: phone → code → (new number) privacy notice → citizen created → optional profile → inbox.
A verified-but-unregistered number waits in the session for VERIFIED_PHONE_TTL_SECONDS.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import rotate_token
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.templatetags.static import static
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.citizens import selectors, services
from civicpush.citizens.middleware import forget, has_current_consent, store_snapshot
from civicpush.citizens.models import Citizen
from civicpush.citizens.phone import display_mobile, mask_mobile
from civicpush.citizens.topics import Topic, mask_to_topics
from civicpush.core.errors import Conflict, DomainError, RateLimited
from civicpush.core.request_context import client_ip_of

from .forms import CodeForm, ConsentForm, PhoneForm, ProfileForm, apply_domain_error

SIGNIN_PHONE_KEY = "citizen_signin_phone"
VERIFIED_PHONE_KEY = "citizen_verified_phone"
VERIFIED_PHONE_TTL_SECONDS = 10 * 60

View = Callable[..., HttpResponse]


def _private(response: HttpResponse) -> HttpResponse:
    """Pages with personal data: never stored by browsers, proxies or the service worker."""
    patch_cache_control(response, private=True, no_store=True)
    return response


def _error_status(exc: DomainError) -> int:
    return exc.status


def _with_retry_after(response: HttpResponse, exc: DomainError) -> HttpResponse:
    if isinstance(exc, RateLimited):
        response["Retry-After"] = str(exc.retry_after)
    return response


def citizen_required(view: View) -> View:
    """Signed-in citizens only; those who have not accepted the current notice are sent to /consent/."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.citizen:  # type: ignore[attr-defined]
            return redirect("citizen_web:signin")
        if not has_current_consent(request):  # the session's snapshot; no query while it is current
            return redirect("citizen_web:consent")
        return _private(view(request, *args, **kwargs))

    return wrapper


def _sign_in(request: HttpRequest, citizen: Citizen, *, consent_version: str | None = None) -> None:
    """A new session for the citizen, with its snapshot (citizens.middleware); `consent_version`:
    the notice version just accepted (else read from the database)."""
    request.session.cycle_key()  # a new session id at sign-in (no session fixation)
    rotate_token(request)  # and a new CSRF secret, as django.contrib.auth.login does for staff
    store_snapshot(request, citizen, consent_version=consent_version)
    request.session.pop(SIGNIN_PHONE_KEY, None)
    request.session.pop(VERIFIED_PHONE_KEY, None)


def _verified_phone(request: HttpRequest) -> str | None:
    data = request.session.get(VERIFIED_PHONE_KEY)
    if not data or data.get("until", 0) < time.time():
        request.session.pop(VERIFIED_PHONE_KEY, None)
        return None
    return str(data["phone"])


# --- home and inbox ---------------------------------------------------------------------------


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    if not citizen:
        return render(request, "citizen_web/welcome.html")
    if not has_current_consent(request):
        return redirect("citizen_web:consent")
    from .inbox_views import inbox  # (inbox_views imports citizen_required from here)

    return _private(inbox(request, citizen))


# --- sign-in and sign-up ----------------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signin(request: HttpRequest) -> HttpResponse:
    if request.citizen:  # type: ignore[attr-defined]
        return redirect("citizen_web:home")
    form = PhoneForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            result = services.do_request_code(form.cleaned_data["phone"], client_ip=client_ip_of(request))
        except DomainError as exc:
            apply_domain_error(form, exc)
            status = _error_status(exc)
            response = render(request, "citizen_web/signin.html", {"form": form}, status=status)
            return _with_retry_after(response, exc)
        request.session[SIGNIN_PHONE_KEY] = result.phone_e164
        return redirect("citizen_web:signin_code")
    if request.method == "POST":
        status = 400
    return render(request, "citizen_web/signin.html", {"form": form}, status=status)


def _code_page(
    request: HttpRequest, form: CodeForm, phone: str, status: int = 200, resend_error: str = ""
) -> HttpResponse:
    context = {
        "form": form,
        "masked_phone": mask_mobile(phone),
        "ttl_minutes": settings.OTP_TTL_SECONDS // 60,
        "resend_error": resend_error,
    }
    return render(request, "citizen_web/signin_code.html", context, status=status)


@require_http_methods(["GET", "POST"])
def signin_code(request: HttpRequest) -> HttpResponse:
    phone = request.session.get(SIGNIN_PHONE_KEY)
    if not phone:
        return redirect("citizen_web:signin")
    form = CodeForm(request.POST or None)
    if request.method != "POST":
        return _code_page(request, form, phone)
    if not form.is_valid():
        return _code_page(request, form, phone, status=400)
    try:
        citizen = services.do_verify_code(phone, form.cleaned_data["code"], client_ip=client_ip_of(request))
    except DomainError as exc:
        apply_domain_error(form, exc)
        return _with_retry_after(_code_page(request, form, phone, status=_error_status(exc)), exc)
    if citizen is None:
        request.session.pop(SIGNIN_PHONE_KEY, None)
        request.session[VERIFIED_PHONE_KEY] = {"phone": phone, "until": time.time() + VERIFIED_PHONE_TTL_SECONDS}
        return redirect("citizen_web:signup_consent")
    _sign_in(request, citizen)
    if not has_current_consent(request):
        return redirect("citizen_web:consent")
    return redirect("citizen_web:home")


@require_POST
def signin_resend(request: HttpRequest) -> HttpResponse:
    phone = request.session.get(SIGNIN_PHONE_KEY)
    if not phone:
        return redirect("citizen_web:signin")
    try:
        services.do_request_code(phone, client_ip=client_ip_of(request))
    except DomainError as exc:
        page = _code_page(request, CodeForm(), phone, status=_error_status(exc), resend_error=str(exc.message))
        return _with_retry_after(page, exc)
    messages.success(request, _("A new code was sent to %(phone)s.") % {"phone": mask_mobile(phone)})
    return redirect("citizen_web:signin_code")


def _notice_context() -> dict[str, Any]:
    return {"notice_version": settings.PRIVACY_NOTICE_VERSION}


@require_http_methods(["GET", "POST"])
def signup_consent(request: HttpRequest) -> HttpResponse:
    phone = _verified_phone(request)
    if not phone:
        messages.error(request, _("Please confirm your mobile number first."))
        return redirect("citizen_web:signin")
    form = ConsentForm(request.POST or None, initial={"notice_version": settings.PRIVACY_NOTICE_VERSION})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                citizen = services.do_sign_up(
                    phone, notice_version=form.cleaned_data["notice_version"], client_ip=client_ip_of(request)
                )
            except Conflict as exc:
                messages.error(request, str(exc.message))
                request.session.pop(VERIFIED_PHONE_KEY, None)
                return redirect("citizen_web:signin")
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = _error_status(exc)
            else:
                _sign_in(request, citizen, consent_version=form.cleaned_data["notice_version"])
                return redirect("citizen_web:signup_profile")
    context = {"form": form, "masked_phone": mask_mobile(phone), "signup": True, **_notice_context()}
    return render(request, "citizen_web/consent.html", context, status=status)


@require_http_methods(["GET", "POST"])
def consent(request: HttpRequest) -> HttpResponse:
    """A signed-in citizen accepts a new version of the privacy notice."""
    citizen = request.citizen  # type: ignore[attr-defined]
    if not citizen:
        return redirect("citizen_web:signin")
    if has_current_consent(request):  # (checked against the database before answering no)
        return redirect("citizen_web:home")
    form = ConsentForm(request.POST or None, initial={"notice_version": settings.PRIVACY_NOTICE_VERSION})
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                services.do_record_consent(
                    citizen, notice_version=form.cleaned_data["notice_version"], client_ip=client_ip_of(request)
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = _error_status(exc)
            else:
                store_snapshot(request, citizen, consent_version=form.cleaned_data["notice_version"])
                return redirect("citizen_web:home")
    return _private(
        render(request, "citizen_web/consent.html", {"form": form, "signup": False, **_notice_context()}, status=status)
    )


# Sign-out and deletion clear what this device kept: the service worker's copies of inbox and message
# pages (personal data) and the HTTP cache. citizen.js also asks the service worker to drop its page
# cache before the form is sent, for browsers that ignore Clear-Site-Data on plain HTTP.
CLEAR_SITE_DATA = '"cache", "storage"'


def _clear_device(response: HttpResponse) -> HttpResponse:
    response["Clear-Site-Data"] = CLEAR_SITE_DATA
    return response


@require_POST
def signout(request: HttpRequest) -> HttpResponse:
    request.session.flush()
    forget(request)
    return _clear_device(redirect("citizen_web:home"))


# --- profile --------------------------------------------------------------------------------


def _profile_initial(citizen: Citizen) -> dict[str, Any]:
    profile = selectors.profile_of(citizen)
    if profile is None:
        return {}
    return {
        "display_name": profile.display_name,
        "township": profile.township_id,
        "village": profile.village_id,
        "birth_year": profile.birth_year,
        "gender": profile.gender,
        "residency": profile.residency,
        "topics": mask_to_topics(profile.topics_mask),
    }


def _profile_form_view(request: HttpRequest, *, template: str, success_url: str, signup: bool) -> HttpResponse:
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    profile = selectors.profile_of(citizen)
    if request.method == "POST" and signup and "skip" in request.POST:
        return redirect(success_url)
    form = ProfileForm(request.POST or None, county_id=citizen.county_id, initial=_profile_initial(citizen))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            if data["remove_national_id"]:
                national_id: str | None = ""
            else:
                national_id = data["national_id"].strip() or None
            try:
                services.do_update_profile(
                    citizen,
                    display_name=data["display_name"],
                    township_id=data["township"],
                    village_id=data["village"],
                    birth_year=data["birth_year"],
                    gender=data["gender"],
                    topic_values=data["topics"],
                    residency=data["residency"],
                    national_id=national_id,
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
                status = _error_status(exc)
            else:
                if not signup:  # after sign-up the inbox itself is the confirmation
                    messages.success(request, _("Your profile was saved."))
                return redirect(success_url)
    context = {
        "form": form,
        "signup": signup,
        "national_id_masked": profile.national_id_masked if profile else "",
        "active_nav": "me",
    }
    return render(request, template, context, status=status)


@citizen_required
@require_http_methods(["GET", "POST"])
def signup_profile(request: HttpRequest) -> HttpResponse:
    return _profile_form_view(request, template="citizen_web/profile_form.html", success_url="/", signup=True)


@citizen_required
@require_http_methods(["GET", "POST"])
def me_edit(request: HttpRequest) -> HttpResponse:
    return _profile_form_view(request, template="citizen_web/profile_form.html", success_url="/me/", signup=False)


@citizen_required
@require_GET
def me(request: HttpRequest) -> HttpResponse:
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    profile = selectors.profile_of(citizen)
    topics = [Topic(t).label for t in mask_to_topics(profile.topics_mask)] if profile else []
    context = {
        "phone": display_mobile(citizen.phone_e164 or ""),
        "profile": profile,
        "topics": topics,
        "active_nav": "me",
    }
    return render(request, "citizen_web/me.html", context)


@require_GET
def villages_json(request: HttpRequest) -> JsonResponse:
    """Villages valid today in one township (public reference data), for the profile form's script."""
    try:
        township_id = int(request.GET.get("township", ""))
    except ValueError:
        return JsonResponse({"villages": []})
    villages = selectors.villages_valid_on(township_id)
    return JsonResponse({"villages": [{"id": v.pk, "name": v.name} for v in villages]})


@citizen_required
@require_GET
def export_json(request: HttpRequest) -> HttpResponse:
    data = services.export_personal_data(request.citizen)  # type: ignore[attr-defined]
    body = json.dumps(data, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    filename = f"civicpush-my-data-{timezone.localdate():%Y%m%d}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@citizen_required
@require_http_methods(["GET", "POST"])
def delete_account(request: HttpRequest) -> HttpResponse:
    confirm_word = _("DELETE")
    error = ""
    status = 200
    if request.method == "POST":
        typed = request.POST.get("confirm", "").strip()
        if typed in {confirm_word, "DELETE"}:
            services.do_delete_account(request.citizen)  # type: ignore[attr-defined]
            request.session.flush()
            forget(request)
            return _clear_device(redirect("citizen_web:goodbye"))
        error = _("Type %(word)s to confirm.") % {"word": confirm_word}
        status = 400
    context = {"confirm_word": confirm_word, "error": error, "active_nav": "me"}
    return render(request, "citizen_web/delete.html", context, status=status)


@require_GET
def goodbye(request: HttpRequest) -> HttpResponse:
    return render(request, "citizen_web/goodbye.html")


@require_GET
def privacy(request: HttpRequest) -> HttpResponse:
    return render(request, "citizen_web/privacy.html", _notice_context())


@require_GET
def dev_otp(request: HttpRequest) -> HttpResponse:
    """Development only: the codes the demo SMS backend 'sent'."""
    if not settings.DEMO_MODE:
        raise Http404
    return _private(render(request, "citizen_web/dev_otp.html", {"sms_messages": selectors.latest_demo_sms()}))


# --- PWA ------------------------------------------------------------------------------------

PRECACHED_STATIC = [
    "civicpush/base.css",
    "citizen_web/citizen.css",
    "citizen_web/citizen.js",
    "citizen_web/icons/icon-192.png",
    "citizen_web/icons/icon-512.png",
]


@lru_cache(maxsize=1)
def _cache_version() -> str:
    """Changes whenever the service worker or a precached file changes, so old caches are dropped."""
    digest = hashlib.sha256()
    sw_template = Path(__file__).resolve().parent / "templates" / "citizen_web" / "sw.js"
    for path in [str(sw_template), *(finders.find(name) or "" for name in PRECACHED_STATIC)]:
        if path:
            digest.update(Path(path).read_bytes())
    return digest.hexdigest()[:12]


@require_GET
def manifest(request: HttpRequest) -> HttpResponse:
    with translation.override("zh-hant"):
        data = {
            "name": _("CivicPush citizen services"),
            "short_name": _("CivicPush"),
            "description": _("Messages, quizzes and events from your county government."),
            "start_url": "/",
            "scope": "/",
            "id": "/",
            "display": "standalone",
            "orientation": "portrait",
            "theme_color": "#0b5cad",
            "background_color": "#ffffff",
            "lang": "zh-Hant",
            "icons": [
                {"src": static("citizen_web/icons/icon-192.png"), "sizes": "192x192", "type": "image/png"},
                {"src": static("citizen_web/icons/icon-512.png"), "sizes": "512x512", "type": "image/png"},
                {
                    "src": static("citizen_web/icons/icon-maskable-512.png"),
                    "sizes": "512x512",
                    "type": "image/png",
                    "purpose": "maskable",
                },
            ],
        }
    return HttpResponse(json.dumps(data, ensure_ascii=False), content_type="application/manifest+json")


@require_GET
def service_worker(request: HttpRequest) -> HttpResponse:
    body = render_to_string(
        "citizen_web/sw.js",
        {
            "cache_version": _cache_version(),
            "precache_urls": json.dumps(["/offline/", *(static(name) for name in PRECACHED_STATIC)]),
            "static_prefix": settings.STATIC_URL,
            "media_prefix": settings.MEDIA_URL,
        },
    )
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    response["Cache-Control"] = "no-cache"
    return response


@require_GET
def offline(request: HttpRequest) -> HttpResponse:
    return render(request, "citizen_web/offline.html")
