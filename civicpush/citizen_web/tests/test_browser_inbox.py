"""A citizen signs in on a phone, reads a push with an image, and reads it again offline."""

from __future__ import annotations

from typing import Any

import pytest

from civicpush.citizens.tests.factories import latest_code, taitung
from civicpush.core.testing import axe_serious_violations, save_screenshot
from civicpush.pushes.models import PushRead, PushType

from .pushes import new_citizen, send_push

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = "+886912345678"


def assert_no_serious_violations(page: Any, name: str) -> None:
    violations = axe_serious_violations(page)
    assert violations == [], f"{name}: {violations}"


def test_a_citizen_reads_a_push_with_an_image_and_it_stays_readable_offline(
    live_server: Any, phone_page: Any, transactional_db: Any, org: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path
    taitung()
    citizen = new_citizen(PHONE)
    push = send_push(
        org,
        title="[防火]居家安全宣導",
        body="請記得每月測試住宅用火災警報器。\n警報器請裝在天花板。",
        image_alt="住警器安裝位置示意圖",
        link="https://www.taitung.gov.tw/",
    )
    send_push(org, title="[停水]卑南鄉停水通知", push_type=PushType.NOTICE, pinned=True, body="明日上午九時起停水。")

    page = phone_page
    page.goto(f"{live_server.url}/signin/")
    page.get_by_label("手機號碼").fill("0912-345-678")
    page.get_by_role("button", name="傳送驗證碼").click()
    page.wait_for_url("**/signin/code/")
    page.get_by_label("6 位數驗證碼").fill(latest_code(PHONE))
    page.get_by_role("button", name="確認").click()
    page.wait_for_url(f"{live_server.url}/")

    assert page.get_by_role("heading", level=1).inner_text().startswith("收件匣")
    assert page.title().startswith("(2) ")
    items = page.locator(".inbox-item")
    assert items.count() == 2
    assert "停水通知" in items.nth(0).inner_text()  # the pinned notice first
    thumbnail = items.nth(1).locator("img.inbox-thumb")
    thumbnail.wait_for()
    page.wait_for_function("Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0)")
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=15000)
    assert_no_serious_violations(page, "inbox")
    save_screenshot(page, "citizen-inbox-with-items")

    page.get_by_role("link", name="居家安全宣導").click()
    page.wait_for_url(f"**/m/{push.pk}/")
    assert page.get_by_role("heading", level=1).inner_text() == "[防火]居家安全宣導"
    image = page.get_by_role("img", name="住警器安裝位置示意圖")
    image.wait_for()
    page.wait_for_function("Array.from(document.images).every((img) => img.complete && img.naturalWidth > 0)")
    assert page.get_by_role("link", name="開啟連結").get_attribute("href") == f"/m/{push.pk}/go/"
    assert PushRead.objects.filter(citizen=citizen, push=push).count() == 1
    assert_no_serious_violations(page, "message")
    save_screenshot(page, "citizen-message")

    page.goto(f"{live_server.url}/")
    assert page.title().startswith("(1) ")
    page.context.set_offline(True)
    try:
        page.goto(f"{live_server.url}/m/{push.pk}/")
        assert page.get_by_role("heading", level=1).inner_text() == "[防火]居家安全宣導"
        assert "警報器請裝在天花板。" in page.content()
        page.goto(f"{live_server.url}/me/")  # never loaded: the offline page
        assert page.get_by_role("heading", level=1).inner_text() == "目前沒有網路連線"
    finally:
        page.context.set_offline(False)
