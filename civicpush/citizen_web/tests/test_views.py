"""Citizen web flows through Django's test client."""

import datetime
import json

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings

from civicpush.citizens import services
from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.citizens.models import Citizen, CitizenProfile, CitizenStatus, ConsentRecord, Township, Village
from civicpush.citizens.tests.factories import latest_code, signed_up_citizen, taitung

pytestmark = pytest.mark.django_db
PHONE = "+886912345678"


@pytest.fixture(autouse=True)
def reference_data():
    taitung()


def send_code(client, capture, phone="0912-345-678"):
    with capture(execute=True):
        response = client.post("/signin/", {"phone": phone})
    assert response.status_code == 302, response.content.decode()[:2000]
    assert response["Location"] == "/signin/code/"
    return latest_code(PHONE)


def sign_in(client, capture, phone=PHONE):
    code = send_code(client, capture, phone)
    return client.post("/signin/code/", {"code": code})


def test_welcome_page_for_visitors_links_to_sign_in(client):
    response = client.get("/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "註冊" in body and "登入" in body
    assert 'href="/signin/"' in body
    assert 'rel="manifest"' in body and 'name="theme-color"' in body and "apple-touch-icon" in body


def test_new_number_becomes_a_citizen_only_when_the_notice_is_accepted(client, django_capture_on_commit_callbacks):
    response = sign_in(client, django_capture_on_commit_callbacks)
    assert response["Location"] == "/signup/consent/"
    assert not Citizen.objects.exists()

    page = client.get("/signup/consent/")
    assert page.status_code == 200
    assert settings.PRIVACY_NOTICE_VERSION in page.content.decode()
    assert "0912-***-678" in page.content.decode()

    refused = client.post("/signup/consent/", {"notice_version": settings.PRIVACY_NOTICE_VERSION})
    assert refused.status_code == 400
    assert "請勾選以同意" in refused.content.decode()
    assert not Citizen.objects.exists()

    accepted = client.post("/signup/consent/", {"accept": "on", "notice_version": settings.PRIVACY_NOTICE_VERSION})
    assert accepted["Location"] == "/signup/profile/"
    citizen = Citizen.objects.get()
    assert citizen.phone_e164 == PHONE
    assert ConsentRecord.objects.filter(citizen=citizen).count() == 1
    assert client.session[CITIZEN_SESSION_KEY] == citizen.pk
    assert not CitizenProfile.objects.exists()

    skipped = client.post("/signup/profile/", {"skip": "1"})
    assert skipped["Location"] == "/"
    inbox = client.get("/")
    assert "收件匣" in inbox.content.decode()
    assert "目前沒有訊息" in inbox.content.decode()
    assert "no-store" in inbox["Cache-Control"]


def test_stale_notice_version_in_the_form_creates_no_citizen(client, django_capture_on_commit_callbacks):
    sign_in(client, django_capture_on_commit_callbacks)
    response = client.post("/signup/consent/", {"accept": "on", "notice_version": "2020-01"})
    assert response.status_code == 400
    assert not Citizen.objects.exists()


def test_verified_number_waits_in_the_session_for_ten_minutes_only(client, django_capture_on_commit_callbacks):
    with time_machine.travel(datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC), tick=False) as clock:
        sign_in(client, django_capture_on_commit_callbacks)
        clock.shift(datetime.timedelta(minutes=10, seconds=1))
        response = client.post("/signup/consent/", {"accept": "on", "notice_version": settings.PRIVACY_NOTICE_VERSION})
    assert response["Location"] == "/signin/"
    assert not Citizen.objects.exists()


def test_existing_citizen_signs_in_to_the_inbox_with_a_new_session_key(client, django_capture_on_commit_callbacks):
    citizen = signed_up_citizen(PHONE)
    client.get("/signin/")
    code = send_code(client, django_capture_on_commit_callbacks)
    key_before = client.session.session_key
    response = client.post("/signin/code/", {"code": code})
    assert response["Location"] == "/"
    assert client.session[CITIZEN_SESSION_KEY] == citizen.pk
    assert client.session.session_key != key_before


def test_citizen_with_an_old_notice_version_is_sent_to_consent(client, django_capture_on_commit_callbacks):
    citizen = signed_up_citizen(PHONE)
    ConsentRecord.objects.filter(citizen=citizen).update(notice_version="2020-01")
    response = sign_in(client, django_capture_on_commit_callbacks)
    assert response["Location"] == "/consent/"
    assert client.get("/")["Location"] == "/consent/"
    client.post("/consent/", {"accept": "on", "notice_version": settings.PRIVACY_NOTICE_VERSION})
    assert client.get("/").status_code == 200


def test_wrong_code_is_shown_on_the_form(client, django_capture_on_commit_callbacks):
    code = send_code(client, django_capture_on_commit_callbacks)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    response = client.post("/signin/code/", {"code": wrong})
    assert response.status_code == 400
    assert "驗證碼不正確" in response.content.decode()
    assert CITIZEN_SESSION_KEY not in client.session


