"""In real Chromium on a phone: a store cashier signs in, types a citizen's pay code and the coins,
charges, and sees the receipt and the day's total; axe finds no serious violations."""

from __future__ import annotations

import pytest

from civicpush.core.testing import axe_serious_violations, save_screenshot
from civicpush.wallet.services import issue_pay_code

from .helpers import funded_citizen, make_shop

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_store_charges_a_citizens_pay_code_on_a_phone(live_server, phone_page, org):
    shop = make_shop(org, name="鹿野好茶")
    citizen = funded_citizen(shop, 1000)
    page = phone_page
    page.goto(f"{live_server.url}/store/")
    page.get_by_label("帳號").fill(shop.cashier.username)
    page.get_by_label("密碼").fill(shop.cashier_password)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server.url}/store/")
    assert page.get_by_role("heading", name="鹿野好茶").is_visible()
    assert axe_serious_violations(page) == []
    page.get_by_role("link", name="收取金幣").click()
    page.wait_for_url(f"{live_server.url}/store/charge/")
    # The camera path needs a real camera; the manual entry is the same form field the scanner fills.
    page.get_by_label("顧客的付款碼").fill(issue_pay_code(citizen).token)
    page.get_by_label("金幣", exact=True).fill("120")
    violations = axe_serious_violations(page)
    assert violations == [], violations
    save_screenshot(page, "store-charge")
    page.get_by_role("button", name="收款").click()
    page.wait_for_url(f"{live_server.url}/store/payments/*/")
    assert page.get_by_test_id("paid-amount").inner_text() == "120"
    save_screenshot(page, "store-receipt")
    assert axe_serious_violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.get_by_role("link", name="返回").click()
    assert "120 枚金幣" in page.get_by_test_id("day-total").inner_text()
    from civicpush.coins import ledger

    assert ledger.available(ledger.wallet_of(citizen)) == 880
