"""The pushes API: the console's rules through a unit API key or a staff session."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from civicpush.core.errors import Conflict, PermissionDenied
from civicpush.core.models import AuditEntry
from civicpush.org.models import StaffUser
from civicpush.pushes import dispatching, services
from civicpush.pushes.chains import ensure_default_chains, next_step
from civicpush.pushes.inbox import inbox_for
from civicpush.pushes.models import Dispatch, DispatchStatus, Push, PushStatus
from civicpush.pushes.tests.conftest import make_citizen, make_group

from ..actors import service_actor
from ..auth import ApiPrincipal
from .conftest import IssuedKey, issue_key

pytestmark = pytest.mark.django_db

AGENCY_APPROVERS = {
    "push_liaison": "fire.liaison",
    "secretary": "fire.secretary",
    "deputy_director": "fire.deputy",
    "director": "fire.director",
}


def _body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "push_type": "promotion",
        "title": "[防火]居家安全宣導",
        "subtitle": "住警器守護您的家",
        "body": "請記得每月測試住宅用火災警報器。",
        "planned_date": "2026-12-01",
        "contact_name": "王小明",
        "contact_phone": "089-322112",
        "contact_email": "ming@fire.example.gov.tw",
        "target_kind": "everyone",
    }
    body.update(overrides)
    return body


def _post(client: Any, url: str, key: IssuedKey, body: dict[str, Any] | None = None) -> Any:
    return client.post(url, body or {}, content_type="application/json", **key.bearer)


def _approve_all(org: Any, push_id: int) -> Push:
    """Sign every remaining step in the services, as the console's approvers would."""
    push = Push.objects.select_related("unit").get(pk=push_id)
    while (step := next_step(push)) is not None:
        role = push.chain_roles[step]
        username = AGENCY_APPROVERS.get(role) or f"{push.unit.code}.head"
        services.do_decide(org.user(username), push, "approved")
        push.refresh_from_db()
    return push


def _local_mobile(citizen: Any) -> str:
    return "0" + citizen.phone_e164.removeprefix("+886")


# --- targeting by unit kind ---------------------------------------------------------------------


def test_a_staff_unit_key_cannot_push_to_everyone(client, org) -> None:
    key = issue_key(org, "admin")  # 行政科: a staff unit (幕僚單位)
    response = _post(client, "/api/v1/pushes", key, _body())
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "validation_failed"
    assert "target_kind" in problem["errors"]
    assert not Push.objects.exists()


def test_a_business_unit_key_may_push_to_everyone(client, org) -> None:
    key = issue_key(org, "prevention")
    response = _post(client, "/api/v1/pushes", key, _body())
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["status"] == "draft"
    assert data["target_kind"] == "everyone"
    assert data["unit_id"] == org.unit("prevention").pk
    assert data["title"] == "[防火]居家安全宣導"
    assert data["title_tag"] == "防火"
    assert data["is_test"] is False
    assert [s["role"] for s in data["chain"]] == [
        "drafter", "unit_head", "push_liaison", "secretary", "deputy_director", "director",
    ]  # fmt: skip


def test_a_key_drafts_under_its_own_name_in_the_audit_log(client, org) -> None:
    key = issue_key(org, "prevention")
    push_id = _post(client, "/api/v1/pushes", key, _body()).json()["id"]
    entry = AuditEntry.objects.get(action="pushes.push.created", object_id=str(push_id))
    assert entry.actor_label == f"api-key:{key.row.prefix}"
    assert Push.objects.get(pk=push_id).created_by.get_username() == f"api-key:{key.row.prefix}"
    account = StaffUser.objects.get(username=f"api-key:{key.row.prefix}")
    assert not account.has_usable_password()
    assert not account.role_assignments.exists()  # its drafting role is never stored


def test_staff_session_must_name_the_unit(client, org) -> None:
    client.force_login(org.user("prevention.drafter"))
    response = client.post("/api/v1/pushes", _body(), content_type="application/json")
    assert response.status_code == 400
    assert "unit_id" in response.json()["errors"]
    response = client.post("/api/v1/pushes", _body(unit_id=org.unit("prevention").pk), content_type="application/json")
    assert response.status_code == 201
    assert response.json()["drafted_by"] == "預防科承辦人"


