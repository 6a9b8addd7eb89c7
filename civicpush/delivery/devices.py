"""Citizens' devices and channel preferences: services (every write) and selectors (reads).

A device is one place a citizen receives notifications: a browser's Web Push subscription (endpoint
plus its P-256 key and auth secret), or an FCM / APNs token registered by the Android / iPhone app.

Ownership: an endpoint or token belongs to one citizen, the latest to register it. `address_hash`
(sha256 of "kind:address") is unique, so registering an address that another citizen holds moves
the row to the new citizen (a shared phone, a browser signed into another account), and
registering a removed one re-activates it. Devices are never deleted: removal sets `removed_at`
(the fan-out's outcome rows keep pointing at them), erasure scrubs them.

Removal: by the citizen (settings), by the fan-out when the provider says the device no longer
exists (`remove_gone_device`, on `Verdict.GONE`), and when a citizen exceeds MAX_ACTIVE_DEVICES
(the least recently seen goes).

Last seen: the app reports "this device is in use" at most every few hours (citizen.js keeps the
time in localStorage; native apps re-register on start), and the write is one conditional UPDATE
that only touches a row last seen more than TOUCH_INTERVAL ago, so using the app costs no write on
ordinary requests.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hashlib
import re
import secrets
from typing import Any
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric import ec
from django.conf import settings
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen
from civicpush.core.audit import log_action
from civicpush.core.errors import NotFound, ValidationFailed

from .models import ChannelPreference, Device, DeviceKind

MAX_ENDPOINT_LENGTH = 2048
MAX_TOKEN_LENGTH = 4096
MAX_LABEL_LENGTH = 120
MAX_ACTIVE_DEVICES = 10
TOUCH_INTERVAL = datetime.timedelta(hours=1)
REMOVED_BY_CITIZEN = "removed by the citizen"
REPLACED = "replaced by a newer device"
ERASED = "account deleted"

# Push services browsers use (RFC 8030 endpoints). Only these receive our POSTs, so a forged
# "subscription" cannot make the server call an arbitrary host (SSRF). Entries starting with "."
# match subdomains; "*" allows every https host (settings.WEBPUSH_ALLOWED_HOSTS).
DEFAULT_WEBPUSH_HOSTS = (
    "fcm.googleapis.com",  # Chrome, Edge on Android, Samsung Internet, Opera, Brave
    "android.googleapis.com",
    ".push.services.mozilla.com",  # Firefox
    "web.push.apple.com",  # Safari (macOS, iOS home-screen apps)
    ".notify.windows.com",  # Edge on Windows
)

_FCM_TOKEN_RE = re.compile(r"^[A-Za-z0-9_:\-.]+$")
_APNS_TOKEN_RE = re.compile(r"^[0-9a-f]{64,200}$")


def address_hash(kind: str, address: str) -> str:
    return hashlib.sha256(f"{kind}:{address}".encode()).hexdigest()


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, field_errors={field: [message]})


def _b64url_decode(value: str) -> bytes:
    value = value.strip()
    if not re.fullmatch(r"[A-Za-z0-9_\-+/]*={0,2}", value):
        raise ValueError("not base64url")
    value = value.replace("+", "-").replace("/", "_").rstrip("=")
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def _allowed_webpush_host(host: str) -> bool:
    allowed = getattr(settings, "WEBPUSH_ALLOWED_HOSTS", None) or DEFAULT_WEBPUSH_HOSTS
    for entry in allowed:
        entry = entry.strip().lower()
        if entry == "*":
            return True
        if entry.startswith(".") and (host.endswith(entry) or host == entry[1:]):
            return True
        if host == entry:
            return True
    return False


def validate_web_push(endpoint: str, p256dh: str, auth: str) -> tuple[str, str, str]:
    """Check a browser's PushSubscription: an https endpoint of a known push service, a P-256
    public key (65 bytes, uncompressed point on the curve) and a 16-byte auth secret."""
    endpoint = (endpoint or "").strip()
    errors: dict[str, list[Any]] = {}
    parts = urlsplit(endpoint) if len(endpoint) <= MAX_ENDPOINT_LENGTH else None
    if (
        parts is None
        or parts.scheme != "https"
        or not parts.hostname
        or parts.username
        or parts.password
        or not _allowed_webpush_host(parts.hostname.lower())
    ):
        errors["endpoint"] = [_("This is not the address of a known push service.")]
    try:
        key = _b64url_decode(p256dh or "")
        if len(key) != 65 or key[0] != 4:
            raise ValueError("not an uncompressed P-256 point")
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
    except (ValueError, binascii.Error):
        errors["p256dh"] = [_("The subscription's public key is not valid.")]
    try:
        if len(_b64url_decode(auth or "")) != 16:
            raise ValueError("auth secret is not 16 bytes")
    except (ValueError, binascii.Error):
        errors["auth"] = [_("The subscription's auth secret is not valid.")]
    if errors:
        first = next(iter(errors.values()))[0]
        raise ValidationFailed(first, field_errors=errors)
    return endpoint, p256dh.strip().rstrip("="), auth.strip().rstrip("=")


def validate_token(kind: str, token: str) -> str:
    """An FCM registration token (printable, ≤ 4,096) or an APNs device token (hex, 32–100 bytes)."""
    token = (token or "").strip()
    if kind == DeviceKind.FCM:
        if not token or len(token) > MAX_TOKEN_LENGTH or not _FCM_TOKEN_RE.match(token):
            raise _fail("token", _("This is not a valid app registration token."))
        return token
    if kind == DeviceKind.APNS:
        token = token.lower()
        if not _APNS_TOKEN_RE.match(token) or len(token) % 2:
            raise _fail("token", _("This is not a valid app registration token."))
        return token
    raise _fail("kind", _("Choose Android (fcm) or iPhone (apns)."))


def _channel_configured(kind: str) -> bool:
    if kind == DeviceKind.FCM:
        from .providers.fcm import is_configured as fcm_configured

        return fcm_configured()
    if kind == DeviceKind.APNS:
        from .providers.apns import is_configured as apns_configured

        return apns_configured()
    return True


_BROWSERS = (("Edg/", "Edge"), ("SamsungBrowser", "Samsung Internet"), ("OPR/", "Opera"), ("Firefox", "Firefox"))
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("Mac OS X", "Mac"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
)


def label_from_user_agent(user_agent: str) -> str:
    """A short, recognisable name for a browser ("Chrome · Android"), from its User-Agent."""
    ua = user_agent or ""
    browser = next((name for marker, name in _BROWSERS if marker in ua), "")
    if not browser:
        if "Chrome/" in ua or "CriOS" in ua:
            browser = "Chrome"
        elif "Safari/" in ua:
            browser = "Safari"
    system = next((name for marker, name in _SYSTEMS if marker in ua), "")
    return " · ".join(p for p in (browser, system) if p)[:MAX_LABEL_LENGTH]


# --- services ---------------------------------------------------------------------------------------


def do_register_web_push(
    citizen: Citizen,
    *,
    endpoint: str,
    p256dh: str,
    auth: str,
    label: str = "",
    now: datetime.datetime | None = None,
) -> Device:
    """Register (or refresh) this browser's Web Push subscription for the citizen."""
    endpoint, p256dh, auth = validate_web_push(endpoint, p256dh, auth)
    return _register(citizen, DeviceKind.WEB_PUSH, endpoint, p256dh=p256dh, auth=auth, label=label, now=now)


