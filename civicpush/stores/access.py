"""Who may do what with stores (decision, see docs/adr/0010):

* county operator — CONFIGURE_COUNTY held county-wide (county operator, system administrator):
  onboards stores, their staff and offers, prepares and issues statements, resolves disputes;
* accounting — the ACCOUNTING role held county-wide (主計處): approves statements and records payouts;
* store staff — an active StoreStaff row for an active store: only their own store (charge, refund,
  confirm or dispute its statements). Managers also see the store's statements.
Both county roles see every store's settlement status.
"""

from __future__ import annotations

from typing import Any

from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.org.permissions import county_ids_with, has_county_capability
from civicpush.org.roles import Capability

from .models import Store, StoreStaff


def is_operator(user: Any, county_id: int | None = None) -> bool:
    if not has_county_capability(user, Capability.CONFIGURE_COUNTY):
        return False
    return county_id is None or county_id in county_ids_with(user, Capability.CONFIGURE_COUNTY)


def is_accounting(user: Any, county_id: int | None = None) -> bool:
    # APPROVE_BUDGET is accounting's capability; held county-wide it is the county's accounting office.
    counties = county_ids_with(user, Capability.APPROVE_BUDGET)
    return bool(counties) and (county_id is None or county_id in counties)


def can_view_settlement(user: Any, county_id: int | None = None) -> bool:
    return is_operator(user, county_id) or is_accounting(user, county_id)


def require_operator(user: Any, county_id: int | None = None) -> None:
    if not is_operator(user, county_id):
        raise PermissionDenied()


def require_accounting(user: Any, county_id: int | None = None) -> None:
    if not is_accounting(user, county_id):
        raise PermissionDenied()


def staff_membership(user: Any) -> StoreStaff | None:
    """The user's active store membership (with its active store), or None."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    cached: StoreStaff | bool | None = getattr(user, "_civicpush_store_staff", False)
    if cached is not False:
        return cached if isinstance(cached, StoreStaff) else None
    membership = (
        StoreStaff.objects.select_related("store", "store__county")
        .filter(user=user, is_active=True, store__is_active=True)
        .first()
    )
    user._civicpush_store_staff = membership
    return membership


def require_store_staff(user: Any, store: Store) -> StoreStaff:
    membership = staff_membership(user)
    if membership is None or membership.store_id != store.pk:
        raise NotFound()
    return membership


def operator_county_id(user: Any) -> int:
    counties = county_ids_with(user, Capability.CONFIGURE_COUNTY) or county_ids_with(user, Capability.APPROVE_BUDGET)
    if not counties:
        raise PermissionDenied()
    return counties[0]
