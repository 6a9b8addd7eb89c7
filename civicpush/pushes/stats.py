"""Statistics selectors: per push, per unit, per county. Reads, permission-aware.

Read rate = distinct readers / audience of the latest dispatch (for daily pushes, readers over
all days against one day's audience: an approximation, stated in the UI).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncHour, TruncMonth
from django.utils import timezone

from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.org.models import County, RoleAssignment, Unit
from civicpush.org.permissions import has_capability
from civicpush.org.roles import ROLE_CAPABILITIES, Capability

from .models import Dispatch, DispatchStatus, Push, PushClick, PushRead, PushStatus
from .scheduling import TAIPEI

SENT_STATUSES = (PushStatus.SENT, PushStatus.DISPATCHING, PushStatus.SCHEDULED, PushStatus.CANCELLED)


@dataclass(frozen=True)
class PushStats:
    push_id: int
    audience: int
    delivered: int
    failed: int
    reads: int
    read_rate: float | None  # 0..1, None before sending
    clicks: int
    first_sent_at: datetime.datetime | None


def _rate(reads: int, audience: int | None) -> float | None:
    if not audience:
        return None
    return round(min(1.0, reads / audience), 4)


def _require_view(user: Any, unit: Unit) -> None:
    if not has_capability(user, Capability.VIEW_UNIT, unit):
        raise NotFound()


def _require_county_view(user: Any, county: County) -> None:
    roles = [r for r, caps in ROLE_CAPABILITIES.items() if Capability.VIEW_UNIT in caps]
    if not RoleAssignment.objects.filter(
        user_id=getattr(user, "pk", None), county=county, unit__isnull=True, agency__isnull=True, role__in=roles
    ).exists():
        raise PermissionDenied()


def push_stats(user: Any, push: Push) -> PushStats:
    _require_view(user, push.unit)
    return _push_stats(push)


def _push_stats(push: Push) -> PushStats:
    reads = PushRead.objects.filter(push=push).count()
    return PushStats(
        push_id=push.pk,
        audience=push.audience_size or 0,
        delivered=push.delivered_count,
        failed=push.failed_count,
        reads=reads,
        read_rate=_rate(reads, push.audience_size),
        clicks=PushClick.objects.filter(push=push).count(),
        first_sent_at=push.first_sent_at,
    )


def reads_per_hour(user: Any, push: Push, *, hours: int = 72) -> list[tuple[int, int]]:
    """[(hours since the first dispatch, reads in that hour)] for the first `hours` hours (a chart)."""
    _require_view(user, push.unit)
    start = (
        Dispatch.objects.filter(push=push, frozen_at__isnull=False)
        .order_by("frozen_at")
        .values_list("frozen_at", flat=True)
        .first()
    )
    if start is None:
        return []
    start_hour = start.replace(minute=0, second=0, microsecond=0)
    counts = dict(
        PushRead.objects.filter(
            push=push, read_at__gte=start_hour, read_at__lt=start_hour + datetime.timedelta(hours=hours)
        )
        .annotate(hour=TruncHour("read_at", tzinfo=datetime.UTC))
        .values("hour")
        .annotate(n=Count("id"))
        .values_list("hour", "n")
    )
    by_index: dict[int, int] = {}
    for hour, n in counts.items():
        index = int((hour - start_hour.astimezone(datetime.UTC)).total_seconds() // 3600)
        by_index[index] = by_index.get(index, 0) + n
    return [(i, by_index.get(i, 0)) for i in range(hours)]


def _sent_pushes(
    qs: QuerySet[Push], since: datetime.datetime | None, until: datetime.datetime | None
) -> QuerySet[Push]:
    qs = qs.filter(first_sent_at__isnull=False)
    if since:
        qs = qs.filter(first_sent_at__gte=since)
    if until:
        qs = qs.filter(first_sent_at__lt=until)
    return qs


def _monthly(qs: QuerySet[Push]) -> list[dict[str, Any]]:
    rows = (
        qs.annotate(month=TruncMonth("first_sent_at", tzinfo=TAIPEI))
        .values("month")
        .annotate(pushes=Count("id", distinct=True))
        .order_by("month")
    )
    out = []
    for row in rows:
        month_pushes = qs.filter(
            first_sent_at__gte=row["month"],
            first_sent_at__lt=(row["month"] + datetime.timedelta(days=32)).replace(day=1),
        )
        audience = sum(p.audience_size or 0 for p in month_pushes.only("audience_size"))
        reads = PushRead.objects.filter(push__in=month_pushes).count()
        out.append(
            {
                "month": row["month"].astimezone(TAIPEI).strftime("%Y-%m"),
                "pushes": row["pushes"],
                "audience": audience,
                "reads": reads,
                "read_rate": _rate(reads, audience),
            }
        )
    return out


def _top(qs: QuerySet[Push], n: int) -> list[dict[str, Any]]:
    rows = qs.annotate(n_reads=Count("reads", distinct=True)).order_by("-n_reads", "-first_sent_at")[:n]
    return [
        {
            "push_id": p.pk,
            "title": p.full_title,
            "unit": p.unit.name,
            "reads": p.n_reads,  # type: ignore[attr-defined]
            "audience": p.audience_size or 0,
            "read_rate": _rate(p.n_reads, p.audience_size),  # type: ignore[attr-defined]
        }
        for p in rows.select_related("unit")
    ]


def unit_stats(
    user: Any,
    unit: Unit,
    *,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """Pushes per month, read rates and top pushes of one unit (and its sub-units)."""
    _require_view(user, unit)
    qs = _sent_pushes(Push.objects.filter(unit__in=unit.subtree()), since, until)
    return {"by_month": _monthly(qs), "top": _top(qs, top)}


def county_stats(
    user: Any,
    county: County,
    *,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
    top: int = 10,
) -> dict[str, Any]:
    """County-wide: pushes per month, read rates, top pushes (county-scoped roles only)."""
    _require_county_view(user, county)
    qs = _sent_pushes(Push.objects.filter(county=county), since, until)
    return {"by_month": _monthly(qs), "top": _top(qs, top), "headline": _headline(county)}


def county_headline(user: Any, county: County) -> dict[str, int]:
    _require_county_view(user, county)
    return _headline(county)


def _headline(county: County) -> dict[str, int]:
    """Members (active citizens), pushes sent, dispatches sent, reads: the county's front-page numbers."""
    now = timezone.now()
    return {
        "members": Citizen.objects.filter(county=county, status=CitizenStatus.ACTIVE).count(),
        "pushes": Push.objects.filter(county=county, first_sent_at__isnull=False, first_sent_at__lte=now).count(),
        "dispatches": Dispatch.objects.filter(
            county=county, status__in=[DispatchStatus.SENT, DispatchStatus.DISPATCHING]
        ).count(),
        "reads": PushRead.objects.filter(push__county=county).count(),
    }


