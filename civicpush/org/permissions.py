"""Per-unit authorisation. Every service and API router asks here; hiding buttons is not enough.

A role held on a unit covers that unit's subtree; on an agency, all its units; with neither, the county.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from civicpush.core.errors import NotFound, PermissionDenied

from .models import RoleAssignment, Unit
from .roles import ROLE_CAPABILITIES, Capability

_CACHE_ATTR = "_civicpush_role_assignments"


def _assignments(user: Any) -> list[RoleAssignment]:
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return []
    cached = getattr(user, _CACHE_ATTR, None)
    if cached is None:
        cached = list(RoleAssignment.objects.filter(user=user).select_related("unit"))
        setattr(user, _CACHE_ATTR, cached)
    return cached


def act_with_roles(user: Any, assignments: list[RoleAssignment]) -> None:
    """Make `user` hold exactly `assignments` (unsaved is fine) for the life of this object, instead
    of the stored ones. Used for API-key accounts, whose scope comes from the key, not from rows."""
    setattr(user, _CACHE_ATTR, list(assignments))


def forget_cached_roles(user: Any) -> None:
    if hasattr(user, _CACHE_ATTR):
        delattr(user, _CACHE_ATTR)


def _scope_filter(assignments: list[RoleAssignment]) -> Q | None:
    """A Q over Unit selecting every unit the given assignments cover, or None when they cover nothing."""
    q: Q | None = None
    for a in assignments:
        if a.unit is not None:
            part = Q(path__startswith=a.unit.path)
        elif a.agency_id is not None:
            part = Q(agency_id=a.agency_id)
        else:
            part = Q(county_id=a.county_id)
        q = part if q is None else q | part
    return q


def units_with(user: Any, capability: Capability) -> QuerySet[Unit]:
    """All units on which `user` holds `capability`."""
    relevant = [a for a in _assignments(user) if capability in ROLE_CAPABILITIES.get(a.role, frozenset())]
    q = _scope_filter(relevant)
    if q is None:
        return Unit.objects.none()
    return Unit.objects.filter(q)


def has_capability(user: Any, capability: Capability, unit: Unit) -> bool:
    for a in _assignments(user):
        if capability not in ROLE_CAPABILITIES.get(a.role, frozenset()):
            continue
        if a.unit is not None:
            if unit.path.startswith(a.unit.path):
                return True
        elif a.agency_id is not None:
            if unit.agency_id == a.agency_id:
                return True
        elif unit.county_id == a.county_id:
            return True
    return False


def has_county_capability(user: Any, capability: Capability) -> bool:
    """True when `user` holds `capability` county-wide (no unit or agency scope)."""
    return any(
        a.unit_id is None and a.agency_id is None and capability in ROLE_CAPABILITIES.get(a.role, frozenset())
        for a in _assignments(user)
    )


def county_ids_with(user: Any, capability: Capability) -> list[int]:
    """Counties in which `user` holds `capability` county-wide (no unit or agency scope)."""
    return sorted(
        {
            a.county_id
            for a in _assignments(user)
            if a.unit_id is None and a.agency_id is None and capability in ROLE_CAPABILITIES.get(a.role, frozenset())
        }
    )


def roles_on(user: Any, unit: Unit) -> set[str]:
    """The roles `user` holds that cover `unit`."""
    out = set()
    for a in _assignments(user):
        if (
            (a.unit is not None and unit.path.startswith(a.unit.path))
            or (a.unit_id is None and a.agency_id is not None and unit.agency_id == a.agency_id)
            or (a.unit_id is None and a.agency_id is None and unit.county_id == a.county_id)
        ):
            out.add(a.role)
    return out


def require(user: Any, capability: Capability, unit: Unit) -> None:
    """Raise PermissionDenied unless `user` holds `capability` on `unit`.

    Someone who cannot even see the unit gets NotFound instead, so ids of other units leak nothing.
    """
    if has_capability(user, capability, unit):
        return
    if not has_capability(user, Capability.VIEW_UNIT, unit):
        raise NotFound()
    raise PermissionDenied()


def visible_unit(user: Any, unit_id: int) -> Unit:
    """The unit with this id if `user` may see it; NotFound otherwise (also when it does not exist)."""
    unit = Unit.objects.filter(pk=unit_id).select_related("agency", "county").first()
    if unit is None or not has_capability(user, Capability.VIEW_UNIT, unit):
        raise NotFound()
    return unit
