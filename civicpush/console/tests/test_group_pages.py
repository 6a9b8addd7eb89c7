"""Console group pages: create, members, import, dynamic builder, sharing, new versions, isolation."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from civicpush.audiences.models import Group, GroupKind, GroupMembership
from civicpush.audiences.services import do_create_group, do_share_group
from civicpush.audiences.tests.factories import make_citizen, valid_national_id
from civicpush.citizens.models import Gender, Township
from civicpush.citizens.tests.factories import taitung
from civicpush.citizens.topics import Topic

pytestmark = pytest.mark.django_db


@pytest.fixture
def drafter_client(as_staff: Any) -> Any:
    return as_staff("prevention.drafter")


@pytest.fixture
def static_group(org: Any) -> Group:
    return do_create_group(
        org.user("prevention.drafter"), org.unit("prevention"), name="消防局預防科0801", kind=GroupKind.STATIC
    )


def open_member_ids(group: Group) -> set[int]:
    return set(
        GroupMembership.objects.filter(group=group, removed_at__isnull=True).values_list("citizen_id", flat=True)
    )


def test_a_drafter_creates_a_static_group_with_the_suggested_name_then_adds_and_removes_a_member(
    org: Any, drafter_client: Any
) -> None:
    unit = org.unit("prevention")
    start = drafter_client.get("/console/groups/new/")
    assert start.status_code == 200
    form = drafter_client.get(f"/console/groups/new/?unit={unit.pk}&kind=static")
    assert form.status_code == 200
    suggested = re.search(r'name="name"[^>]*value="([^"]+)"', form.content.decode()).group(1)
    assert re.fullmatch(r"消防局預防科\d{4}", suggested)

    created = drafter_client.post(
        "/console/groups/new/", {"unit": unit.pk, "kind": "static", "name": suggested, "description": ""}
    )
    assert created.status_code == 302
    group = Group.objects.get(name=suggested)
    assert created["Location"] == f"/console/groups/{group.pk}/"
    assert group.kind == GroupKind.STATIC and group.unit == unit

    citizen = make_citizen(phone_e164="+886912345678")
    added = drafter_client.post(f"/console/groups/{group.pk}/members/add/", {"number": "0912-345-678"})
    assert added.status_code == 302
    assert open_member_ids(group) == {citizen.pk}
    page = drafter_client.get(f"/console/groups/{group.pk}/").content.decode()
    assert "0912-***-678" in page
    assert "0912-345-678" not in page and "+886912345678" not in page

    unknown = drafter_client.post(f"/console/groups/{group.pk}/members/add/", {"number": "0987-654-321"})
    assert unknown.status_code == 400
    assert "沒有以此號碼註冊的民眾" in unknown.content.decode()

    removed = drafter_client.post(f"/console/groups/{group.pk}/members/remove/", {"citizen_id": citizen.pk})
    assert removed.status_code == 302
    assert open_member_ids(group) == set()


def test_adding_by_id_number_shows_only_the_masked_id(drafter_client: Any, static_group: Group) -> None:
    number = valid_national_id("A", 2345678)
    citizen = make_citizen(national_id_number=number)
    response = drafter_client.post(f"/console/groups/{static_group.pk}/members/add/", {"number": number})
    assert response.status_code == 302
    assert open_member_ids(static_group) == {citizen.pk}
    page = drafter_client.get(f"/console/groups/{static_group.pk}/").content.decode()
    assert number not in page
    assert number[:3] in page  # the masked form (A12*****89) is shown


def test_an_import_with_one_bad_row_adds_nobody_and_lists_the_row(drafter_client: Any, static_group: Group) -> None:
    good = make_citizen(phone_e164="+886911111111")
    make_citizen(phone_e164="+886922222222")
    bad_id = "A123456788"  # checksum wrong
    body = f"手機號碼\n0911111111\n0922222222\n{bad_id}\n".encode()
    response = drafter_client.post(
        f"/console/groups/{static_group.pk}/members/import/",
        {"file": SimpleUploadedFile("members.csv", body, content_type="text/csv")},
    )
    assert response.status_code == 400
    page = response.content.decode()
    table = page[page.index('id="import-errors"') :]
    assert "<td>4</td>" in table
    assert bad_id not in page  # ID numbers are masked even when wrong
    assert open_member_ids(static_group) == set()

    fixed = b"0911111111\n0922222222\n"
    ok = drafter_client.post(
        f"/console/groups/{static_group.pk}/members/import/",
        {"file": SimpleUploadedFile("members.csv", fixed, content_type="text/csv")},
    )
    assert ok.status_code == 302
    assert good.pk in open_member_ids(static_group) and len(open_member_ids(static_group)) == 2
    follow = drafter_client.get(ok["Location"]).content.decode()
    assert "2" in follow


def test_the_template_csv_downloads(drafter_client: Any) -> None:
    response = drafter_client.get("/console/groups/member-template.csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    assert response.content.decode("utf-8-sig").strip() == "手機號碼"


def test_a_dynamic_group_is_built_from_filters_and_the_estimate_counts_matches(org: Any, drafter_client: Any) -> None:
    taitung()
    township = Township.objects.get(name="蘭嶼鄉")
    other = Township.objects.get(name="臺東市")
    make_citizen(township=township, birth_year=1990, gender=Gender.FEMALE, topics=[Topic.TOURISM])
    make_citizen(township=township, birth_year=1990, gender=Gender.MALE, topics=[Topic.TOURISM])
    make_citizen(township=other, birth_year=1990, gender=Gender.FEMALE, topics=[Topic.TOURISM])
    make_citizen(township=township, birth_year=1940, gender=Gender.FEMALE, topics=[Topic.TOURISM])

    estimate = drafter_client.get(
        "/console/groups/new/estimate/",
        {"townships": [township.pk], "genders": ["female"], "age_max": "60", "topics": [Topic.TOURISM]},
    )
    assert estimate.status_code == 200
    assert "<strong>1</strong>" in estimate.content.decode()
    wider = drafter_client.get("/console/groups/new/estimate/", {"townships": [township.pk]})
    assert "<strong>3</strong>" in wider.content.decode()
    villages = drafter_client.get("/console/groups/new/villages/", {"townships": [township.pk]})
    assert "紅頭村" in villages.content.decode() and "馬蘭里" not in villages.content.decode()

    unit = org.unit("prevention")
    page = drafter_client.get(f"/console/groups/new/?unit={unit.pk}&kind=dynamic")
    assert page.status_code == 200 and "hx-get" in page.content.decode()
    created = drafter_client.post(
        "/console/groups/new/",
        {
            "unit": unit.pk,
            "kind": "dynamic",
            "name": "消防局蘭嶼女性0820",
            "townships": [township.pk],
            "genders": ["female"],
            "age_max": "60",
            "topics": [Topic.TOURISM],
            "has_app": "",
        },
    )
    assert created.status_code == 302, created.content.decode()[:3000]
    group = Group.objects.get(name="消防局蘭嶼女性0820")
    assert group.filters == {
        "townships": [township.pk],
        "genders": ["female"],
        "age_max": 60,
        "topics": [Topic.TOURISM],
    }
    detail = drafter_client.get(created["Location"]).content.decode()
    assert "蘭嶼鄉" in detail
    assert re.search(r'id="member-count">1<', detail)


def test_a_dynamic_group_without_filters_is_refused_and_nothing_is_saved(org: Any, drafter_client: Any) -> None:
    unit = org.unit("prevention")
    response = drafter_client.post("/console/groups/new/", {"unit": unit.pk, "kind": "dynamic", "name": "空的0820"})
    assert response.status_code == 400
    assert not Group.objects.exists()


def test_a_shared_group_is_read_only_to_the_other_unit(org: Any, as_staff: Any, static_group: Group) -> None:
    owner = as_staff("prevention.drafter")
    other_unit = org.unit("investigation")
    shared = owner.post(f"/console/groups/{static_group.pk}/share/", {"units": [other_unit.pk]})
    assert shared.status_code == 302
    assert list(static_group.shared_units.all()) == [other_unit]

    reader = as_staff("investigation.drafter")
    listing = reader.get("/console/groups/").content.decode()
    assert static_group.name in listing and "唯讀" in listing
    page = reader.get(f"/console/groups/{static_group.pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "members/add/" not in body and "/retire/" not in body and "/share/" not in body

    citizen = make_citizen(phone_e164="+886933333333")
    for url, data in [
        ("members/add/", {"number": "0933333333"}),
        ("members/remove/", {"citizen_id": citizen.pk}),
        ("share/", {"with_agency": "on"}),
        ("retire/", {}),
        ("new-version/", {"name": "偽造0820"}),
    ]:
        response = reader.post(f"/console/groups/{static_group.pk}/{url}", data)
        assert response.status_code == 403, url
    static_group.refresh_from_db()
    assert static_group.retired_at is None and not static_group.shared_with_agency
    assert open_member_ids(static_group) == set()


def test_another_unit_gets_404_on_an_unshared_group(as_staff: Any, static_group: Group) -> None:
    other = as_staff("investigation.drafter")
    pk = static_group.pk
    assert other.get(f"/console/groups/{pk}/").status_code == 404
    assert other.get(f"/console/groups/{pk}/new-version/").status_code == 404
    for url in ("members/add/", "members/remove/", "members/import/", "share/", "retire/", "new-version/"):
        assert other.post(f"/console/groups/{pk}/{url}", {"number": "0912345678", "citizen_id": 1}).status_code == 404
    assert static_group.name not in other.get("/console/groups/").content.decode()


def test_a_new_version_retires_the_old_group_and_keeps_its_members(
    org: Any, drafter_client: Any, static_group: Group
) -> None:
    citizen = make_citizen(phone_e164="+886944444444")
    drafter_client.post(f"/console/groups/{static_group.pk}/members/add/", {"number": "0944444444"})
    form = drafter_client.get(f"/console/groups/{static_group.pk}/new-version/")
    assert form.status_code == 200
    assert re.search(r'name="name"[^>]*value="消防局預防科\d{4}"', form.content.decode())

    response = drafter_client.post(f"/console/groups/{static_group.pk}/new-version/", {"name": "消防局預防科0920"})
    assert response.status_code == 302
    new = Group.objects.get(name="消防局預防科0920")
    static_group.refresh_from_db()
    assert static_group.retired_at is not None
    assert new.replaces_id == static_group.pk
    assert open_member_ids(new) == {citizen.pk}
    assert "消防局預防科0920" in drafter_client.get(response["Location"]).content.decode()  # (shows the message)

    active = drafter_client.get("/console/groups/").content.decode()
    assert "消防局預防科0920" in active and "消防局預防科0801" not in active
    retired = drafter_client.get("/console/groups/?status=retired").content.decode()
    assert "消防局預防科0801" in retired
    old_page = drafter_client.get(f"/console/groups/{static_group.pk}/").content.decode()
    assert "/retire/" not in old_page and "members/add/" not in old_page
    again = drafter_client.post(f"/console/groups/{static_group.pk}/retire/")
    assert again.status_code == 409


def test_retiring_a_group_hides_it_from_the_active_list(drafter_client: Any, static_group: Group) -> None:
    response = drafter_client.post(f"/console/groups/{static_group.pk}/retire/")
    assert response.status_code == 302
    static_group.refresh_from_db()
    assert static_group.retired_at is not None
    drafter_client.get(response["Location"])  # shows the message
    assert static_group.name not in drafter_client.get("/console/groups/").content.decode()


def test_shared_with_the_whole_agency_is_visible_to_every_unit_of_it(
    org: Any, as_staff: Any, static_group: Group
) -> None:
    do_share_group(org.user("prevention.drafter"), static_group, [], True)
    assert as_staff("rescue.drafter").get(f"/console/groups/{static_group.pk}/").status_code == 200