# --- sign-off before anything goes out ----------------------------------------------------------


def test_nothing_dispatches_before_the_chain_is_complete(client, org) -> None:
    ensure_default_chains(org.county)
    citizen = make_citizen(org.county, created_at=timezone.now() - datetime.timedelta(days=3))
    key = issue_key(org, "prevention")
    push_id = _post(client, "/api/v1/pushes", key, _body()).json()["id"]

    submitted = _post(client, f"/api/v1/pushes/{push_id}/submit", key)
    assert submitted.status_code == 200, submitted.content
    data = submitted.json()
    assert data["status"] == "submitted"
    assert data["next_role"] == "unit_head"
    assert data["remaining_roles"] == ["unit_head", "push_liaison", "secretary", "deputy_director", "director"]
    assert data["chain"][0]["signed"] is True

    # Scheduling before approval is refused, and the dispatcher has nothing to send.
    early = _post(client, f"/api/v1/pushes/{push_id}/schedule", key, {"kind": "now"})
    assert early.status_code == 409
    assert early.json()["code"] == "not_approved"
    assert dispatching.dispatch_due() == []
    assert inbox_for(citizen) == []

    _approve_all(org, push_id)
    status = client.get(f"/api/v1/pushes/{push_id}", **key.bearer).json()
    assert status["status"] == "approved"
    assert status["remaining_roles"] == []
    assert all(step["signed"] for step in status["chain"])

    scheduled = _post(client, f"/api/v1/pushes/{push_id}/schedule", key, {"kind": "now"})
    assert scheduled.status_code == 200, scheduled.content
    dispatching.dispatch_due(timezone.now() + datetime.timedelta(hours=12))  # past any quiet hours
    push = Push.objects.get(pk=push_id)
    assert push.status == PushStatus.SENT
    assert [e.push.pk for e in inbox_for(citizen)] == [push_id]
    sent = client.get(f"/api/v1/pushes/{push_id}", **key.bearer).json()
    assert sent["schedule"]["dispatches"][0]["status"] in ("dispatching", "sent")  # sent once the fan-out ends


def test_a_key_cannot_sign_a_push(client, org) -> None:
    key = issue_key(org, "prevention")
    push_id = _post(client, "/api/v1/pushes", key, _body()).json()["id"]
    _post(client, f"/api/v1/pushes/{push_id}/submit", key)
    actor = service_actor(ApiPrincipal(api_key=key.row))
    with pytest.raises(PermissionDenied):
        services.do_decide(actor, Push.objects.get(pk=push_id), "approved")
    assert Push.objects.get(pk=push_id).status == PushStatus.SUBMITTED


def test_editing_a_submitted_push_sends_it_back_to_draft(client, org) -> None:
    key = issue_key(org, "prevention")
    push_id = _post(client, "/api/v1/pushes", key, _body()).json()["id"]
    _post(client, f"/api/v1/pushes/{push_id}/submit", key)
    response = client.patch(
        f"/api/v1/pushes/{push_id}", {"subtitle": "新副標題"}, content_type="application/json", **key.bearer
    )
    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["revision"], data["subtitle"]) == ("draft", 2, "新副標題")
    assert data["title"] == "[防火]居家安全宣導"  # fields not sent are unchanged


# --- isolation ----------------------------------------------------------------------------------


def test_another_units_push_is_not_found(client, org) -> None:
    own = issue_key(org, "prevention")
    other = issue_key(org, "investigation")
    push_id = _post(client, "/api/v1/pushes", own, _body()).json()["id"]
    for method, url in (
        ("get", f"/api/v1/pushes/{push_id}"),
        ("get", f"/api/v1/pushes/{push_id}/stats"),
        ("post", f"/api/v1/pushes/{push_id}/submit"),
        ("patch", f"/api/v1/pushes/{push_id}"),
    ):
        response = getattr(client, method)(url, {}, content_type="application/json", **other.bearer)
        assert response.status_code == 404, (method, url)
        assert response.json()["code"] == "not_found"
    assert client.get("/api/v1/pushes", **other.bearer).json() == {"count": 0, "items": []}
    assert _post(client, "/api/v1/pushes", other, _body(unit_id=org.unit("prevention").pk)).status_code == 404
    assert Push.objects.get(pk=push_id).status == PushStatus.DRAFT


