"""Monthly settlement per store (seed 001: 每月初匯出各家統計報表發送給店家確認 … 彙整統一向本府辦理經費核撥).

draft (computed from the ledger) → issued (frozen snapshot + sha256; the database refuses changes) →
confirmed by the store, or disputed with a reason (the operator resolves it with an adjustment carried
into the next period) → approved by accounting → paid (bank reference recorded, the store's payable
cleared by a ledger transfer to the county's settled account).

Totals are read from the ledger's transfers (the store's payable account), never from our Payment rows:
gross = transfers of kind store_payment credited to the payable in the month (Taiwan time); refunds =
reversals debited from it in the month. Reading the ledger's Transfer table is read-only; coins move
only through civicpush.coins.ledger.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.coins import ledger
from civicpush.coins.models import Transfer
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, NotFound, ValidationFailed
from civicpush.org.models import StaffUser

from . import access
from .models import Adjustment, Statement, StatementStatus, Store
from .payments import KIND_PAYMENT, payable_account

COINS_PER_NTD = 10
KIND_SETTLEMENT = "store_settlement"
SETTLED_REF = "settled"  # the county's account for store coins paid out in NT$ (kind store_payable)


def ntd(coins: int) -> Decimal:
    return (Decimal(int(coins)) / COINS_PER_NTD).quantize(Decimal("0.1"))


def month_bounds(year: int, month: int) -> tuple[datetime.datetime, datetime.datetime]:
    tz = timezone.get_current_timezone()
    start = datetime.datetime(year, month, 1, tzinfo=tz)
    end = datetime.datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)
    return start, end


def previous_month(today: datetime.date | None = None) -> tuple[int, int]:
    today = today or timezone.localdate()
    first = today.replace(day=1) - datetime.timedelta(days=1)
    return first.year, first.month


def settled_account(county_id: int) -> Any:
    return ledger.store_payable(county_id, ref=SETTLED_REF)


@dataclass(frozen=True)
class LedgerSums:
    payments_count: int
    gross_coins: int
    refund_coins: int

    @property
    def net_coins(self) -> int:
        return self.gross_coins - self.refund_coins


def _month_transfers(store: Store, year: int, month: int) -> tuple[Any, Any]:
    start, end = month_bounds(year, month)
    payable = payable_account(store)
    payments = Transfer.objects.filter(
        credit_account=payable, kind=KIND_PAYMENT, created_at__gte=start, created_at__lt=end
    )
    refunds = Transfer.objects.filter(
        debit_account=payable, reverses__isnull=False, created_at__gte=start, created_at__lt=end
    )
    return payments, refunds


def ledger_sums(store: Store, year: int, month: int) -> LedgerSums:
    payments, refunds = _month_transfers(store, year, month)
    paid = payments.aggregate(n=Count("pk"), coins=Sum("amount"))
    back = refunds.aggregate(coins=Sum("amount"))
    return LedgerSums(int(paid["n"] or 0), int(paid["coins"] or 0), int(back["coins"] or 0))


def _lines(store: Store, year: int, month: int) -> list[dict[str, Any]]:
    """The statement's lines: each payment and refund with the ledger transfer id (no citizen data)."""
    payments, refunds = _month_transfers(store, year, month)
    lines = []
    for kind, qs, sign in (("payment", payments, 1), ("refund", refunds, -1)):
        for t in qs.order_by("created_at", "pk").values("pk", "created_at", "amount", "metadata", "reverses_id"):
            meta = t["metadata"] or {}
            lines.append(
                {
                    "type": kind,
                    "transfer": t["pk"],
                    "reverses": t["reverses_id"],
                    "at": timezone.localtime(t["created_at"]).strftime("%Y-%m-%d %H:%M:%S"),
                    "coins": sign * int(t["amount"]),
                    "channel": meta.get("channel", ""),
                }
            )
    lines.sort(key=lambda line: (line["at"], line["transfer"]))
    return lines


