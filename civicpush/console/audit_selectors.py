"""Reading the audit log, limited to what a staff user may see. Shared by the console and the API.

Scope: county-wide holders of VIEW_AUDIT see every entry of their county; everyone else sees the
entries filed under units on which they hold VIEW_AUDIT. (This belongs in core/org once the API
needs it too; it lives here because the console owns the first audit browser.)
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import Q, QuerySet

from civicpush.core.models import AuditEntry
from civicpush.org import permissions
from civicpush.org.models import RoleAssignment, Unit
from civicpush.org.roles import ROLE_CAPABILITIES, Capability

TAIPEI = ZoneInfo("Asia/Taipei")


@dataclass(frozen=True)
class AuditFilters:
    """Optional narrowing of the visible entries. Dates are calendar days in Asia/Taipei, inclusive."""

    action_prefix: str = ""
    actor_username: str = ""
    unit_id: int | None = None
    date_from: datetime.date | None = None
    date_to: datetime.date | None = None
    object_type: str = ""


def _county_wide_audit_counties(user: Any) -> list[int]:
    if not permissions.has_county_capability(user, Capability.VIEW_AUDIT):
        return []
    roles = [role for role, caps in ROLE_CAPABILITIES.items() if Capability.VIEW_AUDIT in caps]
    return list(
        RoleAssignment.objects.filter(user=user, role__in=roles, unit__isnull=True, agency__isnull=True).values_list(
            "county_id", flat=True
        )
    )


def can_view_audit(user: Any) -> bool:
    return permissions.units_with(user, Capability.VIEW_AUDIT).exists() or permissions.has_county_capability(
        user, Capability.VIEW_AUDIT
    )


def audit_units_for(user: Any) -> QuerySet[Unit]:
    """Units whose entries `user` may read (what the unit filter offers)."""
    return permissions.units_with(user, Capability.VIEW_AUDIT).select_related("agency").order_by("path")


def _start_of_day(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=TAIPEI)


def audit_entries_visible_to(user: Any, filters: AuditFilters | None = None) -> QuerySet[AuditEntry]:
    """Audit entries `user` may read, narrowed by `filters`, newest first. Empty without VIEW_AUDIT."""
    filters = filters or AuditFilters()
    scope: Q | None = None
    counties = _county_wide_audit_counties(user)
    if counties:
        scope = Q(county_id__in=counties)
    unit_ids = permissions.units_with(user, Capability.VIEW_AUDIT).values("pk")
    unit_scope = Q(unit_id__in=unit_ids)
    scope = unit_scope if scope is None else scope | unit_scope
    qs = AuditEntry.objects.filter(scope)
    if filters.action_prefix:
        qs = qs.filter(action__startswith=filters.action_prefix.strip())
    if filters.actor_username:
        qs = qs.filter(actor_label__iexact=filters.actor_username.strip())
    if filters.unit_id is not None:
        qs = qs.filter(unit_id=filters.unit_id)
    if filters.date_from is not None:
        qs = qs.filter(created_at__gte=_start_of_day(filters.date_from))
    if filters.date_to is not None:
        qs = qs.filter(created_at__lt=_start_of_day(filters.date_to + datetime.timedelta(days=1)))
    if filters.object_type:
        qs = qs.filter(object_type=filters.object_type.strip())
    return qs.select_related("actor").order_by("-created_at", "-id")


def unit_names(unit_ids: set[int]) -> dict[int, str]:
    """Names for the unit ids in a page of entries (entries hold plain ids, not foreign keys)."""
    return dict(Unit.objects.filter(pk__in=unit_ids).values_list("pk", "name"))
