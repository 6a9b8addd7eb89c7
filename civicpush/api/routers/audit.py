"""The audit log, read-only, for staff holding VIEW_AUDIT. API keys are refused (403)."""

import datetime
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.pagination import CursorPagination, paginate

from civicpush.core.errors import PermissionDenied
from civicpush.core.models import AuditEntry
from civicpush.org import selectors as org_selectors
from civicpush.org.models import StaffUser

from ..auth import principal_of
from ..problems import problem_responses

router = Router(tags=["audit"])


class AuditFilters(Schema):
    action: str | None = None  # prefix, e.g. "org.api_key."
    unit_id: int | None = None
    since: datetime.datetime | None = None  # inclusive
    until: datetime.datetime | None = None  # exclusive


class AuditEntryOut(Schema):
    id: int
    created_at: datetime.datetime
    actor_label: str
    action: str
    county_id: int | None
    unit_id: int | None
    object_type: str
    object_id: str
    object_repr: str
    before: Any = None
    after: Any = None
    data: Any = None
    request_id: str


def _aware(value: datetime.datetime | None) -> datetime.datetime | None:
    """Times without an offset are read as Asia/Taipei (the time zone staff think in)."""
    if value is None or timezone.is_aware(value):
        return value
    return timezone.make_aware(value, timezone.get_default_timezone())


def audit_entries_visible_to(user: StaffUser, filters: AuditFilters) -> QuerySet[AuditEntry]:
    """The entries `user` may read (org.selectors' scope) narrowed by the API filters.
    PermissionDenied when they hold VIEW_AUDIT nowhere."""
    if not org_selectors.can_view_audit(user):
        raise PermissionDenied()
    entries = org_selectors.audit_entries_visible_to(user)
    if filters.action:
        entries = entries.filter(action__startswith=filters.action)
    if filters.unit_id is not None:
        entries = entries.filter(unit_id=filters.unit_id)
    if filters.since is not None:
        entries = entries.filter(created_at__gte=_aware(filters.since))
    if filters.until is not None:
        entries = entries.filter(created_at__lt=_aware(filters.until))
    return entries


@router.get("/audit", response={200: list[AuditEntryOut], **problem_responses(400, 401, 403)}, summary="Audit log")
@paginate(CursorPagination, ordering=("-id",))
def list_audit(request: HttpRequest, filters: Query[AuditFilters]) -> QuerySet[AuditEntry]:
    """Newest first, a page at a time (follow `next`). Filters: `action` prefix, `unit_id`,
    `since` (inclusive) and `until` (exclusive). County-wide auditors see their whole county;
    unit account managers see entries of their units."""
    user = principal_of(request).require_staff()
    return audit_entries_visible_to(user, filters)
