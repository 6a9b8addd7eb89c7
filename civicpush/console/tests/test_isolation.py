"""Cross-unit isolation through the console: other units are 404; own unit without the capability is 403."""

from __future__ import annotations

import pytest

from civicpush.core.models import AuditEntry
from civicpush.org import services
from civicpush.org.models import RoleAssignment, StaffUser, UnitApiKey

pytestmark = pytest.mark.django_db


@pytest.fixture
def prevention_key(org):
    key, _raw = services.do_create_api_key(
        actor=org.user("prevention.manager"), unit=org.unit("prevention"), name="預防科系統", kind="live"
    )
    return key


def test_investigation_drafter_gets_404_everywhere_in_prevention(as_staff, org, prevention_key):
    client = as_staff("investigation.drafter")
    p = org.unit("prevention").pk
    assert client.get(f"/console/units/{p}/").status_code == 404
    assert client.get(f"/console/units/{p}/api-keys/").status_code == 404
    assert client.get(f"/console/units/{p}/api-keys/{prevention_key.pk}/revoke/").status_code == 404
    assert client.post(f"/console/units/{p}/api-keys/{prevention_key.pk}/revoke/").status_code == 404
    added = client.post(
        f"/console/units/{p}/staff/add/", {"username": "intruder", "display_name": "X", "role": "drafter"}
    )
    assert added.status_code == 404
    prevention_key.refresh_from_db()
    assert prevention_key.revoked_at is None
    assert not StaffUser.objects.filter(username="intruder").exists()
    assert "預防科" not in client.get("/console/units/").content.decode()


def test_404_page_for_another_unit_reveals_nothing_about_it(as_staff, org):
    body = as_staff("investigation.drafter").get(f"/console/units/{org.unit('prevention').pk}/").content.decode()
    assert "預防科" not in body and "找不到頁面" in body


def test_key_of_another_unit_cannot_be_revoked_through_ones_own_unit(as_staff, org, prevention_key):
    client = as_staff("investigation.manager")
    inv = org.unit("investigation").pk
    assert client.post(f"/console/units/{inv}/api-keys/{prevention_key.pk}/revoke/").status_code == 404
    prevention_key.refresh_from_db()
    assert prevention_key.revoked_at is None


def test_audit_browser_filtered_to_another_unit_shows_nothing_of_it(as_staff, org, prevention_key):
    prevention = org.unit("prevention")
    assert AuditEntry.objects.filter(unit_id=prevention.pk).exists()
    # The drafter may not read the audit log at all.
    assert as_staff("investigation.drafter").get(f"/console/audit/?unit={prevention.pk}").status_code == 403
    # investigation's account manager reads the log, but only investigation's part of it.
    client = as_staff("investigation.manager")
    response = client.get(f"/console/audit/?unit={prevention.pk}")
    body = response.content.decode()
    assert "預防科系統" not in body and "org.api_key.created" not in body
    csv_body = client.get(f"/console/audit/export.csv?unit={prevention.pk}")
    assert "預防科" not in b"".join(csv_body.streaming_content).decode("utf-8-sig")
    entry = AuditEntry.objects.filter(unit_id=prevention.pk).first()
    assert client.get(f"/console/audit/{entry.pk}/").status_code == 404


def test_prevention_manager_cannot_manage_investigation_staff(as_staff, org):
    client = as_staff("prevention.manager")
    inv = org.unit("investigation")
    drafter_role = RoleAssignment.objects.get(user=org.user("investigation.drafter"), unit=inv)
    assert client.get(f"/console/units/{inv.pk}/").status_code == 404
    assert (
        client.post(
            f"/console/units/{inv.pk}/staff/add/", {"username": "x", "display_name": "X", "role": "drafter"}
        ).status_code
        == 404
    )
    assert client.post(f"/console/units/{inv.pk}/staff/{drafter_role.pk}/remove/").status_code == 404
    assert client.post(f"/console/units/{inv.pk}/staff/users/{drafter_role.user_id}/unlock/").status_code == 404
    # Nor through its own unit's address with investigation's assignment id.
    own = org.unit("prevention").pk
    assert client.post(f"/console/units/{own}/staff/{drafter_role.pk}/remove/").status_code == 404
    assert RoleAssignment.objects.filter(pk=drafter_role.pk).exists()


def test_visible_unit_without_the_capability_is_403(as_staff, org):
    client = as_staff("investigation.drafter")
    inv = org.unit("investigation")
    assignment = RoleAssignment.objects.get(user=org.user("investigation.head"), unit=inv)
    assert client.get(f"/console/units/{inv.pk}/").status_code == 200
    assert client.get(f"/console/units/{inv.pk}/api-keys/").status_code == 403
    assert client.post(f"/console/units/{inv.pk}/api-keys/", {"name": "k", "kind": "test"}).status_code == 403
    response = client.post(
        f"/console/units/{inv.pk}/staff/add/", {"username": "x", "display_name": "X", "role": "drafter"}
    )
    assert response.status_code == 403 and "沒有檢視此頁面的權限" in response.content.decode()
    assert client.post(f"/console/units/{inv.pk}/staff/{assignment.pk}/remove/").status_code == 403
    assert client.get("/console/audit/").status_code == 403
    assert not UnitApiKey.objects.exists() and RoleAssignment.objects.filter(pk=assignment.pk).exists()


def test_director_sees_every_unit_but_may_not_manage_staff(as_staff, org):
    client = as_staff("fire.director")
    body = client.get("/console/units/").content.decode()
    assert "預防科" in body and "池上分隊" in body
    prevention = org.unit("prevention").pk
    page = client.get(f"/console/units/{prevention}/").content.decode()
    assert "新增人員" not in page and "prevention.drafter" in page
    assert client.get(f"/console/units/{prevention}/api-keys/").status_code == 403
