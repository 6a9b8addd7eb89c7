"""The roster: who is on each unit's list, whether each uses the app, and the totals per sheet
(a unit's staff, or one of its volunteer groups). Writes are audited and need DRAFT_PUSH (the
unit's drafter keeps the list, seed 000 §8(3)) or MANAGE_STAFF on the unit."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.citizens.phone import normalise_mobile
from civicpush.core.audit import log_action
from civicpush.core.errors import PermissionDenied, ValidationFailed
from civicpush.org.models import RoleAssignment, Unit
from civicpush.org.permissions import has_capability, require
from civicpush.org.roles import Capability

from .models import Override, RosterEntry, RosterKind

TARGET_RATE = Decimal("90")


def require_roster(actor: Any, unit: Unit) -> None:
    require(actor, Capability.VIEW_UNIT, unit)
    if not (has_capability(actor, Capability.DRAFT_PUSH, unit) or has_capability(actor, Capability.MANAGE_STAFF, unit)):
        raise PermissionDenied()


@dataclass
class RosterLine:
    entry: RosterEntry
    adopted: bool


@dataclass
class RosterSheet:
    """One printed form: a unit's staff, or one volunteer group of it."""

    unit: Unit
    kind: str
    lines: list[RosterLine] = field(default_factory=list)

    @property
    def kind_label(self) -> str:
        return str(RosterKind(self.kind).label)

    @property
    def total(self) -> int:
        return len(self.lines)

    @property
    def adopted(self) -> int:
        return sum(1 for line in self.lines if line.adopted)

    @property
    def rate(self) -> Decimal:
        """Percentage, 1 decimal, half up (0 for an empty sheet)."""
        if not self.total:
            return Decimal("0.0")
        return (Decimal(self.adopted) * 100 / Decimal(self.total)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)

    @property
    def meets_target(self) -> bool:
        return self.total > 0 and Decimal(self.adopted) * 100 >= TARGET_RATE * self.total


def adopted_mobiles(mobiles: set[str], as_of: datetime.datetime | None = None) -> set[str]:
    """The mobiles among `mobiles` that belong to an active citizen account (signed up by `as_of`)."""
    qs = Citizen.objects.filter(phone_e164__in=[m for m in mobiles if m], status=CitizenStatus.ACTIVE)
    if as_of is not None:
        qs = qs.filter(created_at__lte=as_of)
    return {p for p in qs.values_list("phone_e164", flat=True) if p}


def sheets(units: Any, as_of: datetime.datetime | None = None, *, kind: str | None = None) -> list[RosterSheet]:
    """The sheets of `units` (staff first, then each volunteer group present), measured as of `as_of`
    (default now). Only sheets with at least one person."""
    entries = list(RosterEntry.objects.filter(unit__in=units, is_active=True).select_related("unit"))
    if kind is not None:
        entries = [e for e in entries if e.kind == kind]
    adopted = adopted_mobiles({e.mobile for e in entries}, as_of)
    by_key: dict[tuple[int, str], RosterSheet] = {}
    order = {k: i for i, k in enumerate(RosterKind.values)}
    for e in sorted(entries, key=lambda e: (e.unit.path, order[e.kind], e.name, e.pk)):
        sheet = by_key.setdefault((e.unit_id, e.kind), RosterSheet(unit=e.unit, kind=e.kind))
        if e.override == Override.ADOPTED:
            used = True
        elif e.override == Override.NOT_ADOPTED:
            used = False
        else:
            used = e.mobile in adopted
        sheet.lines.append(RosterLine(entry=e, adopted=used))
    return list(by_key.values())


@transaction.atomic
def do_add_entry(actor: Any, unit: Unit, *, kind: str, name: str, mobile: str = "") -> RosterEntry:
    require_roster(actor, unit)
    name = (name or "").strip()
    if not name or len(name) > 50:
        raise ValidationFailed(field_errors={"name": [_("Enter a name of at most 50 characters.")]})
    if kind not in RosterKind.values:
        raise ValidationFailed(field_errors={"kind": [_("Choose staff or a volunteer group.")]})
    number = normalise_mobile(mobile) if (mobile or "").strip() else ""
    entry = RosterEntry.objects.create(county_id=unit.county_id, unit=unit, kind=kind, name=name, mobile=number)
    log_action("adoption.roster.added", actor=actor, obj=entry, unit_id=unit.pk, after={"name": name, "kind": kind})
    return entry


@transaction.atomic
def do_remove_entry(actor: Any, entry: RosterEntry) -> None:
    require_roster(actor, entry.unit)
    RosterEntry.objects.filter(pk=entry.pk).update(is_active=False)
    log_action("adoption.roster.removed", actor=actor, obj=entry, unit_id=entry.unit_id)


@transaction.atomic
def do_set_override(actor: Any, entry: RosterEntry, value: str, reason: str = "") -> RosterEntry:
    """Say by hand whether the person uses the app (or "" to go back to the mobile match)."""
    require_roster(actor, entry.unit)
    if value not in Override.values:
        raise ValidationFailed(field_errors={"override": [_("Choose one of the options.")]})
    reason = (reason or "").strip()
    if value and not reason:
        raise ValidationFailed(field_errors={"override_reason": [_("Say why you set this by hand.")]})
    before = {"override": entry.override, "reason": entry.override_reason}
    entry.override, entry.override_reason = value, reason[:200]
    entry.override_by, entry.override_at = (actor, timezone.now()) if value else (None, None)
    entry.save(update_fields=["override", "override_reason", "override_by", "override_at"])
    log_action(
        "adoption.roster.overridden", actor=actor, obj=entry, unit_id=entry.unit_id, before=before,
        after={"override": value, "reason": reason},
    )  # fmt: skip
    return entry


@transaction.atomic
def do_sync_staff(actor: Any, unit: Unit) -> int:
    """Add to the unit's staff sheet everyone holding a role directly on the unit who is not on it
    yet (name and mobile from their staff account); returns how many were added."""
    require_roster(actor, unit)
    listed = set(
        RosterEntry.objects.filter(
            unit=unit, kind=RosterKind.STAFF, staff_user__isnull=False, is_active=True
        ).values_list("staff_user_id", flat=True)
    )
    added = 0
    seen: set[int] = set()
    for a in RoleAssignment.objects.filter(unit=unit).select_related("user").order_by("user__username"):
        user = a.user
        if (
            user.pk in listed
            or user.pk in seen
            or not user.is_active
            or user.username.startswith(("api-key:", "system."))
        ):
            continue
        seen.add(user.pk)
        mobile = ""
        if user.mobile:
            try:
                mobile = normalise_mobile(user.mobile)
            except ValidationFailed:
                mobile = ""
        RosterEntry.objects.create(
            county_id=unit.county_id,
            unit=unit,
            kind=RosterKind.STAFF,
            name=str(user)[:50],
            mobile=mobile,
            staff_user=user,
        )
        added += 1
    if added:
        log_action("adoption.roster.synced", actor=actor, obj=unit, data={"added": added})
    return added
