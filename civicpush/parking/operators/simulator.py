"""A simulated parking operator for the demo and the tests, faithful to what real operators do:

* a daily maintenance window, 02:00–04:00 Asia/Taipei, in which every request is refused
  (`OperatorMaintenance`), as Taipei's fee-payment service documents its own nightly window;
* bills with real-time amounts, bill numbers printed on the slip, and the owner's mobile on record;
* payments through other channels (a convenience store) that are reported days late — so a bill
  paid at a store yesterday can still be paid again through us today (the double payment that the
  daily reconciliation must catch);
* injected faults (rows of `SimFault`): "timeout" (the request never arrived), "timeout_after_commit"
  (the payment was recorded but the answer was lost), "5xx" (refused, nothing recorded).

State lives in the database (`SimBill`, `SimPayment`, `SimFault`), so web, worker and test processes
share one operator.
"""

from __future__ import annotations

import datetime
import itertools

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from ..models import SimBill, SimFault, SimPayment
from .base import (
    AmountMismatch,
    BillAlreadyPaid,
    OperatorBill,
    OperatorMaintenance,
    OperatorPayment,
    OperatorReceipt,
    OperatorTimeout,
    OperatorUnavailable,
    ParkingOperator,
    UnknownBill,
)

MAINTENANCE_START = datetime.time(2, 0)
MAINTENANCE_END = datetime.time(4, 0)
VERIFY_WITHIN_DAYS = 90
CHANNEL = "civicpush"
_seq = itertools.count(1)


def in_maintenance(now: datetime.datetime | None = None) -> bool:
    local = timezone.localtime(now or timezone.now()).time()
    return MAINTENANCE_START <= local < MAINTENANCE_END


def _fault(operation: str) -> str | None:
    """Consume one injected fault for `operation`, if any (atomic: concurrent callers take one each)."""
    with transaction.atomic():
        row = (
            SimFault.objects.select_for_update()
            .filter(operation__in=[operation, "*"], remaining__gt=0)
            .order_by("id")
            .first()
        )
        if row is None:
            return None
        SimFault.objects.filter(pk=row.pk).update(remaining=F("remaining") - 1)
        return row.mode


def _gate(operation: str) -> str | None:
    if in_maintenance():
        raise OperatorMaintenance()
    mode = _fault(operation)
    if mode == "timeout":
        raise OperatorTimeout()
    if mode == "5xx":
        raise OperatorUnavailable()
    return mode


def _known_payments(bill: SimBill, now: datetime.datetime) -> list[SimPayment]:
    return [p for p in bill.payments.all() if p.reported_at <= now]


def _as_bill(b: SimBill, now: datetime.datetime) -> OperatorBill:
    paid = _known_payments(b, now)
    first = min(paid, key=lambda p: p.paid_at) if paid else None
    return OperatorBill(
        bill_no=b.bill_no,
        plate=b.plate,
        vehicle_kind=b.vehicle_kind,
        location=b.location,
        parked_from=b.parked_from,
        parked_until=b.parked_until,
        issued_at=b.issued_at,
        due_date=b.due_date,
        amount_twd=b.amount_twd,
        paid=first is not None,
        paid_channel=first.channel if first else "",
        paid_at=first.paid_at if first else None,
        cancelled=b.cancelled,
    )


def _receipt(p: SimPayment) -> OperatorReceipt:
    return OperatorReceipt(
        bill_no=p.bill.bill_no,
        payment_ref=p.payment_ref or "",
        receipt_no=p.receipt_no,
        amount_twd=p.amount_twd,
        paid_at=p.paid_at,
    )