def push_stats_rows(
    user: Any,
    *,
    unit: Unit | None = None,
    county: County | None = None,
    since: datetime.datetime | None = None,
    until: datetime.datetime | None = None,
) -> tuple[list[str], list[list[Any]]]:
    """Header and one row per sent push, for the CSV/XLSX exports (unit subtree or whole county)."""
    if unit is not None:
        _require_view(user, unit)
        qs = Push.objects.filter(unit__in=unit.subtree())
    elif county is not None:
        _require_county_view(user, county)
        qs = Push.objects.filter(county=county)
    else:
        raise ValueError("give a unit or a county")
    qs = (
        _sent_pushes(qs, since, until)
        .select_related("unit")
        .annotate(n_reads=Count("reads", distinct=True), n_clicks=Count("clicks", distinct=True))
        .filter(~Q(status=PushStatus.DRAFT))
        .order_by("first_sent_at", "id")
    )
    header = [
        "push_id", "unit", "type", "title", "urgency", "audience_kind", "first_sent_at",
        "audience", "delivered", "failed", "reads", "read_rate", "clicks",
    ]  # fmt: skip
    rows = [
        [
            p.pk,
            p.unit.name,
            p.push_type,
            p.full_title,
            p.urgency,
            p.target_kind,
            p.first_sent_at.astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M") if p.first_sent_at else "",
            p.audience_size or 0,
            p.delivered_count,
            p.failed_count,
            p.n_reads,  # type: ignore[attr-defined]
            _rate(p.n_reads, p.audience_size),  # type: ignore[attr-defined]
            p.n_clicks,  # type: ignore[attr-defined]
        ]
        for p in qs
    ]
    return header, rows
