"""In real Chromium on a phone: a citizen opens their applications and follows a case's timeline."""

from __future__ import annotations

import datetime
import threading
from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from civicpush.cases import services
from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.core.testing import axe_serious_violations, save_screenshot
from civicpush.org.tests.factories import build_fire_bureau

from .helpers import new_citizen

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _in_thread(work: Any) -> Any:
    """Run `work` in another thread: Playwright's sync API holds an event loop in this one, and the
    notices' delivery fan-out (run in-process on commit) runs its own."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(work()))
    thread.start()
    thread.join()
    assert result, "the setup failed (see the thread's traceback above)"
    return result[0]


def _cases() -> tuple[Any, Any, Any]:
    org = build_fire_bureau()
    citizen = new_citizen("+886912000001")
    drafter = org.user("prevention.drafter")
    case_type, _ = services.do_save_case_type(
        drafter, org.unit("prevention"), code="fire-plan-review", name="消防安全設備圖說審查", standard_days=10
    )
    case, _ = services.do_open_case(
        drafter, case_type, external_ref="113-消審-0042", citizen_number="0912-000-001",
        received_at=timezone.now() - datetime.timedelta(days=3),
    )  # fmt: skip
    services.do_record_event(
        drafter, case, kind="needs_documents", client_reference="e1", note="請補送消防安全設備平面圖"
    )
    services.do_record_event(
        drafter, case, kind="overdue", client_reference="e2", reason="需會同建管單位現場會勘",
        expected_completion=timezone.localdate() + datetime.timedelta(days=7),
    )  # fmt: skip
    other = new_citizen()
    other_case, _ = services.do_open_case(drafter, case_type, external_ref="X-2", citizen_number=other.phone_e164)
    return citizen, case, other_case


def _sign_in(page: Any, live_server: Any, citizen: Any) -> None:
    """Hand the browser a citizen session made on the server (sign-in itself is tested elsewhere)."""
    store = import_module(settings.SESSION_ENGINE).SessionStore()
    store[CITIZEN_SESSION_KEY] = citizen.pk
    store.create()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": store.session_key, "url": live_server.url}]
    )


def test_a_citizen_follows_a_case_timeline_on_a_phone(live_server: Any, phone_page: Any) -> None:
    citizen, case, other_case = _in_thread(_cases)
    page = phone_page
    _sign_in(page, live_server, citizen)

    page.goto(f"{live_server.url}/me/")
    page.get_by_role("link", name="我的申辦案件").click()
    page.wait_for_url("**/cases/")
    assert page.get_by_role("heading", level=1).inner_text() == "我的申辦案件"
    assert axe_serious_violations(page) == []
    save_screenshot(page, "citizen-my-cases")

    page.get_by_role("link", name="消防安全設備圖說審查").click()
    page.wait_for_url(f"**/cases/{case.pk}/")
    assert page.get_by_role("heading", level=1).inner_text() == "消防安全設備圖說審查"
    steps = page.locator(".case-timeline > li")
    assert steps.count() == 3
    assert "收件確認" in steps.nth(0).inner_text()
    assert "請補送消防安全設備平面圖" in steps.nth(1).inner_text()
    assert "需會同建管單位現場會勘" in steps.nth(2).inner_text()
    assert "逾期" in page.locator(".case-facts").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # phone-first: no sideways scrolling
    assert axe_serious_violations(page) == []
    save_screenshot(page, "citizen-case-timeline")

    response = page.goto(f"{live_server.url}/cases/{other_case.pk}/")  # another citizen's case
    assert response is not None and response.status == 404
