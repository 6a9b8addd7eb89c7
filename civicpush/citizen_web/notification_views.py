"""Notification settings in the citizen app: this browser's Web Push opt-in, the citizen's devices
(see and remove), and how personal notices reach them (channel preferences); the tap on a
notification.

The browser side is citizen.js: it asks for permission, subscribes with the server's VAPID public key
(`push_key`) and POSTs the subscription as JSON to `webpush_subscribe` with the CSRF token in
`X-CSRFToken` (Django's CSRF middleware checks it as for any form). It also reports, at most every
few hours, that this browser's subscription is in use (`webpush_seen`: the device's last-seen time),
and withdraws it on sign-out (`webpush_unsubscribe`), so a shared browser stops showing the
previous citizen's notices. Every write is a service call in civicpush.delivery.devices.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.citizens.middleware import has_current_consent
from civicpush.citizens.models import Citizen
from civicpush.core.errors import DomainError, NotFound
from civicpush.delivery import devices
from civicpush.delivery.forms import ChannelPreferenceForm
from civicpush.delivery.models import DeviceKind
from civicpush.pushes import services as push_services

from .forms import apply_domain_error
from .inbox_views import _push_in_county
from .views import _private, citizen_required

MAX_JSON_BYTES = 8 * 1024


@citizen_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    pref = devices.preferences_of(citizen)
    form = ChannelPreferenceForm(request.POST or None, initial=ChannelPreferenceForm.initial_from(pref))
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                devices.do_set_channel_preferences(
                    citizen,
                    app_enabled=data["app_enabled"],
                    sms_enabled=data["sms_enabled"],
                    email_enabled=data["email_enabled"],
                    email=data["email"],
                )
            except DomainError as exc:
                apply_domain_error(form, exc)
            else:
                messages.success(request, _("Your notification settings were saved."))
                return redirect("citizen_web:notifications")
    context = {
        "form": form,
        "devices": devices.devices_of(citizen),
        "has_phone": bool(citizen.phone_e164),
        "active_nav": "me",
    }
    return render(request, "citizen_web/notifications.html", context, status=status)


@citizen_required
@require_POST
def device_remove(request: HttpRequest, device_id: int) -> HttpResponse:
    try:
        devices.do_remove_device(request.citizen, device_id)  # type: ignore[attr-defined]
    except NotFound:
        raise Http404 from None
    messages.success(request, _("The device was removed. It no longer receives notifications."))
    return redirect("citizen_web:notifications")


# --- JSON endpoints for citizen.js ------------------------------------------------------------------

JsonView = Callable[[HttpRequest, Citizen, dict[str, Any]], JsonResponse]


def citizen_json(view: JsonView) -> Callable[[HttpRequest], HttpResponse]:
    """POST with a JSON object body, by a signed-in citizen (401 otherwise); CSRF is checked by the
    middleware (the X-CSRFToken header)."""

    @wraps(view)
    def wrapper(request: HttpRequest) -> HttpResponse:
        citizen = request.citizen  # type: ignore[attr-defined]
        if not citizen or not has_current_consent(request):
            return _private(JsonResponse({"error": _("Please sign in again.")}, status=401))
        if len(request.body) > MAX_JSON_BYTES:
            return _private(JsonResponse({"error": _("The request is too large.")}, status=413))
        try:
            data = json.loads(request.body or b"{}")
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return _private(JsonResponse({"error": _("The request is not valid JSON.")}, status=400))
        return _private(view(request, citizen, data))

    return require_POST(wrapper)


def _errors(exc: DomainError) -> JsonResponse:
    fields = {k: [str(m) for m in v] for k, v in exc.field_errors.items()}
    return JsonResponse({"error": str(exc.message), "errors": fields}, status=exc.status)


def _subscription(data: dict[str, Any]) -> tuple[str, str, str]:
    """PushSubscription.toJSON(): {"endpoint", "keys": {"p256dh", "auth"}}."""
    raw_keys = data.get("keys")
    keys: dict[str, Any] = raw_keys if isinstance(raw_keys, dict) else {}
    return str(data.get("endpoint") or ""), str(keys.get("p256dh") or ""), str(keys.get("auth") or "")


@citizen_json
def webpush_subscribe(request: HttpRequest, citizen: Citizen, data: dict[str, Any]) -> JsonResponse:
    endpoint, p256dh, auth = _subscription(data)
    try:
        device = devices.do_register_web_push(
            citizen,
            endpoint=endpoint,
            p256dh=p256dh,
            auth=auth,
            label=devices.label_from_user_agent(request.headers.get("User-Agent", "")),
        )
    except DomainError as exc:
        return _errors(exc)
    return JsonResponse({"device": device.pk, "address_hash": device.address_hash}, status=201)


@citizen_json
def webpush_seen(request: HttpRequest, citizen: Citizen, data: dict[str, Any]) -> JsonResponse:
    known = devices.touch_device(citizen, kind=DeviceKind.WEB_PUSH, address=str(data.get("endpoint") or ""))
    return JsonResponse({"known": known})


@citizen_json
def webpush_unsubscribe(request: HttpRequest, citizen: Citizen, data: dict[str, Any]) -> JsonResponse:
    removed = devices.do_remove_device_by_address(
        citizen, kind=DeviceKind.WEB_PUSH, address=str(data.get("endpoint") or "")
    )
    return JsonResponse({"removed": removed})


@require_GET
def push_key(request: HttpRequest) -> JsonResponse:
    """The VAPID public key (RFC 8292) browsers subscribe with: public, the same for everyone."""
    from civicpush.delivery.vapid import application_server_key

    response = JsonResponse({"applicationServerKey": application_server_key()})
    response["Cache-Control"] = "public, max-age=3600"
    return response


@citizen_required
@require_GET
def push_opened(request: HttpRequest, push_id: int) -> HttpResponse:
    """A tap on a notification (the service worker opens this): count the click, show the push."""
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    push = _push_in_county(citizen, push_id)
    try:
        push_services.do_record_click(citizen, push)
    except NotFound:
        raise Http404 from None
    return HttpResponseRedirect(reverse("citizen_web:message", args=[push.pk]))
