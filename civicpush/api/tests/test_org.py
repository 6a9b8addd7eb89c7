"""Cross-unit isolation: staff and keys see their own units and get 404 for anyone else's."""

from __future__ import annotations

import pytest

from .conftest import issue_key

pytestmark = pytest.mark.django_db


def _as_drafter(client, org):
    client.force_login(org.user("investigation.drafter"))
    return {}


def _as_key(client, org):
    return issue_key(org, "investigation").bearer


CALLERS = [pytest.param(_as_drafter, id="drafter-session"), pytest.param(_as_key, id="unit-api-key")]


@pytest.mark.parametrize("sign_in", CALLERS)
def test_other_units_detail_and_staff_are_not_found(client, org, sign_in):
    headers = sign_in(client, org)
    prevention = org.unit("prevention").pk
    for url in (f"/api/v1/units/{prevention}", f"/api/v1/units/{prevention}/staff"):
        response = client.get(url, **headers)
        assert response.status_code == 404, url
        assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("sign_in", CALLERS)
def test_unit_list_shows_only_the_callers_unit(client, org, sign_in):
    headers = sign_in(client, org)
    units = client.get("/api/v1/units", **headers).json()
    assert [u["code"] for u in units] == ["investigation"]
    assert units[0] == {
        "id": org.unit("investigation").pk,
        "code": "investigation",
        "name": "火調科",
        "name_en": "Fire Investigation Section",
        "kind": "business",
        "agency": {
            "id": org.agency.pk,
            "code": "fire",
            "name": "臺東縣消防局",
            "name_en": "Taitung County Fire Bureau",
        },
        "parent_id": None,
        "depth": 0,
    }


@pytest.mark.parametrize("sign_in", CALLERS)
def test_own_unit_detail_is_visible(client, org, sign_in):
    headers = sign_in(client, org)
    response = client.get(f"/api/v1/units/{org.unit('investigation').pk}", **headers)
    assert response.status_code == 200
    assert response.json()["name"] == "火調科"


def test_nonexistent_unit_is_not_found_like_a_hidden_one(client, org):
    client.force_login(org.user("investigation.drafter"))
    assert client.get("/api/v1/units/999999").status_code == 404


def test_staff_of_own_unit_lists_people_with_roles_and_contact_for_staff(client, org):
    client.force_login(org.user("investigation.drafter"))
    staff = client.get(f"/api/v1/units/{org.unit('investigation').pk}/staff").json()
    assert [(p["username"], [r["role"] for r in p["roles"]]) for p in staff] == [
        ("investigation.drafter", ["drafter"]),
        ("investigation.head", ["unit_head"]),
        ("investigation.manager", ["unit_account_manager"]),
    ]
    assert staff[0]["display_name"] == "火調科承辦人"
    assert staff[0]["email"] == "investigation.drafter@fire.example.gov.tw"


def test_staff_listing_for_a_key_has_no_email_or_phone(client, org):
    headers = issue_key(org, "investigation").bearer
    response = client.get(f"/api/v1/units/{org.unit('investigation').pk}/staff", **headers)
    assert response.status_code == 200
    people = response.json()
    assert len(people) == 3
    for person in people:
        assert set(person) == {"username", "display_name", "roles"}
    assert "@" not in response.content.decode()


def test_brigade_key_covers_its_squads_but_no_other_unit(client, org):
    headers = issue_key(org, "taitung-brigade").bearer
    codes = [u["code"] for u in client.get("/api/v1/units", **headers).json()]
    assert codes == ["taitung-brigade", "taitung-squad", "zhiben-squad"]
    assert client.get(f"/api/v1/units/{org.unit('zhiben-squad').pk}", **headers).status_code == 200
    assert client.get(f"/api/v1/units/{org.unit('chishang-squad').pk}", **headers).status_code == 404


def test_agency_director_sees_every_unit(client, org):
    client.force_login(org.user("fire.director"))
    assert len(client.get("/api/v1/units").json()) == len(org.units)


def test_health_needs_no_authentication(client):
    response = client.get("/api/v1/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
