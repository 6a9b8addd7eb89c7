"""Store app shell: staff sign-in with the same lock-out, a home with the coming 收款 card, sign-out."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client

from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.citizens.models import Citizen
from civicpush.core.models import AuditEntry

pytestmark = pytest.mark.django_db

PASSWORD = "demo-password-for-tests"
START = datetime.datetime(2026, 3, 2, 1, 0, tzinfo=datetime.UTC)


def _sign_in(client: Client, username: str, password: str = PASSWORD):
    return client.post("/store/login/", {"username": username, "password": password})


def test_anonymous_visitors_are_sent_to_the_store_sign_in(client, org):
    response = client.get("/store/")
    assert response.status_code == 302 and response["Location"] == "/store/login/?next=/store/"


def test_a_citizen_session_does_not_open_the_store(client, org):
    citizen = Citizen.objects.create(county=org.county, phone_e164="+886912000111")
    session = client.session
    session[CITIZEN_SESSION_KEY] = citizen.pk
    session.save()
    assert client.get("/store/")["Location"].startswith("/store/login/")


def test_store_staff_sign_in_shows_the_store_home(client, org):
    from civicpush.stores.tests.helpers import make_shop

    shop = make_shop(org, name="池上便當")
    response = _sign_in(client, shop.cashier.username)
    assert response.status_code == 302 and response["Location"] == "/store/"
    body = client.get("/store/").content.decode()
    assert "池上便當" in body and "收取金幣" in body and "登出" in body
    entry = AuditEntry.objects.get(action="org.staff.signed_in")
    assert entry.data == {"surface": "store"} and entry.actor == shop.cashier


def test_county_staff_without_a_store_get_no_store_app(client, org):
    _sign_in(client, "prevention.drafter")
    response = client.get("/store/")
    assert response.status_code == 403 and "此帳號不屬於任何商店" in response.content.decode()


def test_store_sign_in_is_locked_after_five_wrong_passwords(client, org):
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(4):
            assert _sign_in(client, "prevention.drafter", "wrong").status_code == 400
        assert _sign_in(client, "prevention.drafter", "wrong").status_code == 403
        locked = _sign_in(client, "prevention.drafter")
        assert locked.status_code == 403 and "2026-03-02 09:15" in locked.content.decode()
        traveller.shift(datetime.timedelta(minutes=16))
        assert _sign_in(client, "prevention.drafter").status_code == 302


def test_store_session_ends_after_idle_time(client, org):
    with time_machine.travel(START, tick=False) as traveller:
        _sign_in(client, "prevention.drafter")
        assert client.get("/store/").status_code == 403  # signed in, but not store staff
        traveller.shift(datetime.timedelta(minutes=31))
        response = client.get("/store/")
        assert response["Location"].startswith("/store/login/")
        assert "您已閒置超過 30 分鐘，請重新登入。" in client.get(response["Location"]).content.decode()


def test_store_sign_out_is_a_post(client, org):
    _sign_in(client, "prevention.drafter")
    assert client.get("/store/logout/").status_code == 405
    assert client.post("/store/logout/")["Location"] == "/store/login/"
    assert client.get("/store/").status_code == 302


def test_store_sign_in_page_is_phone_ready_and_translated(client, org):
    body = client.get("/store/login/").content.decode()
    assert 'name="viewport"' in body and "商店登入" in body and "帳號" in body
