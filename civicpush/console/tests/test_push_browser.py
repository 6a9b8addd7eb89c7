"""Composing and signing off a push in real Chromium, with axe-core scans of the main push pages."""

from __future__ import annotations

import datetime
import re
from pathlib import Path

import pytest
from PIL import Image

from civicpush.core.testing import axe_serious_violations, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-password-for-tests"


def _sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/console/login/")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{base}/console/")


def _assert_accessible(page, name: str) -> None:
    violations = axe_serious_violations(page)
    assert violations == [], f"{name}: {violations}"


def test_drafter_composes_a_push_with_an_image_and_the_unit_head_approves_it(live_server, desktop_page, tmp_path: Path):
    from civicpush.org.tests.factories import build_fire_bureau
    from civicpush.pushes import dispatching, services
    from civicpush.pushes.models import CountyPushPolicy, Push, PushStatus

    from .push_helpers import make_citizen, make_group

    org = build_fire_bureau()
    unit = org.unit("prevention")
    citizens = [make_citizen(org.county) for _ in range(3)]
    make_group(unit, citizens, name="預防科志工0820")
    CountyPushPolicy.objects.create(county=org.county, quiet_start=datetime.time(0), quiet_end=datetime.time(0))
    png = tmp_path / "fire.png"
    Image.new("RGB", (64, 40), (200, 30, 30)).save(png)

    base = live_server.url
    page = desktop_page
    _sign_in(page, base, "prevention.drafter")
    page.goto(f"{base}/console/pushes/new/?unit={unit.pk}")
    page.get_by_role("heading", name=re.compile("新增預防科推播")).wait_for()
    _assert_accessible(page, "compose")

    page.get_by_role("radio", name="宣導").check()
    page.get_by_label("標題", exact=True).fill("[防火]住警器每月測試")
    page.get_by_label("副標題").fill("守護您的家")
    body = "請每月按下住警器測試鈕 OK"
    page.get_by_label("訊息內容", exact=True).fill(body)
    # 11 full-width + 3 half-width (space, O, K) = 12.5 → shown as 13.
    assert page.locator("#body-count").text_content() == "13 / 120"
    assert page.locator('[data-preview="title"]').text_content() == "[防火]住警器每月測試"
    assert page.locator('[data-preview="body"]').text_content() == body
    page.get_by_label("預計推播日期（或活動日期）").fill("2026-12-01")
    page.get_by_label("業務承辦人", exact=True).fill("王小明")
    page.get_by_label("電話").fill("089-322112")
    page.get_by_label("信箱").fill("ming@fire.example.gov.tw")
    page.get_by_label(re.compile("預防科志工0820")).check()
    page.locator("#audience-estimate").filter(has_text="約 3 位縣民").wait_for()

    page.locator("#autosave-status").filter(has_text=re.compile(r"已儲存 \d\d:\d\d")).wait_for(timeout=15000)
    assert "/edit/" in page.url
    push = Push.objects.get()
    assert push.title_tag == "防火" and push.body == body

    page.locator("#id_image").set_input_files(str(png))
    page.get_by_label("圖片說明（供螢幕報讀軟體使用）").fill("紅色示意圖")
    page.get_by_role("button", name="上傳圖片").click()
    page.locator("#thumbs img").first.wait_for()
    page.locator("#preview-images img").first.wait_for()
    assert push.images.count() == 1
    save_screenshot(page, "console-push-compose")

    page.get_by_role("button", name="送出審核").click()
    page.wait_for_url(f"{base}/console/pushes/{push.pk}/")
    push.refresh_from_db()
    assert push.status == PushStatus.SUBMITTED
    assert page.get_by_role("button", name="核准").count() == 0
    _assert_accessible(page, "detail-drafter")

    page.get_by_role("button", name="登出").click()
    _sign_in(page, base, "prevention.head")
    page.get_by_role("link", name="待簽核").click()
    page.wait_for_url(f"{base}/console/approvals/")
    _assert_accessible(page, "queue")
    page.get_by_role("link", name="[防火]住警器每月測試").click()
    page.wait_for_url(f"{base}/console/pushes/{push.pk}/")
    _assert_accessible(page, "detail-approver")
    page.get_by_role("button", name="核准", exact=True).click()
    page.get_by_text("您已核准這則推播。").wait_for()
    push.refresh_from_db()
    assert push.status == PushStatus.APPROVED

    # The head schedules it now; the dispatcher sends it; citizens read it over the next hours.
    page.get_by_role("radio", name=re.compile("立即")).check()
    page.get_by_role("button", name="排程", exact=True).click()
    page.get_by_text(re.compile("推播已排程")).wait_for()
    dispatching.dispatch_due(now=datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1))
    push.refresh_from_db()
    assert push.status == PushStatus.SENT and push.audience_size == 3
    for hours, citizen in zip((0, 1, 1), citizens, strict=True):
        services.do_record_read(citizen, push, now=push.first_sent_at + datetime.timedelta(hours=hours, minutes=5))

    page.goto(f"{base}/console/calendar/")
    _assert_accessible(page, "calendar")
    assert page.get_by_role("link", name=re.compile("住警器每月測試")).count() == 1
    page.goto(f"{base}/console/stats/")
    _assert_accessible(page, "dashboard")
    page.goto(f"{base}/console/pushes/{push.pk}/stats/")
    assert page.locator("#stat-audience").text_content() == "3"
    assert page.locator("svg.chart").count() == 1
    save_screenshot(page, "console-push-stats")
    _assert_accessible(page, "stats")
