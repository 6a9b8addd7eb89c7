"""Organisation reads, permission-aware."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from civicpush.core.models import AuditEntry

from . import permissions
from .models import RoleAssignment, Unit, UnitApiKey
from .roles import Capability


def visible_units(user: Any) -> QuerySet[Unit]:
    return permissions.units_with(user, Capability.VIEW_UNIT).select_related("agency").order_by("path")


def unit_staff(user: Any, unit: Unit) -> QuerySet[RoleAssignment]:
    """Role assignments held directly on `unit`; NotFound unless `user` can see the unit."""
    permissions.require(user, Capability.VIEW_UNIT, unit)
    return RoleAssignment.objects.filter(unit=unit).select_related("user").order_by("user__username", "role")


def unit_api_keys(user: Any, unit: Unit) -> QuerySet[UnitApiKey]:
    permissions.require(user, Capability.MANAGE_API_KEYS, unit)
    return UnitApiKey.objects.filter(unit=unit).select_related("created_by", "revoked_by")


def can_view_audit(user: Any) -> bool:
    return bool(permissions.county_ids_with(user, Capability.VIEW_AUDIT)) or (
        permissions.units_with(user, Capability.VIEW_AUDIT).exists()
    )


def audit_entries_visible_to(user: Any) -> QuerySet[AuditEntry]:
    """Audit entries `user` may read: every entry of a county where they hold VIEW_AUDIT county-wide,
    plus the entries filed under units where they hold it. Empty without VIEW_AUDIT. Newest first.

    The one scope rule for the audit log; the console and the API add only their own filters.
    """
    scope = Q(unit_id__in=permissions.units_with(user, Capability.VIEW_AUDIT).values("pk"))
    county_ids = permissions.county_ids_with(user, Capability.VIEW_AUDIT)
    if county_ids:
        scope |= Q(county_id__in=county_ids)
    return AuditEntry.objects.filter(scope).order_by("-created_at", "-id")
