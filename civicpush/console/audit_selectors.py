"""Reading the audit log, limited to what a staff user may see. Shared by the console and the API.

The scope (who may read which entries) is org.selectors.audit_entries_visible_to, shared with the
API; this module adds the console's filters (calendar days in Asia/Taipei, actor, object type).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet

from civicpush.core.models import AuditEntry
from civicpush.org import permissions
from civicpush.org import selectors as org_selectors
from civicpush.org.models import Unit
from civicpush.org.roles import Capability
from civicpush.org.selectors import can_view_audit

__all__ = ["AuditFilters", "audit_entries_visible_to", "audit_units_for", "can_view_audit", "unit_names"]

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


def audit_units_for(user: Any) -> QuerySet[Unit]:
    """Units whose entries `user` may read (what the unit filter offers)."""
    return permissions.units_with(user, Capability.VIEW_AUDIT).select_related("agency").order_by("path")


def _start_of_day(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time.min, tzinfo=TAIPEI)


def audit_entries_visible_to(user: Any, filters: AuditFilters | None = None) -> QuerySet[AuditEntry]:
    """Audit entries `user` may read (org.selectors' scope), narrowed by `filters`, newest first."""
    filters = filters or AuditFilters()
    qs = org_selectors.audit_entries_visible_to(user)
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
    return qs.select_related("actor")


def unit_names(unit_ids: set[int]) -> dict[int, str]:
    """Names for the unit ids in a page of entries (entries hold plain ids, not foreign keys)."""
    return dict(Unit.objects.filter(pk__in=unit_ids).values_list("pk", "name"))
