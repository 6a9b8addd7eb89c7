"""The scheduled parking work: fetch bills and remind (hourly), auto-deduct and the double-payment
reconciliation (daily). Daily runs are recorded per (county, job, Taiwan date) and happen once; a run
that meets the operator's maintenance window (or an outage) is not recorded and is tried again at
the next hourly tick, so the schedule only needs to say "every hour"."""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from civicpush.coins import ledger
from civicpush.coins.errors import AlreadyReversed
from civicpush.core.errors import DomainError
from civicpush.org.models import County

from . import notices
from .advances import repay_advances
from .models import (
    Advance,
    AdvanceStatus,
    AutoDeductEnrolment,
    Bill,
    BillStatus,
    CreditLine,
    DailyRun,
    FlagKind,
    FlagStatus,
    Payment,
    PaymentChannel,
    PaymentSource,
    PaymentStatus,
    PlateBinding,
    PlateStatus,
    ReconciliationFlag,
)
from .operators import get_operator
from .operators.base import OperatorError, OperatorMaintenance, OperatorTimeout, OperatorUnavailable, ParkingOperator
from .payments import (
    KIND_ADVANCE_REFUND,
    CreditExhausted,
    advance_pool,
    credit_line_locked,
    pay_bill,
    settle_unknown_payments,
)

logger = logging.getLogger("civicpush.parking")

DAILY_RUN_HOUR = 6  # Taiwan time: after the operator's 02:00–04:00 maintenance window
RECONCILE_LOOKBACK = datetime.timedelta(days=35)  # stores report late; refunds take 21–35 working days
OUTAGE = (OperatorMaintenance, OperatorUnavailable, OperatorTimeout)


# --- bills and reminders ----------------------------------------------------------------------------


def sync_plate(binding: PlateBinding, operator: ParkingOperator | None = None) -> list[Bill]:
    """Fetch the plate's unpaid bills from the operator and store them for its verified owner."""
    operator = operator or get_operator()
    now = timezone.now()
    out = []
    for remote in operator.unpaid_bills(binding.plate, binding.vehicle_kind):
        bill, created = Bill.objects.get_or_create(
            county_id=binding.county_id,
            operator=operator.code,
            bill_no=remote.bill_no,
            defaults={
                "plate": remote.plate,
                "vehicle_kind": remote.vehicle_kind,
                "citizen": binding.citizen,
                "location": remote.location[:120],
                "parked_from": remote.parked_from,
                "parked_until": remote.parked_until,
                "issued_at": remote.issued_at,
                "due_date": remote.due_date,
                "amount_twd": remote.amount_twd,
                "fetched_at": now,
            },
        )
        if not created:
            fields: dict[str, Any] = {"fetched_at": now, "citizen": binding.citizen}
            if bill.status == BillStatus.UNPAID:
                fields["amount_twd"] = remote.amount_twd
            Bill.objects.filter(pk=bill.pk).update(**fields)
            for k, v in fields.items():
                setattr(bill, k, v)
        out.append(bill)
    return out


def sync_and_remind(county: County) -> dict[str, int]:
    """Fetch every verified plate's bills and send one reminder per new unpaid bill (not to plates on
    auto-deduct: those are paid by the daily run). Stops quietly at the operator's maintenance window."""
    operator = get_operator()
    counts = {"plates": 0, "bills": 0, "reminders": 0}
    plates = PlateBinding.objects.filter(county=county, status=PlateStatus.VERIFIED).select_related("citizen")
    try:
        for binding in plates.order_by("id").iterator():
            bills = sync_plate(binding, operator)
            counts["plates"] += 1
            counts["bills"] += len(bills)
            if binding.auto_deduct:
                continue
            for bill in bills:
                if bill.reminded_at is None and bill.status == BillStatus.UNPAID and bill.citizen_id:
                    notices.bill_reminder(bill)
                    Bill.objects.filter(pk=bill.pk).update(reminded_at=timezone.now())
                    counts["reminders"] += 1
    except OUTAGE as exc:
        logger.info("parking sync stopped: %s", exc.code)
    return counts


# --- daily runs -------------------------------------------------------------------------------------


def _due(county: County, job: str, day: datetime.date, now: datetime.datetime) -> bool:
    if timezone.localtime(now).hour < DAILY_RUN_HOUR:
        return False
    return not DailyRun.objects.filter(county=county, job=job, day=day).exists()


