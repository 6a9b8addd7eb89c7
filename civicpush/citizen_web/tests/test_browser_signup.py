"""A new citizen signs up on a phone in real Chromium and lands on the empty inbox."""

import pytest

from civicpush.citizens.models import Citizen, CitizenProfile
from civicpush.citizens.tests.factories import latest_code, taitung
from civicpush.core.testing import axe_serious_violations, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def assert_no_serious_violations(page, name):
    violations = axe_serious_violations(page)
    assert violations == [], f"{name}: {violations}"


def test_new_citizen_signs_up_on_a_phone_and_lands_on_the_empty_inbox(live_server, phone_page, transactional_db):
    taitung()
    page = phone_page
    page.goto(f"{live_server.url}/")
    assert page.get_by_role("heading", level=1).inner_text() == "CivicPush 縣民服務"
    assert_no_serious_violations(page, "welcome")
    save_screenshot(page, "citizen-welcome")

    page.get_by_role("link", name="註冊").click()
    page.wait_for_url("**/signin/")
    assert_no_serious_violations(page, "sign-in")
    page.get_by_label("手機號碼").fill("0912-345-678")
    page.get_by_role("button", name="傳送驗證碼").click()
    page.wait_for_url("**/signin/code/")
    assert "0912-***-678" in page.content()

    page.get_by_label("6 位數驗證碼").fill(latest_code("+886912345678"))
    page.get_by_role("button", name="確認").click()
    page.wait_for_url("**/signup/consent/")
    assert not Citizen.objects.exists()
    page.get_by_label("我已閱讀個人資料蒐集告知事項").check()
    page.get_by_role("button", name="同意並建立帳號").click()
    page.wait_for_url("**/signup/profile/")
    assert Citizen.objects.count() == 1

    page.get_by_label("鄉鎮市").select_option(label="蘭嶼鄉")
    village = page.get_by_label("村里")
    page.wait_for_function("document.querySelectorAll('#id_village option').length === 5")
    village.select_option(label="紅頭村")
    page.get_by_label("觀光").check()
    save_screenshot(page, "citizen-signup-profile")
    page.get_by_role("button", name="儲存").click()
    page.wait_for_url(f"{live_server.url}/")

    assert page.get_by_role("heading", level=1).inner_text() == "收件匣"
    assert page.get_by_text("目前沒有訊息").is_visible()
    profile = CitizenProfile.objects.get()
    assert profile.village.name == "紅頭村"
    assert_no_serious_violations(page, "inbox")

    registered = page.evaluate(
        """async () => {
            const reg = await Promise.race([
                navigator.serviceWorker.ready,
                new Promise((_, reject) => setTimeout(() => reject(new Error("timeout")), 10000)),
            ]);
            return {active: !!reg.active, scope: reg.scope};
        }"""
    )
    assert registered == {"active": True, "scope": f"{live_server.url}/"}

    save_screenshot(page, "citizen-inbox")
