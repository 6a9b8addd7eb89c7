"""Every console page needs a signed-in, active staff user; a citizen session is not enough."""

from __future__ import annotations

import pytest
from django.test import Client

from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.citizens.models import Citizen
from civicpush.org import services
from civicpush.org.models import RoleAssignment, StaffUser

pytestmark = pytest.mark.django_db


def _pages(org) -> list[tuple[str, str]]:
    unit = org.unit("investigation")
    manager = org.user("investigation.manager")
    key, _raw = services.do_create_api_key(actor=manager, unit=unit, name="k", kind="test")
    assignment = RoleAssignment.objects.filter(unit=unit).first()
    u = unit.pk
    return [
        ("get", "/console/"),
        ("get", "/console/units/"),
        ("get", f"/console/units/{u}/"),
        ("post", f"/console/units/{u}/staff/add/"),
        ("post", f"/console/units/{u}/staff/{assignment.pk}/remove/"),
        ("post", f"/console/units/{u}/staff/users/{assignment.user_id}/unlock/"),
        ("get", f"/console/units/{u}/api-keys/"),
        ("post", f"/console/units/{u}/api-keys/"),
        ("get", f"/console/units/{u}/api-keys/{key.pk}/revoke/"),
        ("post", f"/console/units/{u}/api-keys/{key.pk}/revoke/"),
        ("get", "/console/audit/"),
        ("get", "/console/audit/1/"),
        ("get", "/console/audit/export.csv"),
        ("get", "/console/audit/export.xlsx"),
        ("get", "/store/"),
    ]


def _assert_all_redirect_to_sign_in(client: Client, pages: list[tuple[str, str]]) -> None:
    for method, url in pages:
        response = getattr(client, method)(url)
        login = "/store/login/" if url.startswith("/store/") else "/console/login/"
        assert response.status_code == 302, (method, url, response.status_code)
        assert response["Location"].startswith(f"{login}?next="), (url, response["Location"])


def test_every_console_and_store_page_sends_anonymous_visitors_to_sign_in(client, org):
    _assert_all_redirect_to_sign_in(client, _pages(org))


def test_a_citizen_session_is_not_a_staff_sign_in(client, org):
    citizen = Citizen.objects.create(county=org.county, phone_e164="+886912345678")
    session = client.session
    session[CITIZEN_SESSION_KEY] = citizen.pk
    session.save()
    _assert_all_redirect_to_sign_in(client, _pages(org))


def test_a_deactivated_staff_session_is_not_enough(client, org):
    client.force_login(org.user("investigation.manager"))
    StaffUser.objects.filter(username="investigation.manager").update(is_active=False)
    _assert_all_redirect_to_sign_in(client, _pages(org))


def test_the_redirect_keeps_the_page_to_return_to(client, org):
    response = client.get("/console/units/")
    assert response["Location"] == "/console/login/?next=/console/units/"
