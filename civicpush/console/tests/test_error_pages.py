"""Error pages are in Traditional Chinese and carry the right status."""

from __future__ import annotations

import pytest
from django.template.loader import render_to_string

pytestmark = pytest.mark.django_db


def test_not_found_page_is_translated(as_staff):
    response = as_staff("investigation.drafter").get("/console/units/999999/")
    assert response.status_code == 404 and "找不到頁面" in response.content.decode()


def test_forbidden_page_is_translated_and_explains(as_staff, org):
    response = as_staff("investigation.drafter").get(f"/console/units/{org.unit('investigation').pk}/api-keys/")
    body = response.content.decode()
    assert response.status_code == 403 and "沒有檢視此頁面的權限" in body and "您沒有執行此操作的權限。" in body


def test_server_error_page_renders_without_a_request():
    html = render_to_string("500.html")
    assert "系統發生錯誤" in html