def canonical_hash(snapshot: dict[str, Any]) -> str:
    text = json.dumps(snapshot, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _check_period(year: int, month: int) -> None:
    if not (2000 <= int(year) <= 2100 and 1 <= int(month) <= 12):
        raise ValidationFailed(_("Choose a valid month."), code="bad_period")


def _unapplied_adjustments(store: Store) -> list[Adjustment]:
    return list(Adjustment.objects.filter(store=store, applied_statement__isnull=True).order_by("pk"))


def _fill(statement: Statement, now: datetime.datetime) -> None:
    sums = ledger_sums(statement.store, statement.year, statement.month)
    adjustments = sum(a.coins for a in _unapplied_adjustments(statement.store))
    statement.payments_count = sums.payments_count
    statement.gross_coins = sums.gross_coins
    statement.refund_coins = sums.refund_coins
    statement.ledger_net_coins = sums.net_coins
    statement.adjustment_coins = adjustments
    statement.due_coins = sums.net_coins + adjustments
    statement.computed_at = now


@transaction.atomic
def prepare_drafts(actor: StaffUser, county_id: int, year: int, month: int) -> list[Statement]:
    """Compute (or recompute) the draft statement of every active store, and of any store with ledger
    movements in the month. Issued statements are left as they are."""
    access.require_operator(actor, county_id)
    _check_period(year, month)
    now = timezone.now()
    out = []
    for store in Store.objects.filter(county_id=county_id).order_by("pk"):
        statement = Statement.objects.select_for_update().filter(store=store, year=year, month=month).first()
        if statement is None:
            sums = ledger_sums(store, year, month)
            if not store.is_active and not sums.gross_coins and not sums.refund_coins:
                continue
            statement = Statement(county_id=county_id, store=store, year=year, month=month)
        if statement.status != StatementStatus.DRAFT:
            out.append(statement)
            continue
        _fill(statement, now)
        statement.save()
        out.append(statement)
    log_action(
        "stores.statements.prepared",
        actor=actor,
        county_id=county_id,
        data={"year": year, "month": month, "count": len(out)},
    )
    return out


def _locked(statement_id: int, county_id: int | None = None) -> Statement:
    qs = Statement.objects.select_for_update().select_related("store").filter(pk=statement_id)
    if county_id is not None:
        qs = qs.filter(county_id=county_id)
    statement = qs.first()
    if statement is None:
        raise NotFound()
    return statement


def _state(statement: Statement) -> dict[str, Any]:
    return {"status": statement.status, "due_coins": statement.due_coins, "hash": statement.snapshot_hash}


@transaction.atomic
def issue(actor: StaffUser, statement_id: int, *, now: datetime.datetime | None = None) -> Statement:
    """Freeze the statement: recompute from the ledger, snapshot every line, hash it. Only after the
    month has ended."""
    statement = _locked(statement_id)
    access.require_operator(actor, statement.county_id)
    if statement.status != StatementStatus.DRAFT:
        raise Conflict(_("This statement was already issued."), code="already_issued")
    now = now or timezone.now()
    _start, end = month_bounds(statement.year, statement.month)
    if now < end:
        raise Conflict(_("A month's statement can be issued only after the month has ended."), code="month_open")
    before = _state(statement)
    _fill(statement, now)
    adjustments = _unapplied_adjustments(statement.store)
    store = statement.store
    snapshot = {
        "store": {"id": store.pk, "name": store.name, "ubn": store.ubn, "bank_account": store.bank_account_masked},
        "period": statement.period_label,
        "payments_count": statement.payments_count,
        "gross_coins": statement.gross_coins,
        "refund_coins": statement.refund_coins,
        "ledger_net_coins": statement.ledger_net_coins,
        "adjustments": [{"id": a.pk, "coins": a.coins, "reason": a.reason} for a in adjustments],
        "adjustment_coins": statement.adjustment_coins,
        "due_coins": statement.due_coins,
        "due_ntd": str(ntd(statement.due_coins)),
        "lines": _lines(store, statement.year, statement.month),
        "issued_at": now.astimezone(datetime.UTC).isoformat(),
    }
    statement.snapshot = snapshot
    statement.snapshot_hash = canonical_hash(snapshot)
    statement.status, statement.issued_at, statement.issued_by = StatementStatus.ISSUED, now, actor
    statement.save()
    Adjustment.objects.filter(pk__in=[a.pk for a in adjustments]).update(applied_statement=statement)
    log_action("stores.statement.issued", actor=actor, obj=statement, before=before, after=_state(statement))
    return statement


@transaction.atomic
def confirm(actor: StaffUser, statement_id: int) -> Statement:
    statement = _locked(statement_id)
    access.require_store_staff(actor, statement.store)
    if statement.status != StatementStatus.ISSUED:
        raise Conflict(_("Only an issued statement can be confirmed."), code="bad_status")
    statement.status, statement.confirmed_at, statement.confirmed_by = StatementStatus.CONFIRMED, timezone.now(), actor
    statement.save()
    log_action("stores.statement.confirmed", actor=actor, obj=statement, after=_state(statement))
    return statement


@transaction.atomic
def dispute(actor: StaffUser, statement_id: int, reason: str) -> Statement:
    statement = _locked(statement_id)
    access.require_store_staff(actor, statement.store)
    reason = (reason or "").strip()
    if not reason or len(reason) > 500:
        message = _("Say what is wrong (at most 500 characters).")
        raise ValidationFailed(message, field_errors={"reason": [message]})
    if statement.status != StatementStatus.ISSUED:
        raise Conflict(_("Only an issued statement can be disputed."), code="bad_status")
    statement.status, statement.disputed_at, statement.disputed_by = StatementStatus.DISPUTED, timezone.now(), actor
    statement.dispute_reason = reason
    statement.save()
    log_action("stores.statement.disputed", actor=actor, obj=statement, data={"reason": reason})
    return statement


@transaction.atomic
def resolve_dispute(actor: StaffUser, statement_id: int, adjustment_coins: Any, resolution: str) -> Statement:
    """The operator answers a dispute; a non-zero adjustment goes into the store's next statement."""
    statement = _locked(statement_id)
    access.require_operator(actor, statement.county_id)
    if statement.status != StatementStatus.DISPUTED or statement.resolved_at is not None:
        raise Conflict(_("This statement has no open dispute."), code="bad_status")
    resolution = (resolution or "").strip()
    try:
        coins = int(str(adjustment_coins or "0").strip())
    except ValueError:
        coins = None  # type: ignore[assignment]
    errors: dict[str, list[object]] = {}
    if coins is None or abs(coins) > 100_000_000:
        errors["adjustment_coins"] = [_("Enter a whole number of coins (negative to deduct).")]
    if not resolution or len(resolution) > 500:
        errors["resolution"] = [_("Explain the resolution (at most 500 characters).")]
    if errors:
        raise ValidationFailed(field_errors=errors)
    if coins:
        Adjustment.objects.create(
            store=statement.store, source_statement=statement, coins=coins, reason=resolution[:300], created_by=actor
        )
    statement.resolution, statement.resolved_at, statement.resolved_by = resolution, timezone.now(), actor
    statement.save()
    log_action(
        "stores.statement.dispute_resolved",
        actor=actor,
        obj=statement,
        data={"adjustment": coins, "resolution": resolution},
    )
    return statement


@transaction.atomic
def approve(actor: StaffUser, statement_id: int) -> Statement:
    statement = _locked(statement_id)
    access.require_accounting(actor, statement.county_id)
    ok = statement.status == StatementStatus.CONFIRMED or (
        statement.status == StatementStatus.DISPUTED and statement.resolved_at is not None
    )
    if not ok:
        raise Conflict(_("Only a confirmed statement (or a resolved dispute) can be approved."), code="bad_status")
    before = _state(statement)
    statement.status, statement.approved_at, statement.approved_by = StatementStatus.APPROVED, timezone.now(), actor
    statement.save()
    log_action("stores.statement.approved", actor=actor, obj=statement, before=before, after=_state(statement))
    return statement


@transaction.atomic
def mark_paid(actor: StaffUser, statement_id: int, bank_reference: str) -> Statement:
    """Record the county's bank transfer and clear the store's payable for the month's ledger net."""
    statement = _locked(statement_id)
    access.require_accounting(actor, statement.county_id)
    reference = (bank_reference or "").strip()
    if not reference or len(reference) > 64:
        message = _("Enter the bank transfer reference (at most 64 characters).")
        raise ValidationFailed(message, field_errors={"bank_reference": [message]})
    if statement.status != StatementStatus.APPROVED:
        raise Conflict(_("Only an approved statement can be paid."), code="bad_status")
    if statement.ledger_net_coins > 0:
        result = ledger.transfer(
            key=f"stores:settle:{statement.pk}",
            debit=payable_account(statement.store),
            credit=settled_account(statement.county_id),
            amount=statement.ledger_net_coins,
            kind=KIND_SETTLEMENT,
            memo=f"{statement.store.name} {statement.period_label}"[:300],
            actor=actor,
            metadata={"statement": statement.pk, "bank_reference": reference},
        )
        statement.payout_transfer_id = result.transfer_id
    statement.status, statement.paid_at, statement.paid_by = StatementStatus.PAID, timezone.now(), actor
    statement.bank_reference = reference
    statement.save()
    log_action(
        "stores.statement.paid",
        actor=actor,
        obj=statement,
        data={
            "bank_reference": reference,
            "coins": statement.ledger_net_coins,
            "transfer": statement.payout_transfer_id,
        },
    )
    return statement


def verify_snapshot(statement: Statement) -> bool:
    return bool(statement.snapshot_hash) and canonical_hash(statement.snapshot) == statement.snapshot_hash


@dataclass(frozen=True)
class SummaryRow:
    statement: Statement
    due_ntd: Decimal


def county_summary(county_id: int, year: int, month: int) -> tuple[list[SummaryRow], dict[str, Any]]:
    """The county's claim summary (請款總表) for a month: one row per store statement, and totals."""
    statements = list(
        Statement.objects.filter(county_id=county_id, year=year, month=month).select_related("store", "store__township")
    )
    statements.sort(key=lambda s: (s.store.township.sort_order, s.store.name))
    rows = [SummaryRow(s, ntd(s.due_coins)) for s in statements]
    totals = {
        "stores": len(rows),
        "payments_count": sum(s.payments_count for s in statements),
        "gross_coins": sum(s.gross_coins for s in statements),
        "refund_coins": sum(s.refund_coins for s in statements),
        "adjustment_coins": sum(s.adjustment_coins for s in statements),
        "due_coins": sum(s.due_coins for s in statements),
        "due_ntd": ntd(sum(s.due_coins for s in statements)),
    }
    return rows, totals
