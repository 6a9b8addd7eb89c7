"""Builders for parking tests: a county with a notice unit, coins to give, a funded advance pool,
citizens with a transaction PIN and a verified plate, and bills at the simulated operator."""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from civicpush.citizens.models import Citizen
from civicpush.coins import ledger
from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.parking import advances
from civicpush.parking.models import Bill, ParkingSettings, PlateBinding, PlateStatus, VerificationMethod
from civicpush.parking.operators import simulator
from civicpush.parking.runs import sync_plate
from civicpush.wallet.services import do_set_pin

PIN = "246802"
_phones = itertools.count(1)
_keys = itertools.count(1)


@dataclass
class World:
    org: Any
    county: Any
    unit: Any
    budget: Budget
    period: ExpiryPeriod
    settings: ParkingSettings

    def give(self, citizen: Citizen, coins: int) -> None:
        ledger.issue(
            key=f"test-give:{citizen.pk}:{next(_keys)}",
            budget=self.budget,
            credit=ledger.wallet_of(citizen),
            amount=coins,
            period=self.period,
            reason="test",
        )

    def fund_pool(self, coins: int) -> None:
        advances.do_fund_advance_pool(
            None, budget=self.budget, period=self.period, amount=coins, key=f"test-pool:{next(_keys)}"
        )


def make_world(org: Any, *, credit_limit: int = 1000) -> World:
    unit = org.unit("prevention")
    budget = Budget.objects.create(
        county=org.county,
        unit=unit,
        year=timezone.localdate().year,
        requested_amount=10_000_000,
        reserved_amount=10_000_000,
        status=BudgetStatus.RESERVED,
        issue_deadline=timezone.localdate() + datetime.timedelta(days=60),
    )
    period = ExpiryPeriod.objects.create(
        county=org.county, code="p1", name="p1", expires_at=timezone.now() + datetime.timedelta(days=300)
    )
    settings = ParkingSettings.objects.create(county=org.county, notice_unit=unit, credit_limit_coins=credit_limit)
    return World(org=org, county=org.county, unit=unit, budget=budget, period=period, settings=settings)


def make_citizen(world: World, *, coins: int = 0, pin: bool = True) -> Citizen:
    citizen = Citizen.objects.create(county=world.county, phone_e164=f"+8869{70_000_000 + next(_phones):08d}")
    if pin:
        do_set_pin(citizen, PIN, PIN)
    if coins:
        world.give(citizen, coins)
    return citizen


def bind(citizen: Citizen, plate: str = "ABC-1234", vehicle_kind: str = "car", *, auto: bool = False) -> PlateBinding:
    return PlateBinding.objects.create(
        county_id=citizen.county_id,
        citizen=citizen,
        plate=plate,
        vehicle_kind=vehicle_kind,
        status=PlateStatus.VERIFIED,
        verification_method=VerificationMethod.BILL_CODE,
        verified_at=timezone.now(),
        auto_deduct=auto,
    )


def bill_for(binding: PlateBinding, amount_twd: int = 40, *, days_ago: float = 1) -> Bill:
    """A bill at the simulated operator for the plate, fetched into our table."""
    remote = simulator.issue_bill(
        binding.plate,
        binding.vehicle_kind,
        amount_twd,
        issued_at=timezone.now() - datetime.timedelta(days=days_ago),
    )
    sync_plate(binding)
    return Bill.objects.get(bill_no=remote.bill_no)


def wallet(citizen: Citizen) -> int:
    return ledger.balance(ledger.wallet_of(citizen))


def available(citizen: Citizen) -> int:
    return ledger.available(ledger.wallet_of(citizen))
