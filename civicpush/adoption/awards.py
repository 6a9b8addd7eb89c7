"""Awards (獎懲): measure the facts of a period, match them against the rules table and write the
recommendation list to print and sign. Seed 000 §8 ships as rules (rules_seed.py), not as code."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.db import transaction
from django.db.models import F, Min
from django.utils import timezone

from civicpush.cases.models import Case, CaseEvent, EventKind
from civicpush.core.audit import log_action
from civicpush.core.errors import PermissionDenied
from civicpush.org.models import Agency, RoleAssignment, StaffUser, Unit
from civicpush.org.permissions import has_capability, has_county_capability
from civicpush.org.roles import Capability, Role
from civicpush.pushes.models import Decision, Push, PushApproval

from . import roster
from .models import (
    VOLUNTEER_KINDS,
    AwardPeriod,
    AwardRule,
    Fact,
    Recipient,
    Recommendation,
    RosterKind,
)

TAIPEI = datetime.timezone(datetime.timedelta(hours=8), "Asia/Taipei")
ADMIN_UNIT_CODE = "admin"  # 行政科: keeps the rules and signs the list (seed 000 §8(3))


def admin_unit(agency: Agency) -> Unit | None:
    return Unit.objects.filter(agency=agency, code=ADMIN_UNIT_CODE).first()


def can_manage_awards(user: Any, agency: Agency) -> bool:
    """The administration section (its drafter or head) or a county-wide operator."""
    unit = admin_unit(agency)
    if unit is not None and has_capability(user, Capability.DRAFT_PUSH, unit):
        return True
    return has_county_capability(user, Capability.CONFIGURE_COUNTY)


def require_awards(user: Any, agency: Agency) -> None:
    if not can_manage_awards(user, agency):
        raise PermissionDenied()


@dataclass(frozen=True)
class Measurement:
    fact: str
    unit: Unit
    value: Decimal
    subject: str = ""
    push: Push | None = None


def _end(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(23, 59, 59), tzinfo=TAIPEI)


def _start(day: datetime.date) -> datetime.datetime:
    return datetime.datetime.combine(day, datetime.time(0, 0), tzinfo=TAIPEI)


def _pct(part: int, whole: int) -> Decimal:
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def pushes_without_signoff(agency: Agency, start: datetime.datetime, end: datetime.datetime) -> list[Push]:
    """Pushes of the agency first sent in [start, end] whose current revision lacks an approval for
    a step of its chain (or that never had a chain). System notices and test pushes are excluded:
    they are not staff writing."""
    pushes = Push.objects.filter(
        unit__agency=agency, first_sent_at__gte=start, first_sent_at__lte=end, is_system_notice=False, is_test=False
    ).select_related("unit", "created_by")
    out = []
    for push in pushes:
        steps = set(range(1, len(push.chain_roles or [])))
        signed = set(
            PushApproval.objects.filter(
                push=push, revision=push.revision, is_current=True, decision=Decision.APPROVED
            ).values_list("step", flat=True)
        )
        if not steps or not steps <= signed:
            out.append(push)
    return out


def measure(agency: Agency, period: AwardPeriod) -> Iterator[Measurement]:
    """Every fact the rules can ask about, per unit (and per volunteer group, per push)."""
    start, end = _start(period.starts_on), _end(period.deadline)
    units = Unit.objects.filter(agency=agency, is_active=True)
    for sheet in roster.sheets(units, as_of=end):
        if sheet.kind == RosterKind.STAFF:
            yield Measurement(Fact.UNIT_STAFF_RATE, sheet.unit, sheet.rate)
        elif sheet.kind in VOLUNTEER_KINDS:
            yield Measurement(Fact.VOLUNTEER_GROUP_RATE, sheet.unit, sheet.rate, subject=sheet.kind_label)
    for push in pushes_without_signoff(agency, start, end):
        yield Measurement(Fact.PUSH_WITHOUT_SIGNOFF, push.unit, Decimal(1), subject=push.full_title[:120], push=push)
    closed = Case.objects.filter(unit__agency=agency, is_sandbox=False, closed_at__gte=start, closed_at__lte=end)
    for unit in units:
        mine = closed.filter(unit=unit)
        n = mine.count()
        if n:
            yield Measurement(Fact.CASES_CLOSED, unit, Decimal(n))
            on_time = mine.filter(closed_at__lte=F("due_at")).count()
            yield Measurement(Fact.CASES_ON_TIME_RATE, unit, _pct(on_time, n))
        received = Case.objects.filter(unit=unit, is_sandbox=False, received_at__gte=start, received_at__lte=end)
        firsts = (
            CaseEvent.objects.filter(case__in=received)
            .exclude(kind=EventKind.RECEIVED)
            .values("case_id", "case__received_at")
            .annotate(first=Min("occurred_at"))
        )
        hours = [(row["first"] - row["case__received_at"]).total_seconds() / 3600 for row in firsts]
        if hours:
            yield Measurement(
                Fact.CASE_FIRST_RESPONSE_HOURS, unit, Decimal(sum(hours) / len(hours)).quantize(Decimal("0.1"))
            )


def _matches(rule: AwardRule, value: Decimal) -> bool:
    if rule.at_most:
        return value <= rule.threshold and (rule.upper is None or value > rule.upper)
    return value >= rule.threshold and (rule.upper is None or value < rule.upper)


def _people(unit: Unit, role: str) -> list[StaffUser]:
    """Who holds `role` directly on the unit (the unit's own drafter or head, not the agency's)."""
    return [
        a.user
        for a in RoleAssignment.objects.filter(unit=unit, role=role).select_related("user").order_by("user__username")
        if a.user.is_active
    ]


def _recipients(rule: AwardRule, m: Measurement) -> list[tuple[StaffUser | None, str]]:
    if rule.recipient == Recipient.PUSH_DRAFTER:
        user = m.push.created_by if m.push is not None else None
        return [(user, str(user) if user else "—")]
    role = Role.DRAFTER if rule.recipient == Recipient.DRAFTER else Role.UNIT_HEAD
    people = _people(m.unit, role)
    return [(u, str(u)) for u in people] or [(None, "—")]


@transaction.atomic
def do_evaluate_period(actor: Any, period: AwardPeriod) -> list[Recommendation]:
    """(Re)compute the period's recommendation list from the rules in force; returns it."""
    agency = period.agency
    require_awards(actor, agency)
    period = AwardPeriod.objects.select_for_update().get(pk=period.pk)
    period.recommendations.all().delete()
    rules = list(AwardRule.objects.filter(agency=agency, is_active=True))
    made: list[Recommendation] = []
    for m in measure(agency, period):
        for rule in rules:
            if rule.fact != m.fact or not _matches(rule, m.value):
                continue
            for user, name in _recipients(rule, m):
                made.append(
                    Recommendation(
                        period=period,
                        rule=rule,
                        unit=m.unit,
                        subject=m.subject,
                        fact_value=m.value,
                        recipient_user=user,
                        recipient_name=name[:100],
                        recipient_role=rule.recipient,
                        outcome=rule.outcome,
                        push=m.push,
                    )
                )
    Recommendation.objects.bulk_create(made)
    period.evaluated_at = timezone.now()
    period.save(update_fields=["evaluated_at"])
    log_action(
        "adoption.awards.evaluated", actor=actor, obj=period, unit_id=getattr(admin_unit(agency), "pk", None),
        county_id=agency.county_id, data={"recommendations": len(made)},
    )  # fmt: skip
    return list(period.recommendations.select_related("rule", "unit", "recipient_user"))


def recommendation_rows(period: AwardPeriod) -> list[Recommendation]:
    return list(
        period.recommendations.select_related("rule", "unit", "recipient_user").order_by(
            "unit__path", "rule__sort_order", "id"
        )
    )
