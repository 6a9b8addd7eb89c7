"""The citizen app's device endpoints: subscribe (JSON, CSRF-protected), last seen, unsubscribe on
sign-out, the VAPID key, removing a device in settings, and a tap on a notification."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from civicpush.citizen_web.tests.pushes import client_for
from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.delivery import devices
from civicpush.delivery.models import Device
from civicpush.delivery.notices import send_system_notice
from civicpush.pushes.models import PushClick, PushRead

from .deledge_helpers import citizen, subscription, web_push_device

pytestmark = pytest.mark.django_db
CHROME_ANDROID = (
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36"
)


def csrf_client_for(who: Any) -> tuple[Client, str]:
    """A browser-like client (CSRF enforced) signed in as `who`, and its CSRF token."""
    client = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=CHROME_ANDROID)
    session = client.session
    session[CITIZEN_SESSION_KEY] = who.pk
    session.save()
    client.get("/me/notifications/")  # the page sets the CSRF cookie
    return client, client.cookies["csrftoken"].value


def post_json(client: Client, url: str, data: Any, token: str | None) -> Any:
    headers = {"HTTP_X_CSRFTOKEN": token} if token else {}
    return client.post(url, json.dumps(data), content_type="application/json", **headers)


def test_the_browser_subscribes_with_a_csrf_token() -> None:
    alice = citizen()
    client, token = csrf_client_for(alice)
    sub = subscription()
    assert post_json(client, "/push/subscribe/", sub, None).status_code == 403  # no CSRF token
    response = post_json(client, "/push/subscribe/", sub, token)
    assert response.status_code == 201
    device = Device.objects.get(pk=response.json()["device"])
    assert device.citizen_id == alice.pk and device.label == "Chrome · Android"
    assert response.json()["address_hash"] == devices.address_hash("webpush", sub["endpoint"])


def test_a_bad_subscription_gets_field_errors_in_zh_hant() -> None:
    client, token = csrf_client_for(citizen())
    bad = {"endpoint": "https://evil.example/x", "keys": {"p256dh": "AAAA", "auth": ""}}
    response = post_json(client, "/push/subscribe/", bad, token)
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"endpoint", "p256dh", "auth"}
    assert errors["endpoint"] == ["這不是已知推播服務的網址。"]
    assert post_json(client, "/push/subscribe/", ["not", "an", "object"], token).status_code == 400
    assert not Device.objects.exists()


def test_json_endpoints_need_a_signed_in_citizen() -> None:
    client = Client()
    response = client.post("/push/subscribe/", json.dumps(subscription()), content_type="application/json")
    assert response.status_code == 401
    assert client.get("/push/subscribe/").status_code == 405


def test_seen_reports_whether_the_subscription_is_still_this_citizens() -> None:
    alice, bob = citizen(), citizen()
    client, token = csrf_client_for(alice)
    sub = subscription()
    post_json(client, "/push/subscribe/", sub, token)
    assert post_json(client, "/push/seen/", {"endpoint": sub["endpoint"]}, token).json() == {"known": True}
    devices.do_register_web_push(bob, endpoint=sub["endpoint"], p256dh=sub["keys"]["p256dh"], auth=sub["keys"]["auth"])
    assert post_json(client, "/push/seen/", {"endpoint": sub["endpoint"]}, token).json() == {"known": False}


def test_unsubscribing_on_sign_out_removes_this_browser_only() -> None:
    alice = citizen()
    other = web_push_device(alice)
    client, token = csrf_client_for(alice)
    sub = subscription()
    post_json(client, "/push/subscribe/", sub, token)
    assert post_json(client, "/push/unsubscribe/", {"endpoint": sub["endpoint"]}, token).json() == {"removed": True}
    assert list(devices.active_devices(alice)) == [other]


def test_the_vapid_key_is_public() -> None:
    from civicpush.delivery.vapid import application_server_key

    response = Client().get("/push/key.json")
    assert response.status_code == 200
    assert response.json() == {"applicationServerKey": application_server_key()}


def test_settings_list_the_devices_and_remove_one() -> None:
    alice, bob = citizen(), citizen()
    mine = web_push_device(alice, label="Chrome · Android")
    theirs = web_push_device(bob, label="Firefox · Windows")
    client = client_for(alice)
    html = client.get("/me/notifications/").content.decode()
    assert "Chrome · Android" in html and "Firefox · Windows" not in html
    assert f'data-device-hash="{mine.address_hash}"' in html
    assert client.post(f"/me/notifications/devices/{theirs.pk}/remove/").status_code == 404
    response = client.post(f"/me/notifications/devices/{mine.pk}/remove/")
    assert response.status_code == 302
    assert not devices.active_devices(alice).exists()
    assert "目前還沒有裝置會收到通知。" in client.get("/me/notifications/").content.decode()


def test_the_inbox_offers_notifications_after_sign_in() -> None:
    html = client_for(citizen()).get("/").content.decode()
    assert "data-push-banner" in html and "開啟通知" in html and "稍後再說" in html


def test_a_tap_on_a_notification_records_a_click_and_opens_the_push(org: Any) -> None:
    alice = citizen()
    push = send_system_notice(
        alice,
        unit=org.unit("prevention"),
        kind="case_event",
        reference="case:1:received",
        title="案件已受理",
        body="您的申請已受理。",
    )
    client = client_for(alice)
    response = client.get(f"/m/{push.pk}/opened/")
    assert response.status_code == 302 and response["Location"] == f"/m/{push.pk}/"
    assert PushClick.objects.filter(push=push, citizen=alice).count() == 1
    assert PushRead.objects.filter(push=push, citizen=alice).count() == 1
    assert client.get("/m/999999/opened/").status_code == 404


def test_the_service_worker_shows_pushes_and_opens_them() -> None:
    body = Client().get("/sw.js").content.decode()
    assert 'addEventListener("push"' in body and 'addEventListener("notificationclick"' in body
    assert '"/m/" + pushId + "/opened/"' in body
    assert "showNotification" in body
