"""The store app on a phone in real Chromium: sign in, see the home, no serious accessibility violations."""

from __future__ import annotations

import pytest

from civicpush.core.testing import axe_serious_violations, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_staff_member_signs_in_to_the_store_on_a_phone(live_server, phone_page):
    from civicpush.org.tests.factories import build_fire_bureau
    from civicpush.stores.tests.helpers import make_shop

    shop = make_shop(build_fire_bureau(), name="成功海產")
    page = phone_page
    page.goto(f"{live_server.url}/store/")
    assert "/store/login/" in page.url
    save_screenshot(page, "store-login")
    assert axe_serious_violations(page) == []
    page.get_by_label("帳號").fill(shop.cashier.username)
    page.get_by_label("密碼").fill(shop.cashier_password)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server.url}/store/")
    assert page.get_by_role("heading", name="成功海產").is_visible()
    assert page.get_by_role("link", name="收取金幣").is_visible()
    save_screenshot(page, "store-home")
    violations = axe_serious_violations(page)
    assert violations == [], violations
    # Nothing overflows sideways on a 390px-wide phone.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
