"""Case reads, permission-aware: a citizen's own cases; the cases, overdue list and sandbox inbox
of the units a staff member may see."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from civicpush.citizens.models import Citizen
from civicpush.core.errors import NotFound
from civicpush.org.permissions import units_with
from civicpush.org.roles import Capability

from .models import Case, CaseEvent, CaseType, SandboxNotice


def cases_of_citizen(citizen: Citizen) -> QuerySet[Case]:
    return Case.objects.filter(citizen=citizen, is_sandbox=False).select_related("case_type", "unit")


def case_of_citizen(citizen: Citizen, case_id: int) -> Case:
    """The citizen's own case; NotFound for anyone else's (ids leak nothing)."""
    case = cases_of_citizen(citizen).filter(pk=case_id).first()
    if case is None:
        raise NotFound()
    return case


def timeline(case: Case) -> QuerySet[CaseEvent]:
    return case.events.order_by("occurred_at", "id")


def cases_visible_to(user: Any) -> QuerySet[Case]:
    units = units_with(user, Capability.VIEW_UNIT)
    return Case.objects.filter(unit__in=units).select_related("case_type", "unit")


def overdue_cases_for(user: Any) -> QuerySet[Case]:
    """Open cases past their standard time, in the units `user` may see: the unit's to-do list."""
    return cases_visible_to(user).filter(closed_at__isnull=True, overdue_at__isnull=False, is_sandbox=False)


def sandbox_notices_for(user: Any) -> QuerySet[SandboxNotice]:
    units = units_with(user, Capability.VIEW_UNIT)
    return SandboxNotice.objects.filter(unit__in=units).select_related("case", "case__case_type", "unit")


def case_types_for(user: Any) -> QuerySet[CaseType]:
    return CaseType.objects.filter(unit__in=units_with(user, Capability.VIEW_UNIT)).select_related("unit")
