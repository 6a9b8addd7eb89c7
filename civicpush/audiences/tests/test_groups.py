"""Groups: creation, naming, new versions, edits, retirement, sharing (read-only) and unit isolation."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from civicpush.audiences.models import Group, GroupKind, GroupMembership
from civicpush.audiences.selectors import group_for_user, groups_usable_by, groups_visible_to
from civicpush.audiences.services import (
    do_add_members,
    do_create_group,
    do_remove_members,
    do_retire_group,
    do_share_group,
    do_update_group,
    suggest_group_name,
)
from civicpush.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from civicpush.core.models import AuditEntry

from .factories import TownshipFactory, make_citizen

pytestmark = pytest.mark.django_db


def static_group(org: Any, unit: str = "prevention", name: str = "消防局預防科0820") -> Group:
    return do_create_group(org.user(f"{unit}.drafter"), org.unit(unit), name=name, kind=GroupKind.STATIC)


def actions(group: Group) -> list[str]:
    return list(
        AuditEntry.objects.filter(object_type="audiences.group", object_id=str(group.pk))
        .order_by("id")
        .values_list("action", flat=True)
    )


def test_drafter_creates_a_static_group_of_their_unit_with_an_audit_entry(org: Any) -> None:
    group = static_group(org)
    assert group.unit == org.unit("prevention")
    assert group.county_id == org.county.pk
    assert group.created_by == org.user("prevention.drafter")
    entry = AuditEntry.objects.get(action="audiences.group.created", object_id=str(group.pk))
    assert entry.unit_id == org.unit("prevention").pk
    assert entry.actor == org.user("prevention.drafter")


def test_dynamic_group_keeps_its_cleaned_filters(org: Any) -> None:
    township = TownshipFactory()
    group = do_create_group(
        org.user("prevention.drafter"),
        org.unit("prevention"),
        name="東河鄉長者",
        kind=GroupKind.DYNAMIC,
        filters={"townships": [str(township.pk)], "age_min": "65"},
    )
    assert group.filters == {"townships": [township.pk], "age_min": 65}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": "  ", "kind": GroupKind.STATIC}, "name"),
        ({"name": "x" * 101, "kind": GroupKind.STATIC}, "name"),
        ({"name": "群組", "kind": "sometimes"}, "kind"),
        ({"name": "群組", "kind": GroupKind.DYNAMIC, "filters": {}}, "filters"),
        ({"name": "群組", "kind": GroupKind.STATIC, "filters": {"has_app": True}}, "filters"),
        ({"name": "群組", "kind": GroupKind.DYNAMIC, "filters": {"shoe_size": [42]}}, "shoe_size"),
    ],
)
def test_bad_group_input_is_refused_and_nothing_is_created(org: Any, kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as exc:
        do_create_group(org.user("prevention.drafter"), org.unit("prevention"), **kwargs)
    assert field in exc.value.field_errors
    assert not Group.objects.exists()
    assert not AuditEntry.objects.filter(action__startswith="audiences.").exists()


def test_drafter_cannot_create_a_group_for_another_unit(org: Any) -> None:
    with pytest.raises(NotFound):
        do_create_group(org.user("investigation.drafter"), org.unit("prevention"), name="x", kind=GroupKind.STATIC)
    # The push liaison sees every unit but does not manage groups.
    with pytest.raises(PermissionDenied):
        do_create_group(org.user("fire.liaison"), org.unit("prevention"), name="x", kind=GroupKind.STATIC)
    assert not Group.objects.exists()


def test_suggested_name_follows_the_seed_convention_in_taipei_time(org: Any) -> None:
    unit = org.unit("command")
    assert suggest_group_name(unit, "局本部", datetime.date(2026, 8, 20)) == "消防局局本部0820"
    # 16:30 UTC on 19 August is already 20 August in Taipei.
    late = datetime.datetime(2026, 8, 19, 16, 30, tzinfo=datetime.UTC)
    assert suggest_group_name(unit, "局本部", late) == "消防局局本部0820"
    # An old version's name gets the new date instead of a second one.
    assert suggest_group_name(unit, "消防局局本部0720", datetime.date(2026, 8, 20)) == "消防局局本部0820"


def test_a_new_version_retires_the_old_group_and_copies_its_members(org: Any) -> None:
    drafter = org.user("command.drafter")
    old = do_create_group(drafter, org.unit("command"), name="消防局局本部0720", kind=GroupKind.STATIC)
    a, b, c = make_citizen(), make_citizen(), make_citizen()
    do_add_members(drafter, old, [a.pk, b.pk, c.pk])
    do_remove_members(drafter, old, [c.pk])

    new = do_create_group(drafter, org.unit("command"), name="消防局局本部0820", kind=GroupKind.STATIC, replaces=old)

    old.refresh_from_db()
    assert old.retired_at is not None
    assert new.replaces == old
    assert set(
        GroupMembership.objects.filter(group=new, removed_at__isnull=True).values_list("citizen_id", flat=True)
    ) == {
        a.pk,
        b.pk,
    }
    assert new.member_count == 2
    assert "audiences.group.retired" in actions(old)
    assert old not in groups_usable_by(org.unit("command"))
    assert new in groups_usable_by(org.unit("command"))
    with pytest.raises(Conflict):
        do_create_group(drafter, org.unit("command"), name="again", kind=GroupKind.STATIC, replaces=old)


def test_only_a_group_of_the_same_unit_can_be_replaced(org: Any) -> None:
    other = static_group(org, unit="investigation")
    with pytest.raises((ValidationFailed, NotFound)):
        do_create_group(org.user("prevention.drafter"), org.unit("prevention"), name="x", kind="static", replaces=other)
    other.refresh_from_db()
    assert other.retired_at is None


def test_update_changes_the_group_and_records_before_and_after(org: Any) -> None:
    group = static_group(org)
    do_update_group(org.user("prevention.drafter"), group, name="新名稱", description="說明")
    group.refresh_from_db()
    assert (group.name, group.description) == ("新名稱", "說明")
    entry = AuditEntry.objects.get(action="audiences.group.updated", object_id=str(group.pk))
    assert entry.before["name"] == "消防局預防科0820"
    assert entry.after["name"] == "新名稱"


def test_retired_group_cannot_be_changed(org: Any) -> None:
    group = static_group(org)
    do_retire_group(org.user("prevention.head"), group)
    with pytest.raises(Conflict):
        do_update_group(org.user("prevention.drafter"), group, name="x")
    assert actions(group) == ["audiences.group.created", "audiences.group.retired"]


def test_shared_group_is_usable_but_read_only_for_the_shared_unit(org: Any) -> None:
    group = static_group(org)
    do_share_group(org.user("prevention.drafter"), group, [org.unit("investigation").pk], with_agency=False)

    assert group in groups_usable_by(org.unit("investigation"))
    assert group not in groups_usable_by(org.unit("rescue"))
    reader = org.user("investigation.drafter")
    assert group_for_user(reader, group.pk) == group
    with pytest.raises(PermissionDenied):
        group_for_user(reader, group.pk, for_edit=True)
    with pytest.raises(PermissionDenied):
        do_update_group(reader, group, name="mine now")
    with pytest.raises(PermissionDenied):
        do_add_members(reader, group, [make_citizen().pk])
    with pytest.raises(NotFound):
        group_for_user(org.user("rescue.drafter"), group.pk)
    with pytest.raises(NotFound):
        do_update_group(org.user("rescue.drafter"), group, name="x")
    group.refresh_from_db()
    assert group.name == "消防局預防科0820"
    entry = AuditEntry.objects.get(action="audiences.group.shared", object_id=str(group.pk))
    assert entry.after == {"unit_ids": [org.unit("investigation").pk], "with_agency": False}


def test_sharing_with_the_whole_agency_and_unsharing(org: Any) -> None:
    group = static_group(org)
    drafter = org.user("prevention.drafter")
    do_share_group(drafter, group, [], with_agency=True)
    assert group in groups_usable_by(org.unit("rescue"))
    assert group in groups_usable_by(org.unit("chishang-squad"))
    assert group in groups_visible_to(org.user("rescue.drafter"))
    do_share_group(drafter, group, [], with_agency=False)
    assert group not in groups_usable_by(org.unit("rescue"))
    with pytest.raises(NotFound):
        group_for_user(org.user("rescue.drafter"), group.pk)


def test_sharing_with_an_unknown_unit_is_refused(org: Any) -> None:
    group = static_group(org)
    with pytest.raises(ValidationFailed):
        do_share_group(org.user("prevention.drafter"), group, [987654], with_agency=False)
    assert not group.shares.exists()


def test_units_do_not_see_each_others_groups(org: Any) -> None:
    prevention = static_group(org)
    investigation = static_group(org, unit="investigation", name="火調科群組")
    assert list(groups_visible_to(org.user("investigation.drafter"))) == [investigation]
    assert list(groups_usable_by(org.unit("investigation"))) == [investigation]
    with pytest.raises(NotFound):
        group_for_user(org.user("investigation.drafter"), prevention.pk)
    with pytest.raises(NotFound):
        do_retire_group(org.user("investigation.drafter"), prevention)
    # Agency-wide roles see both; the director may look but not edit.
    director = org.user("fire.director")
    assert set(groups_visible_to(director)) == {prevention, investigation}
    with pytest.raises(PermissionDenied):
        group_for_user(director, prevention.pk, for_edit=True)


def test_unit_head_may_edit_their_units_group(org: Any) -> None:
    group = static_group(org)
    assert group_for_user(org.user("prevention.head"), group.pk, for_edit=True) == group