def _record(county: County, job: str, day: datetime.date, summary: dict[str, Any]) -> None:
    try:
        with transaction.atomic():
            DailyRun.objects.create(county=county, job=job, day=day, finished_at=timezone.now(), summary=summary)
    except IntegrityError:
        pass  # a concurrent run recorded it first; its work and ours were idempotent


def run_auto_deduct(county: County, now: datetime.datetime | None = None, *, force: bool = False) -> dict[str, Any]:
    """Once a day: for each enrolled citizen, repay advances from new coins, fetch the bills of plates
    on auto-deduct and pay those issued before today that are not overdue — from the wallet, or by an
    advance within the credit bound (with a notice), or send a notice that it could not pay."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if not force and not _due(county, "auto_deduct", today, now):
        return {"skipped": True}
    operator = get_operator()
    start_of_day = datetime.datetime.combine(today, datetime.time.min, tzinfo=timezone.get_current_timezone())
    summary = {"citizens": 0, "paid": 0, "advanced": 0, "not_paid": 0, "repaid_coins": 0, "unknown": 0}
    enrolments = AutoDeductEnrolment.objects.filter(county=county, active=True, first_run_after__lte=now)
    try:
        for enrolment in enrolments.select_related("citizen").order_by("citizen_id").iterator():
            citizen = enrolment.citizen
            if not citizen.is_active:
                continue
            summary["citizens"] += 1
            summary["repaid_coins"] += repay_advances(citizen)
            for binding in PlateBinding.objects.filter(citizen=citizen, status=PlateStatus.VERIFIED, auto_deduct=True):
                sync_plate(binding, operator)
                bills = Bill.objects.filter(
                    county=county,
                    plate=binding.plate,
                    status=BillStatus.UNPAID,
                    issued_at__lt=start_of_day,
                    due_date__gte=today,  # overdue bills are never auto-paid
                ).exclude(payments__status__in=[PaymentStatus.PENDING, PaymentStatus.UNKNOWN])
                for bill in bills.order_by("issued_at", "id"):
                    outcome = _auto_pay(bill, citizen, today)
                    summary[outcome] += 1
    except OUTAGE as exc:
        logger.info("parking auto-deduct for %s postponed: %s", county.pk, exc.code)
        summary["postponed"] = exc.code  # type: ignore[assignment]
        return summary
    _record(county, "auto_deduct", today, summary)
    return summary


def _auto_pay(bill: Bill, citizen: Any, today: datetime.date) -> str:
    wallet_coins = ledger.available(ledger.wallet_of(citizen))
    source = PaymentSource.WALLET if wallet_coins >= bill.coins else PaymentSource.ADVANCE
    try:
        payment = pay_bill(
            bill, citizen, source=source, channel=PaymentChannel.AUTO, client_key=f"auto:{bill.pk}:{today.isoformat()}"
        )
    except CreditExhausted:
        notices.cannot_pay_notice(bill)
        return "not_paid"
    except OUTAGE:
        raise
    except DomainError as exc:  # paid elsewhere, pool empty, amount changed …: nothing was taken
        logger.info("parking auto-deduct of bill %s not paid: %s", bill.pk, exc.code)
        if exc.code == "insufficient_funds":
            notices.cannot_pay_notice(bill)
        return "not_paid"
    if payment.status == PaymentStatus.UNKNOWN:
        return "unknown"
    return "advanced" if payment.source == PaymentSource.ADVANCE else "paid"


def run_reconciliation(county: County, now: datetime.datetime | None = None, *, force: bool = False) -> dict[str, Any]:
    """Once a day: settle timed-out payments, then read the operator's payment feed of the last 35
    days and, for every bill paid both through us and through another channel, flag it and refund the
    coins (a reversing transfer) with a notice."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    if not force and not _due(county, "reconcile", today, now):
        return {"skipped": True}
    operator = get_operator()
    summary: dict[str, Any] = {"settled": {}, "double_paid": 0, "refunded": 0, "paid_elsewhere": 0}
    try:
        summary["settled"] = settle_unknown_payments(county.pk, now)
        feed = operator.payments_between(now - RECONCILE_LOOKBACK, now)
    except OperatorError as exc:
        summary["postponed"] = getattr(exc, "code", "operator_error")
        return summary
    by_bill: dict[str, list[Any]] = defaultdict(list)
    for entry in feed:
        by_bill[entry.bill_no].append(entry)
    bills = {
        b.bill_no: b for b in Bill.objects.filter(county=county, operator=operator.code, bill_no__in=list(by_bill))
    }
    for bill_no, entries in by_bill.items():
        bill = bills.get(bill_no)
        if bill is None:
            continue
        ours = [e for e in entries if e.channel == operator.channel_name and e.payment_ref]
        others = [e for e in entries if e.channel != operator.channel_name]
        if not others:
            continue
        if not ours:
            if bill.status == BillStatus.UNPAID:
                Bill.objects.filter(pk=bill.pk).update(
                    status=BillStatus.PAID_ELSEWHERE, paid_channel=others[0].channel[:40], paid_at=others[0].paid_at
                )
                summary["paid_elsewhere"] += 1
            continue
        payment = (
            Payment.objects.filter(bill=bill, status__in=[PaymentStatus.CONFIRMED, PaymentStatus.REFUNDED])
            .select_related("citizen")
            .first()
        )
        if payment is None:
            continue
        summary["double_paid"] += 1
        flag, _created = ReconciliationFlag.objects.get_or_create(
            bill=bill,
            kind=FlagKind.DOUBLE_PAYMENT,
            defaults={
                "county_id": county.pk,
                "payment": payment,
                "other_channel": others[0].channel[:40],
                "detail": f"also paid via {others[0].channel} (receipt {others[0].receipt_no})"[:300],
            },
        )
        if flag.status == FlagStatus.OPEN and refund_payment(payment, flag):
            summary["refunded"] += 1
    _record(county, "reconcile", today, summary)
    return summary


