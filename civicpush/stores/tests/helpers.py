"""Builders for store tests: a county with townships, a funded citizen, a store with staff."""

from __future__ import annotations

import datetime
import itertools
from dataclasses import dataclass
from typing import Any

from django.utils import timezone

from civicpush.citizens.models import Citizen, Township
from civicpush.coins import ledger
from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.org.models import County, RoleAssignment, StaffUser
from civicpush.org.roles import Role
from civicpush.stores import services
from civicpush.stores.models import Store, StoreRole

PASSWORD = "demo-password-for-tests"
_seq = itertools.count(1)


@dataclass
class Shop:
    county: County
    store: Store
    cashier: StaffUser
    cashier_password: str
    operator: StaffUser
    accounting: StaffUser
    budget: Budget
    period: ExpiryPeriod


def townships(county: County) -> list[Township]:
    from civicpush.citizens.reference import ensure_reference_data

    ensure_reference_data(county)
    return list(Township.objects.filter(county=county))


def accounting_user(county: County) -> StaffUser:
    user, _ = StaffUser.objects.get_or_create(username="county.accounting", defaults={"county": county})
    RoleAssignment.objects.get_or_create(user=user, role=Role.ACCOUNTING, county=county, unit=None, agency=None)
    return user


def store_data(county: County, **extra: Any) -> dict[str, Any]:
    n = next(_seq)
    return {
        "name": f"測試商店{n}",
        "ubn": ["04595257", "22099131", "00501503", "00501508", "00000074"][n % 5] if n <= 5 else _ubn(n),
        "kind": "partner",
        "category": "food",
        "township": townships(county)[0].pk,
        "address": "臺東市中華路一段 1 號",
        "bank_code": "004",
        "branch_code": "0123",
        "account_number": "123456789012",
        "account_holder": "王小明",
        **extra,
    }


def _ubn(n: int) -> str:
    from civicpush.stores.identifiers import is_valid_ubn

    base = 10000000 + n * 37
    while not is_valid_ubn(str(base)):
        base += 1
    return str(base)


def make_shop(org: Any, *, name: str | None = None) -> Shop:
    county = org.county
    operator = org.user("county.operator")
    data = store_data(county)
    if name:
        data["name"] = name
    store = services.do_create_store(operator, county.pk, data)
    new = services.do_add_store_staff(operator, store, f"cashier{store.pk}", "收銀員", StoreRole.CASHIER)
    new.membership.user.set_password(PASSWORD)
    new.membership.user.save()
    budget = Budget.objects.filter(county=county).first()
    if budget is None:
        budget = Budget.objects.create(
            county=county,
            unit=org.unit("prevention"),
            year=timezone.localdate().year,
            requested_amount=10_000_000,
            reserved_amount=10_000_000,
            status=BudgetStatus.RESERVED,
            issue_deadline=timezone.localdate() + datetime.timedelta(days=400),
        )
    period = ExpiryPeriod.objects.filter(county=county).first() or ExpiryPeriod.objects.create(
        county=county, code="p1", name="p1", expires_at=timezone.now() + datetime.timedelta(days=900)
    )
    return Shop(county, store, new.membership.user, PASSWORD, operator, accounting_user(county), budget, period)


def funded_citizen(shop: Shop, coins: int = 1000) -> Citizen:
    citizen = Citizen.objects.create(county=shop.county, phone_e164=f"+8869{70000000 + next(_seq):08d}")
    if coins:
        ledger.issue(
            key=f"test-fund:{citizen.pk}",
            budget=shop.budget,
            credit=ledger.wallet_of(citizen),
            amount=coins,
            period=shop.period,
            reason="grant",
        )
    return citizen
