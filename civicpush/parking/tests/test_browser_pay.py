"""In real Chromium on a phone: a citizen sees an unpaid parking bill, pays it with coins and the
transaction PIN, and finds it in the history; each page passes an axe scan."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.core.testing import axe_serious_violations, save_screenshot
from civicpush.parking.models import Payment, PaymentStatus

from .world import PIN, bill_for, bind, make_world, wallet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page: Any, live_server: Any, citizen: Any) -> None:
    """A session like the one sign-in creates (the citizen signed up with the current notice)."""
    from django.conf import settings

    client = Client()
    session = client.session
    session[CITIZEN_SESSION_KEY] = citizen.pk
    session.save()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session.session_key, "url": live_server.url}]
    )


def test_a_citizen_pays_a_parking_bill_with_coins_on_a_phone(
    live_server: Any, phone_page: Any, transactional_db: Any, org: Any
) -> None:
    from django.conf import settings

    from civicpush.citizens import services as citizen_services
    from civicpush.citizens.tests.factories import taitung
    from civicpush.wallet.services import do_set_pin

    world = make_world(org)
    taitung()
    citizen = citizen_services.do_sign_up(
        "+886912000222", notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip="198.51.100.10"
    )
    do_set_pin(citizen, PIN, PIN)
    world.give(citizen, 1000)
    bill = bill_for(bind(citizen, "ABC-1234"), 40)

    page = phone_page
    _sign_in(page, live_server, citizen)
    page.goto(f"{live_server.url}/wallet/")
    page.get_by_role("link", name="停車繳費").click()
    page.wait_for_url("**/parking/")
    assert page.get_by_role("heading", level=1).inner_text() == "停車繳費"
    assert axe_serious_violations(page) == []
    save_screenshot(page, "parking-home")

    page.locator(".parking-bill-link", has_text="ABC-1234").click()
    page.wait_for_url(f"**/parking/bills/{bill.pk}/")
    assert "TT" in page.locator("dd", has_text=bill.bill_no).inner_text()
    assert axe_serious_violations(page) == []
    page.get_by_label("交易密碼").fill(PIN)
    page.get_by_role("button", name="支付 400 金幣").click()
    page.wait_for_url("**/parking/history/")
    assert "繳費完成" in page.content()
    assert "ABC-1234" in page.locator(".wallet-history").inner_text()
    assert axe_serious_violations(page) == []
    save_screenshot(page, "parking-history")

    payment = Payment.objects.get(bill=bill)
    assert payment.status == PaymentStatus.CONFIRMED and wallet(citizen) == 600
