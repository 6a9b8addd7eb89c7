"""Writes for groups: create, new version, edit, retire, share, members, import, and the audience freeze.

Every service checks permission first, runs in one transaction and writes an audit entry. Membership
changes lock the group row first (select_for_update), so concurrent edits and freezes of one group
queue up instead of racing on the one-open-row constraint.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from typing import IO, Any

from django.db import connection, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, ValidationFailed
from civicpush.org.models import Unit
from civicpush.org.permissions import require
from civicpush.org.roles import Capability

from .member_import import ImportResult, resolve_identifiers, resolve_member_file
from .models import Group, GroupKind, GroupMembership, GroupShare
from .segments import TAIPEI, citizens_matching, validate_filters
from .selectors import group_for_user, members_at, open_member_count

NAME_MAX = 100
DESCRIPTION_MAX = 300
_DATE_SUFFIX = re.compile(r"\s*\d{4}$")
BULK_BATCH = 1000


# --- naming ---------------------------------------------------------------------------------------


def suggest_group_name(unit: Unit, base: str, today: datetime.date | datetime.datetime | None = None) -> str:
    """Seed 000 §4's convention: agency short name + base + MMDD (Asia/Taipei), e.g. 消防局局本部0820.

    The county prefix is dropped from the agency name (臺東縣消防局 → 消防局); a date suffix already on
    `base` is replaced, so passing an old group's name suggests its new version's name.
    """
    if today is None:
        today = timezone.localdate(timezone.now(), TAIPEI)
    elif isinstance(today, datetime.datetime):
        today = timezone.localtime(today, TAIPEI).date() if timezone.is_aware(today) else today.date()
    agency = unit.agency
    short = agency.name.removeprefix(agency.county.name) or agency.name
    stem = _DATE_SUFFIX.sub("", base.strip())
    if not stem.startswith(short):
        stem = short + stem
    return f"{stem}{today:%m%d}"


# --- helpers --------------------------------------------------------------------------------------


def _clean_name(name: str | None) -> str:
    name = (name or "").strip()
    if not name:
        message = _("Enter a name for the group.")
        raise ValidationFailed(message, field_errors={"name": [message]})
    if len(name) > NAME_MAX:
        message = _("The name is too long (at most 100 characters).")
        raise ValidationFailed(message, field_errors={"name": [message]})
    return name


def _clean_description(description: str | None) -> str:
    description = (description or "").strip()
    if len(description) > DESCRIPTION_MAX:
        message = _("The description is too long (at most 300 characters).")
        raise ValidationFailed(message, field_errors={"description": [message]})
    return description


def _clean_dynamic_filters(filters: Any) -> dict[str, Any]:
    clean = validate_filters(filters)
    if not clean:
        message = _("Choose at least one filter for a dynamic group.")
        raise ValidationFailed(message, field_errors={"filters": [message]})
    return clean


def _require_manage(actor: Any, group: Group) -> None:
    """NotFound if the actor cannot see the group; PermissionDenied if it is only shared with them."""
    group_for_user(actor, group.pk, for_edit=True)


def _lock(group: Group) -> Group:
    return Group.objects.select_for_update().select_related("unit").get(pk=group.pk)


def _require_active(group: Group) -> None:
    if group.retired_at is not None:
        raise Conflict(_("This group has been retired and can no longer be changed."))


def _require_static(group: Group) -> None:
    if group.kind != GroupKind.STATIC:
        raise ValidationFailed(_("Members can only be added to or removed from a static group."))


def _snapshot(group: Group) -> dict[str, Any]:
    return {"name": group.name, "description": group.description, "filters": group.filters}


def _add_open_rows(group: Group, citizen_ids: Iterable[int], at: datetime.datetime) -> tuple[int, int]:
    """Open a row for each citizen without one; returns (added, already members). Group must be locked."""
    wanted = list(dict.fromkeys(citizen_ids))
    existing: set[int] = set()
    for i in range(0, len(wanted), 500):
        existing.update(
            GroupMembership.objects.filter(
                group_id=group.pk, removed_at__isnull=True, citizen_id__in=wanted[i : i + 500]
            ).values_list("citizen_id", flat=True)
        )
    new = [cid for cid in wanted if cid not in existing]
    GroupMembership.objects.bulk_create(
        (GroupMembership(group_id=group.pk, citizen_id=cid, added_at=at) for cid in new), batch_size=BULK_BATCH
    )
    return len(new), len(existing)


def _set_count(group: Group, *, refreshed_at: datetime.datetime | None = None) -> int:
    group.member_count = open_member_count(group)
    fields = ["member_count", "updated_at"]
    if refreshed_at is not None:
        group.members_refreshed_at = refreshed_at
        fields.append("members_refreshed_at")
    group.save(update_fields=fields)
    return group.member_count


# --- groups ---------------------------------------------------------------------------------------


@transaction.atomic
def do_create_group(
    actor: Any,
    unit: Unit,
    *,
    name: str,
    kind: str,
    description: str = "",
    filters: dict[str, Any] | None = None,
    replaces: Group | None = None,
) -> Group:
    """Create a group of `unit`. With `replaces` (an active group of the same unit) the old one is
    retired now and, when both are static, its current members are copied (added_at = now)."""
    require(actor, Capability.MANAGE_GROUPS, unit)
    name = _clean_name(name)
    description = _clean_description(description)
    if kind not in GroupKind.values:
        message = _("Choose static or dynamic.")
        raise ValidationFailed(message, field_errors={"kind": [message]})
    if kind == GroupKind.DYNAMIC:
        clean_filters = _clean_dynamic_filters(filters)
    else:
        if filters:
            message = _("A static group has members, not filters.")
            raise ValidationFailed(message, field_errors={"filters": [message]})
        clean_filters = {}

    now = timezone.now()
    old: Group | None = None
    if replaces is not None:
        old = Group.objects.select_for_update().filter(pk=replaces.pk).first()
        if old is None or old.unit_id != unit.pk:
            message = _("Only a group of the same unit can be replaced.")
            raise ValidationFailed(message, field_errors={"replaces": [message]})
        if old.retired_at is not None:
            raise Conflict(_("That group has already been retired or replaced."))

    group = Group.objects.create(
        county_id=unit.county_id,
        unit=unit,
        name=name,
        description=description,
        kind=kind,
        filters=clean_filters,
        replaces=old,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    copied = 0
    if old is not None:
        old.retired_at = now
        old.save(update_fields=["retired_at", "updated_at"])
        if old.kind == GroupKind.STATIC and kind == GroupKind.STATIC:
            open_ids = GroupMembership.objects.filter(group_id=old.pk, removed_at__isnull=True).values_list(
                "citizen_id", flat=True
            )
            copied, _already = _add_open_rows(group, open_ids.iterator(chunk_size=BULK_BATCH), now)
            _set_count(group)
        log_action(
            "audiences.group.retired",
            actor=actor,
            obj=old,
            unit_id=old.unit_id,
            data={"replaced_by": group.pk},
        )
    log_action(
        "audiences.group.created",
        actor=actor,
        obj=group,
        unit_id=unit.pk,
        after={**_snapshot(group), "kind": kind},
        data={"replaces": old.pk if old else None, "members_copied": copied},
    )
    return group


@transaction.atomic
def do_update_group(
    actor: Any,
    group: Group,
    *,
    name: str | None = None,
    description: str | None = None,
    filters: dict[str, Any] | None = None,
) -> Group:
    """Change name, description, or (dynamic only) filters. Pushes already frozen keep their audience."""
    _require_manage(actor, group)
    group = _lock(group)
    _require_active(group)
    before = _snapshot(group)
    if name is not None:
        group.name = _clean_name(name)
    if description is not None:
        group.description = _clean_description(description)
    if filters is not None:
        if group.kind != GroupKind.DYNAMIC:
            message = _("A static group has members, not filters.")
            raise ValidationFailed(message, field_errors={"filters": [message]})
        group.filters = _clean_dynamic_filters(filters)
    after = _snapshot(group)
    if after != before:
        group.save(update_fields=["name", "description", "filters", "updated_at"])
        log_action("audiences.group.updated", actor=actor, obj=group, unit_id=group.unit_id, before=before, after=after)
    return group


@transaction.atomic
def do_retire_group(actor: Any, group: Group) -> Group:
    """Retire (the seed's "delete the old group"): no longer usable for new pushes; history stays."""
    _require_manage(actor, group)
    group = _lock(group)
    _require_active(group)
    group.retired_at = timezone.now()
    group.save(update_fields=["retired_at", "updated_at"])
    log_action("audiences.group.retired", actor=actor, obj=group, unit_id=group.unit_id)
    return group


@transaction.atomic
def do_share_group(actor: Any, group: Group, unit_ids: Iterable[int], with_agency: bool) -> Group:
    """Set exactly which units (and whether the whole agency) may use the group, read-only."""
    _require_manage(actor, group)
    group = _lock(group)
    _require_active(group)
    wanted = set(int(u) for u in unit_ids) - {group.unit_id}
    found = set(Unit.objects.filter(pk__in=wanted, county_id=group.county_id).values_list("pk", flat=True))
    if found != wanted:
        message = _("One of the chosen units does not exist.")
        raise ValidationFailed(message, field_errors={"unit_ids": [message]})
    current = set(GroupShare.objects.filter(group_id=group.pk).values_list("unit_id", flat=True))
    before = {"unit_ids": sorted(current), "with_agency": group.shared_with_agency}
    GroupShare.objects.filter(group_id=group.pk, unit_id__in=current - wanted).delete()
    GroupShare.objects.bulk_create([GroupShare(group_id=group.pk, unit_id=u) for u in sorted(wanted - current)])
    group.shared_with_agency = bool(with_agency)
    group.save(update_fields=["shared_with_agency", "updated_at"])
    after = {"unit_ids": sorted(wanted), "with_agency": group.shared_with_agency}
    if after != before:
        log_action("audiences.group.shared", actor=actor, obj=group, unit_id=group.unit_id, before=before, after=after)
    return group


# --- static members -------------------------------------------------------------------------------


@transaction.atomic
def do_add_members(actor: Any, group: Group, citizen_ids: Iterable[int]) -> int:
    """Open a membership (added_at = now) for each citizen not already in the static group; returns how
    many were added. Unknown or deleted citizens are refused (nothing is added)."""
    _require_manage(actor, group)
    group = _lock(group)
    _require_active(group)
    _require_static(group)
    ids = sorted({int(c) for c in citizen_ids})
    found = 0
    for i in range(0, len(ids), 500):
        found += Citizen.objects.filter(pk__in=ids[i : i + 500], status=CitizenStatus.ACTIVE).count()
    if found != len(ids):
        message = _("One of the chosen citizens does not exist.")
        raise ValidationFailed(message, field_errors={"citizen_ids": [message]})
    added, already = _add_open_rows(group, ids, timezone.now())
    _set_count(group)
    if added:
        log_action(
            "audiences.group.members_added",
            actor=actor,
            obj=group,
            unit_id=group.unit_id,
            data={"added": added, "already_members": already, "citizen_ids": ids if len(ids) <= 1000 else None},
        )
    return added


@transaction.atomic
def add_members_for_the_platform(group: Group, citizen_ids: Iterable[int], *, reason: str) -> int:
    """Open memberships the platform itself maintains (e.g. an event's attendees as they check in),
    dated now, without a staff actor; audited as the system with `reason`. Static groups only."""
    group = _lock(group)
    _require_static(group)
    added, _already = _add_open_rows(group, sorted({int(c) for c in citizen_ids}), timezone.now())
    _set_count(group)
    if added:
        log_action(
            "audiences.group.members_added",
            actor="system",
            obj=group,
            unit_id=group.unit_id,
            data={"added": added, "reason": reason},
        )
    return added


@transaction.atomic
def do_remove_members(actor: Any, group: Group, citizen_ids: Iterable[int]) -> int:
    """Close the open membership (removed_at = now) of each citizen; returns how many were removed."""
    _require_manage(actor, group)
    group = _lock(group)
    _require_active(group)
    _require_static(group)
    ids = sorted({int(c) for c in citizen_ids})
    now = timezone.now()
    removed = 0
    for i in range(0, len(ids), 500):
        removed += GroupMembership.objects.filter(
            group_id=group.pk, removed_at__isnull=True, citizen_id__in=ids[i : i + 500]
        ).update(removed_at=now)
    _set_count(group)
    if removed:
        log_action(
            "audiences.group.members_removed",
            actor=actor,
            obj=group,
            unit_id=group.unit_id,
            data={"removed": removed, "citizen_ids": ids if len(ids) <= 1000 else None},
        )
    return removed


@transaction.atomic
def do_add_member_by_number(actor: Any, group: Group, number: str) -> bool:
    """Add one citizen, given by mobile or ID number, to a static group (the import's parsing, lookup
    and masking). Returns False when they were already a member; ValidationFailed on a bad number."""
    _require_manage(actor, group)
    citizen_ids, errors = resolve_identifiers([(1, number)])
    if errors:
        message = f"{errors[0].value}: {errors[0].message}"
        raise ValidationFailed(message, field_errors={"number": [message]})
    return do_add_members(actor, group, citizen_ids) == 1


@transaction.atomic
def do_import_members(actor: Any, group: Group, file: IO[bytes] | bytes, filename: str) -> ImportResult:
    """Add the citizens listed in a CSV/XLSX file (mobile or ID number a row) to a static group.

    All or nothing: if any row is bad, nothing is written and the result lists every bad row.
    A file that cannot be read at all (too big, too many rows, wrong type) raises ValidationFailed.
    """
    _require_manage(actor, group)
    group = _lock(group)
    _require_active(group)
    _require_static(group)
    citizen_ids, errors = resolve_member_file(file, filename)
    result = ImportResult(errors=errors, rows=len(citizen_ids) + len(errors))
    if errors:
        return result
    result.added, result.already_members = _add_open_rows(group, citizen_ids, timezone.now())
    _set_count(group)
    log_action(
        "audiences.group.members_imported",
        actor=actor,
        obj=group,
        unit_id=group.unit_id,
        data={
            "filename": filename[:200],
            "rows": result.rows,
            "added": result.added,
            "already": result.already_members,
        },
    )
    return result


# --- the audience freeze --------------------------------------------------------------------------


def _insert_new_matches(group: Group, at: datetime.datetime) -> None:
    """INSERT … SELECT the matching citizens without an open row: one statement, no Python loop."""
    open_row = GroupMembership.objects.filter(
        group_id=group.pk, citizen_id=OuterRef("citizen_id"), removed_at__isnull=True
    )
    new_ids = citizens_matching(group.filters).filter(~Exists(open_row)).order_by()
    select_sql, params = new_ids.query.sql_with_params()
    table = connection.ops.quote_name(GroupMembership._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (group_id, citizen_id, added_at, removed_at) "  # table name is ours; values are bound
            f"SELECT %s, m.citizen_id, %s, NULL FROM ({select_sql}) m",
            [group.pk, connection.ops.adapt_datetimefield_value(at), *params],
        )


def _close_lapsed(group: Group, at: datetime.datetime) -> None:
    """UPDATE … WHERE NOT EXISTS: close the open rows of citizens who no longer match."""
    still_matching = citizens_matching(group.filters).filter(citizen_id=OuterRef("citizen_id"))
    GroupMembership.objects.filter(group_id=group.pk, removed_at__isnull=True).filter(~Exists(still_matching)).update(
        removed_at=at
    )


@transaction.atomic
def freeze_group_membership(group: Group, at: datetime.datetime) -> int:
    """Materialise a dynamic group's matches at `at` as a diff of temporal rows; returns the count at `at`.

    Static groups are left as they are. The group row is locked first, so two freezes of one group run
    one after the other. Rows are history: a freeze at or before the last one changes nothing.
    """
    group = _lock(group)
    # Also for a retired group: a push approved before the group was replaced still goes out.
    if group.kind == GroupKind.DYNAMIC and (group.members_refreshed_at is None or at > group.members_refreshed_at):
        _close_lapsed(group, at)
        _insert_new_matches(group, at)
        _set_count(group, refreshed_at=at)
    return members_at([group.pk], at, active_only=False).count()


def freeze_audience(group_ids: Iterable[int], at: datetime.datetime) -> Any:
    """Freeze every chosen group at `at` and return the distinct citizen ids of the frozen audience."""
    ids = sorted(set(group_ids))  # a fixed order: locks are taken in id order
    with transaction.atomic():
        for group in Group.objects.filter(pk__in=ids).order_by("pk"):
            freeze_group_membership(group, at)
    return members_at(ids, at)
