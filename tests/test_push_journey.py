"""The life of a push in real Chromium, across all three people it touches:

a drafter composes a push to everyone with an image; every approver of the business unit's chain
(unit head → push liaison → secretary → deputy director → director) signs it in the console; it is
scheduled and dispatched; a citizen signs in on a phone, sees it in the inbox and opens it; the
drafter's statistics page then shows one read.
"""

from __future__ import annotations

import datetime
import re
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from civicpush.core.testing import axe_serious_violations, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "demo-password-for-tests"
CITIZEN_PHONE = "+886912000111"
APPROVERS = ["prevention.head", "fire.liaison", "fire.secretary", "fire.deputy", "fire.director"]


def sign_in_staff(page: Any, base: str, username: str) -> None:
    page.goto(f"{base}/console/login/")
    page.get_by_label("帳號").fill(username)
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{base}/console/")


def assert_accessible(page: Any, name: str) -> None:
    violations = axe_serious_violations(page)
    assert violations == [], f"{name}: {violations}"


def test_a_push_goes_from_drafter_through_the_whole_chain_to_a_citizens_phone_and_counts_one_read(
    live_server: Any, chromium_browser: Any, settings: Any, tmp_path: Path
) -> None:
    from civicpush.citizen_web.tests.pushes import new_citizen
    from civicpush.citizens.tests.factories import latest_code, taitung
    from civicpush.org.tests.factories import build_fire_bureau
    from civicpush.pushes import dispatching
    from civicpush.pushes.chains import ensure_default_chains
    from civicpush.pushes.models import CountyPushPolicy, Push, PushRead, PushStatus

    settings.MEDIA_ROOT = tmp_path / "media"
    org = build_fire_bureau()
    taitung()
    ensure_default_chains(org.county)
    # No quiet hours in this test, whatever the time of day it runs.
    CountyPushPolicy.objects.update_or_create(
        county=org.county, defaults={"quiet_start": datetime.time(0), "quiet_end": datetime.time(0)}
    )
    citizen = new_citizen(CITIZEN_PHONE)
    png = tmp_path / "smoke-alarm.png"
    Image.new("RGB", (120, 80), (190, 30, 30)).save(png)
    base = live_server.url

    staff_context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    staff = staff_context.new_page()
    sign_in_staff(staff, base, "prevention.drafter")
    staff.goto(f"{base}/console/pushes/new/?unit={org.unit('prevention').pk}")
    staff.get_by_role("radio", name="宣導").check()
    staff.get_by_label("標題", exact=True).fill("[防火]年終大掃除別忘了住警器")
    staff.get_by_label("訊息內容", exact=True).fill("大掃除時請順手測試住宅用火災警報器，按下測試鈕聽到警報聲即正常。")
    staff.get_by_label("預計推播日期（或活動日期）").fill("2026-12-20")
    staff.get_by_label("業務承辦人", exact=True).fill("王小明")
    staff.get_by_label("電話").fill("089-322112")
    staff.get_by_label("信箱").fill("ming@fire.example.gov.tw")
    staff.get_by_role("radio", name=re.compile("全體")).check()
    staff.locator("#autosave-status").filter(has_text=re.compile(r"已儲存 \d\d:\d\d")).wait_for(timeout=15000)
    staff.locator("#id_image").set_input_files(str(png))
    staff.get_by_label("圖片說明（供螢幕報讀軟體使用）").fill("住警器測試示意圖")
    staff.get_by_role("button", name="上傳圖片").click()
    staff.locator("#thumbs img").first.wait_for()
    push = Push.objects.get()
    assert push.images.count() == 1
    staff.get_by_role("button", name="送出審核").click()
    staff.wait_for_url(f"{base}/console/pushes/{push.pk}/")
    push.refresh_from_db()
    assert push.status == PushStatus.SUBMITTED
    assert len(push.chain_roles) == 6  # drafter + five approvers for a push to everyone
    staff.get_by_role("button", name="登出").click()

    for approver in APPROVERS:
        sign_in_staff(staff, base, approver)
        staff.goto(f"{base}/console/approvals/")
        staff.get_by_role("link", name="[防火]年終大掃除別忘了住警器").click()
        staff.get_by_role("button", name="核准", exact=True).click()
        staff.get_by_text("您已核准這則推播。").wait_for()
        if approver != APPROVERS[-1]:
            staff.get_by_role("button", name="登出").click()
    push.refresh_from_db()
    assert push.status == PushStatus.APPROVED
    assert [a.approver.username for a in push.approvals.filter(revision=push.revision).order_by("step")] == APPROVERS

    # The director schedules it now; the periodic dispatcher freezes the audience and sends it.
    staff.get_by_role("radio", name=re.compile("立即")).check()
    staff.get_by_role("button", name="排程", exact=True).click()
    staff.get_by_text(re.compile("推播已排程")).wait_for()
    dispatching.dispatch_due(now=datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=1))
    push.refresh_from_db()
    assert push.status == PushStatus.SENT

    phone_context = chromium_browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-TW"
    )
    phone = phone_context.new_page()
    phone.goto(f"{base}/signin/")
    phone.get_by_label("手機號碼").fill("0912-000-111")
    phone.get_by_role("button", name="傳送驗證碼").click()
    phone.wait_for_url("**/signin/code/")
    phone.get_by_label("6 位數驗證碼").fill(latest_code(CITIZEN_PHONE))
    phone.get_by_role("button", name="確認").click()
    phone.wait_for_url(f"{base}/")
    phone.get_by_role("link", name=re.compile("年終大掃除別忘了住警器")).click()
    phone.wait_for_url(f"**/m/{push.pk}/")
    phone.get_by_role("img", name="住警器測試示意圖").wait_for()
    assert_accessible(phone, "citizen message")
    save_screenshot(phone, "journey-citizen-message")
    assert PushRead.objects.filter(push=push, citizen=citizen).count() == 1

    staff.get_by_role("button", name="登出").click()
    sign_in_staff(staff, base, "prevention.drafter")
    staff.goto(f"{base}/console/pushes/{push.pk}/stats/")
    assert staff.locator("#stat-reads").text_content().strip() == "1"
    assert staff.locator("#stat-read-rate").text_content().strip().startswith("100")
    save_screenshot(staff, "journey-push-stats")
    assert_accessible(staff, "push stats")
    phone_context.close()
    staff_context.close()
