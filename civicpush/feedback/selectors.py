"""Feedback reads: a citizen's own feedback; the feedback of the units a staff member may see;
monthly statistics per unit (seed 002: "209 cases, all closed"); published FAQ search."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db.models import Q, QuerySet

from civicpush.citizens.models import Citizen
from civicpush.core.errors import NotFound
from civicpush.org.models import Unit
from civicpush.org.permissions import units_with
from civicpush.org.roles import Capability

from .models import FaqEntry, Feedback

TAIPEI = datetime.timezone(datetime.timedelta(hours=8), "Asia/Taipei")


def feedback_of_citizen(citizen: Citizen) -> QuerySet[Feedback]:
    return Feedback.objects.filter(citizen=citizen).select_related("category", "unit")


def one_of_citizen(citizen: Citizen, feedback_id: int) -> Feedback:
    feedback = feedback_of_citizen(citizen).filter(pk=feedback_id).first()
    if feedback is None:
        raise NotFound()
    return feedback


def feedback_visible_to(user: Any) -> QuerySet[Feedback]:
    """Only feedback routed to units the staff member may see."""
    return Feedback.objects.filter(unit__in=units_with(user, Capability.VIEW_UNIT)).select_related("category", "unit")


def search_faq(county_id: int, query: str = "") -> QuerySet[FaqEntry]:
    qs = FaqEntry.objects.filter(unit__county_id=county_id, is_published=True).select_related("unit")
    query = (query or "").strip()[:100]
    for word in query.split():
        qs = qs.filter(Q(question__icontains=word) | Q(answer__icontains=word))
    return qs


@dataclass
class MonthRow:
    unit: Unit
    received: int
    closed: int
    average_days_to_close: Decimal | None
    rated: int
    satisfied: int

    @property
    def satisfaction(self) -> Decimal | None:
        if not self.rated:
            return None
        return (Decimal(self.satisfied) * 100 / self.rated).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def month_bounds(year: int, month: int) -> tuple[datetime.datetime, datetime.datetime]:
    start = datetime.datetime(year, month, 1, tzinfo=TAIPEI)
    end = datetime.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=TAIPEI)
    return start, end


def monthly_stats(user: Any, year: int, month: int) -> list[MonthRow]:
    """Per unit the user may see: received in the month, closed in it, average days to close (of
    those closed), and satisfaction (rated 4-5 of those rated in the month)."""
    start, end = month_bounds(year, month)
    rows: dict[int, MonthRow] = {}
    visible = feedback_visible_to(user)

    def row(f: Feedback) -> MonthRow:
        return rows.setdefault(f.unit_id, MonthRow(f.unit, 0, 0, None, 0, 0))

    for f in visible.filter(created_at__gte=start, created_at__lt=end):
        row(f).received += 1
    durations: dict[int, list[float]] = {}
    for f in visible.filter(closed_at__gte=start, closed_at__lt=end):
        row(f).closed += 1
        assert f.closed_at is not None
        durations.setdefault(f.unit_id, []).append((f.closed_at - f.created_at).total_seconds() / 86400)
    for f in visible.filter(rated_at__gte=start, rated_at__lt=end, rating__isnull=False):
        r = row(f)
        r.rated += 1
        r.satisfied += int((f.rating or 0) >= 4)
    for unit_id, days in durations.items():
        rows[unit_id].average_days_to_close = Decimal(sum(days) / len(days)).quantize(Decimal("0.1"))
    return sorted(rows.values(), key=lambda r: r.unit.path)
