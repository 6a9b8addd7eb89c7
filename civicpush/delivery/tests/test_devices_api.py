"""The native apps' device API (/api/v1/me/devices): the citizen's session with CSRF, register
(idempotent, moves a token), list, remove; staff and API keys cannot use it."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from civicpush.api.tests.conftest import issue_key
from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.delivery import devices
from civicpush.delivery.models import Device

from .deledge_helpers import APNS_TOKEN, citizen

pytestmark = pytest.mark.django_db
URL = "/api/v1/me/devices"


@pytest.fixture(autouse=True)
def channels_on(settings: Any) -> None:
    settings.FCM_SERVICE_ACCOUNT = '{"client_email": "x@example.iam.gserviceaccount.com", "private_key": "k"}'
    settings.APNS_KEY = "-----BEGIN PRIVATE KEY-----"


def app_client(who: Any) -> tuple[Client, str]:
    """The app's web-view cookies: the citizen's session, then the CSRF cookie from GET."""
    client = Client(enforce_csrf_checks=True)
    session = client.session
    session[CITIZEN_SESSION_KEY] = who.pk
    session.save()
    assert client.get(URL).status_code == 200
    return client, client.cookies["csrftoken"].value


def test_an_app_registers_its_token_idempotently_and_lists_it() -> None:
    alice = citizen()
    client, token = app_client(alice)
    body = {"kind": "fcm", "token": "dGVzdA:APA91b-token_1", "label": "Pixel 8"}
    first = client.post(URL, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert first.status_code == 201, first.content
    again = client.post(URL, body, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert again.json()["id"] == first.json()["id"]
    listed = client.get(URL).json()
    assert [(d["kind"], d["label"]) for d in listed] == [("fcm", "Pixel 8")]
    apns = client.post(
        URL, {"kind": "apns", "token": APNS_TOKEN}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert apns.status_code == 201 and devices.active_devices(alice).count() == 2


def test_a_token_moves_to_the_latest_citizen_and_can_be_removed() -> None:
    alice, bob = citizen(), citizen()
    body = {"kind": "apns", "token": APNS_TOKEN}
    a_client, a_token = app_client(alice)
    device_id = a_client.post(URL, body, content_type="application/json", HTTP_X_CSRFTOKEN=a_token).json()["id"]
    b_client, b_token = app_client(bob)
    assert b_client.post(URL, body, content_type="application/json", HTTP_X_CSRFTOKEN=b_token).json()["id"] == device_id
    assert Device.objects.get(pk=device_id).citizen_id == bob.pk
    assert a_client.delete(f"{URL}/{device_id}", HTTP_X_CSRFTOKEN=a_token).status_code == 404  # no longer Alice's
    assert b_client.delete(f"{URL}/{device_id}", HTTP_X_CSRFTOKEN=b_token).status_code == 204
    assert not devices.active_devices(bob).exists()


def test_errors_are_problem_json() -> None:
    client, token = app_client(citizen())
    no_csrf = client.post(URL, {"kind": "fcm", "token": "t"}, content_type="application/json")
    assert no_csrf.status_code == 403 and no_csrf.json()["code"] == "csrf_failed"
    bad = client.post(URL, {"kind": "apns", "token": "xyz"}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert bad.status_code == 400 and bad["Content-Type"] == "application/problem+json"
    assert "token" in bad.json()["errors"]
    wrong_kind = client.post(
        URL, {"kind": "webpush", "token": "t"}, content_type="application/json", HTTP_X_CSRFTOKEN=token
    )
    assert wrong_kind.status_code == 400 and "kind" in wrong_kind.json()["errors"]


def test_only_a_signed_in_citizen_may_call_it(org: Any) -> None:
    anonymous = Client().get(URL)
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "not_authenticated"
    key = issue_key(org, "investigation")
    assert Client().get(URL, **key.bearer).status_code == 401
    staff = Client()
    staff.force_login(org.user("prevention.drafter"))
    assert staff.get(URL).status_code == 401


def test_refused_while_the_platform_is_not_configured(settings: Any) -> None:
    settings.FCM_SERVICE_ACCOUNT = ""
    client, token = app_client(citizen())
    response = client.post(URL, {"kind": "fcm", "token": "t1"}, content_type="application/json", HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 400 and "kind" in response.json()["errors"]
