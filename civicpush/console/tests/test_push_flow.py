"""The life of a push through the console: compose, autosave, submit, sign-off, schedule, send, stats."""

from __future__ import annotations

import datetime

import pytest

from civicpush.pushes import dispatching
from civicpush.pushes.models import CountyPushPolicy, Push, PushApproval, PushStatus

from .push_helpers import approve_in_order, compose_data, make_citizen, make_group

pytestmark = pytest.mark.django_db


def _no_quiet_hours(as_staff) -> None:
    operator = as_staff("county.operator")
    response = operator.post(
        "/console/county/policy/", {"quiet_start": "00:00", "quiet_end": "00:00", "daily_promotion_cap": "3"}
    )
    assert response.status_code == 302


def test_push_goes_from_compose_through_every_approver_to_sent_and_its_stats_show_the_audience(org, as_staff):
    for _ in range(3):
        make_citizen(org.county)
    _no_quiet_hours(as_staff)
    drafter = as_staff("prevention.drafter")
    unit = org.unit("prevention")

    # Compose: the page offers "everyone" to a business unit and shows the live audience size.
    page = drafter.get(f"/console/pushes/new/?unit={unit.pk}")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'value="everyone"' in html and 'data-width-counter="#body-count"' in html

    # Autosave creates the draft, then keeps saving changes.
    first = drafter.post(
        f"/console/pushes/new/autosave/?unit={unit.pk}", compose_data(), HTTP_ACCEPT="application/json"
    )
    assert first.status_code == 200, first.content
    body = first.json()
    assert body["ok"] and body["created"] and body["message"].startswith("已儲存")
    push = Push.objects.get(pk=body["push_id"])
    assert push.status == PushStatus.DRAFT and push.title_tag == "防火"
    again = drafter.post(body["autosave_url"], compose_data(subtitle="每月測試一次"), HTTP_ACCEPT="application/json")
    assert again.json()["ok"]
    push.refresh_from_db()
    assert push.subtitle == "每月測試一次"

    estimate = drafter.get(f"/console/pushes/estimate/?unit={unit.pk}&target_kind=everyone")
    assert estimate.json()["count"] == 3

    # Submit, then the chain's approvers approve in order.
    assert drafter.post(f"/console/pushes/{push.pk}/submit/").status_code == 302
    push.refresh_from_db()
    assert push.status == PushStatus.SUBMITTED
    signed = approve_in_order(as_staff, push)
    assert signed == ["prevention.head", "fire.liaison", "fire.secretary", "fire.deputy", "fire.director"]
    push.refresh_from_db()
    assert push.status == PushStatus.APPROVED

    # Schedule now; the dispatcher sends it.
    detail = drafter.get(f"/console/pushes/{push.pk}/").content.decode()
    assert 'id="schedule-form"' in detail
    response = drafter.post(f"/console/pushes/{push.pk}/schedule/", {"kind": "now"})
    assert response.status_code == 302, response.content.decode()[:3000]
    push.refresh_from_db()
    assert push.status in (PushStatus.SCHEDULED, PushStatus.SENT)
    dispatching.dispatch_due(now=push.send_at + datetime.timedelta(seconds=1))
    push.refresh_from_db()
    assert push.status == PushStatus.SENT
    assert push.audience_size == 3

    stats = drafter.get(f"/console/pushes/{push.pk}/stats/")
    assert stats.status_code == 200
    assert '<dd id="stat-audience">3</dd>' in stats.content.decode()
    assert "<svg" in stats.content.decode()