def do_register_token(
    citizen: Citizen, *, kind: str, token: str, label: str = "", now: datetime.datetime | None = None
) -> Device:
    """Register (or refresh) a native app's FCM or APNs token for the citizen. Apps call this when
    they start (tokens change), which also keeps the device's last-seen time."""
    token = validate_token(kind, token)
    if not _channel_configured(kind):
        raise _fail("kind", _("This service does not send notifications to this kind of app yet."))
    return _register(citizen, kind, token, label=label, now=now)


def _register(
    citizen: Citizen,
    kind: str,
    address: str,
    *,
    p256dh: str = "",
    auth: str = "",
    label: str = "",
    now: datetime.datetime | None = None,
) -> Device:
    now = now or timezone.now()
    digest = address_hash(kind, address)
    label = " ".join((label or "").split())[:MAX_LABEL_LENGTH]
    try:
        with transaction.atomic():
            return _register_locked(citizen, kind, address, digest, p256dh, auth, label, now)
    except IntegrityError:  # a concurrent first registration of the same address won: update that row
        with transaction.atomic():
            return _register_locked(citizen, kind, address, digest, p256dh, auth, label, now)


def _register_locked(
    citizen: Citizen,
    kind: str,
    address: str,
    digest: str,
    p256dh: str,
    auth: str,
    label: str,
    now: datetime.datetime,
) -> Device:
    device = Device.objects.select_for_update().filter(address_hash=digest).first()
    if device is None:
        device = Device.objects.create(
            citizen=citizen,
            kind=kind,
            address=address,
            address_hash=digest,
            p256dh=p256dh,
            auth=auth,
            label=label,
            last_seen_at=now,
        )
        event, previous_owner = "registered", None
    else:
        previous_owner = device.citizen_id if device.citizen_id != citizen.pk else None
        reactivated = device.removed_at is not None
        changed = previous_owner is not None or reactivated or device.p256dh != p256dh or device.auth != auth
        device.citizen = citizen
        device.p256dh, device.auth = p256dh, auth
        if label:
            device.label = label
        device.last_seen_at = now
        device.removed_at, device.removed_reason = None, ""
        device.save(
            update_fields=["citizen", "p256dh", "auth", "label", "last_seen_at", "removed_at", "removed_reason"]
        )
        if not changed:
            return device  # the app's routine re-registration: no audit entry, no cap check
        event = "moved" if previous_owner is not None else "reactivated" if reactivated else "renewed"
    log_action(
        f"delivery.device.{event}",
        actor="citizen",
        obj=device,
        county_id=citizen.county_id,
        data={"kind": kind, "citizen": citizen.pk, **({"from_citizen": previous_owner} if previous_owner else {})},
    )
    _enforce_device_cap(citizen, keep=device, now=now)
    return device


