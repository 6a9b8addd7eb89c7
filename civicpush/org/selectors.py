"""Organisation reads, permission-aware."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

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
