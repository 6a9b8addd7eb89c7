"""Who may do what on push pages: the service is the guard, the page says why."""

from __future__ import annotations

import pytest

from civicpush.core.models import AuditEntry
from civicpush.pushes.models import Push, PushApproval, PushStatus

from .push_helpers import compose_data, make_citizen, make_group

pytestmark = pytest.mark.django_db


def _submitted_push(org, as_staff, username: str = "prevention.drafter", **overrides) -> Push:
    client = as_staff(username)
    unit = org.unit("prevention")
    group = make_group(unit, [make_citizen(org.county)])
    data = compose_data(target_kind="groups", target_group_ids=[group.pk], **overrides)
    saved = client.post(f"/console/pushes/new/autosave/?unit={unit.pk}", data, HTTP_ACCEPT="application/json")
    push = Push.objects.get(pk=saved.json()["push_id"])
    assert client.post(f"/console/pushes/{push.pk}/submit/").status_code == 302
    return push


def test_drafter_sees_no_approve_button_and_a_forged_decision_is_refused_and_recorded_nowhere(org, as_staff):
    push = _submitted_push(org, as_staff)
    drafter = as_staff("prevention.drafter")
    detail = drafter.get(f"/console/pushes/{push.pk}/").content.decode()
    assert 'value="approved"' not in detail
    entries_before = AuditEntry.objects.count()

    forged = drafter.post(f"/console/pushes/{push.pk}/decide/", {"decision": "approved"})

    assert forged.status_code == 403
    assert 'id="action-error"' in forged.content.decode()
    assert not PushApproval.objects.filter(push=push).exists()
    push.refresh_from_db()
    assert push.status == PushStatus.SUBMITTED
    assert AuditEntry.objects.count() == entries_before


def test_unit_head_who_drafted_the_push_cannot_approve_it_and_is_told_why(org, as_staff):
    push = _submitted_push(org, as_staff, username="prevention.head")
    head = as_staff("prevention.head")
    assert 'value="approved"' not in head.get(f"/console/pushes/{push.pk}/").content.decode()
    assert push.full_title not in head.get("/console/approvals/").content.decode()
    forged = head.post(f"/console/pushes/{push.pk}/decide/", {"decision": "approved"})
    assert forged.status_code == 403
    assert "您不能核准自己撰寫或修改的推播。" in forged.content.decode()
    assert not PushApproval.objects.filter(push=push).exists()


def test_staff_unit_drafter_targeting_everyone_is_refused_with_a_clear_message(org, as_staff):
    admin = as_staff("admin.drafter")
    unit = org.unit("admin")
    page = admin.get(f"/console/pushes/new/?unit={unit.pk}").content.decode()
    assert 'value="everyone"' not in page  # not offered to a staff unit
    response = admin.post(
        f"/console/pushes/new/autosave/?unit={unit.pk}",
        compose_data(target_kind="everyone"),
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    errors = response.json()["errors"]
    assert "幕僚單位" in " ".join(errors.get("target_kind", []))
    plain = admin.post(f"/console/pushes/new/?unit={unit.pk}", compose_data(target_kind="everyone"))
    assert plain.status_code == 400
    assert "幕僚單位" in plain.content.decode()
    assert not Push.objects.exists()


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/console/pushes/{id}/"),
        ("get", "/console/pushes/{id}/edit/"),
        ("post", "/console/pushes/{id}/edit/"),
        ("post", "/console/pushes/{id}/autosave/"),
        ("get", "/console/pushes/{id}/review-form/"),
        ("get", "/console/pushes/{id}/review-form.pdf"),
        ("get", "/console/pushes/{id}/stats/"),
        ("post", "/console/pushes/{id}/submit/"),
        ("post", "/console/pushes/{id}/decide/"),
        ("post", "/console/pushes/{id}/schedule/"),
        ("post", "/console/pushes/{id}/cancel/"),
        ("post", "/console/pushes/{id}/images/"),
    ],
)
def test_another_units_drafter_gets_404_on_every_page_of_the_push(org, as_staff, method, path):
    push = _submitted_push(org, as_staff)
    other = as_staff("investigation.drafter")
    response = getattr(other, method)(
        path.format(id=push.pk), {"decision": "approved", "kind": "now"} if method == "post" else None
    )
    assert response.status_code == 404
    push.refresh_from_db()
    assert push.status == PushStatus.SUBMITTED


