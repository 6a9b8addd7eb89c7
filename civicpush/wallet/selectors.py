"""Wallet and budget reads. The only module here that reads the ledger's Transfer table directly
(issued/redeemed per budget, issued per month, a wallet's history); everything else goes through
civicpush.coins.ledger.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen
from civicpush.citizens.phone import mask_mobile
from civicpush.coins import ledger
from civicpush.coins.models import Account, AccountKind, Budget, BudgetStatus, Transfer, TransferLeg
from civicpush.org.models import Unit
from civicpush.org.permissions import has_capability, has_county_capability, units_with
from civicpush.org.roles import Capability

from .models import BudgetExtension, BudgetRelease, ExtensionStatus, PeerTransfer, WalletNotice

COINS_PER_NTD = 10  # 10 coins = NT$1 (seed 001)

# Ledger transfer kinds this app writes; the ledger names its own (issue, expiry, reversal).
KIND_PEER = "wallet.peer"


def ntd_text(coins: int) -> str:
    """The NT$ value of `coins` (10 coins = NT$1), e.g. 1,234 coins → "NT$123.4"."""
    dollars, tenths = divmod(int(coins), COINS_PER_NTD)
    return f"NT${dollars:,}" + (f".{tenths}" if tenths else "")


# --- budgets --------------------------------------------------------------------------------------


def redeemed_by_budget(budget_ids: Iterable[int]) -> dict[int, int]:
    """Coins of each budget that citizens spent at stores and on parking (the ledger's lots keep the
    budget of every coin): legs into store/parking accounts, minus legs back out of them (refunds)."""
    ids = list(budget_ids)
    spend_kinds = [AccountKind.STORE_PAYABLE, AccountKind.PARKING_CLEARING]
    into = (
        TransferLeg.objects.filter(budget_id__in=ids, transfer__credit_account__kind__in=spend_kinds)
        .exclude(transfer__debit_account__kind__in=spend_kinds)
        .values("budget_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    back = (
        TransferLeg.objects.filter(
            budget_id__in=ids,
            transfer__debit_account__kind__in=spend_kinds,
            transfer__credit_account__kind=AccountKind.WALLET,
        )
        .values("budget_id")
        .annotate(total=Sum("amount"))
        .order_by()
    )
    out = {r["budget_id"]: int(r["total"] or 0) for r in into}
    for r in back:
        out[r["budget_id"]] = out.get(r["budget_id"], 0) - int(r["total"] or 0)
    return out


def issued_per_month(budget_ids: Iterable[int], year: int) -> list[tuple[str, int]]:
    """Coins issued in each month of `year` (Taiwan time) from these budgets, net of reversed issues:
    12 (label, coins) pairs."""
    tz = timezone.get_current_timezone()
    start = datetime.datetime(year, 1, 1, tzinfo=tz)
    end = datetime.datetime(year + 1, 1, 1, tzinfo=tz)
    base = Transfer.objects.filter(budget_id__in=list(budget_ids), created_at__gte=start, created_at__lt=end)
    by_month: dict[int, int] = {}
    for sign, qs in ((1, base.filter(reverses__isnull=True)), (-1, base.filter(reverses__isnull=False))):
        rows = (
            qs.annotate(month=TruncMonth("created_at", tzinfo=tz))
            .values("month")
            .annotate(total=Sum("amount"))
            .order_by("month")
        )
        for r in rows:
            month = timezone.localtime(r["month"], tz).month if timezone.is_aware(r["month"]) else r["month"].month
            by_month[month] = by_month.get(month, 0) + sign * int(r["total"] or 0)
    return [(f"{m}月", by_month.get(m, 0)) for m in range(1, 13)]


@dataclass
class BudgetRow:
    budget: Budget
    unit: Unit
    requested: int
    reserved: int
    issued: int
    redeemed: int
    released: int
    remaining: int
    note: str
    pending_extension: BudgetExtension | None
    can_reserve: bool
    can_release: bool
    can_request_extension: bool
    can_decide_extension: bool


def budget_units(user: Any) -> QuerySet[Unit]:
    """Units whose budgets `user` may see: any unit they can view (drafters, heads, accounting, county)."""
    return units_with(user, Capability.VIEW_UNIT).select_related("agency").order_by("path")


def can_see_county_totals(user: Any) -> bool:
    """County-wide roles and accounting see the county total row."""
    if has_county_capability(user, Capability.VIEW_UNIT):
        return True
    return units_with(user, Capability.APPROVE_BUDGET).exists()


def budget_rows(user: Any, year: int, unit_ids: Iterable[int] | None = None) -> list[BudgetRow]:
    """The budgets of `year` of the units `user` can see (optionally only `unit_ids`), with amounts."""
    units = budget_units(user)
    if unit_ids is not None:
        units = units.filter(pk__in=list(unit_ids))
    budgets = list(
        Budget.objects.filter(year=year, unit__in=units).select_related("unit", "unit__agency").order_by("unit__path")
    )
    ids = [b.pk for b in budgets]
    redeemed = redeemed_by_budget(ids)
    releases = {r.budget_id: r.released_amount for r in BudgetRelease.objects.filter(budget_id__in=ids)}
    pending = {
        e.budget_id: e
        for e in BudgetExtension.objects.filter(budget_id__in=ids, status=ExtensionStatus.REQUESTED).select_related(
            "requested_by"
        )
    }
    user_id = getattr(user, "pk", None)
    rows = []
    for b in budgets:
        approve = has_capability(user, Capability.APPROVE_BUDGET, b.unit)
        manage = has_capability(user, Capability.MANAGE_BUDGET, b.unit)
        ext = pending.get(b.pk)
        reserved = 0 if b.status == BudgetStatus.REQUESTED else int(b.reserved_amount)
        rows.append(
            BudgetRow(
                budget=b,
                unit=b.unit,
                requested=int(b.requested_amount),
                reserved=reserved,
                issued=int(b.issued_amount),
                redeemed=redeemed.get(b.pk, 0),
                released=int(releases.get(b.pk, 0)),
                remaining=max(0, b.remaining) if b.status == BudgetStatus.RESERVED else 0,
                note=b.note,
                pending_extension=ext,
                can_reserve=approve and b.status == BudgetStatus.REQUESTED and b.requested_by_id != user_id,
                can_release=approve and b.status == BudgetStatus.RESERVED,
                can_request_extension=manage and b.status == BudgetStatus.RESERVED and ext is None,
                can_decide_extension=approve and ext is not None and ext.requested_by_id != user_id,
            )
        )
    return rows


def totals(rows: list[BudgetRow]) -> dict[str, int]:
    keys = ("requested", "reserved", "issued", "redeemed", "released", "remaining")
    return {k: sum(getattr(r, k) for r in rows) for k in keys}


# --- wallet ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodBalance:
    name: str
    expires_at: datetime.datetime
    coins: int


@dataclass(frozen=True)
class HistoryLine:
    at: datetime.datetime
    amount: int  # + received, − spent
    reason: str


def wallet_balance(citizen: Citizen) -> int:
    return ledger.available(ledger.wallet_of(citizen))


def balance_by_period(citizen: Citizen) -> list[PeriodBalance]:
    """What the citizen holds per expiry period, earliest expiry first (empty periods left out)."""
    return [
        PeriodBalance(name=p.name, expires_at=p.expires_at, coins=coins)
        for p, coins in ledger.balance_by_period(ledger.wallet_of(citizen))
        if coins > 0
    ]


def reason_texts() -> dict[str, str]:
    """Plain-language reasons for coins credited by an issue, by the reason code passed to award()."""
    return {
        "signup": _("Sign-up bonus"),
        "profile": _("Reward for completing your profile"),
        "referral": _("Reward for inviting a friend"),
        "referred": _("Welcome reward for joining through a friend"),
        "red_envelope": _("Red envelope"),
        "grant": _("Coins granted by a county unit"),
        "survey": _("Reward for completing a questionnaire"),
        "quiz": _("Reward for answering a quiz"),
        "event": _("Reward for taking part in an event"),
    }


def kind_texts() -> dict[str, str]:
    """Plain-language reasons by ledger transfer kind (for movements that are not issues)."""
    return {
        "expiry": _("Coins expired"),
        "expire": _("Coins expired"),
        "store": _("Paid at a partner store"),
        "store_payment": _("Paid at a partner store"),
        "parking": _("Parking fee paid"),
        "reversal": _("Correction"),
        "reverse": _("Correction"),
    }


def _reason(t: Transfer, incoming: bool, peers: dict[int, PeerTransfer]) -> str:
    peer = peers.get(t.pk)
    if peer is not None:
        if incoming:
            other = peer.sender.phone_e164
            return _("Gift from %(phone)s") % {"phone": mask_mobile(other)} if other else _("Gift from another citizen")
        other = peer.recipient.phone_e164
        return _("Gift to %(phone)s") % {"phone": mask_mobile(other)} if other else _("Gift to another citizen")
    meta = t.metadata or {}
    code = str(meta.get("reason") or "")
    texts = reason_texts()
    if code in texts:
        return texts[code]
    kinds = kind_texts()
    for kind, text in kinds.items():
        if t.kind == kind or t.kind.endswith("." + kind):
            return text
    if t.budget_id is not None:
        return t.memo or _("Reward")
    return t.memo or (_("Coins received") if incoming else _("Coins spent"))


def wallet_history(citizen: Citizen, limit: int = 50) -> list[HistoryLine]:
    """The wallet's latest movements, newest first, each with a plain-language reason."""
    account = ledger.wallet_of(citizen)
    transfers = list(
        Transfer.objects.filter(Q(debit_account=account) | Q(credit_account=account)).order_by("-created_at", "-pk")[
            :limit
        ]
    )
    peers = {
        p.ledger_transfer_id: p
        for p in PeerTransfer.objects.filter(ledger_transfer_id__in=[t.pk for t in transfers]).select_related(
            "sender", "recipient"
        )
        if p.ledger_transfer_id is not None
    }
    lines = []
    for t in transfers:
        incoming = t.credit_account_id == account.pk
        lines.append(
            HistoryLine(at=t.created_at, amount=t.amount if incoming else -t.amount, reason=_reason(t, incoming, peers))
        )
    return lines


def active_notices(citizen: Citizen, now: datetime.datetime | None = None) -> QuerySet[WalletNotice]:
    now = now or timezone.now()
    return WalletNotice.objects.filter(citizen=citizen, dismissed_at__isnull=True, expires_at__gt=now).order_by(
        "expires_at", "-created_at"
    )


def wallet_account(citizen: Citizen) -> Account:
    return ledger.wallet_of(citizen)
