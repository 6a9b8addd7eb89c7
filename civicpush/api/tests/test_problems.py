from __future__ import annotations

import logging

import pytest

from civicpush.api import problems
from civicpush.core.errors import RateLimited, ValidationFailed

pytestmark = pytest.mark.django_db

PROBLEM_KEYS = {"type", "title", "status", "detail", "code", "errors"}


def test_problem_has_rfc9457_shape_and_content_type(client, live_key, org):
    response = client.get(f"/api/v1/units/{org.unit('prevention').pk}", **live_key.bearer)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert set(body) == PROBLEM_KEYS
    assert body["type"] == "https://civicpush.example/problems/not_found"
    assert body["status"] == 404 and body["code"] == "not_found" and body["errors"] == {}


def test_problem_is_in_traditional_chinese_by_default(client, live_key, org):
    body = client.get(f"/api/v1/units/{org.unit('prevention').pk}", **live_key.bearer).json()
    assert body["title"] == "找不到"
    assert body["detail"] == "找不到資料。"


def test_problem_is_in_english_with_accept_language_en(client, live_key, org):
    response = client.get(f"/api/v1/units/{org.unit('prevention').pk}", HTTP_ACCEPT_LANGUAGE="en", **live_key.bearer)
    body = response.json()
    assert body["title"] == "Not found"
    assert body["detail"] == "Not found."
    assert response["Content-Language"] == "en"


def test_401_is_translated_too(client, org):
    assert client.get("/api/v1/me").json()["title"] == "需要驗證身分"
    assert client.get("/api/v1/me", HTTP_ACCEPT_LANGUAGE="en").json()["title"] == "Authentication required"


def test_unparseable_path_parameter_is_400_with_a_message_for_that_field(client, live_key):
    response = client.get("/api/v1/units/not-a-number", **live_key.bearer)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_failed"
    assert body["title"] == "輸入資料有誤"
    assert body["errors"] == {"unit_id": ["請輸入數字。"]}


def test_bad_query_parameters_are_reported_per_field_in_english(client, org):
    client.force_login(org.user("county.operator"))
    response = client.get("/api/v1/audit?since=yesterday&unit_id=x", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) == {"since", "unit_id"}
    assert errors["unit_id"] == ["Enter a number."]
    assert errors["since"][0].startswith("Enter a valid date and time")


def test_unsupported_method_is_405_problem_with_allow_header(client):
    response = client.post("/api/v1/health")
    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert response["Allow"] == "GET"
    assert response.json()["code"] == "method_not_allowed"


def test_unknown_api_url_is_404_problem(client):
    response = client.get("/api/v1/no/such/thing")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "not_found"


def test_unexpected_exception_is_generic_500_problem_and_logged(client, org, monkeypatch, caplog):
    from civicpush.org import selectors

    def broken(user):
        raise RuntimeError("database on fire: secret internals")

    monkeypatch.setattr(selectors, "visible_units", broken)
    client.force_login(org.user("investigation.drafter"))
    with caplog.at_level(logging.ERROR, logger="civicpush.api"):
        response = client.get("/api/v1/units", HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == "server_error"
    assert "secret internals" not in response.content.decode()
    assert body["detail"].startswith("Something went wrong on our side")
    assert any("secret internals" in str(r.exc_info[1]) for r in caplog.records if r.exc_info)


def test_domain_error_keeps_status_code_and_field_errors(rf):
    response = problems.handle_domain_error(
        rf.get("/"), ValidationFailed(field_errors={"title": ["Too long."]}, code="title_too_long")
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert b'"code": "title_too_long"' in response.content
    assert b'"errors": {"title": ["Too long."]}' in response.content


def test_rate_limited_sets_retry_after(rf):
    response = problems.handle_domain_error(rf.get("/"), RateLimited(retry_after=42))
    assert response.status_code == 429
    assert response["Retry-After"] == "42"
