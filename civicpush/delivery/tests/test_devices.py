"""Devices: registration (validated), one owner per endpoint or token, removal, last seen, the
has_app segment, and the personal-data export and erasure."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from civicpush.audiences.segments import citizens_matching, validate_filters
from civicpush.audiences.tests.factories import make_citizen
from civicpush.core.errors import NotFound, ValidationFailed
from civicpush.core.models import AuditEntry
from civicpush.core.personal_data import erase_all, export_all
from civicpush.delivery import devices
from civicpush.delivery.models import ChannelPreference, DeliveryOutcome, Device, DeviceKind

from .deledge_helpers import APNS_TOKEN, citizen, subscription, web_push_device

pytestmark = pytest.mark.django_db


def register(who: Any, sub: dict[str, Any], **extra: Any) -> Device:
    return devices.do_register_web_push(
        who, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"], **extra
    )


def test_a_web_push_subscription_is_registered_with_its_keys_and_hash() -> None:
    alice = citizen()
    sub = subscription()
    device = register(alice, sub, label="Chrome · Android")
    assert device.kind == DeviceKind.WEB_PUSH and device.citizen_id == alice.pk
    assert device.address == sub["endpoint"]
    assert device.address_hash == devices.address_hash("webpush", sub["endpoint"])
    assert (device.p256dh, device.auth) == (sub["keys"]["p256dh"], sub["keys"]["auth"])
    assert device.last_seen_at is not None and device.is_active


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"endpoint": "http://fcm.googleapis.com/fcm/send/abc"}, "endpoint"),  # not https
        ({"endpoint": "https://evil.example/collect"}, "endpoint"),  # not a push service (SSRF)
        ({"endpoint": "https://user:pw@fcm.googleapis.com/x"}, "endpoint"),
        ({"endpoint": "https://fcm.googleapis.com/" + "a" * 3000}, "endpoint"),
        ({"p256dh": "AAAA"}, "p256dh"),  # too short
        ({"p256dh": "B" + "A" * 86}, "p256dh"),  # 65 bytes, not a point on P-256
        ({"p256dh": "not base64!"}, "p256dh"),
        ({"auth": "AAAAAAAA"}, "auth"),  # 6 bytes, not 16
    ],
)
def test_invalid_subscriptions_are_refused_with_a_field_error(change: dict[str, str], field: str) -> None:
    sub = subscription()
    values = {"endpoint": sub["endpoint"], "p256dh": sub["keys"]["p256dh"], "auth": sub["keys"]["auth"], **change}
    with pytest.raises(ValidationFailed) as exc:
        devices.do_register_web_push(citizen(), **values)
    assert field in exc.value.field_errors
    assert not Device.objects.exists()


def test_push_services_of_every_major_browser_are_accepted() -> None:
    who = citizen()
    for host in (
        "fcm.googleapis.com",
        "updates.push.services.mozilla.com",
        "web.push.apple.com",
        "wns2-par02p.notify.windows.com",
    ):
        register(who, subscription(host))
    assert devices.active_devices(who).count() == 4


def test_re_registering_by_another_citizen_moves_the_endpoint_to_them() -> None:
    alice, bob = citizen(), citizen()
    sub = subscription()
    first = register(alice, sub)
    moved = register(bob, sub)
    assert moved.pk == first.pk  # one row per endpoint
    assert Device.objects.get(pk=first.pk).citizen_id == bob.pk
    assert not devices.active_devices(alice).exists()
    entry = AuditEntry.objects.filter(action="delivery.device.moved").get()
    assert entry.data["from_citizen"] == alice.pk and entry.data["citizen"] == bob.pk


def test_re_registering_a_removed_device_reactivates_it_and_routine_refreshes_are_not_audited() -> None:
    alice = citizen()
    sub = subscription()
    device = register(alice, sub)
    register(alice, sub)  # the app's routine re-registration
    assert AuditEntry.objects.filter(action__startswith="delivery.device.").count() == 1
    devices.do_remove_device(alice, device.pk)
    again = register(alice, sub)
    assert again.pk == device.pk and again.is_active and again.removed_reason == ""
    assert AuditEntry.objects.filter(action="delivery.device.reactivated").exists()


def test_a_citizen_removes_only_their_own_devices() -> None:
    alice, bob = citizen(), citizen()
    device = web_push_device(alice)
    with pytest.raises(NotFound):
        devices.do_remove_device(bob, device.pk)
    removed = devices.do_remove_device(alice, device.pk)
    assert removed.removed_at is not None and removed.removed_reason == devices.REMOVED_BY_CITIZEN
    with pytest.raises(NotFound):  # already removed
        devices.do_remove_device(alice, device.pk)


def test_the_fan_out_removes_a_gone_device_once() -> None:
    device = web_push_device(citizen())
    assert devices.remove_gone_device(device.pk, "410 Gone") is True
    assert devices.remove_gone_device(device.pk, "410 Gone") is False  # idempotent
    device.refresh_from_db()
    assert device.removed_reason == "410 Gone" and not device.is_active


def test_last_seen_is_written_at_most_once_per_interval() -> None:
    alice = citizen()
    sub = subscription()
    device = register(alice, sub)
    start = device.last_seen_at
    assert start is not None
    soon = start + datetime.timedelta(minutes=10)
    assert devices.touch_device(alice, kind="webpush", address=sub["endpoint"], now=soon) is True
    device.refresh_from_db()
    assert device.last_seen_at == start  # within the interval: no write
    later = start + devices.TOUCH_INTERVAL + datetime.timedelta(minutes=1)
    assert devices.touch_device(alice, kind="webpush", address=sub["endpoint"], now=later) is True
    device.refresh_from_db()
    assert device.last_seen_at == later
    # Another citizen's or an unknown endpoint: not theirs, so the app registers it again.
    assert devices.touch_device(citizen(), kind="webpush", address=sub["endpoint"], now=later) is False
    assert devices.touch_device(alice, kind="webpush", address="https://fcm.googleapis.com/other") is False


def test_a_citizen_keeps_at_most_ten_active_devices_the_least_recently_seen_go() -> None:
    alice = citizen()
    base = timezone.now() - datetime.timedelta(days=30)
    first = [web_push_device(alice, now=base + datetime.timedelta(days=i)) for i in range(devices.MAX_ACTIVE_DEVICES)]
    newest = web_push_device(alice)
    active = set(devices.active_devices(alice).values_list("pk", flat=True))
    assert len(active) == devices.MAX_ACTIVE_DEVICES
    assert newest.pk in active and first[0].pk not in active
    assert Device.objects.get(pk=first[0].pk).removed_reason == devices.REPLACED


def test_app_tokens_are_validated_and_refused_while_the_channel_is_not_configured(settings: Any) -> None:
    alice = citizen()
    with pytest.raises(ValidationFailed) as exc:
        devices.do_register_token(alice, kind="fcm", token="fcm-token-1")
    assert "kind" in exc.value.field_errors  # FCM_SERVICE_ACCOUNT is empty in the test settings
    settings.FCM_SERVICE_ACCOUNT = '{"client_email": "x", "private_key": "y"}'
    settings.APNS_KEY = "-----BEGIN PRIVATE KEY-----"
    fcm = devices.do_register_token(alice, kind="fcm", token="dGVzdA:APA91b-token_1.x", label="Pixel 8")
    apns = devices.do_register_token(alice, kind="apns", token=APNS_TOKEN.upper())
    assert (fcm.kind, fcm.label) == ("fcm", "Pixel 8")
    assert apns.address == APNS_TOKEN  # hex, lower case
    for kind, token in (("fcm", "has spaces"), ("fcm", ""), ("apns", "xyz"), ("apns", "ab" * 10), ("other", "t")):
        with pytest.raises(ValidationFailed):
            devices.do_register_token(alice, kind=kind, token=token)


def test_labels_from_user_agents() -> None:
    android = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
    iphone = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0"
    assert devices.label_from_user_agent(android) == "Chrome · Android"
    assert devices.label_from_user_agent(iphone) == "Safari · iPhone"
    assert devices.label_from_user_agent(firefox) == "Firefox · Windows"
    assert devices.label_from_user_agent("") == ""


def test_has_app_means_an_active_device() -> None:
    with_device, removed, without = make_citizen(), make_citizen(), make_citizen()
    web_push_device(with_device)
    gone = web_push_device(removed)
    devices.remove_gone_device(gone.pk, "410")
    matching = set(citizens_matching(validate_filters({"has_app": True})))
    assert matching == {with_device.pk}
    assert set(citizens_matching(validate_filters({"has_app": False}))) == {removed.pk, without.pk}


def test_devices_and_preferences_are_exported_and_erased() -> None:
    alice = citizen()
    sub = subscription()
    device = register(alice, sub, label="Firefox · Windows")
    devices.do_set_channel_preferences(
        alice, app_enabled=True, sms_enabled=False, email_enabled=True, email="alice@example.tw"
    )
    data = export_all(alice)["delivery"]
    assert data["devices"][0]["address"] == sub["endpoint"] and data["devices"][0]["label"] == "Firefox · Windows"
    assert data["channel_preferences"]["email"] == "alice@example.tw"

    erase_all(alice)
    device.refresh_from_db()
    assert (device.address, device.p256dh, device.auth, device.label) == ("", "", "", "")
    assert not device.is_active and device.removed_reason == devices.ERASED
    assert not ChannelPreference.objects.filter(citizen=alice).exists()
    # The same browser can be registered again by someone else (the scrubbed row no longer holds it).
    bob = citizen()
    assert register(bob, sub).pk != device.pk
    assert DeliveryOutcome.objects.count() == 0