def _enforce_device_cap(citizen: Citizen, *, keep: Device, now: datetime.datetime) -> None:
    active = list(
        Device.objects.filter(citizen=citizen, removed_at__isnull=True)
        .exclude(pk=keep.pk)
        .order_by("-last_seen_at", "-created_at")
        .values_list("pk", flat=True)
    )
    surplus = active[MAX_ACTIVE_DEVICES - 1 :]
    if surplus:
        Device.objects.filter(pk__in=surplus).update(removed_at=now, removed_reason=REPLACED)


def do_remove_device(citizen: Citizen, device_id: int, *, now: datetime.datetime | None = None) -> Device:
    """The citizen removes one of their devices (it stops receiving notifications)."""
    with transaction.atomic():
        device = (
            Device.objects.select_for_update().filter(pk=device_id, citizen=citizen, removed_at__isnull=True).first()
        )
        if device is None:
            raise NotFound(_("This device is not in your list."))
        device.removed_at = now or timezone.now()
        device.removed_reason = REMOVED_BY_CITIZEN
        device.save(update_fields=["removed_at", "removed_reason"])
        log_action(
            "delivery.device.removed",
            actor="citizen",
            obj=device,
            county_id=citizen.county_id,
            data={"kind": device.kind, "citizen": citizen.pk},
        )
    return device


def do_remove_device_by_address(citizen: Citizen, *, kind: str, address: str) -> bool:
    """The citizen signs out on this browser: its subscription stops being theirs. True if removed."""
    device = (
        Device.objects.filter(
            address_hash=address_hash(kind, address.strip()), citizen=citizen, removed_at__isnull=True
        )
        .only("pk")
        .first()
    )
    if device is None:
        return False
    do_remove_device(citizen, device.pk)
    return True


def remove_gone_device(device_id: int, reason: str, *, now: datetime.datetime | None = None) -> bool:
    """The fan-out's call on `Verdict.GONE` (Web Push 404/410, FCM UNREGISTERED/SENDER_ID_MISMATCH,
    APNs Unregistered/BadDeviceToken/DeviceTokenNotForTopic): the device no longer exists. One
    UPDATE, idempotent; True when this call removed it."""
    return bool(
        Device.objects.filter(pk=device_id, removed_at__isnull=True).update(
            removed_at=now or timezone.now(), removed_reason=(reason or "gone")[:64]
        )
    )


def touch_device(citizen: Citizen, *, kind: str, address: str, now: datetime.datetime | None = None) -> bool:
    """The app is in use on this device: keep its last-seen time (at most one write per
    TOUCH_INTERVAL). Returns whether the device is registered to the citizen and active — when it
    is not, the app registers it again."""
    now = now or timezone.now()
    mine = Device.objects.filter(
        address_hash=address_hash(kind, (address or "").strip()), citizen=citizen, removed_at__isnull=True
    )
    stale = Q(last_seen_at__isnull=True) | Q(last_seen_at__lt=now - TOUCH_INTERVAL)
    if mine.filter(stale).update(last_seen_at=now):
        return True
    return mine.exists()


