"""In real Chromium on a phone: a citizen opens the notification settings from "Me", sees their
devices and removes one; the page passes an axe scan."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore

from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.core.testing import axe_serious_violations, save_screenshot
from civicpush.delivery import devices
from civicpush.delivery.models import Device

from .deledge_helpers import citizen, web_push_device

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def signed_in(page: Any, live_server: Any, who: Any) -> None:
    store = SessionStore()
    store[CITIZEN_SESSION_KEY] = who.pk
    store.save()
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": store.session_key, "url": live_server.url}]
    )


def test_a_citizen_sees_their_devices_and_removes_one(live_server: Any, phone_page: Any) -> None:
    alice = citizen()
    web_push_device(alice, label="Chrome · Android")
    Device.objects.create(
        citizen=alice,
        kind="fcm",
        address="fcm-token-1",
        address_hash=devices.address_hash("fcm", "fcm-token-1"),
        label="Pixel 8",
    )
    page = phone_page
    signed_in(page, live_server, alice)
    page.goto(f"{live_server.url}/me/")
    page.get_by_role("link", name="通知與裝置").click()
    page.wait_for_url("**/me/notifications/")
    assert page.get_by_role("heading", level=1).inner_text() == "通知與裝置"
    devices_list = page.locator(".device")
    assert devices_list.count() == 2
    assert "Pixel 8" in page.locator(".device-list").inner_text()
    # citizen.js has looked at this browser: the "checking…" text gives way to this device's state.
    page.wait_for_function(
        "() => !document.querySelector('[data-push-status]').textContent.includes('正在確認')", timeout=10_000
    )
    violations = axe_serious_violations(page)
    assert violations == [], violations
    save_screenshot(page, "citizen-notification-settings")

    page.get_by_role("button", name="移除 Pixel 8").click()
    page.wait_for_url("**/me/notifications/")
    assert "裝置已移除" in page.get_by_role("status").first.inner_text()
    assert page.locator(".device").count() == 1
    assert "Pixel 8" not in page.locator(".device-list").inner_text()
    assert [d.label for d in devices.active_devices(alice)] == ["Chrome · Android"]