def refund_payment(payment: Payment, flag: ReconciliationFlag, actor: Any = None) -> bool:
    """Refund a confirmed coin payment of a bill that was also paid elsewhere: reverse the ledger
    transfer (coins back to the lots they came from), settle an advance, tell the citizen.
    Returns False (the flag stays open with the reason) when the ledger refuses."""
    with transaction.atomic():
        if payment.source == PaymentSource.ADVANCE:
            credit_line_locked(payment.citizen)  # the lock order of open_payment: credit line first
        p = Payment.objects.select_for_update(of=("self",)).select_related("citizen").get(pk=payment.pk)
        if p.status == PaymentStatus.REFUNDED:
            return True
        if p.status != PaymentStatus.CONFIRMED or not p.transfer_id:
            return False
        try:
            with transaction.atomic():
                reversal = ledger.reverse(
                    key=f"parking:payment:{p.pk}:refund",
                    transfer_id=p.transfer_id,
                    reason="parking bill paid twice",
                    actor=actor,
                )
                if p.source == PaymentSource.ADVANCE:
                    _settle_refunded_advance(p)
        except (AlreadyReversed, DomainError) as exc:
            ReconciliationFlag.objects.filter(pk=flag.pk).update(detail=f"refund refused: {exc.code}"[:300])
            return False
        now = timezone.now()
        Payment.objects.filter(pk=p.pk).update(status=PaymentStatus.REFUNDED, refund_transfer_id=reversal.transfer_id)
        Bill.objects.filter(pk=p.bill_id).update(status=BillStatus.PAID_ELSEWHERE, paid_channel=flag.other_channel)
        ReconciliationFlag.objects.filter(pk=flag.pk).update(status=FlagStatus.REFUNDED, resolved_at=now)
        p.refresh_from_db()
        notices.refund_notice(p)
    return True


def _settle_refunded_advance(p: Payment) -> None:
    """The reversal put the advanced coins back in the pool; what the citizen already repaid of this
    advance goes back to the citizen, and what is still owed is forgiven."""
    advance = Advance.objects.select_for_update().filter(payment=p).first()
    if advance is None or advance.status == AdvanceStatus.CANCELLED:
        return
    line = credit_line_locked(p.citizen)
    if advance.repaid:
        ledger.transfer(
            key=f"parking:advance:{advance.pk}:refund",
            debit=advance_pool(p.county_id),
            credit=ledger.wallet_of(p.citizen),
            amount=advance.repaid,
            kind=KIND_ADVANCE_REFUND,
            memo="parking advance repayment returned",
            metadata={"advance": advance.pk},
        )
    CreditLine.objects.filter(pk=line.pk).update(outstanding=F("outstanding") - advance.owed)
    Advance.objects.filter(pk=advance.pk).update(status=AdvanceStatus.CANCELLED, closed_at=timezone.now())
