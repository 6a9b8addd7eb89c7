"""Demo parking data (called by `manage.py load_demo`): the county's parking unit and settings, a
funded advance pool, three demo citizens with a verified plate, coins and unpaid bills at the
simulated operator, and a few free demo plates with bills that anyone signing up can bind (in demo
mode the verify page shows the simulator's bill numbers). Idempotent."""

from __future__ import annotations

import contextlib
import datetime

from django.db import transaction
from django.utils import timezone

from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.coins import ledger
from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.org.models import Agency, County, Unit, UnitKind

from .advances import do_fund_advance_pool
from .models import ParkingSettings, PlateBinding, PlateStatus, SimBill, VerificationMethod
from .operators import simulator
from .operators.base import OperatorError
from .runs import sync_plate

DEMO_BOUND = [("ABC-1234", "car"), ("KLM-2580", "car"), ("MTR-1357", "motorcycle")]
DEMO_FREE = [("DEM-1234", "car"), ("DEM-5678", "car"), ("DEM-135", "motorcycle")]
STREETS = ["臺東市中華路一段", "臺東市正氣路", "臺東市新生路", "臺東市安和路101巷", "臺東市新站路106巷"]


def _unit(county: County) -> Unit:
    agency, _ = Agency.objects.get_or_create(
        county=county, code="transport", defaults={"name": "臺東縣政府交通及觀光發展處", "name_en": "Transport"}
    )
    unit, _ = Unit.objects.get_or_create(
        agency=agency,
        code="parking",
        defaults={"county": county, "name": "停車管理科", "name_en": "Parking Section", "kind": UnitKind.BUSINESS},
    )
    return unit


def _bills(plate: str, kind: str, n: int, seed: int) -> None:
    now = timezone.now()
    for i in range(n):
        hours = 1 + (seed + i) % 3
        simulator.issue_bill(
            plate,
            kind,
            (20 if kind == "car" else 10) * hours,
            location=STREETS[(seed + i) % len(STREETS)],
            issued_at=now - datetime.timedelta(days=1 + i, hours=seed % 5),
            hours=hours,
        )


@transaction.atomic
def load_demo_parking(county: County) -> str:
    """Load the demo parking data once; returns a one-line summary."""
    if SimBill.objects.filter(plate__in=[p for p, _k in DEMO_BOUND + DEMO_FREE]).exists():
        return "already there"
    unit = _unit(county)
    ParkingSettings.objects.get_or_create(county=county, defaults={"notice_unit": unit, "credit_limit_coins": 3000})
    year = timezone.localdate().year
    budget, _ = Budget.objects.get_or_create(
        unit=unit,
        year=year,
        defaults={
            "county": county,
            "requested_amount": 1_000_000,
            "reserved_amount": 1_000_000,
            "status": BudgetStatus.RESERVED,
            "note": "demo: parking advance pool",
        },
    )
    expires = datetime.datetime(year + 1, 9, 30, 23, 59, tzinfo=timezone.get_current_timezone())
    period, _ = ExpiryPeriod.objects.get_or_create(
        county=county, code=f"parking-demo-{year}", defaults={"name": f"{year - 1911} 年度", "expires_at": expires}
    )
    do_fund_advance_pool(None, budget=budget, period=period, amount=50_000, key=f"demo:parking:pool:{county.pk}")
    citizens = list(
        Citizen.objects.filter(county=county, status=CitizenStatus.ACTIVE).order_by("pk")[: len(DEMO_BOUND)]
    )
    for i, (citizen, (plate, kind)) in enumerate(zip(citizens, DEMO_BOUND, strict=False)):
        _bills(plate, kind, 2, i)
        binding, _ = PlateBinding.objects.get_or_create(
            citizen=citizen,
            plate=plate,
            status=PlateStatus.VERIFIED,
            defaults={
                "county": county,
                "vehicle_kind": kind,
                "verification_method": VerificationMethod.BILL_CODE,
                "verified_at": timezone.now(),
            },
        )
        ledger.issue(
            key=f"demo:parking:coins:{citizen.pk}",
            budget=budget,
            credit=ledger.wallet_of(citizen),
            amount=2000,
            period=period,
            reason="demo coins",
        )
        with contextlib.suppress(OperatorError):  # maintenance window: the hourly task fetches them later
            sync_plate(binding)
    for i, (plate, kind) in enumerate(DEMO_FREE):
        _bills(plate, kind, 2, i + 3)
    return f"{len(citizens)} demo citizens with a plate, {SimBill.objects.count()} bills at the simulated operator"