def test_the_list_filters_by_status_and_type(client, org) -> None:
    key = issue_key(org, "prevention")
    first = _post(client, "/api/v1/pushes", key, _body()).json()["id"]
    _post(client, "/api/v1/pushes", key, _body(push_type="questionnaire", title="[問卷]滿意度調查"))
    _post(client, f"/api/v1/pushes/{first}/submit", key)
    everything = client.get("/api/v1/pushes", **key.bearer).json()
    assert everything["count"] == 2
    submitted = client.get("/api/v1/pushes?status=submitted", **key.bearer).json()
    assert [p["id"] for p in submitted["items"]] == [first]
    questionnaires = client.get("/api/v1/pushes?push_type=questionnaire", **key.bearer).json()
    assert [p["title"] for p in questionnaires["items"]] == ["[問卷]滿意度調查"]
    assert client.get("/api/v1/pushes?status=bogus", **key.bearer).status_code == 400


# --- test keys ----------------------------------------------------------------------------------


def test_a_test_keys_push_is_never_dispatched(client, org) -> None:
    ensure_default_chains(org.county)
    citizen = make_citizen(org.county, created_at=timezone.now() - datetime.timedelta(days=3))
    key = issue_key(org, "prevention", "test")
    created = _post(client, "/api/v1/pushes", key, _body())
    assert created.status_code == 201
    push_id = created.json()["id"]
    assert created.json()["is_test"] is True
    _post(client, f"/api/v1/pushes/{push_id}/submit", key)
    _approve_all(org, push_id)

    refused = _post(client, f"/api/v1/pushes/{push_id}/schedule", key, {"kind": "now"})
    assert refused.status_code == 409
    assert refused.json()["code"] == "test_push"
    with pytest.raises(Conflict) as exc:
        services.do_schedule(org.user("prevention.head"), Push.objects.get(pk=push_id), "now")

    assert exc.value.code == "test_push"
    shown = client.get(f"/api/v1/pushes/{push_id}", HTTP_ACCEPT_LANGUAGE="en", **key.bearer).json()
    assert shown["next_action"] == "Test push: it is never sent to citizens."

    # Even a dispatch row forced past the scheduler is blocked at dispatch time.
    push = Push.objects.get(pk=push_id)
    Dispatch.objects.create(
        push=push, county_id=push.county_id, target_kind=push.target_kind, scheduled_for=timezone.now()
    )
    Push.objects.filter(pk=push_id).update(status=PushStatus.SCHEDULED)
    assert dispatching.dispatch_due() == []
    assert Dispatch.objects.get(push=push).status == DispatchStatus.BLOCKED
    assert inbox_for(citizen) == []


# --- personal notices ---------------------------------------------------------------------------


def test_a_personal_notice_by_mobile_is_submitted_and_reaches_only_that_citizen(client, org) -> None:
    ensure_default_chains(org.county)
    citizen = make_citizen(org.county)
    bystander = make_citizen(org.county)
    key = issue_key(org, "investigation")
    response = _post(
        client,
        "/api/v1/notices",
        key,
        {"target_person": _local_mobile(citizen), "title": "[火災證明]申請已受理", "body": "您的火災證明申請已受理。"},
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["push_type"], data["target_kind"], data["status"]) == ("notice", "person", "submitted")
    assert data["has_target_person"] is True
    assert data["remaining_roles"] == ["unit_head"]
    assert "target_person" not in data and citizen.phone_e164 not in response.content.decode()

    _approve_all(org, data["id"])
    scheduled = _post(client, f"/api/v1/pushes/{data['id']}/schedule", key, {"kind": "now"})
    assert scheduled.status_code == 200, scheduled.content
    dispatching.dispatch_push_now(data["id"])
    assert [e.push.pk for e in inbox_for(citizen)] == [data["id"]]
    assert inbox_for(bystander) == []


