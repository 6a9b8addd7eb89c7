"""In real Chromium on a phone: a citizen opens the notification settings from "Me", sees their
devices and removes one; the page passes an axe scan."""

from __future__ import annotations

import json
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


def test_the_service_worker_shows_a_pushed_nudge(live_server: Any, phone_page: Any) -> None:
    """A push delivered to the service worker (through Chromium's DevTools protocol, as a push
    service would) shows the nudge's title, body and icon, tagged with the push."""
    alice = citizen()
    page = phone_page
    signed_in(page, live_server, alice)
    page.context.grant_permissions(["notifications"], origin=live_server.url)
    cdp = page.context.new_cdp_session(page)
    registrations: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: registrations.extend(event["registrations"]))
    page.goto(f"{live_server.url}/me/notifications/")
    page.wait_for_function("navigator.serviceWorker && navigator.serviceWorker.controller !== null", timeout=15_000)
    cdp.send("ServiceWorker.enable")
    page.wait_for_timeout(300)
    # Every live registration Chromium reported (a reload can report an older one first): the push
    # goes to each, and the page's own registration shows it once (the nudge's tag replaces repeats).
    registration_ids = list(dict.fromkeys(r["registrationId"] for r in registrations if not r.get("isDeleted")))
    assert registration_ids
    nudge = {
        "push_id": 42,
        "title": "停水通知",
        "body": "明日上午九時起停水。",
        "url": "/m/42/",
        "icon": "",
        "image": "",
    }

    def deliver() -> None:
        for registration_id in registration_ids:
            cdp.send(
                "ServiceWorker.deliverPushMessage",
                {"origin": live_server.url, "registrationId": registration_id,
                 "data": json.dumps(nudge, ensure_ascii=False)},
            )  # fmt: skip

    deliver()
    shown: list[dict[str, Any]] = []
    for attempt in range(150):  # up to 15 s: a loaded CI machine has taken more than 5 s to show it
        if attempt and attempt % 30 == 0:
            deliver()  # a push sent while the worker was still starting can be dropped: send it again
        shown = page.evaluate(
            "navigator.serviceWorker.ready.then((r) => r.getNotifications())"
            ".then((list) => list.map((n) => ({title: n.title, body: n.body, icon: n.icon, tag: n.tag, data: n.data})))"
        )
        if shown:
            break
        page.wait_for_timeout(100)
    assert len(shown) == 1
    [notification] = shown
    assert notification["title"] == "停水通知" and notification["body"] == "明日上午九時起停水。"
    assert notification["tag"] == "push-42" and notification["data"]["push_id"] == 42
    assert notification["icon"].endswith("/static/citizen_web/icons/icon-192.png")
