"""Demo stores (`manage.py load_demo` calls `load_demo_stores`): a few partner stores and a charity in
different townships with offers, a store sign-in (`store.demo`), the county's accounting office
(`county.accounting`, approves statements), and coins for the first demo citizens so that they can pay.
Idempotent and deterministic."""

from __future__ import annotations

import datetime
import secrets
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from civicpush.citizens.models import Citizen, Township
from civicpush.coins import ledger
from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.org.models import RoleAssignment, StaffUser
from civicpush.org.roles import Role

from .identifiers import BankAccount, encrypt_bank_account
from .models import Offer, Store, StoreCategory, StoreKind, StoreRole, StoreSettings, StoreStaff

STORE_LOGIN = "store.demo"
ACCOUNTING_LOGIN = "county.accounting"
DEMO_CITIZEN_COINS = 2_000
DEMO_FUNDED_CITIZENS = 20

# (UBN, name, township code, category, kind, address, hours, offers [(title, coins, stock)])
DEMO_STORES: list[tuple[str, str, str, str, str, str, str, list[tuple[str, int, int]]]] = [
    ("22099131", "鐵花村咖啡", "10014010", StoreCategory.FOOD, StoreKind.PARTNER, "臺東縣臺東市新生路 135 巷 26 號",
     "週二至週日 10:00–22:00", [("手沖咖啡一杯", 800, 30), ("咖啡豆 100 公克", 2500, 10)]),
    ("04595257", "池上米舖", "10014060", StoreCategory.PRODUCE, StoreKind.PARTNER, "臺東縣池上鄉中山路 100 號",
     "每日 08:00–18:00", [("池上米 1 公斤", 1200, 50)]),
    ("00501503", "鹿野高台茶坊", "10014050", StoreCategory.FOOD, StoreKind.PARTNER, "臺東縣鹿野鄉永安村高台路 42 號",
     "每日 09:00–17:00", [("紅烏龍茶包", 300, 100)]),
    ("00501508", "成功漁港海產", "10014020", StoreCategory.FOOD, StoreKind.PARTNER, "臺東縣成功鎮港邊路 1 號",
     "每日 11:00–20:00", []),
    ("00000074", "臺東愛心食物銀行", "10014010", StoreCategory.CHARITY, StoreKind.CHARITY, "臺東縣臺東市博愛路 200 號",
     "週一至週五 09:00–17:00", []),
]  # fmt: skip


@dataclass
class DemoStores:
    stores: int
    funded_citizens: int


@transaction.atomic
def load_demo_stores(demo: Any) -> DemoStores:
    county = demo.county
    password = make_password(demo.password)
    townships = {t.code: t for t in Township.objects.filter(county=county)}
    stores = []
    for ubn, name, town, category, kind, address, hours, offers in DEMO_STORES:
        store, created = Store.objects.get_or_create(
            county=county,
            ubn=ubn,
            defaults={
                "name": name,
                "township": townships[town],
                "category": category,
                "kind": kind,
                "address": address,
                "opening_hours": hours,
                "phone": "089-000000",
                "pay_token": secrets.token_urlsafe(18),
                "bank_account_encrypted": encrypt_bank_account(BankAccount("004", "0123", "000123456789", name)),
                "bank_account_masked": "004-…6789",
            },
        )
        stores.append(store)
        if created:
            for title, coins, stock in offers:
                Offer.objects.create(store=store, title=title, coin_price=coins, stock=stock)
    user, _ = StaffUser.objects.get_or_create(
        username=STORE_LOGIN, defaults={"county": county, "display_name": "鐵花村咖啡 店員", "password": password}
    )
    StoreStaff.objects.get_or_create(user=user, defaults={"store": stores[0], "role": StoreRole.MANAGER})
    accounting, _ = StaffUser.objects.get_or_create(
        username=ACCOUNTING_LOGIN, defaults={"county": county, "display_name": "主計處 會計", "password": password}
    )
    RoleAssignment.objects.get_or_create(user=accounting, role=Role.ACCOUNTING, county=county, unit=None, agency=None)
    StoreSettings.objects.get_or_create(county=county, defaults={"receipt_unit": demo.unit("admin")})
    return DemoStores(len(stores), _fund_demo_citizens(demo))


def _fund_demo_citizens(demo: Any) -> int:
    """Coins for the first demo citizens (the ones `demo_logins` suggests), from a demo budget."""
    from civicpush.demo.citizens import demo_phones

    county = demo.county
    today = timezone.localdate()
    budget, _ = Budget.objects.get_or_create(
        unit=demo.unit("admin"),
        year=today.year,
        defaults={
            "county": county,
            "requested_amount": 1_000_000,
            "reserved_amount": 1_000_000,
            "status": BudgetStatus.RESERVED,
            "issue_deadline": datetime.date(today.year, 12, 31),
        },
    )
    if budget.status != BudgetStatus.RESERVED:
        return 0
    expires = datetime.datetime(today.year + 1, 9, 30, 23, 59, tzinfo=timezone.get_current_timezone())
    period, _ = ExpiryPeriod.objects.get_or_create(
        county=county,
        code=f"demo-{today.year + 1}",
        defaults={"name": f"{today.year + 1}-09-30", "expires_at": expires},
    )
    funded = 0
    for citizen in Citizen.objects.filter(county=county, phone_e164__in=demo_phones(DEMO_FUNDED_CITIZENS)):
        result = ledger.issue(
            key=f"demo:stores:coins:{citizen.pk}",
            budget=budget,
            credit=ledger.wallet_of(citizen),
            amount=DEMO_CITIZEN_COINS,
            period=period,
            reason="grant",
        )
        funded += 0 if result.replayed else 1
    return funded
