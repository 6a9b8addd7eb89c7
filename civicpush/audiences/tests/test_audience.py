"""Freezing dynamic groups (a diff, idempotent), frozen audiences, and the audience estimate."""

from __future__ import annotations

import datetime
import threading
from typing import Any

import pytest
from django.db import connection, connections

from civicpush.audiences.models import Group, GroupKind, GroupMembership
from civicpush.audiences.selectors import estimate_audience, members_at
from civicpush.audiences.services import (
    do_add_members,
    do_create_group,
    do_update_group,
    freeze_audience,
    freeze_group_membership,
)
from civicpush.citizens.models import CitizenProfile, CitizenStatus

from .factories import TownshipFactory, make_citizen

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 8, 1, 1, 0, tzinfo=datetime.UTC)
HOUR = datetime.timedelta(hours=1)


def dynamic(org: Any, filters: dict[str, Any], unit: str = "prevention") -> Group:
    return do_create_group(
        org.user(f"{unit}.drafter"), org.unit(unit), name="dyn", kind=GroupKind.DYNAMIC, filters=filters
    )


def rows(group: Group) -> list[tuple[int, datetime.datetime, datetime.datetime | None]]:
    return list(
        GroupMembership.objects.filter(group=group)
        .order_by("citizen_id", "added_at")
        .values_list("citizen_id", "added_at", "removed_at")
    )


def test_freeze_materialises_matches_as_a_diff_and_is_idempotent(org: Any) -> None:
    east, west = TownshipFactory(), TownshipFactory()
    stays, leaves = make_citizen(township=east), make_citizen(township=east)
    make_citizen(township=west)
    group = dynamic(org, {"townships": [east.pk]})

    assert freeze_group_membership(group, T0) == 2
    first = rows(group)
    assert freeze_group_membership(group, T0 + HOUR) == 2
    assert rows(group) == first  # nothing changed, nothing written

    CitizenProfile.objects.filter(citizen=leaves).update(township=west)
    joins = make_citizen(township=east)
    assert freeze_group_membership(group, T0 + 2 * HOUR) == 2

    assert rows(group) == [
        (stays.pk, T0, None),
        (leaves.pk, T0, T0 + 2 * HOUR),
        (joins.pk, T0 + 2 * HOUR, None),
    ]
    group.refresh_from_db()
    assert (group.member_count, group.members_refreshed_at) == (2, T0 + 2 * HOUR)
    # The audience frozen at T0 + 1h is still the old one.
    assert set(members_at([group.pk], T0 + HOUR)) == {stays.pk, leaves.pk}


def test_freeze_closes_rows_of_deleted_citizens(org: Any) -> None:
    east = TownshipFactory()
    citizen = make_citizen(township=east)
    group = dynamic(org, {"townships": [east.pk]})
    freeze_group_membership(group, T0)
    citizen.status = CitizenStatus.DELETED
    citizen.save()
    assert freeze_group_membership(group, T0 + HOUR) == 0


def test_a_freeze_earlier_than_the_last_one_changes_nothing(org: Any) -> None:
    east = TownshipFactory()
    make_citizen(township=east)
    group = dynamic(org, {"townships": [east.pk]})
    freeze_group_membership(group, T0 + HOUR)
    make_citizen(township=east)
    assert freeze_group_membership(group, T0) == 0
    assert GroupMembership.objects.filter(group=group).count() == 1


def test_freeze_leaves_static_groups_alone(org: Any) -> None:
    drafter = org.user("prevention.drafter")
    group = do_create_group(drafter, org.unit("prevention"), name="s", kind=GroupKind.STATIC)
    do_add_members(drafter, group, [make_citizen().pk])
    before = rows(group)
    now = GroupMembership.objects.get(group=group).added_at
    assert freeze_group_membership(group, now + HOUR) == 1
    assert rows(group) == before


def test_people_who_join_after_the_freeze_are_not_in_the_frozen_audience(org: Any) -> None:
    east = TownshipFactory()
    first = make_citizen(township=east)
    group = dynamic(org, {"townships": [east.pk]})
    audience = freeze_audience([group.pk], T0)
    make_citizen(township=east)
    freeze_group_membership(group, T0 + HOUR)
    assert set(audience) == {first.pk}
    assert set(members_at([group.pk], T0)) == {first.pk}


def test_editing_filters_does_not_change_an_audience_already_frozen(org: Any) -> None:
    east, west = TownshipFactory(), TownshipFactory()
    in_east, in_west = make_citizen(township=east), make_citizen(township=west)
    group = dynamic(org, {"townships": [east.pk]})
    freeze_group_membership(group, T0)
    do_update_group(org.user("prevention.drafter"), group, filters={"townships": [west.pk]})
    group.refresh_from_db()
    freeze_group_membership(group, T0 + HOUR)
    assert set(members_at([group.pk], T0)) == {in_east.pk}
    assert set(members_at([group.pk], T0 + HOUR)) == {in_west.pk}


def test_estimate_counts_distinct_citizens_across_overlapping_groups(org: Any) -> None:
    drafter = org.user("prevention.drafter")
    east = TownshipFactory()
    a, _b, c = make_citizen(township=east), make_citizen(township=east), make_citizen()
    d = make_citizen()
    gone = make_citizen(township=east, status=CitizenStatus.DELETED)
    static_one = do_create_group(drafter, org.unit("prevention"), name="s1", kind=GroupKind.STATIC)
    static_two = do_create_group(drafter, org.unit("prevention"), name="s2", kind=GroupKind.STATIC)
    do_add_members(drafter, static_one, [a.pk, c.pk])
    do_add_members(drafter, static_two, [c.pk, d.pk])
    GroupMembership.objects.create(group=static_two, citizen=gone, added_at=T0)
    east_group = dynamic(org, {"townships": [east.pk]})  # a, b (not the deleted one)

    assert estimate_audience([east_group.pk]) == 2
    assert estimate_audience([static_one.pk]) == 2
    assert estimate_audience([static_one.pk, static_two.pk]) == 3  # a, c, d
    assert estimate_audience([static_one.pk, static_two.pk, east_group.pk]) == 4  # a, b, c, d
    assert estimate_audience([]) == 0


def test_personal_data_erasure_closes_open_memberships(org: Any) -> None:
    from civicpush.audiences.personal_data import erase_audience_data, export_audience_data

    drafter = org.user("prevention.drafter")
    group = do_create_group(drafter, org.unit("prevention"), name="s", kind=GroupKind.STATIC)
    citizen = make_citizen(tags=["義消"])
    do_add_members(drafter, group, [citizen.pk])
    assert export_audience_data(citizen)["tags"] == ["義消"]
    erase_audience_data(citizen)
    group.refresh_from_db()
    assert group.member_count == 0
    assert export_audience_data(citizen)["tags"] == []
    assert GroupMembership.objects.get(group=group).removed_at is not None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_freezes_of_one_group_leave_one_open_row_per_citizen(org: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL")
    east = TownshipFactory()
    for _ in range(200):
        make_citizen(township=east)
    group = dynamic(org, {"townships": [east.pk]})
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def freeze(offset: int) -> None:
        try:
            barrier.wait()
            freeze_group_membership(group, T0 + offset * datetime.timedelta(seconds=1))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=freeze, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert GroupMembership.objects.filter(group=group, removed_at__isnull=True).count() == 200
    assert GroupMembership.objects.filter(group=group).count() == 200
