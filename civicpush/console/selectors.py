"""Console reads that have no better home yet."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from civicpush.org.models import RoleAssignment


def roles_of(user: Any) -> QuerySet[RoleAssignment]:
    """The user's own role assignments with their scope (unit, agency or county)."""
    return RoleAssignment.objects.filter(user=user).select_related("unit", "agency", "county").order_by("role")