def test_autosave_with_errors_reports_them_and_saves_nothing(org, as_staff):
    drafter = as_staff("prevention.drafter")
    unit = org.unit("prevention")
    response = drafter.post(
        f"/console/pushes/new/autosave/?unit={unit.pk}",
        compose_data(title="", body="超" * 121, link="javascript:alert(1)"),
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert set(errors) >= {"title", "body", "link"}
    assert "121" in errors["body"][0]
    assert not Push.objects.exists()


def test_plain_form_post_keeps_the_input_when_invalid(org, as_staff):
    drafter = as_staff("prevention.drafter")
    unit = org.unit("prevention")
    response = drafter.post(f"/console/pushes/new/?unit={unit.pk}", compose_data(title="", subtitle="保留我"))
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="保留我"' in html
    assert "請輸入訊息標題。" in html
    assert not Push.objects.exists()


def test_group_push_estimate_counts_members_of_chosen_groups_only(org, as_staff):
    unit = org.unit("prevention")
    group = make_group(unit, [make_citizen(org.county) for _ in range(2)], name="預防科宣導0820")
    make_group(unit, [make_citizen(org.county)], name="其他")
    drafter = as_staff("prevention.drafter")
    page = drafter.get(f"/console/pushes/new/?unit={unit.pk}").content.decode()
    assert "預防科宣導0820" in page
    estimate = drafter.get(f"/console/pushes/estimate/?unit={unit.pk}&target_kind=groups&target_group_ids={group.pk}")
    assert estimate.json()["count"] == 2


def test_drafter_with_several_units_chooses_the_unit_first(org, as_staff):
    # The county operator may not draft; a unit head drafts only in their unit: one unit, no choice.
    head = as_staff("prevention.head")
    page = head.get("/console/pushes/new/")
    assert page.status_code == 200
    assert 'id="compose-form"' in page.content.decode()


def test_editing_an_approved_push_warns_and_restarts_the_sign_off(org, as_staff):
    drafter = as_staff("prevention.drafter")
    unit = org.unit("prevention")
    group = make_group(unit, [make_citizen(org.county)])
    data = compose_data(target_kind="groups", target_group_ids=[group.pk])
    saved = drafter.post(f"/console/pushes/new/autosave/?unit={unit.pk}", data, HTTP_ACCEPT="application/json")
    push = Push.objects.get(pk=saved.json()["push_id"])
    drafter.post(f"/console/pushes/{push.pk}/submit/")
    approve_in_order(as_staff, push)
    push.refresh_from_db()
    assert push.status == PushStatus.APPROVED

    page = drafter.get(f"/console/pushes/{push.pk}/edit/").content.decode()
    assert "重新簽核" in page or "restarts the sign-off" in page
    assert 'data-autosave="off"' in page

    response = drafter.post(f"/console/pushes/{push.pk}/edit/", {**data, "subtitle": "改過的副標題"}, follow=True)
    push.refresh_from_db()
    assert push.status == PushStatus.DRAFT and push.revision == 2
    assert not PushApproval.objects.filter(push=push, is_current=True).exists()
    assert any("重新" in str(m) or "starts over" in str(m) for m in response.context["messages"])


def test_returning_a_push_needs_a_comment_and_sends_it_back(org, as_staff):
    drafter = as_staff("prevention.drafter")
    unit = org.unit("prevention")
    group = make_group(unit, [make_citizen(org.county)])
    saved = drafter.post(
        f"/console/pushes/new/autosave/?unit={unit.pk}",
        compose_data(target_kind="groups", target_group_ids=[group.pk]),
        HTTP_ACCEPT="application/json",
    )
    push = Push.objects.get(pk=saved.json()["push_id"])
    drafter.post(f"/console/pushes/{push.pk}/submit/")
    head = as_staff("prevention.head")
    no_comment = head.post(f"/console/pushes/{push.pk}/decide/", {"decision": "returned"})
    assert no_comment.status_code == 400
    push.refresh_from_db()
    assert push.status == PushStatus.SUBMITTED
    ok = head.post(f"/console/pushes/{push.pk}/decide/", {"decision": "returned", "comment": "請補上活動日期"})
    assert ok.status_code == 302
    push.refresh_from_db()
    assert push.status == PushStatus.RETURNED
    assert "請補上活動日期" in drafter.get(f"/console/pushes/{push.pk}/").content.decode()


def test_queue_lists_the_push_for_the_current_approver_with_its_step(org, as_staff):
    drafter = as_staff("prevention.drafter")
    unit = org.unit("prevention")
    saved = drafter.post(
        f"/console/pushes/new/autosave/?unit={unit.pk}", compose_data(), HTTP_ACCEPT="application/json"
    )
    push = Push.objects.get(pk=saved.json()["push_id"])
    drafter.post(f"/console/pushes/{push.pk}/submit/")
    head_queue = as_staff("prevention.head").get("/console/approvals/").content.decode()
    assert push.full_title in head_queue and "預防科" in head_queue
    liaison_queue = as_staff("fire.liaison").get("/console/approvals/").content.decode()
    assert push.full_title not in liaison_queue


def test_calendar_shows_scheduled_dispatches_and_county_slots(org, as_staff):
    from civicpush.pushes import services
    from civicpush.pushes.scheduling import TAIPEI

    operator = org.user("county.operator")
    starts = datetime.datetime.now(TAIPEI).replace(hour=10, minute=0, second=0, microsecond=0) + datetime.timedelta(
        days=40
    )
    services.do_open_slot(operator, org.county, starts, 3, "月初宣導")
    month = starts.strftime("%Y-%m")
    page = as_staff("prevention.drafter").get(f"/console/calendar/?month={month}")
    assert page.status_code == 200
    html = page.content.decode()
    assert "月初宣導" in html and "<caption" in html and 'scope="col"' in html


def test_pinned_is_refused_for_a_promotion_with_a_message(org, as_staff):
    drafter = as_staff("prevention.drafter")
    unit = org.unit("prevention")
    response = drafter.post(
        f"/console/pushes/new/autosave/?unit={unit.pk}", compose_data(pinned="on"), HTTP_ACCEPT="application/json"
    )
    assert response.status_code == 400
    assert "pinned" in response.json()["errors"]


def test_unknown_policy_is_the_default_and_saving_it_records_it(org, as_staff):
    operator = as_staff("county.operator")
    assert operator.get("/console/county/policy/").status_code == 200
    operator.post("/console/county/policy/", {"quiet_start": "23:00", "quiet_end": "06:30", "daily_promotion_cap": "2"})
    policy = CountyPushPolicy.objects.get(county=org.county)
    assert policy.daily_promotion_cap == 2 and policy.quiet_start == datetime.time(23, 0)
