"""In real Chromium: a citizen answers the seed's quiz on a phone and sees the coins in the wallet;
axe scans of the answer, result and wallet pages, and of the console's builder and results."""

from __future__ import annotations

import re
from typing import Any

import pytest

from civicpush.citizen_web.tests.pushes import new_citizen
from civicpush.citizens.tests.factories import latest_code
from civicpush.core.testing import axe_serious_violations, save_screenshot
from civicpush.surveys.models import Participation
from civicpush.wallet import selectors as wallet_selectors

from .helpers import Q1, Q2, Q_SCALE, approve, coin_period, quiz_push, reserved_budget, send

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = "+886912555777"


def _clean(page: Any, name: str) -> None:
    save_screenshot(page, name)
    violations = axe_serious_violations(page)
    assert violations == [], f"{name}: {violations}"


def test_a_citizen_answers_the_quiz_on_a_phone_and_sees_the_coins_in_the_wallet(
    live_server: Any, phone_page: Any, org: Any
) -> None:
    unit = org.unit("prevention")
    reserved_budget(unit)
    coin_period(unit)
    push, _survey = quiz_push(
        org, questions=[Q1, Q2, Q_SCALE | {"coins": 10}], body="答對三題可獲得金幣30枚(限制前300位用戶領取)"
    )
    citizen = new_citizen(PHONE)
    send(org, approve(org, push))

    page = phone_page
    page.goto(f"{live_server.url}/signin/")
    page.get_by_label("手機號碼").fill("0912-555-777")
    page.get_by_role("button", name="傳送驗證碼").click()
    page.wait_for_url("**/signin/code/")
    page.get_by_label("6 位數驗證碼").fill(latest_code(PHONE))
    page.get_by_role("button", name="確認").click()
    page.wait_for_url(f"{live_server.url}/")

    page.get_by_role("link", name=re.compile("行車安全小測驗")).click()
    page.wait_for_url(f"**/m/{push.pk}/")
    assert "前 300 名作答可獲得金幣 30 枚" in page.locator(".survey-box").inner_text()
    page.get_by_role("link", name="答題拿金幣").click()
    page.wait_for_url(f"**/m/{push.pk}/survey/")
    _clean(page, "survey-answer")
    # A wrong first try: the quiz may be retried, and the right answers are not shown yet.
    page.get_by_role("group", name=re.compile("安全開車門")).get_by_label("大聲鳴按喇叭").check()
    group2 = page.get_by_role("group", name=re.compile("台東地名"))
    group2.get_by_label("關山鎮").check()
    group2.get_by_label("池上鄉").check()
    page.get_by_role("radio", name="5 非常滿意").check()
    page.get_by_role("button", name="送出答案").click()
    page.wait_for_url(f"**/m/{push.pk}/survey/result/")
    assert "有 1 題答錯" in page.locator(".survey-outcome").inner_text()
    page.get_by_role("link", name="再試一次").click()
    page.wait_for_url(f"**/m/{push.pk}/survey/")
    page.get_by_role("group", name=re.compile("安全開車門")).get_by_label("轉頭開車門往後看").check()
    group2 = page.get_by_role("group", name=re.compile("台東地名"))
    group2.get_by_label("關山鎮").check()
    group2.get_by_label("池上鄉").check()
    page.get_by_role("radio", name="4 滿意", exact=True).check()
    page.get_by_role("button", name="送出答案").click()
    page.wait_for_url(f"**/m/{push.pk}/survey/result/")
    assert page.locator("[data-coins]").inner_text().strip() == "+30 枚金幣"
    assert "全部答對" in page.locator(".survey-outcome").inner_text()
    _clean(page, "survey-result")

    page.get_by_role("link", name="開啟我的錢包").click()
    page.wait_for_url("**/wallet/")
    assert page.locator("[data-balance]").inner_text().replace(",", "") == "30"
    assert "答題獎勵" in page.locator(".wallet-history").inner_text()
    _clean(page, "survey-wallet")
    assert wallet_selectors.wallet_balance(citizen) == 30
    assert Participation.objects.get(citizen=citizen).attempts == 2


def test_the_console_builder_and_results_pages_are_accessible(live_server: Any, desktop_page: Any, org: Any) -> None:
    unit = org.unit("prevention")
    reserved_budget(unit)
    coin_period(unit)
    push, _survey = quiz_push(org, questions=[Q1, Q2, Q_SCALE | {"coins": 0}])
    page = desktop_page
    page.goto(f"{live_server.url}/console/login/")
    page.get_by_label("帳號").fill("prevention.drafter")
    page.get_by_label("密碼").fill("demo-password-for-tests")
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server.url}/console/")
    page.goto(f"{live_server.url}/console/pushes/{push.pk}/")
    page.get_by_role("link", name="問卷設計").click()
    page.wait_for_url(f"**/console/pushes/{push.pk}/survey/")
    page.get_by_role("radio", name="自由填答").check()
    page.get_by_role("textbox", name="題目", exact=True).fill("其他建議")
    page.get_by_label("本題金幣").fill("0")
    page.get_by_role("button", name="新增這一題").click()
    page.wait_for_url(f"**/console/pushes/{push.pk}/survey/#questions")
    assert "其他建議" in page.locator("#questions").inner_text()
    _clean(page, "survey-builder")
    page.goto(f"{live_server.url}/console/pushes/{push.pk}/survey/results/")
    _clean(page, "survey-results")
