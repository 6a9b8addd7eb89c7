"""The console in real Chromium: sign in, look around, and no serious accessibility violations."""

from __future__ import annotations

import pytest

from civicpush.core.testing import axe_serious_violations, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _assert_accessible(page, name: str) -> None:
    save_screenshot(page, f"console-{name}")
    violations = axe_serious_violations(page)
    if violations:
        print(name, violations)
    assert violations == [], f"{name}: {violations}"


def test_staff_member_signs_in_and_browses_units_and_audit(live_server, desktop_page):
    from civicpush.org import services
    from civicpush.org.tests.factories import build_fire_bureau

    org = build_fire_bureau()
    services.do_create_api_key(
        actor=org.user("investigation.manager"), unit=org.unit("investigation"), name="火災案件系統", kind="test"
    )
    page = desktop_page
    page.goto(f"{live_server.url}/console/")
    assert "/console/login/" in page.url
    assert page.get_by_role("heading", name="同仁登入").is_visible()
    _assert_accessible(page, "login")

    page.get_by_label("帳號").fill("investigation.manager")
    page.get_by_label("密碼").fill("demo-password-for-tests")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server.url}/console/")
    assert page.get_by_role("heading", name="火調科專責人員，您好").is_visible()
    _assert_accessible(page, "home")

    page.get_by_role("link", name="單位", exact=True).click()
    page.wait_for_url(f"{live_server.url}/console/units/")
    assert page.get_by_role("link", name="火調科").is_visible()
    _assert_accessible(page, "units")

    page.get_by_role("link", name="火調科").click()
    page.wait_for_url(f"{live_server.url}/console/units/{org.unit('investigation').pk}/")
    assert page.get_by_role("heading", name="新增人員").is_visible()
    _assert_accessible(page, "unit-detail")

    page.get_by_role("link", name="稽核紀錄").click()
    page.wait_for_url(f"{live_server.url}/console/audit/")
    assert page.get_by_text("org.api_key.created").is_visible()
    _assert_accessible(page, "audit")

    page.get_by_role("button", name="登出").click()
    page.wait_for_url(f"{live_server.url}/console/login/")
