"""The shared all-staff groups (seed 000 §4(2)), rebuilt each month from the roster: a new static
group named by the convention (消防局局本部1201) replaces last month's (the audiences service
retires it), holds the citizens of the staff who use the app, and is shared with the whole agency."""

from __future__ import annotations

import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from civicpush.audiences import services as audiences
from civicpush.audiences.models import GroupKind
from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.core.audit import log_action
from civicpush.org.models import RoleAssignment, StaffUser, Unit
from civicpush.org.permissions import act_with_roles
from civicpush.org.roles import Role

from . import roster
from .models import RosterKind, StaffGroupDefinition

TAIPEI = datetime.timezone(datetime.timedelta(hours=8), "Asia/Taipei")


def _actor(unit: Unit) -> StaffUser:
    """The roster's system account, acting (in memory only) as the owner unit's drafter."""
    user, created = StaffUser.objects.get_or_create(
        username=f"system.roster{unit.county_id}", defaults={"county_id": unit.county_id, "display_name": "名冊系統"}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    held = RoleAssignment(user=user, role=Role.DRAFTER, county_id=unit.county_id, agency_id=unit.agency_id, unit=unit)
    act_with_roles(user, [held])
    return user


def member_ids(definition: StaffGroupDefinition) -> list[int]:
    """Citizen ids of the staff (not volunteers) under the definition's units who use the app."""
    units = Unit.objects.none()
    for root in definition.root_units.all():
        units = units | root.subtree()
    mobiles: set[str] = set()
    for sheet in roster.sheets(units.distinct(), kind=RosterKind.STAFF):
        mobiles.update(line.entry.mobile for line in sheet.lines if line.adopted and line.entry.mobile)
    return list(
        Citizen.objects.filter(phone_e164__in=mobiles, status=CitizenStatus.ACTIVE).values_list("pk", flat=True)
    )


def _this_month(moment: datetime.datetime) -> tuple[int, int]:
    local = timezone.localtime(moment, TAIPEI)
    return local.year, local.month


@transaction.atomic
def refresh(definition: StaffGroupDefinition, now: datetime.datetime | None = None, *, force: bool = False) -> bool:
    """Make this month's version of the group unless it exists (or `force`); True when made."""
    now = now or timezone.now()
    definition = StaffGroupDefinition.objects.select_for_update().get(pk=definition.pk)
    current = definition.current_group
    up_to_date = current is not None and current.retired_at is None and definition.refreshed_at is not None
    if not force and up_to_date and _this_month(definition.refreshed_at) == _this_month(now):  # type: ignore[arg-type]
        return False
    owner = definition.owner_unit
    actor = _actor(owner)
    name = audiences.suggest_group_name(owner, definition.base_name, now)
    replaces: Any = current if current is not None and current.retired_at is None else None
    group = audiences.do_create_group(
        actor, owner, name=name, kind=GroupKind.STATIC, description="全體同仁（由下載使用人員一覽表每月產生）",
        replaces=replaces,
    )  # fmt: skip
    wanted = set(member_ids(definition))
    copied = set(group.memberships.filter(removed_at__isnull=True).values_list("citizen_id", flat=True))
    if copied - wanted:  # the new version follows the roster, not last month's members
        audiences.do_remove_members(actor, group, sorted(copied - wanted))
    audiences.do_add_members(actor, group, sorted(wanted))
    audiences.do_share_group(actor, group, [], True)
    definition.current_group = group
    definition.refreshed_at = now
    definition.save(update_fields=["current_group", "refreshed_at"])
    log_action(
        "adoption.staff_group.refreshed",
        actor="system",
        obj=group,
        unit_id=owner.pk,
        data={"definition": definition.pk},
    )
    return True


def refresh_all(now: datetime.datetime | None = None) -> int:
    return sum(1 for d in StaffGroupDefinition.objects.all() if refresh(d, now))
