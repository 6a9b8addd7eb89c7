from __future__ import annotations

import json
import re

import pytest
from django.contrib.staticfiles import finders

pytestmark = pytest.mark.django_db


def test_openapi_document_parses_and_lists_the_endpoints(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    assert schema["info"]["title"] == "CivicPush API"
    assert schema["info"]["version"] == "1"
    assert {
        "/api/v1/health",
        "/api/v1/me",
        "/api/v1/units",
        "/api/v1/units/{unit_id}",
        "/api/v1/units/{unit_id}/staff",
        "/api/v1/audit",
    } <= set(schema["paths"])


def test_openapi_documents_errors_as_problem_json(client):
    schema = client.get("/api/v1/openapi.json").json()
    responses = schema["paths"]["/api/v1/units/{unit_id}"]["get"]["responses"]
    for status in ("401", "404", "500"):
        assert responses[status]["content"]["application/problem+json"]["schema"] == {
            "$ref": "#/components/schemas/Problem"
        }
    assert {"type", "title", "status", "detail", "code", "errors"} <= set(
        schema["components"]["schemas"]["Problem"]["properties"]
    )
    assert "403" in schema["paths"]["/api/v1/audit"]["get"]["responses"]


def test_openapi_declares_key_and_session_authentication(client):
    schemes = client.get("/api/v1/openapi.json").json()["components"]["securitySchemes"]
    kinds = {(s["type"], s.get("scheme") or s.get("in")) for s in schemes.values()}
    assert kinds == {("http", "bearer"), ("apiKey", "header"), ("apiKey", "cookie")}


def test_docs_page_uses_only_our_own_assets(client):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    refs = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(ref.endswith("swagger-ui-bundle.js") for ref in refs)
    for ref in refs:
        assert not re.match(r"^(https?:)?//", ref), ref
        assert ref.startswith("/static/"), ref
        assert finders.find(ref.removeprefix("/static/")), f"{ref} is not served by us"
    assert "cdn" not in html.lower()
    # Swagger UI would otherwise fetch a validator badge from validator.swagger.io.
    assert '"validatorUrl": null' in html