def test_a_notice_to_an_unknown_number_changes_nothing(client, org) -> None:
    key = issue_key(org, "investigation")
    response = _post(client, "/api/v1/notices", key, {"target_person": "0912345678", "title": "通知", "body": "內容"})
    assert response.status_code == 400
    assert "target_person" in response.json()["errors"]
    assert not Push.objects.exists()


# --- statistics ---------------------------------------------------------------------------------


def test_stats_count_a_read(client, org) -> None:
    ensure_default_chains(org.county)
    reader = make_citizen(org.county, created_at=timezone.now() - datetime.timedelta(days=3))
    other = make_citizen(org.county, created_at=timezone.now() - datetime.timedelta(days=3))
    group = make_group(org.unit("prevention"), [reader, other])
    key = issue_key(org, "prevention")
    push_id = _post(client, "/api/v1/pushes", key, _body(target_kind="groups", target_group_ids=[group.pk])).json()[
        "id"
    ]
    _post(client, f"/api/v1/pushes/{push_id}/submit", key)
    _approve_all(org, push_id)
    _post(client, f"/api/v1/pushes/{push_id}/schedule", key, {"kind": "now"})
    send_at = Push.objects.get(pk=push_id).send_at  # after quiet hours, if now is in them
    dispatching.dispatch_due(send_at)
    services.do_record_read(reader, Push.objects.get(pk=push_id), now=send_at + datetime.timedelta(minutes=5))

    stats = client.get(f"/api/v1/pushes/{push_id}/stats", **key.bearer)
    assert stats.status_code == 200, stats.content
    data = stats.json()
    assert (data["audience"], data["reads"], data["read_rate"], data["clicks"]) == (2, 1, 0.5, 0)
    assert sum(data["reads_per_hour"]) == 1
    assert len(data["reads_per_hour"]) == 24


# --- OpenAPI ------------------------------------------------------------------------------------


def test_openapi_documents_the_push_endpoints_and_their_errors(client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert {
        "/api/v1/pushes",
        "/api/v1/pushes/{push_id}",
        "/api/v1/pushes/{push_id}/submit",
        "/api/v1/pushes/{push_id}/schedule",
        "/api/v1/pushes/{push_id}/stats",
        "/api/v1/notices",
    } <= set(paths)
    create = paths["/api/v1/pushes"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("PushCreateIn")
    assert create["responses"]["201"]["content"]["application/json"]["schema"]["$ref"].endswith("PushOut")
    for status in ("400", "401", "403", "404"):
        assert "application/problem+json" in create["responses"][status]["content"]
    assert "409" in paths["/api/v1/pushes/{push_id}/submit"]["post"]["responses"]
    assert "never sent" in create["description"]


# --- language -----------------------------------------------------------------------------------


def test_every_message_of_the_pushes_api_has_a_zh_hant_translation() -> None:
    import ast
    from pathlib import Path

    import polib

    api = Path(__file__).resolve().parent.parent
    msgids = set()
    for path in (api / "routers" / "pushes.py", api / "actors.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_gettext = isinstance(node, ast.Call) and getattr(node.func, "id", None) == "_" and node.args
            if is_gettext and isinstance(node.args[0], ast.Constant):
                msgids.add(node.args[0].value)
    po = polib.pofile(str(api / "locale" / "zh_Hant" / "LC_MESSAGES" / "django.po"))
    translated = {e.msgid for e in po if e.msgstr and not e.obsolete and "fuzzy" not in e.flags}
    assert msgids and sorted(msgids - translated) == []


def test_what_remains_is_said_in_traditional_chinese_by_default(client, org) -> None:
    key = issue_key(org, "prevention")
    push_id = _post(client, "/api/v1/pushes", key, _body()).json()["id"]
    submitted = _post(client, f"/api/v1/pushes/{push_id}/submit", key).json()
    assert submitted["next_action"].startswith("待核章：")
    assert submitted["status_label"] == "待審核"
