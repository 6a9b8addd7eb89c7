"""Home, the unit tree, a unit's staff, and staff management by the unit account manager."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from civicpush.core.models import AuditEntry
from civicpush.org.models import RoleAssignment, StaffUser

pytestmark = pytest.mark.django_db


def test_home_lists_roles_with_their_scope_and_links_to_units(as_staff, org):
    body = as_staff("taitung-brigade.head").get("/console/").content.decode()
    assert "科長／單位主管" in body and "臺東大隊" in body
    assert f'href="/console/units/{org.unit("taitung-brigade").pk}/"' in body
    county = as_staff("county.operator").get("/console/").content.decode()
    assert "平台管理" in county and "全縣" in county and "臺東縣" in county


def test_audit_link_only_for_those_who_may_read_the_log(as_staff):
    assert "/console/audit/" not in as_staff("investigation.drafter").get("/console/").content.decode()
    assert "/console/audit/" in as_staff("investigation.manager").get("/console/").content.decode()
    assert "/console/audit/" in as_staff("county.admin").get("/console/").content.decode()


def test_unit_tree_indents_sub_units_and_shows_kind_and_agency(as_staff, org):
    body = as_staff("taitung-brigade.head").get("/console/units/").content.decode()
    assert "臺東大隊" in body and "知本分隊" in body and "臺東縣消防局" in body and "幕僚單位" in body
    assert "--depth: 0" in body and "--depth: 1" in body
    assert body.index("臺東大隊") < body.index("知本分隊")
    assert "火調科" not in body


def test_unit_detail_lists_staff_with_names_roles_and_lock_state(as_staff, org):
    StaffUser.objects.filter(username="investigation.head").update(
        locked_until="2999-01-01T00:00:00Z", failed_login_count=0
    )
    body = as_staff("investigation.drafter").get(f"/console/units/{org.unit('investigation').pk}/").content.decode()
    for text in ("火調科承辦人", "investigation.drafter", "investigation.manager", "專責人員", "已鎖定", "業務單位"):
        assert text in body, text
    assert "新增人員" not in body and "移除角色" not in body and "解除鎖定" not in body


def test_manager_adds_a_new_person_and_sees_the_first_password_once(as_staff, org):
    client = as_staff("investigation.manager")
    unit = org.unit("investigation")
    response = client.post(
        f"/console/units/{unit.pk}/staff/add/",
        {"username": "inv.new", "display_name": "火調科新同仁", "email": "new@fire.example.gov.tw", "role": "drafter"},
    )
    body = response.content.decode()
    assert response.status_code == 200 and response["Cache-Control"] == "no-store"
    match = re.search(r'<code class="secret">([^<]+)</code>', body)
    assert match, body
    first_password = match.group(1)
    assert StaffUser.objects.get(username="inv.new").check_password(first_password)
    assert first_password not in client.get(f"/console/units/{unit.pk}/").content.decode()
    assert first_password not in str(list(AuditEntry.objects.values()))
    newcomer = Client()
    assert newcomer.post("/console/login/", {"username": "inv.new", "password": first_password}).status_code == 302


def test_county_wide_roles_are_not_offered_or_accepted(as_staff, org):
    client = as_staff("investigation.manager")
    unit = org.unit("investigation")
    page = client.get(f"/console/units/{unit.pk}/").content.decode()
    assert 'value="system_admin"' not in page and 'value="county_operator"' not in page
    assert 'value="drafter"' in page
    response = client.post(
        f"/console/units/{unit.pk}/staff/add/", {"username": "x.y", "display_name": "X", "role": "system_admin"}
    )
    assert response.status_code == 400 and not StaffUser.objects.filter(username="x.y").exists()


def test_a_domain_error_is_shown_inline_with_its_status(as_staff, org):
    client = as_staff("investigation.manager")
    unit = org.unit("investigation")
    response = client.post(
        f"/console/units/{unit.pk}/staff/add/",
        {"username": "investigation.drafter", "display_name": "火調科承辦人", "role": "drafter"},
    )
    assert response.status_code == 409
    assert "此人在本單位已具有該角色。" in response.content.decode()


def test_removing_ones_own_manager_role_is_refused_on_the_page(as_staff, org):
    client = as_staff("investigation.manager")
    unit = org.unit("investigation")
    own = RoleAssignment.objects.get(user=org.user("investigation.manager"), unit=unit)
    response = client.post(f"/console/units/{unit.pk}/staff/{own.pk}/remove/")
    assert response.status_code == 403 and "您不能移除自己的專責人員角色。" in response.content.decode()
    assert RoleAssignment.objects.filter(pk=own.pk).exists()


def test_manager_removes_a_role(as_staff, org):
    client = as_staff("investigation.manager")
    unit = org.unit("investigation")
    drafter = RoleAssignment.objects.get(user=org.user("investigation.drafter"), unit=unit)
    response = client.post(f"/console/units/{unit.pk}/staff/{drafter.pk}/remove/", follow=True)
    assert response.status_code == 200 and "已移除" in response.content.decode()
    assert not RoleAssignment.objects.filter(pk=drafter.pk).exists()


def test_manager_unlocks_a_locked_account(as_staff, org):
    for _ in range(5):
        Client().post("/console/login/", {"username": "investigation.drafter", "password": "wrong"})
    assert StaffUser.objects.get(username="investigation.drafter").is_locked
    client = as_staff("investigation.manager")
    unit = org.unit("investigation")
    page = client.get(f"/console/units/{unit.pk}/").content.decode()
    assert "解除鎖定" in page
    user_id = org.user("investigation.drafter").pk
    response = client.post(f"/console/units/{unit.pk}/staff/users/{user_id}/unlock/", follow=True)
    assert "已解除" in response.content.decode()
    assert not StaffUser.objects.get(pk=user_id).is_locked
    assert (
        Client()
        .post("/console/login/", {"username": "investigation.drafter", "password": "demo-password-for-tests"})
        .status_code
        == 302
    )


def test_user_text_is_escaped(as_staff, org):
    client = as_staff("investigation.manager")
    unit = org.unit("investigation")
    client.post(
        f"/console/units/{unit.pk}/staff/add/",
        {"username": "xss.person", "display_name": "<script>alert(1)</script>", "role": "drafter"},
    )
    body = client.get(f"/console/units/{unit.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;alert(1)&lt;/script&gt;" in body
