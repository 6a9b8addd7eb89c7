"""Builders for wallet tests: a reserved budget, periods, citizens, earning rules, a staff client."""

from __future__ import annotations

import datetime
import itertools
from typing import Any

from django.conf import settings
from django.utils import timezone

from civicpush.citizens import services as citizen_services
from civicpush.citizens.models import Citizen
from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.org.models import Unit
from civicpush.wallet.models import EarningKind, EarningRule

_phones = itertools.count(30_000_000)


def reserved_budget(unit: Unit, *, reserved: int = 100_000, year: int | None = None, **extra: Any) -> Budget:
    year = year or timezone.localdate().year
    return Budget.objects.create(
        county_id=unit.county_id,
        unit=unit,
        year=year,
        requested_amount=reserved,
        reserved_amount=reserved,
        status=BudgetStatus.RESERVED,
        **extra,
    )


def period(
    unit: Unit, code: str = "P1", *, days: int = 300, expires_at: datetime.datetime | None = None
) -> ExpiryPeriod:
    return ExpiryPeriod.objects.create(
        county_id=unit.county_id,
        code=code,
        name=code,
        expires_at=expires_at or timezone.now() + datetime.timedelta(days=days),
    )


def citizen(phone: str | None = None) -> Citizen:
    """A signed-up citizen (current privacy notice accepted)."""
    phone = phone or f"+8869{next(_phones):08d}"
    from civicpush.citizens.tests.factories import taitung

    taitung()
    return citizen_services.do_sign_up(phone, notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip="198.51.100.9")


def rule(budget: Budget, per: ExpiryPeriod, kind: str, amount: int) -> EarningRule:
    return EarningRule.objects.create(county_id=budget.county_id, kind=kind, amount=amount, budget=budget, period=per)


def all_rules(budget: Budget, per: ExpiryPeriod) -> None:
    rule(budget, per, EarningKind.SIGN_UP, 100)
    rule(budget, per, EarningKind.PROFILE, 50)
    rule(budget, per, EarningKind.REFERRAL, 30)
