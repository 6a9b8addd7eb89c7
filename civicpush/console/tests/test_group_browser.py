"""The dynamic group builder in real Chromium: the live count follows the filters (htmx), axe-clean."""

from __future__ import annotations

from typing import Any

import pytest

from civicpush.audiences.models import Group
from civicpush.audiences.tests.factories import make_citizen
from civicpush.citizens.models import Gender, Township
from civicpush.citizens.tests.factories import taitung
from civicpush.core.testing import axe_serious_violations, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "demo-password-for-tests"


def test_the_builder_counts_matches_live_and_saves_only_on_submit(
    live_server: Any, desktop_page: Any, transactional_db: Any, org: Any
) -> None:
    taitung()
    lanyu = Township.objects.get(name="蘭嶼鄉")
    for gender in (Gender.FEMALE, Gender.FEMALE, Gender.MALE):
        make_citizen(township=lanyu, gender=gender)
    page = desktop_page
    page.goto(f"{live_server.url}/console/login/")
    page.get_by_label("帳號").fill("prevention.drafter")
    page.get_by_label("密碼").fill(PASSWORD)
    page.get_by_role("button", name="登入").click()
    page.wait_for_url(f"{live_server.url}/console/")
    page.get_by_role("link", name="群組").click()
    page.get_by_role("link", name="新增群組").click()
    page.get_by_label("動態群組（篩選條件）").check()
    page.get_by_role("button", name="繼續").click()
    page.wait_for_url("**/console/groups/new/?*kind=dynamic*")
    page.wait_for_load_state("load")
    page.wait_for_function("window.htmx !== undefined")

    estimate = page.locator("#estimate")
    page.locator("#id_townships").select_option(label="蘭嶼鄉")
    page.wait_for_function("document.querySelector('#estimate strong')?.textContent === '3'")
    page.wait_for_function("document.querySelectorAll('#id_villages option').length > 0")
    page.get_by_label("女", exact=True).check()
    page.wait_for_function("document.querySelector('#estimate strong')?.textContent === '2'")
    assert "2" in estimate.inner_text()
    assert not Group.objects.exists()
    assert axe_serious_violations(page) == []
    save_screenshot(page, "console-group-builder")

    page.get_by_role("button", name="建立群組").click()
    page.wait_for_url("**/console/groups/*/")
    group = Group.objects.get()
    assert group.filters == {"townships": [lanyu.pk], "genders": ["female"]}
    assert axe_serious_violations(page) == []
    save_screenshot(page, "console-group-detail")
