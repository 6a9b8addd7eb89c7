"""Project-wide test fixtures: real Chromium through Playwright, axe-core scans, organisation data."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from typing import Any

import pytest

CHROMIUM = os.environ.get("CIVICPUSH_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="session")
def chromium_browser() -> Iterator[Any]:
    """Debian's chromium driven by Playwright (no browser download)."""
    if not CHROMIUM:
        pytest.skip("chromium is not installed (make browser-deps installs it)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls made by the test
    # itself are still synchronous, so allow them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def phone_page(chromium_browser: Any) -> Iterator[Any]:
    """A phone-sized page (390×844, touch) in a fresh context."""
    context = chromium_browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-TW",
    )
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def desktop_page(chromium_browser: Any) -> Iterator[Any]:
    context = chromium_browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-TW")
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture
def org(db: Any) -> Any:
    """The Fire Bureau demo organisation (county, agency, 12 units, one staff member per role)."""
    from civicpush.org.tests.factories import build_fire_bureau

    return build_fire_bureau()


@pytest.fixture(autouse=True)
def default_language() -> Iterator[None]:
    """Every test starts in the default language (a request with Accept-Language: en must not leak)."""
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
    yield
    translation.activate(settings.LANGUAGE_CODE)


@pytest.fixture(autouse=True)
def forget_account_kinds() -> Iterator[None]:
    """The ledger caches each account's kind by id (an account never changes kind, and ids are never
    reused in a real database); test databases roll back, and SQLite then hands out the same ids
    again, so each test starts with an empty cache."""
    from civicpush.coins import ledger

    ledger._account_kinds.clear()
    yield