class SimulatedOperator(ParkingOperator):
    code = "simulator"
    channel_name = CHANNEL

    def unpaid_bills(self, plate: str, vehicle_kind: str) -> list[OperatorBill]:
        _gate("unpaid_bills")
        now = timezone.now()
        bills = SimBill.objects.filter(
            plate=plate, vehicle_kind=vehicle_kind, cancelled=False, due_date__gte=timezone.localdate(now)
        ).prefetch_related("payments")
        return [_as_bill(b, now) for b in bills.order_by("issued_at", "id") if not _known_payments(b, now)]

    def get_bill(self, bill_no: str) -> OperatorBill:
        _gate("get_bill")
        bill = SimBill.objects.filter(bill_no=bill_no).prefetch_related("payments").first()
        if bill is None:
            raise UnknownBill()
        return _as_bill(bill, timezone.now())

    def verify_bill_code(self, plate: str, vehicle_kind: str, bill_no: str) -> bool:
        _gate("verify")
        since = timezone.now() - datetime.timedelta(days=VERIFY_WITHIN_DAYS)
        return SimBill.objects.filter(
            bill_no=bill_no.strip().upper(), plate=plate, vehicle_kind=vehicle_kind, issued_at__gte=since
        ).exists()

    def owner_mobile_matches(self, plate: str, vehicle_kind: str, mobile_e164: str) -> bool:
        _gate("verify")
        return SimBill.objects.filter(plate=plate, vehicle_kind=vehicle_kind, owner_mobile=mobile_e164).exists()

    def pay(self, bill_no: str, amount_twd: int, payment_ref: str) -> OperatorReceipt:
        mode = _gate("pay")
        now = timezone.now()
        with transaction.atomic():
            bill = SimBill.objects.select_for_update().filter(bill_no=bill_no).first()
            if bill is None or bill.cancelled:
                raise UnknownBill()
            mine = SimPayment.objects.filter(payment_ref=payment_ref).select_related("bill").first()
            if mine is not None:  # a retry of the same payment: the first receipt
                return _receipt(mine)
            known = _known_payments(bill, now)
            if known:
                raise BillAlreadyPaid(channel=known[0].channel)
            if amount_twd != bill.amount_twd:
                raise AmountMismatch()
            paid = SimPayment.objects.create(
                bill=bill,
                channel=CHANNEL,
                payment_ref=payment_ref,
                receipt_no=f"R{now:%Y%m%d%H%M%S}{next(_seq):05d}{bill.pk:06d}",
                amount_twd=amount_twd,
                paid_at=now,
                reported_at=now,
            )
        if mode == "timeout_after_commit":
            raise OperatorTimeout()
        return _receipt(paid)

    def payment_status(self, payment_ref: str) -> OperatorReceipt | None:
        _gate("payment_status")
        mine = SimPayment.objects.filter(payment_ref=payment_ref).select_related("bill").first()
        return _receipt(mine) if mine is not None else None

    def payments_between(self, start: datetime.datetime, end: datetime.datetime) -> list[OperatorPayment]:
        _gate("payments")
        rows = SimPayment.objects.filter(reported_at__gte=start, reported_at__lt=end).select_related("bill")
        return [
            OperatorPayment(
                bill_no=p.bill.bill_no,
                channel=p.channel,
                receipt_no=p.receipt_no,
                amount_twd=p.amount_twd,
                paid_at=p.paid_at,
                payment_ref=p.payment_ref or "",
            )
            for p in rows.order_by("reported_at", "id")
        ]


# --- the simulator's own controls (demo loader and tests; a real operator has its own) ----------------


def issue_bill(
    plate: str,
    vehicle_kind: str,
    amount_twd: int,
    *,
    location: str = "臺東市中華路一段",
    owner_mobile: str = "",
    issued_at: datetime.datetime | None = None,
    due_days: int = 15,
    hours: float = 1.0,
) -> SimBill:
    """A new bill at the operator (as a parking attendant or a sensor would create it)."""
    issued_at = issued_at or timezone.now()
    n = SimBill.objects.count() + 1
    return SimBill.objects.create(
        bill_no=f"TT{timezone.localtime(issued_at):%y%m%d}{n:06d}",
        plate=plate,
        vehicle_kind=vehicle_kind,
        owner_mobile=owner_mobile,
        location=location,
        parked_from=issued_at - datetime.timedelta(hours=hours),
        parked_until=issued_at,
        issued_at=issued_at,
        due_date=timezone.localdate(issued_at) + datetime.timedelta(days=due_days),
        amount_twd=amount_twd,
    )


def pay_at_store(
    bill_no: str, *, reported_after: datetime.timedelta | None = None, channel: str = "7-ELEVEN"
) -> SimPayment:
    """A payment at a convenience store; the store reports it to the operator `reported_after` later."""
    bill = SimBill.objects.get(bill_no=bill_no)
    now = timezone.now()
    return SimPayment.objects.create(
        bill=bill,
        channel=channel,
        receipt_no=f"S{now:%Y%m%d%H%M%S}{next(_seq):05d}{bill.pk:06d}",
        amount_twd=bill.amount_twd,
        paid_at=now,
        reported_at=now + (reported_after or datetime.timedelta(0)),
    )


def inject_fault(operation: str, mode: str, times: int = 1) -> SimFault:
    """Make the next `times` calls of `operation` ("pay", "get_bill", "payment_status", "*" …) fail."""
    return SimFault.objects.create(operation=operation, mode=mode, remaining=times)
