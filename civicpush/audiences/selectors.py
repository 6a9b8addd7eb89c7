"""Reads for groups: who may use or see a group, who was in it when, and how many it reaches now."""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from typing import Any

from django.db.models import Exists, OuterRef, Q, QuerySet

from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.org.models import Unit
from civicpush.org.permissions import has_capability, units_with
from civicpush.org.roles import Capability

from .models import Group, GroupKind, GroupMembership, GroupShare
from .segments import citizens_matching, validate_filters


def groups_usable_by(unit: Unit) -> QuerySet[Group]:
    """Active groups `unit` may target: its own, those shared with it, those shared with its agency."""
    shared_with_unit = GroupShare.objects.filter(group_id=OuterRef("pk"), unit_id=unit.pk)
    return Group.objects.filter(retired_at__isnull=True).filter(
        Q(unit_id=unit.pk) | Q(Exists(shared_with_unit)) | Q(shared_with_agency=True, unit__agency_id=unit.agency_id)
    )


def groups_visible_to(user: Any) -> QuerySet[Group]:
    """Groups of units where `user` may VIEW_UNIT (also retired ones) plus active groups those units may use."""
    units = units_with(user, Capability.VIEW_UNIT)
    shared_with_units = GroupShare.objects.filter(group_id=OuterRef("pk"), unit__in=units)
    return Group.objects.filter(
        Q(unit__in=units)
        | Q(retired_at__isnull=True)
        & (Q(Exists(shared_with_units)) | Q(shared_with_agency=True, unit__agency__in=units.values("agency_id")))
    )


def group_for_user(user: Any, group_id: int, *, for_edit: bool = False) -> Group:
    """The group if `user` may see it (NotFound otherwise); with `for_edit`, PermissionDenied unless the
    user may MANAGE_GROUPS on the owner unit (a shared group is read-only to the units it is shared with)."""
    group = groups_visible_to(user).select_related("unit").filter(pk=group_id).first()
    if group is None:
        raise NotFound()
    if for_edit and not has_capability(user, Capability.MANAGE_GROUPS, group.unit):
        raise PermissionDenied()
    return group


def _inactive_citizen() -> QuerySet[Citizen]:
    # NOT EXISTS (a non-active citizen): an anti-join against the partial index of migration 0002
    # rather than one primary-key probe per member (see segments.active_profiles).
    return Citizen.objects.filter(pk=OuterRef("citizen_id")).filter(~Q(status=CitizenStatus.ACTIVE))


def members_at(group_ids: Iterable[int], at: datetime.datetime, *, active_only: bool = True) -> QuerySet[Any]:
    """Distinct citizen ids that were members of any of the groups at `at` (temporal predicate).

    Dynamic groups only have rows up to their last freeze: pushes call
    `services.freeze_group_membership(group, at)` first (or `services.freeze_audience`).
    With `active_only` (the default), citizens whose account has since been deleted are left out.
    """
    ids = list(group_ids)
    qs = GroupMembership.objects.filter(group_id__in=ids, added_at__lte=at).filter(
        Q(removed_at__isnull=True) | Q(removed_at__gt=at)
    )
    if active_only:
        qs = qs.filter(~Exists(_inactive_citizen()))
    ids_qs = qs.values_list("citizen_id", flat=True)
    # A citizen's rows in one group never overlap in time, so DISTINCT is only needed across groups.
    return ids_qs.distinct() if len(set(ids)) > 1 else ids_qs


def current_member_ids(group: Group) -> QuerySet[Any]:
    """Citizen ids in the group now: open rows of a static group, live filter matches of a dynamic one."""
    if group.kind == GroupKind.DYNAMIC:
        return citizens_matching(group.filters)
    return (
        GroupMembership.objects.filter(group_id=group.pk, removed_at__isnull=True)
        .filter(~Exists(_inactive_citizen()))
        .values_list("citizen_id", flat=True)
    )


def estimate_audience(group_ids: Iterable[int]) -> int:
    """Distinct active citizens across the groups now (static: open rows; dynamic: live filters)."""
    groups = list(Group.objects.filter(pk__in=list(group_ids)))
    if not groups:
        return 0
    parts = [current_member_ids(g) for g in groups]
    if len(parts) == 1:  # one row per citizen already (profile key; one open row per member)
        return parts[0].order_by().count()
    # UNION (not UNION ALL) removes duplicates, so a citizen in several groups is counted once.
    first, *rest = (p.order_by() for p in parts)
    return first.union(*rest).count()


def estimate_filters(filters: Any) -> int:
    """How many active citizens the filters match now (the group builder's live count)."""
    return citizens_matching(validate_filters(filters)).count()


def open_member_count(group: Group) -> int:
    return GroupMembership.objects.filter(group_id=group.pk, removed_at__isnull=True).count()


def open_memberships(group: Group) -> QuerySet[GroupMembership]:
    """A static group's current members (open memberships), newest first, with citizen and profile.
    Callers show masked numbers only."""
    return (
        GroupMembership.objects.filter(group_id=group.pk, removed_at__isnull=True)
        .select_related("citizen", "citizen__profile")
        .order_by("-added_at", "-pk")
    )