def test_other_units_pushes_are_not_listed_and_estimates_for_their_unit_are_404(org, as_staff):
    push = _submitted_push(org, as_staff)
    other = as_staff("investigation.drafter")
    assert push.full_title not in other.get("/console/pushes/").content.decode()
    prevention = org.unit("prevention")
    assert other.get(f"/console/pushes/estimate/?unit={prevention.pk}&target_kind=everyone").status_code == 404
    assert other.get(f"/console/pushes/new/?unit={prevention.pk}").status_code == 404


@pytest.mark.parametrize("path", ["/console/county/slots/", "/console/county/chains/", "/console/county/policy/"])
@pytest.mark.parametrize("username", ["prevention.drafter", "prevention.head", "fire.director"])
def test_county_settings_are_403_for_everyone_but_the_operator(org, as_staff, path, username):
    client = as_staff(username)
    assert client.get(path).status_code == 403
    assert (
        client.post(path, {"quiet_start": "00:00", "quiet_end": "00:00", "daily_promotion_cap": "9"}).status_code == 403
    )
    assert as_staff("county.operator").get(path).status_code == 200
    assert "/console/county/slots/" not in client.get("/console/pushes/").content.decode()


def test_operator_finds_county_settings_from_the_push_list(org, as_staff):
    assert "/console/county/slots/" in as_staff("county.operator").get("/console/pushes/").content.decode()


def test_operator_opens_approves_and_closes_a_slot_and_sets_a_unit_chain(org, as_staff):
    from civicpush.pushes.chains import resolve_chain
    from civicpush.pushes.models import CountySlot, SlotStatus

    operator = as_staff("county.operator")
    response = operator.post(
        "/console/county/slots/", {"starts_at": "2030-01-02T10:00", "capacity": "3", "note": "元旦宣導"}
    )
    assert response.status_code == 302
    slot = CountySlot.objects.get()
    assert slot.status == SlotStatus.OPEN
    operator.post(f"/console/county/slots/{slot.pk}/approve/")
    slot.refresh_from_db()
    assert slot.status == SlotStatus.APPROVED
    assert "元旦宣導" in operator.get("/console/county/slots/").content.decode()

    unit = org.unit("prevention")
    response = operator.post(
        "/console/county/chains/",
        {
            "level": "unit",
            "unit": unit.pk,
            "applies_to": "groups_or_person",
            "step_1": "unit_head",
            "step_2": "push_liaison",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert resolve_chain(unit, "groups") == ["drafter", "unit_head", "push_liaison"]
    bad = operator.post(
        "/console/county/chains/",
        {"level": "county", "applies_to": "everyone", "step_1": "unit_head", "step_2": "unit_head"},
    )
    assert bad.status_code == 400
    assert "同一角色在審核流程中只能出現一次。" in bad.content.decode()


def test_routine_promotion_is_scheduled_into_an_approved_slot(org, as_staff):
    import datetime

    from civicpush.pushes import services
    from civicpush.pushes.scheduling import TAIPEI

    operator = org.user("county.operator")
    starts = datetime.datetime.now(TAIPEI).replace(hour=10, minute=0, second=0, microsecond=0) + datetime.timedelta(
        days=3
    )
    slot = services.do_open_slot(operator, org.county, starts, 2)
    services.do_approve_slot(operator, slot)
    push = _submitted_push(org, as_staff, is_routine_promotion="on")
    head = as_staff("prevention.head")
    head.post(f"/console/pushes/{push.pk}/decide/", {"decision": "approved"})
    drafter = as_staff("prevention.drafter")
    page = drafter.get(f"/console/pushes/{push.pk}/").content.decode()
    assert f'<option value="{slot.pk}"' in page
    refused = drafter.post(f"/console/pushes/{push.pk}/schedule/", {"kind": "now"})
    assert refused.status_code == 400
    ok = drafter.post(f"/console/pushes/{push.pk}/schedule/", {"kind": "slot", "slot": slot.pk})
    assert ok.status_code == 302
    push.refresh_from_db()
    assert push.status == PushStatus.SCHEDULED and push.slot_id == slot.pk and push.send_at == starts
