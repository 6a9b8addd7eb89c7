"""County dashboard figures (read-only): members, devices, pushes and reads, events, coins, stores,
feedback, and seed 001's cost-benefit table computed from actual usage with its assumptions.
Apps that may not be installed (events, stores) are asked through the app registry, so the
dashboard shows "not yet available" instead of failing."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db.models import Count, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone

from civicpush.cases.models import CaseEvent
from civicpush.citizens.models import Citizen, CitizenProfile, CitizenStatus, Residency
from civicpush.delivery.models import Device
from civicpush.feedback.models import Feedback
from civicpush.org.models import County
from civicpush.pushes.models import Push, PushRead

TAIPEI = datetime.timezone(datetime.timedelta(hours=8), "Asia/Taipei")

# Seed 001's table, turned into per-unit assumptions (stated on the page and in the export).
MINUTES_PER_MESSAGE_BEFORE = 60  # preparing, sending and collecting results of one message by post/fax
MESSAGE_TIME_SAVED = 0.80  # "每則訊息傳達及成效收集至少減少 80% 時間"
NTD_PER_NOTICE_SMS = 1.0  # an SMS per recipient the push replaced (111 government SMS, about NT$1)
MINUTES_PER_EVENT_BEFORE = 120  # announcing an event and collecting its feedback forms by hand
EVENT_TIME_SAVED = 0.90  # "至少減少 90% 以上時間"
MINUTES_PER_CASE_NOTICE = 15  # "平均每月 2 千件，每月約可節省 3 萬分鐘" → 15 minutes a notice
NTD_PER_CASE_NOTICE = 5.0  # "平均每月 2 千件，一年約可節省 12 萬元" → NT$5 a notice


@dataclass
class Figures:
    members: int = 0
    residents: int = 0
    digital: int = 0
    by_township: list[tuple[str, int]] = field(default_factory=list)
    devices: int = 0
    devices_by_kind: list[tuple[str, int]] = field(default_factory=list)
    pushes: int = 0
    system_notices: int = 0
    audience: int = 0
    reads: int = 0
    pushes_per_month: list[tuple[str, int]] = field(default_factory=list)
    events: int | None = None
    attendees: int | None = None
    coins_issued: int | None = None
    coins_in_wallets: int | None = None
    coins_redeemed: int | None = None
    stores: int | None = None
    feedback_received: int = 0
    feedback_closed: int = 0
    feedback_rated: int = 0
    feedback_satisfied: int = 0
    case_notices: int = 0

    @property
    def read_rate(self) -> float | None:
        return round(self.reads * 100 / self.audience, 1) if self.audience else None

    @property
    def satisfaction(self) -> float | None:
        return round(self.feedback_satisfied * 100 / self.feedback_rated, 1) if self.feedback_rated else None


def _events(county: County) -> tuple[int | None, int | None]:
    if not apps.is_installed("civicpush.events"):
        return None, None
    event_model = apps.get_model("events", "Event")
    registration = apps.get_model("events", "Registration")
    events = event_model.objects.filter(county=county).count()
    attendees = registration.objects.filter(event__county=county, checked_in_at__isnull=False).count()
    return events, attendees


def _stores(county: County) -> int | None:
    if not apps.is_installed("civicpush.stores"):
        return None
    try:
        return int(apps.get_model("stores", "Store").objects.filter(county=county).count())
    except Exception:
        return None


def _coins(county: County) -> tuple[int | None, int | None, int | None]:
    """Issued (out of the issuing account), in citizens' wallets, and redeemed (now with stores
    and parking, awaiting settlement) — sums of the ledger's balances per account kind."""
    try:
        balance = apps.get_model("coins", "Balance")
    except LookupError:
        return None, None, None
    sums = dict(
        balance.objects.filter(account__county=county)
        .values("account__kind")
        .annotate(total=Sum("balance"))
        .values_list("account__kind", "total")
    )
    issued = -int(sums.get("issuing") or 0)
    wallets = int(sums.get("wallet") or 0)
    redeemed = int(sums.get("store_payable") or 0) + int(sums.get("parking_clearing") or 0)
    return issued, wallets, redeemed