def do_set_channel_preferences(
    citizen: Citizen,
    *,
    app_enabled: bool,
    sms_enabled: bool,
    email_enabled: bool,
    email: str = "",
) -> ChannelPreference:
    """How personal and case notices reach the citizen besides the inbox."""
    email = (email or "").strip()
    if email:
        try:
            validate_email(email)
        except Exception:  # django.core.exceptions.ValidationError
            raise _fail("email", _("Enter a valid e-mail address.")) from None
        if len(email) > 254:
            raise _fail("email", _("Enter a valid e-mail address."))
    if email_enabled and not email:
        raise _fail("email", _("Enter the e-mail address notices should go to."))
    with transaction.atomic():
        pref, _created = ChannelPreference.objects.select_for_update().get_or_create(citizen=citizen)
        before = _preference_dict(pref)
        pref.app_enabled, pref.sms_enabled, pref.email_enabled, pref.email = (
            bool(app_enabled),
            bool(sms_enabled),
            bool(email_enabled),
            email,
        )
        pref.save()
        after = _preference_dict(pref)
        if before != after:
            log_action(
                "delivery.channels.changed",
                actor="citizen",
                obj=pref,
                county_id=citizen.county_id,
                before={k: v for k, v in before.items() if k != "email"} | {"email_set": bool(before["email"])},
                after={k: v for k, v in after.items() if k != "email"} | {"email_set": bool(after["email"])},
            )
    return pref


def _preference_dict(pref: ChannelPreference) -> dict[str, Any]:
    return {
        "app_enabled": pref.app_enabled,
        "sms_enabled": pref.sms_enabled,
        "email_enabled": pref.email_enabled,
        "email": pref.email,
    }


# --- selectors ------------------------------------------------------------------------------------


def active_devices(citizen: Citizen | int) -> QuerySet[Device]:
    citizen_id = citizen if isinstance(citizen, int) else citizen.pk
    return Device.objects.filter(citizen_id=citizen_id, removed_at__isnull=True)


def devices_of(citizen: Citizen) -> list[Device]:
    """The citizen's active devices for the settings page, most recently used first."""
    return list(
        active_devices(citizen)
        .only("id", "kind", "label", "created_at", "last_seen_at", "address_hash", "citizen_id")
        .order_by("-last_seen_at", "-created_at")
    )


def has_active_device_q(citizen_field: str = "citizen_id") -> Exists:
    """EXISTS(an active device of the row's citizen), for querysets keyed by a citizen id."""
    return Exists(Device.objects.filter(citizen_id=OuterRef(citizen_field), removed_at__isnull=True))


def preferences_of(citizen: Citizen | int) -> ChannelPreference:
    """The citizen's channel preferences (the defaults, unsaved, when they never chose)."""
    citizen_id = citizen if isinstance(citizen, int) else citizen.pk
    pref = ChannelPreference.objects.filter(citizen_id=citizen_id).first()
    return pref if pref is not None else ChannelPreference(citizen_id=citizen_id)


# --- personal data (個資法): export and erasure ------------------------------------------------------------


def export_delivery_data(citizen: Any) -> dict[str, Any]:
    devices = Device.objects.filter(citizen_id=citizen.pk).order_by("created_at", "pk")
    pref = ChannelPreference.objects.filter(citizen_id=citizen.pk).first()
    return {
        "devices": [
            {
                "kind": d.kind,
                "label": d.label,
                "address": d.address,
                "registered_at": d.created_at.isoformat(),
                "last_seen_at": d.last_seen_at.isoformat() if d.last_seen_at else None,
                "removed_at": d.removed_at.isoformat() if d.removed_at else None,
                "removed_reason": d.removed_reason or None,
            }
            for d in devices
        ],
        "channel_preferences": _preference_dict(pref) if pref is not None else None,
    }


def erase_delivery_data(citizen: Any) -> None:
    """Scrub every device (address, keys, label) and delete the channel preferences. Device rows stay,
    removed and anonymous, so the fan-out's outcome records keep their (dispatch, device) keys."""
    now = timezone.now()
    for device in Device.objects.filter(citizen_id=citizen.pk).only("pk", "removed_at"):
        Device.objects.filter(pk=device.pk).update(
            address="",
            address_hash=address_hash("erased", f"{device.pk}:{secrets.token_hex(16)}"),
            p256dh="",
            auth="",
            label="",
            last_seen_at=None,
            removed_at=device.removed_at or now,
            removed_reason=ERASED,
        )
    ChannelPreference.objects.filter(citizen_id=citizen.pk).delete()
