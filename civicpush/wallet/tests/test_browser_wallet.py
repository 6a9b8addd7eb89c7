"""In real Chromium: a citizen sees balance and expiry, gives coins with the PIN; axe scans of the
wallet and the console budgets page."""

from __future__ import annotations

from typing import Any

import pytest

from civicpush.citizens.tests.factories import latest_code
from civicpush.core.testing import axe_serious_violations, save_screenshot
from civicpush.wallet import earning, selectors, services

from .helpers import citizen, period, reserved_budget

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = "+886912345678"


def _clean(page: Any, name: str) -> None:
    save_screenshot(page, name)
    violations = axe_serious_violations(page)
    assert violations == [], f"{name}: {violations}"


def test_a_citizen_sees_the_wallet_and_gives_coins_with_the_pin(live_server: Any, phone_page: Any, org: Any) -> None:
    unit = org.unit("prevention")
    budget = reserved_budget(unit, reserved=100_000)
    soon, later = period(unit, "2026", days=20), period(unit, "2027", days=300)
    me, friend = citizen(PHONE), citizen("+886987654321")
    earning.award(key="b:1", budget=budget, citizen=me, amount=300, period=soon, reason="survey")
    earning.award(key="b:2", budget=budget, citizen=me, amount=1_200, period=later, reason="quiz")
    services.notify_upcoming_expiry()

    page = phone_page
    page.goto(f"{live_server.url}/signin/")
    page.get_by_label("手機號碼").fill("0912-345-678")
    page.get_by_role("button", name="傳送驗證碼").click()
    page.wait_for_url("**/signin/code/")
    page.get_by_label("6 位數驗證碼").fill(latest_code(PHONE))
    page.get_by_role("button", name="確認").click()
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("link", name="錢包").click()
    page.wait_for_url("**/wallet/")
    assert page.locator("[data-balance]").inner_text().replace(",", "") == "1500"
    assert "NT$150" in page.content()
    periods = page.locator(".wallet-periods tbody tr")
    assert periods.count() == 2 and "300" in periods.nth(0).inner_text()
    assert "您有 300 枚金幣將於" in page.locator(".wallet-notice").inner_text()
    _clean(page, "wallet-home")

    page.get_by_role("link", name="設定交易密碼").click()
    page.get_by_label("新的 6 位數交易密碼").fill("246810")
    page.get_by_label("再輸入一次新密碼").fill("246810")
    page.get_by_role("button", name="儲存交易密碼").click()
    page.wait_for_url("**/wallet/")

    page.get_by_role("link", name="轉贈金幣").click()
    page.wait_for_url("**/wallet/transfer/")
    _clean(page, "wallet-transfer")
    page.get_by_label("受贈人手機號碼").fill("0987-654-321")
    page.get_by_label("金幣").fill("200")
    page.get_by_label("交易密碼").fill("246810")
    page.get_by_role("button", name="轉贈金幣").click()
    page.wait_for_url("**/wallet/")
    assert page.locator("[data-balance]").inner_text().replace(",", "") == "1300"
    assert "轉贈給 0987-***-321" in page.locator(".wallet-history").inner_text()
    assert selectors.wallet_balance(friend) == 200

    page.goto(f"{live_server.url}/wallet/pay/")
    page.locator(".pay-qr svg").wait_for()
    _clean(page, "wallet-pay")


def test_the_console_budgets_page_has_no_serious_accessibility_violations(
    live_server: Any, desktop_page: Any, org: Any
) -> None:
    unit = org.unit("prevention")
    budget = reserved_budget(unit, reserved=50_000)
    per = period(unit, "2027", days=300)
    earning.award(key="c:1", budget=budget, citizen=citizen(), amount=500, period=per, reason="survey")
    page = desktop_page
    page.goto(f"{live_server.url}/console/login/")
    page.get_by_label("帳號").fill("fire.accounting")
    page.get_by_label("密碼").fill("demo-password-for-tests")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server.url}/console/")
    page.get_by_role("link", name="金幣預算").click()
    page.wait_for_url("**/console/budgets/")
    assert page.get_by_role("heading", level=1).inner_text() == "金幣預算"
    assert page.locator("svg.chart").count() == 1
    _clean(page, "console-budgets")
