"""Staff sign-in, lock-out, sign-out and idle expiry through the console pages."""

from __future__ import annotations

import datetime

import pytest
import time_machine
from django.test import Client

from civicpush.core.models import AuditEntry
from civicpush.org.models import StaffUser

pytestmark = pytest.mark.django_db

PASSWORD = "demo-password-for-tests"
START = datetime.datetime(2026, 3, 2, 1, 0, tzinfo=datetime.UTC)  # 09:00 in Taipei
LOCK_MESSAGE = "此帳號因登入失敗次數過多已暫時鎖定"
WRONG_MESSAGE = "帳號或密碼不正確。"
IDLE_MESSAGE = "您已閒置超過 30 分鐘，請重新登入。"


def _post(client: Client, username: str, password: str, **extra: str):
    return client.post("/console/login/", {"username": username, "password": password, **extra})


def test_sign_in_lands_on_the_console_home_and_is_audited(client, org):
    response = _post(client, "investigation.drafter", PASSWORD)
    assert response.status_code == 302 and response["Location"] == "/console/"
    home = client.get("/console/")
    assert home.status_code == 200
    assert "火調科承辦人" in home.content.decode()
    entry = AuditEntry.objects.get(action="org.staff.signed_in")
    assert entry.actor == org.user("investigation.drafter")
    assert entry.object_id == str(org.user("investigation.drafter").pk)


def test_sign_in_changes_the_session_key(client, org):
    client.get("/console/login/")
    session = client.session
    session["probe"] = 1
    session.save()
    before = session.session_key
    _post(client, "investigation.drafter", PASSWORD)
    assert client.session.session_key != before


def test_wrong_password_and_unknown_user_get_the_same_message(client, org):
    wrong = _post(client, "investigation.drafter", "not-the-password")
    unknown = _post(client, "no.such.user", "not-the-password")
    assert wrong.status_code == unknown.status_code == 400
    assert WRONG_MESSAGE in wrong.content.decode() and WRONG_MESSAGE in unknown.content.decode()
    failures = AuditEntry.objects.filter(action="org.staff.sign_in_failed").order_by("id")
    assert [e.actor_label for e in failures] == ["anonymous", "anonymous"]
    assert failures[0].object_id == str(org.user("investigation.drafter").pk)
    assert failures[1].object_id == "" and failures[1].data["username"] == "no.such.user"
    assert failures[1].county_id == org.county.pk
    assert "not-the-password" not in str(list(failures.values()))


def test_five_wrong_passwords_lock_the_account_then_it_opens_after_fifteen_minutes(client, org):
    with time_machine.travel(START, tick=False) as traveller:
        for _ in range(4):
            assert _post(client, "investigation.drafter", "wrong").status_code == 400
        fifth = _post(client, "investigation.drafter", "wrong")
        assert fifth.status_code == 403 and LOCK_MESSAGE in fifth.content.decode()

        right = _post(client, "investigation.drafter", PASSWORD)
        body = right.content.decode()
        assert right.status_code == 403 and LOCK_MESSAGE in body
        assert "2026-03-02 09:15" in body  # the unlock time in Asia/Taipei
        assert client.get("/console/").status_code == 302

        traveller.shift(datetime.timedelta(minutes=15, seconds=1))
        assert _post(client, "investigation.drafter", PASSWORD).status_code == 302
        assert client.get("/console/").status_code == 200
    reasons = list(AuditEntry.objects.filter(action="org.staff.sign_in_failed").values_list("data__reason", flat=True))
    assert reasons.count("locked") == 2 and reasons.count("bad_credentials") == 4


def test_success_resets_the_failure_counter(client, org):
    for _ in range(4):
        _post(client, "investigation.drafter", "wrong")
    assert _post(client, "investigation.drafter", PASSWORD).status_code == 302
    assert StaffUser.objects.get(username="investigation.drafter").failed_login_count == 0
    other = Client()
    for _ in range(4):
        _post(other, "investigation.drafter", "wrong")
    assert _post(other, "investigation.drafter", PASSWORD).status_code == 302


def test_sign_in_follows_a_local_next_but_not_another_site(org):
    local = _post(Client(), "investigation.drafter", PASSWORD, next="/console/units/")
    assert local["Location"] == "/console/units/"
    foreign = _post(Client(), "investigation.drafter", PASSWORD, next="https://evil.example/")
    assert foreign["Location"] == "/console/"


def test_sign_out_needs_post_and_ends_the_session(as_staff):
    client = as_staff("investigation.drafter")
    assert client.get("/console/logout/").status_code == 405
    response = client.post("/console/logout/")
    assert response.status_code == 302 and response["Location"] == "/console/login/"
    assert client.get("/console/").status_code == 302
    assert AuditEntry.objects.filter(action="org.staff.signed_out").count() == 1


def test_after_31_idle_minutes_the_next_page_asks_to_sign_in_again(client, org):
    with time_machine.travel(START, tick=False) as traveller:
        assert _post(client, "investigation.drafter", PASSWORD).status_code == 302
        assert client.get("/console/").status_code == 200
        traveller.shift(datetime.timedelta(minutes=31))
        response = client.get("/console/units/")
        assert response.status_code == 302
        assert response["Location"].startswith("/console/login/?next=/console/units/")
        login_page = client.get(response["Location"])
    assert IDLE_MESSAGE in login_page.content.decode()
    assert client.get("/console/").status_code == 302


def test_29_idle_minutes_keep_the_session(client, org):
    with time_machine.travel(START, tick=False) as traveller:
        _post(client, "investigation.drafter", PASSWORD)
        assert client.get("/console/").status_code == 200
        traveller.shift(datetime.timedelta(minutes=29))
        assert client.get("/console/units/").status_code == 200
        traveller.shift(datetime.timedelta(minutes=29))  # each request restarts the clock
        assert client.get("/console/").status_code == 200


def test_login_page_itself_says_the_session_expired(client, org):
    with time_machine.travel(START, tick=False) as traveller:
        _post(client, "investigation.drafter", PASSWORD)
        client.get("/console/")
        traveller.shift(datetime.timedelta(minutes=31))
        page = client.get("/console/login/")
    assert page.status_code == 200 and IDLE_MESSAGE in page.content.decode()


def test_the_login_page_is_in_traditional_chinese_by_default(client, org):
    body = client.get("/console/login/").content.decode()
    assert "同仁登入" in body and "帳號" in body and "密碼" in body