def test_rate_limited_request_gets_429_with_a_message_and_retry_after(client, django_capture_on_commit_callbacks):
    send_code(client, django_capture_on_commit_callbacks)
    response = client.post("/signin/", {"phone": "0912345678"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert "驗證碼剛剛已送出" in response.content.decode()
    resend = client.post("/signin/code/resend/")
    assert resend.status_code == 429


def test_code_page_shows_the_masked_number_and_a_resend_button(client, django_capture_on_commit_callbacks):
    send_code(client, django_capture_on_commit_callbacks)
    body = client.get("/signin/code/").content.decode()
    assert "0912-***-678" in body
    assert "912345678" not in body
    assert 'action="/signin/code/resend/"' in body


def test_landline_is_refused_on_the_form_in_chinese(client):
    response = client.post("/signin/", {"phone": "089-322112"})
    assert response.status_code == 400
    assert "這不是手機號碼" in response.content.decode()


def test_english_users_see_errors_in_english(client):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    response = client.post("/signin/", {"phone": "089-322112"})
    assert "This is not a mobile number" in response.content.decode()


@pytest.fixture
def signed_in(client, django_capture_on_commit_callbacks):
    citizen = signed_up_citizen(PHONE)
    sign_in(client, django_capture_on_commit_callbacks)
    return citizen


def test_profile_form_saves_and_me_shows_only_the_masked_id(client, signed_in):
    lanyu = Township.objects.get(name="蘭嶼鄉")
    village = Village.objects.get(name="朗島村")
    response = client.post(
        "/me/edit/",
        {
            "display_name": "小蘭",
            "township": lanyu.pk,
            "village": village.pk,
            "birth_year": "1990",
            "gender": "female",
            "residency": "resident",
            "topics": ["0", "6"],
            "national_id": "a123456789",
        },
    )
    assert response["Location"] == "/me/"
    profile = CitizenProfile.objects.get(citizen=signed_in)
    assert profile.village == village
    me = client.get("/me/").content.decode()
    assert "A12*****89" in me and "A123456789" not in me
    assert "朗島村" in me
    edit = client.get("/me/edit/").content.decode()
    assert "A12*****89" in edit and "A123456789" not in edit


def test_profile_form_error_is_shown_and_nothing_is_saved(client, signed_in):
    response = client.post("/me/edit/", {"gender": "undisclosed", "residency": "resident", "national_id": "A123456788"})
    assert response.status_code == 400
    assert "身分證字號不正確" in response.content.decode()
    assert not CitizenProfile.objects.exists()


def test_villages_json_lists_only_current_villages_of_the_township(client):
    city = Township.objects.get(name="臺東市")
    names = {v["name"] for v in client.get(f"/me/villages.json?township={city.pk}").json()["villages"]}
    assert "馬蘭里" in names
    assert "鐵花里" not in names
    assert "朗島村" not in names


def test_me_pages_need_a_signed_in_citizen(client):
    for url in ["/me/", "/me/edit/", "/me/export.json", "/me/delete/", "/signup/profile/"]:
        assert client.get(url)["Location"] == "/signin/", url


def test_export_downloads_json_with_phone_and_consents(client, signed_in):
    services.do_update_profile(signed_in, national_id="A123456789")
    response = client.get("/me/export.json")
    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response["Cache-Control"]
    data = json.loads(response.content)
    assert data["citizen"]["phone"] == PHONE
    assert data["citizen"]["profile"]["national_id"] == "A123456789"
    assert data["citizen"]["consents"]


def test_delete_needs_the_typed_word_then_erases_and_signs_out(client, signed_in):
    page = client.get("/me/delete/").content.decode()
    assert "假名" in page
    refused = client.post("/me/delete/", {"confirm": "ok"})
    assert refused.status_code == 400
    assert Citizen.objects.get(pk=signed_in.pk).status == CitizenStatus.ACTIVE

    response = client.post("/me/delete/", {"confirm": "刪除"})
    assert response["Location"] == "/goodbye/"
    citizen = Citizen.objects.get(pk=signed_in.pk)
    assert citizen.status == CitizenStatus.DELETED and citizen.phone_e164 is None
    assert CITIZEN_SESSION_KEY not in client.session
    assert "註冊" in client.get("/").content.decode()


def test_sign_out_ends_the_citizen_session(client, signed_in):
    assert client.get("/signout/").status_code == 405
    client.post("/signout/")
    assert CITIZEN_SESSION_KEY not in client.session
    assert client.get("/me/")["Location"] == "/signin/"


def test_privacy_notice_lists_purposes_categories_and_rights(client):
    body = client.get("/privacy/").content.decode()
    for text in ["135 資（通）訊服務", "C001", "C003", "個人資料保護法第 3 條", settings.PRIVACY_NOTICE_VERSION]:
        assert text in body


@override_settings(DEMO_MODE=False)
def test_dev_otp_page_is_404_without_demo_mode(client):
    assert client.get("/dev/otp/").status_code == 404


@override_settings(DEMO_MODE=True)
def test_dev_otp_page_lists_demo_messages_in_demo_mode(client, django_capture_on_commit_callbacks):
    code = send_code(client, django_capture_on_commit_callbacks)
    body = client.get("/dev/otp/").content.decode()
    assert code in body and PHONE in body


def test_manifest_is_served_as_a_web_app_manifest(client):
    response = client.get("/manifest.webmanifest")
    assert response["Content-Type"] == "application/manifest+json"
    data = json.loads(response.content)
    assert data["name"] == "CivicPush 縣民服務"
    assert (data["start_url"], data["scope"], data["display"], data["lang"]) == ("/", "/", "standalone", "zh-Hant")
    sizes = {(i["sizes"], i.get("purpose", "any")) for i in data["icons"]}
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= sizes
    for icon in data["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_service_worker_is_served_from_the_root_as_javascript(client):
    response = client.get("/sw.js")
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    body = response.content.decode()
    assert "/offline/" in body and "/static/civicpush/base.css" in body
    assert "{{" not in body


def test_offline_page_is_served(client):
    response = client.get("/offline/")
    assert response.status_code == 200
    assert "目前沒有網路連線" in response.content.decode()
