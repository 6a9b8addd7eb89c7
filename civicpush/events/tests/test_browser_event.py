"""In real Chromium: a citizen registers on a phone and shows the ticket; the staff scanner (on a
second phone) is fed the ticket image through its camera; the check-in is recorded; closing the
event pays the attendance coins into the wallet; the satisfaction questionnaire, targeted at the
attendees' group, arrives in the attendee's inbox (and not in a no-show's)."""

from __future__ import annotations

import base64
import datetime
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.backends.db import SessionStore
from django.test import Client

from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.core.testing import axe_serious_violations, save_screenshot
from civicpush.events.models import Registration
from civicpush.events.tests.conftest import approve_all_for
from civicpush.events.tests.helpers import sent_event
from civicpush.pushes import dispatching
from civicpush.pushes import services as push_services
from civicpush.pushes.inbox import inbox_for
from civicpush.pushes.models import PushType, TargetKind
from civicpush.pushes.tests.conftest import draft_fields
from civicpush.wallet.tests.helpers import citizen as signed_up_citizen

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Replaces the camera with a canvas stream showing the image in window.__ticketImage (a data URL),
# as a phone camera pointed at the citizen's screen would see it.
FAKE_CAMERA = """
navigator.mediaDevices.getUserMedia = async function () {
  const image = new Image();
  image.src = window.__ticketImage;
  await image.decode();
  const canvas = document.createElement('canvas');
  canvas.width = 480; canvas.height = 480;
  const ctx = canvas.getContext('2d');
  const draw = () => { ctx.fillStyle = '#fff'; ctx.fillRect(0, 0, 480, 480);
    ctx.drawImage(image, 40, 40, 400, 400 * image.height / image.width); };
  draw(); setInterval(draw, 100);
  return canvas.captureStream(10);
};
"""


def _session_cookie(live_server: Any, key: str) -> dict[str, Any]:
    return {"name": django_settings.SESSION_COOKIE_NAME, "value": key, "url": live_server.url}


def _citizen_session(citizen: Any) -> str:
    store = SessionStore()
    store[CITIZEN_SESSION_KEY] = citizen.pk
    store.create()
    return store.session_key or ""


def test_register_show_ticket_scan_check_in_coins_and_survey(
    live_server: Any, chromium_browser: Any, phone_page: Any, org: Any, settings: Any
) -> None:
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.db"
    approve = approve_all_for(org)
    attendee, no_show = signed_up_citizen(), signed_up_citizen()
    event = sent_event(org, approve, coins=20, starts_in=datetime.timedelta(minutes=20))
    from civicpush.events import services

    services.do_register(no_show, event)
    # The unit prepares the satisfaction questionnaire for the attendees' group, signed off as usual.
    drafter = org.user("prevention.drafter")
    survey = push_services.do_create_draft(
        drafter,
        org.unit("prevention"),
        **draft_fields(
            push_type=PushType.QUESTIONNAIRE,
            title="[滿意度]防災體驗營滿意度調查",
            body="感謝您參加防災體驗營，請填寫滿意度問卷。",
            target_kind=TargetKind.GROUPS,
            target_group_ids=[event.attendees_group_id],
        ),
    )
    push_services.do_submit(drafter, survey)
    approve(survey)

    # 1. The citizen registers on a phone and sees the ticket.
    page = phone_page
    page.context.add_cookies([_session_cookie(live_server, _citizen_session(attendee))])
    page.goto(f"{live_server.url}/events/{event.pk}/")
    page.get_by_role("button", name="報名").click()
    page.wait_for_selector("[data-registration-status=confirmed]")
    ticket = page.locator(".ticket-qr svg")
    ticket.wait_for()
    assert axe_serious_violations(page) == []
    save_screenshot(page, "event-ticket-phone")
    ticket_png = ticket.screenshot()

    # 2. Staff open the scanner on their phone; its camera sees the ticket.
    staff_client = Client()
    staff_client.force_login(drafter)
    staff_context = chromium_browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, locale="zh-TW")
    try:
        staff_context.add_cookies(
            [_session_cookie(live_server, staff_client.cookies[django_settings.SESSION_COOKIE_NAME].value)]
        )
        staff_context.add_init_script(
            f"window.__ticketImage = 'data:image/png;base64,{base64.b64encode(ticket_png).decode()}';" + FAKE_CAMERA
        )
        scanner = staff_context.new_page()
        scanner.goto(f"{live_server.url}/console/events/{event.pk}/scanner/")
        assert axe_serious_violations(scanner) == []
        scanner.get_by_role("button", name="開啟相機").click()
        scanner.wait_for_selector(".scan-result.scan-ok", timeout=15000)
        assert "完成" in scanner.locator("[data-result]").inner_text()
        save_screenshot(scanner, "event-scanner-phone")

        # 3. The check-in is recorded; closing the event pays attendance coins.
        reg = Registration.objects.get(event=event, citizen=attendee)
        assert reg.checked_in_at is not None
        scanner.goto(f"{live_server.url}/console/events/{event.pk}/")
        scanner.locator("[data-close-event]").click()
        scanner.wait_for_selector(".message-success")
    finally:
        staff_context.close()

    page.goto(f"{live_server.url}/wallet/")
    assert page.locator("[data-balance]").inner_text().strip() == "20"

    # 4. Closing the event sent the questionnaire: only the attendee receives it.
    dispatching.dispatch_due()  # (in-process tasks usually did it already)
    assert [e.push_id for e in inbox_for(attendee) if e.push_id == survey.pk] == [survey.pk]
    assert [e.push_id for e in inbox_for(no_show) if e.push_id == survey.pk] == []
    page.goto(f"{live_server.url}/")
    assert "防災體驗營滿意度調查" in page.locator("main").inner_text()
