"""Case progress through the API: opening, idempotent events, notices, sandbox keys, isolation."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from civicpush.cases.models import Case, CaseEvent, SandboxNotice
from civicpush.core.models import AuditEntry
from civicpush.delivery.models import SystemNotice
from civicpush.pushes.models import Push

from .helpers import key_client, new_citizen, put_type

pytestmark = pytest.mark.django_db


def _open(kc: Any, ref: str = "A-001", citizen: str = "0912-000-001") -> Any:
    return kc.call("post", "/cases", {"case_type": "fire-plan-review", "external_ref": ref, "citizen": citizen})


def test_opening_a_case_notifies_the_citizen_without_personal_data(org: Any) -> None:
    citizen = new_citizen("+886912000001")
    kc = key_client(org)
    put_type(kc)

    response = _open(kc)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "received"
    assert body["recipient"] == "0912-***-001"
    assert [e["kind"] for e in body["events"]] == ["received"]
    notice = Push.objects.get(target_citizen=citizen, is_system_notice=True)
    assert notice.title_tag == "申辦進度"
    assert notice.title == "收件確認"
    assert "消防安全設備圖說審查" in notice.body
    assert "0912" not in notice.body and "A-001" not in notice.body
    assert notice.link == f"/cases/{body['id']}/"


def test_the_same_event_submitted_twice_has_one_effect(org: Any) -> None:
    new_citizen("+886912000001")
    kc = key_client(org)
    put_type(kc)
    case_id = _open(kc).json()["id"]
    event = {"kind": "needs_documents", "client_reference": "evt-7", "note": "請補送平面圖"}

    first = kc.call("post", f"/cases/{case_id}/events", event)
    second = kc.call("post", f"/cases/{case_id}/events", event)

    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    assert CaseEvent.objects.filter(case_id=case_id, kind="needs_documents").count() == 1
    assert SystemNotice.objects.filter(kind="case_event").count() == 2  # receipt + one needs-documents
    assert AuditEntry.objects.filter(action="cases.case.event_recorded").count() == 1


def test_opening_the_same_case_number_again_returns_the_case(org: Any) -> None:
    new_citizen("+886912000001")
    kc = key_client(org)
    put_type(kc)
    first = _open(kc)
    again = _open(kc)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Case.objects.count() == 1
    assert SystemNotice.objects.count() == 1


def test_overdue_event_needs_a_reason_and_an_expected_date(org: Any) -> None:
    new_citizen("+886912000001")
    kc = key_client(org)
    put_type(kc)
    case_id = _open(kc).json()["id"]

    bad = kc.call("post", f"/cases/{case_id}/events", {"kind": "overdue", "client_reference": "o1"})
    assert bad.status_code == 400
    assert set(bad.json()["errors"]) == {"reason", "expected_completion"}

    good = kc.call(
        "post",
        f"/cases/{case_id}/events",
        {"kind": "overdue", "client_reference": "o1", "reason": "需會勘現場", "expected_completion": "2026-12-20"},
    )
    assert good.status_code == 201
    case = Case.objects.get(pk=case_id)
    assert case.status == "overdue" and case.overdue_reason == "需會勘現場"
    assert case.expected_completion == datetime.date(2026, 12, 20)


def test_a_closed_case_takes_no_more_events(org: Any) -> None:
    new_citizen("+886912000001")
    kc = key_client(org)
    put_type(kc)
    case_id = _open(kc).json()["id"]
    assert kc.call("post", f"/cases/{case_id}/events", {"kind": "done", "client_reference": "d"}).status_code == 201
    late = kc.call("post", f"/cases/{case_id}/events", {"kind": "in_progress", "client_reference": "late"})
    assert late.status_code == 409
    assert late["Content-Type"] == "application/problem+json"
    assert late.json()["code"] == "case_closed"


def test_unknown_citizen_is_a_clear_404(org: Any) -> None:
    kc = key_client(org)
    put_type(kc)
    response = _open(kc, citizen="0912-999-999")
    assert response.status_code == 404
    assert response.json()["code"] == "citizen_not_found"
    assert Case.objects.count() == 0


def test_a_test_key_reaches_only_the_sandbox_inbox(org: Any) -> None:
    citizen = new_citizen("+886912000001")
    kc = key_client(org, kind="test")
    put_type(kc)

    response = _open(kc)

    assert response.status_code == 201
    assert response.json()["sandbox"] is True
    case = Case.objects.get()
    assert case.citizen is None
    assert not Push.objects.filter(target_citizen=citizen).exists()
    sandbox = SandboxNotice.objects.get()
    assert sandbox.unit == org.unit("prevention") and sandbox.title == "[申辦進度]收件確認"
    # A live key of the same unit does not see sandbox cases (and vice versa).
    live = key_client(org)
    assert live.call("get", f"/cases/{case.pk}").status_code == 404


def test_a_unit_key_cannot_touch_another_units_cases(org: Any) -> None:
    new_citizen("+886912000001")
    owner = key_client(org, "prevention")
    put_type(owner)
    case_id = _open(owner).json()["id"]
    other = key_client(org, "ems")

    assert other.call("get", f"/cases/{case_id}").status_code == 404
    post = other.call("post", f"/cases/{case_id}/events", {"kind": "done", "client_reference": "x"})
    assert post.status_code == 404
    assert other.call("get", "/cases").json()["count"] == 0
    # Nor open a case with a type of another unit.
    foreign = other.call(
        "post", "/cases", {"case_type": "fire-plan-review", "external_ref": "B", "citizen": "0912000001"}
    )
    assert foreign.status_code == 400
    assert Case.objects.get(pk=case_id).status == "received"


def test_a_brigade_key_covers_its_squads(org: Any) -> None:
    new_citizen("+886912000001")
    kc = key_client(org, "taitung-brigade")
    squad = org.unit("zhiben-squad")
    response = kc.call(
        "put", "/case-types/ems-cert", {"name": "救護紀錄表申請", "standard_days": 5, "unit_id": squad.pk}
    )
    assert response.status_code == 201
    opened = kc.call(
        "post", "/cases", {"case_type": "ems-cert", "external_ref": "Z1", "citizen": "0912000001", "unit_id": squad.pk}
    )
    assert opened.status_code == 201
    assert opened.json()["unit_id"] == squad.pk
