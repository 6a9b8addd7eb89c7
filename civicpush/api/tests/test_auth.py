from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from civicpush.org.services import do_revoke_api_key

pytestmark = pytest.mark.django_db

ME = "/api/v1/me"


def test_live_key_in_bearer_header_is_accepted_and_me_reports_live_kind(client, live_key, org):
    response = client.get(ME, **live_key.bearer)
    assert response.status_code == 200
    body = response.json()
    assert body["principal"] == "api_key"
    assert body["key"]["kind"] == "live"
    assert body["key"]["prefix"] == live_key.row.prefix
    assert body["unit"] == {"id": org.unit("investigation").pk, "name": "火調科"}


def test_test_key_in_x_api_key_header_is_accepted_and_me_reports_test_kind(client, test_mode_key):
    response = client.get(ME, **test_mode_key.x_api_key)
    assert response.status_code == 200
    assert response.json()["key"]["kind"] == "test"


def test_revoked_key_is_refused_with_401_problem(client, live_key, org):
    do_revoke_api_key(actor=org.user("investigation.manager"), key_id=live_key.row.pk)
    response = client.get(ME, **live_key.bearer)
    assert response.status_code == 401
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_api_key"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_AUTHORIZATION": "Bearer cpk_live_00000000_not-a-real-key"},
        {"HTTP_AUTHORIZATION": "Bearer somethingelse"},
        {"HTTP_AUTHORIZATION": "Bearer"},
        {"HTTP_X_API_KEY": "cpk_live_00000000_not-a-real-key"},
    ],
)
def test_unknown_key_is_refused_with_401(client, live_key, headers):
    response = client.get(ME, **headers)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_api_key"
    assert "Bearer" in response["WWW-Authenticate"]


def test_request_without_credentials_is_401_asking_for_bearer(client, org):
    response = client.get(ME)
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == 'Bearer realm="CivicPush API"'


def test_bad_key_is_not_rescued_by_a_valid_session(client, org):
    client.force_login(org.user("investigation.drafter"))
    response = client.get(ME, HTTP_AUTHORIZATION="Bearer cpk_live_deadbeef_wrong")
    assert response.status_code == 401


def test_key_of_an_inactive_unit_is_refused(client, live_key, org):
    unit = org.unit("investigation")
    type(unit).objects.filter(pk=unit.pk).update(is_active=False)
    assert client.get(ME, **live_key.bearer).status_code == 401


def test_database_holds_only_the_hash_of_a_key(live_key):
    secret_part = live_key.raw.rsplit("_", 1)[1]
    assert live_key.row.key_hash != live_key.raw
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            for row in cursor.fetchall():
                dumped = repr(row)
                assert live_key.raw not in dumped, table
                assert secret_part not in dumped, table


def test_key_use_is_recorded_as_last_used(client, live_key):
    before = timezone.now()
    client.get(ME, **live_key.bearer)
    live_key.row.refresh_from_db()
    assert live_key.row.last_used_at is not None and live_key.row.last_used_at >= before


def test_staff_session_is_accepted(client, org):
    client.force_login(org.user("investigation.drafter"))
    response = client.get(ME)
    assert response.status_code == 200
    body = response.json()
    assert body["principal"] == "staff"
    assert body["username"] == "investigation.drafter"
    assert body["roles"] == [
        {
            "role": "drafter",
            "label": body["roles"][0]["label"],
            "scope": "unit",
            "unit_id": org.unit("investigation").pk,
            "unit_name": "火調科",
            "agency_id": org.agency.pk,
            "agency_name": "臺東縣消防局",
            "county_id": org.county.pk,
        }
    ]


def test_me_reports_agency_and_county_scopes(client, org):
    client.force_login(org.user("fire.director"))
    roles = client.get(ME).json()["roles"]
    assert [(r["role"], r["scope"], r["unit_id"]) for r in roles] == [("director", "agency", None)]
    client.force_login(org.user("county.operator"))
    roles = client.get(ME).json()["roles"]
    assert [(r["role"], r["scope"], r["agency_id"]) for r in roles] == [("county_operator", "county", None)]


# --- CSRF: a throw-away API with one unsafe endpoint behind the real authentication -------------

CSRF_URLS = "civicpush.api.tests.csrf_urls"
ECHO = "/api/v1/echo"
CSRF_SECRET = "a" * 32


@pytest.mark.urls(CSRF_URLS)
def test_session_post_without_csrf_token_is_refused(csrf_client: Client, org):
    csrf_client.force_login(org.user("investigation.drafter"))
    response = csrf_client.post(ECHO)
    assert response.status_code == 403
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "csrf_failed"


@pytest.mark.urls(CSRF_URLS)
def test_session_post_with_csrf_token_is_accepted(csrf_client: Client, org):
    csrf_client.force_login(org.user("investigation.drafter"))
    csrf_client.cookies["csrftoken"] = CSRF_SECRET
    response = csrf_client.post(ECHO, HTTP_X_CSRFTOKEN=CSRF_SECRET)
    assert response.status_code == 200
    assert response.json() == {"caller": "investigation.drafter"}


@pytest.mark.urls(CSRF_URLS)
def test_key_post_needs_no_csrf_token_even_with_a_session_cookie(csrf_client: Client, org, live_key):
    csrf_client.force_login(org.user("prevention.drafter"))
    response = csrf_client.post(ECHO, **live_key.bearer)
    assert response.status_code == 200
    assert response.json() == {"caller": f"api-key:{live_key.row.prefix}"}


@pytest.mark.urls(CSRF_URLS)
def test_post_without_any_credentials_is_401_not_csrf_403(csrf_client: Client, org):
    response = csrf_client.post(ECHO)
    assert response.status_code == 401
