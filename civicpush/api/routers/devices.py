"""The citizen's own devices, for the native apps: register an FCM (Android) or APNs (iPhone) token,
list and remove devices. `/api/v1/me/devices…`

Authentication (decision): the **citizen's session**, the same one the citizen web app uses. The
native apps are shells around the citizen PWA: the citizen signs in inside the app's web view with
the one-time SMS code (there is no separate password or app token to leak or rotate), and the app
calls these endpoints with that web view's cookies — the `sessionid` cookie plus, for POST and
DELETE, the `csrftoken` cookie's value in the `X-CSRFToken` header (Django's CSRF check, as for
staff sessions). `GET /me/devices` sets the `csrftoken` cookie when the app has none yet. API keys
and staff sessions cannot use these endpoints: they act for units, never for a citizen.

Apps call `POST /me/devices` every time they start (and when the OS hands them a new token): the
call is idempotent, moves a token from another citizen to this one (the latest to register it owns
it), re-activates a removed one, and keeps the device's last-seen time. A token for a platform the
server does not send to (FCM or APNs not configured) is refused with 400 on `kind`.
"""

from __future__ import annotations

import datetime
from typing import Literal

from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.utils.translation import gettext_lazy
from ninja import Router, Schema
from ninja.responses import Status
from ninja.security import APIKeyCookie
from ninja.utils import check_csrf
from pydantic import Field

from civicpush.citizens.middleware import has_current_consent
from civicpush.citizens.models import Citizen
from civicpush.core.errors import DomainError
from civicpush.delivery import devices as device_services
from civicpush.delivery.models import Device

from ..problems import CsrfFailed, problem_responses


class CitizenNotSignedIn(DomainError):
    status = 401
    code = "not_authenticated"
    default_message = gettext_lazy("Sign in to the citizen app first; then call this with its session cookie.")


class CitizenSession(APIKeyCookie):
    """The citizen app's session cookie. Unsafe methods need the CSRF token (X-CSRFToken)."""

    param_name = settings.SESSION_COOKIE_NAME

    def _get_key(self, request: HttpRequest) -> str | None:
        citizen = getattr(request, "citizen", None)
        if not citizen or not has_current_consent(request):
            raise CitizenNotSignedIn()
        if self.csrf and not getattr(request, "_ninja_csrf_exempt", False) and check_csrf(request):
            raise CsrfFailed()
        return request.COOKIES.get(self.param_name)

    def authenticate(self, request: HttpRequest, key: str | None) -> Citizen | None:
        citizen = getattr(request, "citizen", None)
        if key is None or not citizen:
            return None
        return citizen  # type: ignore[no-any-return]


router = Router(tags=["citizen devices"], auth=CitizenSession(csrf=True))


class DeviceIn(Schema):
    kind: Literal["fcm", "apns"] = Field(..., description="`fcm` (Android) or `apns` (iPhone).")
    token: str = Field(
        ..., min_length=1, max_length=4096, description="The FCM registration token or APNs device token (hex)."
    )
    label: str = Field("", max_length=120, description="A name the citizen recognises, e.g. the phone model.")


class DeviceOut(Schema):
    id: int
    kind: str
    label: str
    registered_at: datetime.datetime
    last_seen_at: datetime.datetime | None


def _out(device: Device) -> DeviceOut:
    return DeviceOut(
        id=device.pk,
        kind=device.kind,
        label=device.label,
        registered_at=device.created_at,
        last_seen_at=device.last_seen_at,
    )


def _citizen(request: HttpRequest) -> Citizen:
    citizen = request.auth  # type: ignore[attr-defined]
    assert isinstance(citizen, Citizen)
    return citizen


@router.get("/me/devices", response={200: list[DeviceOut], **problem_responses(401)}, summary="My devices")
def list_devices(request: HttpRequest) -> list[DeviceOut]:
    """The signed-in citizen's active devices (web browsers and apps), most recently used first.
    Also sets the `csrftoken` cookie for the calls that change something."""
    get_token(request)
    return [_out(d) for d in device_services.devices_of(_citizen(request))]


@router.post(
    "/me/devices",
    response={201: DeviceOut, **problem_responses(400, 401, 403)},
    summary="Register this app's push token",
)
def register_device(request: HttpRequest, payload: DeviceIn) -> Status[DeviceOut]:
    """Registers (or refreshes) the app's FCM or APNs token for the signed-in citizen. Idempotent;
    call it whenever the app starts."""
    device = device_services.do_register_token(
        _citizen(request), kind=payload.kind, token=payload.token, label=payload.label
    )
    return Status(201, _out(device))


@router.delete(
    "/me/devices/{device_id}",
    response={204: None, **problem_responses(401, 403, 404)},
    summary="Remove a device",
)
def remove_device(request: HttpRequest, device_id: int) -> Status[None]:
    """The device stops receiving notifications. 404 when it is not one of the citizen's active devices."""
    device_services.do_remove_device(_citizen(request), device_id)
    return Status(204, None)
