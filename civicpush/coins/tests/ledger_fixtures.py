"""Builders for ledger tests (shared by test_ledger*.py and test_concurrency*.py)."""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from civicpush.citizens.models import Citizen
from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.org.models import County, Unit

_phones = itertools.count(1)


@dataclass
class World:
    county: County
    unit: Unit
    budget: Budget
    period: ExpiryPeriod  # expires later
    early: ExpiryPeriod  # expires sooner


def make_budget(unit: Unit, *, reserved: int = 1_000_000, year: int | None = None, **extra: Any) -> Budget:
    year = year or timezone.localdate().year
    return Budget.objects.create(
        county_id=unit.county_id,
        unit=unit,
        year=year,
        requested_amount=reserved,
        reserved_amount=reserved,
        status=extra.pop("status", BudgetStatus.RESERVED),
        issue_deadline=extra.pop("issue_deadline", timezone.localdate() + datetime.timedelta(days=60)),
        **extra,
    )


def make_period(county: County, code: str, days: int) -> ExpiryPeriod:
    return ExpiryPeriod.objects.create(
        county=county, code=code, name=code, expires_at=timezone.now() + datetime.timedelta(days=days)
    )


def make_world(unit: Unit, reserved: int = 1_000_000) -> World:
    county = unit.county
    return World(
        county=county,
        unit=unit,
        budget=make_budget(unit, reserved=reserved),
        period=make_period(county, "late", 300),
        early=make_period(county, "early", 30),
    )


def make_citizen(county: County) -> Citizen:
    return Citizen.objects.create(county=county, phone_e164=f"+8869{next(_phones):08d}")