def county_figures(county: County) -> Figures:
    f = Figures()
    citizens = Citizen.objects.filter(county=county, status=CitizenStatus.ACTIVE)
    f.members = citizens.count()
    profiles = CitizenProfile.objects.filter(citizen__county=county, citizen__status=CitizenStatus.ACTIVE)
    f.digital = profiles.filter(residency=Residency.DIGITAL).count()
    f.residents = f.members - f.digital
    f.by_township = [
        (row["township__name"] or "—", row["n"])
        for row in profiles.values("township__name", "township__sort_order")
        .annotate(n=Count("pk"))
        .order_by("township__sort_order")
    ]
    devices = Device.objects.filter(citizen__county=county, removed_at__isnull=True)
    f.devices = devices.count()
    f.devices_by_kind = [
        (row["kind"], row["n"]) for row in devices.values("kind").annotate(n=Count("pk")).order_by("kind")
    ]
    sent = Push.objects.filter(county=county, first_sent_at__isnull=False, is_test=False)
    staff_pushes = sent.filter(is_system_notice=False)
    f.pushes = staff_pushes.count()
    f.system_notices = sent.filter(is_system_notice=True).count()
    f.audience = int(staff_pushes.aggregate(n=Sum("audience_size"))["n"] or 0)
    f.reads = PushRead.objects.filter(push__in=staff_pushes).count()
    since = timezone.now() - datetime.timedelta(days=365)
    f.pushes_per_month = [
        (timezone.localtime(row["month"], TAIPEI).strftime("%Y-%m") if row["month"] else "—", row["n"])
        for row in staff_pushes.filter(first_sent_at__gte=since)
        .annotate(month=TruncMonth("first_sent_at", tzinfo=TAIPEI))
        .values("month")
        .annotate(n=Count("pk"))
        .order_by("month")
    ]
    f.events, f.attendees = _events(county)
    f.coins_issued, f.coins_in_wallets, f.coins_redeemed = _coins(county)
    f.stores = _stores(county)
    feedback = Feedback.objects.filter(county=county)
    f.feedback_received = feedback.count()
    f.feedback_closed = feedback.filter(closed_at__isnull=False).count()
    f.feedback_rated = feedback.filter(rating__isnull=False).count()
    f.feedback_satisfied = feedback.filter(rating__gte=4).count()
    f.case_notices = CaseEvent.objects.filter(case__county=county, notice__isnull=False).count()
    return f


@dataclass(frozen=True)
class BenefitRow:
    item: str
    before: str
    after: str
    minutes_saved: int | None
    ntd_saved: int | None
    assumption: str


def cost_benefit(f: Figures) -> list[BenefitRow]:
    """Seed 001's 成本效益 table with this county's actual counts in it."""
    events = f.events or 0
    return [
        BenefitRow(
            "業務推廣",
            "郵寄、傳真等傳統模式傳遞訊息",
            f"推播 {f.pushes:,} 則，{f.reads:,} 讀取人次",
            round(f.pushes * MINUTES_PER_MESSAGE_BEFORE * MESSAGE_TIME_SAVED),
            round(f.audience * NTD_PER_NOTICE_SMS),
            f"每則訊息原需 {MINUTES_PER_MESSAGE_BEFORE} 分鐘，減少 {MESSAGE_TIME_SAVED:.0%}；每位收件人省一則簡訊（約 NT${NTD_PER_NOTICE_SMS:g}）",
        ),
        BenefitRow(
            "活動舉辦",
            "活動參與度無法精準掌握，回饋問卷處理耗時",
            f"{events:,} 場活動，{(f.attendees or 0):,} 人次到場" if f.events is not None else "活動功能尚未提供",
            round(events * MINUTES_PER_EVENT_BEFORE * EVENT_TIME_SAVED),
            None,
            f"每場活動的宣傳與回饋收集原需 {MINUTES_PER_EVENT_BEFORE} 分鐘，減少 {EVENT_TIME_SAVED:.0%}",
        ),
        BenefitRow(
            "民眾服務",
            "以人力撥打電話或簡訊郵寄通知申辦進度",
            f"申辦進度通知 {f.case_notices:,} 則",
            f.case_notices * MINUTES_PER_CASE_NOTICE,
            round(f.case_notices * NTD_PER_CASE_NOTICE),
            f"每則通知省 {MINUTES_PER_CASE_NOTICE} 分鐘、NT${NTD_PER_CASE_NOTICE:g}（附表：每月 2 千件省 3 萬分鐘，一年省 12 萬元）",
        ),
        BenefitRow(
            "產業行銷",
            "各商家自行廣告行銷",
            f"合作店家 {f.stores:,} 家" if f.stores is not None else "特約商店功能尚未提供",
            None,
            None,
            "店家業績成長無法由平台資料計算",
        ),
    ]


def can_see_dashboard(user: Any) -> list[int]:
    from civicpush.org.permissions import county_ids_with
    from civicpush.org.roles import Capability

    return county_ids_with(user, Capability.VIEW_UNIT)


__all__ = ["BenefitRow", "Figures", "can_see_dashboard", "cost_benefit", "county_figures"]
