"""Paying a parking bill with coins: a ledger hold, the operator's answer, then post or void.

1. The bill's real-time amount is asked from the operator (refused in its maintenance window: then
   no hold is placed at all).
2. One transaction: a `Payment` row (the database allows one live payment per bill) and a ledger hold
   of the coins (wallet, or the county's parking-advance pool for an advance) toward the county's
   `parking_clearing` account, earliest-expiring coins first.
3. The operator is called with our payment reference as its idempotency key.
4. Confirmed → the hold is posted. Refused (maintenance, 5xx, already paid elsewhere, unknown bill,
   amount changed) → the hold is voided. No answer (timeout) → the payment is `unknown` and the hold
   stays open until `settle_unknown_payments` asks the operator what happened — we never pay again
   under a new reference, so a bill is never charged twice.
"""

from __future__ import annotations

import contextlib
import datetime
import logging

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen
from civicpush.coins import ledger
from civicpush.coins.errors import HoldNotOpen
from civicpush.coins.models import Account
from civicpush.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from civicpush.wallet.services import check_pin

from . import notices
from .models import (
    Advance,
    AdvanceStatus,
    Bill,
    BillStatus,
    CreditLine,
    FlagKind,
    Payment,
    PaymentChannel,
    PaymentSource,
    PaymentStatus,
    PlateBinding,
    PlateStatus,
    ReconciliationFlag,
)
from .operators import get_operator
from .operators.base import (
    BillAlreadyPaid,
    OperatorBill,
    OperatorError,
    OperatorReceipt,
    OperatorTimeout,
    ParkingOperator,
)

logger = logging.getLogger("civicpush.parking")

HOLD_TTL = datetime.timedelta(days=7)  # long enough for reconciliation to settle a timed-out payment
STUCK_AFTER = datetime.timedelta(minutes=10)  # a `pending` payment this old lost its process
KIND_PAYMENT = "parking"  # the wallet history shows this kind as "Parking fee paid"
KIND_REPAYMENT = "parking.advance_repayment"
KIND_ADVANCE_REFUND = "parking.advance_refund"
KIND_POOL_FUNDING = "parking.advance_funding"
ADVANCE_POOL_REF = "parking-advance"


def advance_pool(county: object) -> Account:
    """The county-funded pool from which the platform advances fees (a reward-pool account: the ledger
    has no dedicated kind; it may never go below zero like every account but the issuing one)."""
    return ledger.reward_pool(county, ref=ADVANCE_POOL_REF)


def _valid_key(client_key: str) -> str:
    key = (client_key or "").strip()
    if not (8 <= len(key) <= 64) or not all(c.isalnum() or c in "-_:" for c in key):
        raise ValidationFailed(_("This form has expired. Please open it again."), code="bad_form_key")
    return key


def owns_plate(citizen: Citizen, plate: str) -> bool:
    return PlateBinding.objects.filter(citizen=citizen, plate=plate, status=PlateStatus.VERIFIED).exists()


def bill_for(citizen: Citizen, bill_id: int) -> Bill:
    """A bill the citizen may see and pay: its plate is verified as theirs."""
    bill = Bill.objects.filter(pk=bill_id, county_id=citizen.county_id).first()
    if bill is None or not owns_plate(citizen, bill.plate):
        raise NotFound()
    return bill


# --- bills as the operator reports them -------------------------------------------------------------


def apply_operator_bill(bill: Bill, remote: OperatorBill, operator: ParkingOperator) -> Bill:
    """Update our copy of a bill from the operator's answer (amount, paid elsewhere, cancelled)."""
    fields: dict[str, object] = {"fetched_at": timezone.now()}
    if remote.cancelled and bill.status == BillStatus.UNPAID:
        fields["status"] = BillStatus.CANCELLED
    elif remote.paid and bill.status == BillStatus.UNPAID and remote.paid_channel != operator.channel_name:
        fields.update(status=BillStatus.PAID_ELSEWHERE, paid_channel=remote.paid_channel, paid_at=remote.paid_at)
    if bill.status == BillStatus.UNPAID and remote.amount_twd != bill.amount_twd and not remote.paid:
        fields["amount_twd"] = remote.amount_twd
    Bill.objects.filter(pk=bill.pk).update(**fields)
    for k, v in fields.items():
        setattr(bill, k, v)
    return bill


# --- paying ---------------------------------------------------------------------------------------


def do_pay_bill(citizen: Citizen, bill_id: int, pin: str, client_key: str) -> Payment:
    """The citizen pays one bill with coins, confirmed with the transaction PIN.

    Idempotent by (citizen, client_key): the same form sent twice pays once and returns the first
    payment. Raises the operator's errors (after voiding the hold) so the page can explain them."""
    if citizen is None or not citizen.is_active:
        raise PermissionDenied()
    key = _valid_key(client_key)
    existing = Payment.objects.filter(citizen=citizen, client_key=key).first()
    if existing is not None:
        return existing
    bill = bill_for(citizen, bill_id)
    check_pin(citizen, pin)
    return pay_bill(bill, citizen, source=PaymentSource.WALLET, channel=PaymentChannel.MANUAL, client_key=key)


def pay_bill(bill: Bill, citizen: Citizen, *, source: str, channel: str, client_key: str) -> Payment:
    """Hold, call the operator, post or void (see the module docstring). Returns the payment, which is
    `confirmed`, or `unknown` after a timeout; raises a DomainError when nothing was paid."""
    existing = Payment.objects.filter(citizen=citizen, client_key=client_key).first()
    if existing is not None:
        return existing
    operator = get_operator()
    apply_operator_bill(bill, operator.get_bill(bill.bill_no), operator)  # the real-time amount
    if bill.status != BillStatus.UNPAID:
        raise Conflict(_("This bill is already paid or cancelled. No coins were taken."), code="bill_not_unpaid")
    payment = open_payment(bill, citizen, source=source, channel=channel, client_key=client_key)
    if payment.status != PaymentStatus.PENDING:
        return payment
    return submit(payment, operator)


class CreditExhausted(ValidationFailed):
    code = "credit_exhausted"


def open_payment(bill: Bill, citizen: Citizen, *, source: str, channel: str, client_key: str) -> Payment:
    """The payment row and its hold, in one transaction (InsufficientFunds → nothing written).
    An advance also books the coins on the citizen's credit line, under that line's row lock."""
    # Accounts and the credit line exist before the transaction (their first creation must not
    # happen under our locks); locks then go credit line (advances), bill, ledger — one order.
    clearing = ledger.parking_clearing(bill.county_id)
    debit = advance_pool(bill.county_id) if source == PaymentSource.ADVANCE else ledger.wallet_of(citizen)
    if source == PaymentSource.ADVANCE:
        ensure_credit_line(citizen)
    with transaction.atomic():
        line = credit_line_locked(citizen) if source == PaymentSource.ADVANCE else None
        Bill.objects.select_for_update().filter(pk=bill.pk).first()  # one payment decision per bill at a time
        existing = Payment.objects.filter(citizen=citizen, client_key=client_key).first()
        if existing is not None:
            return existing
        live = Payment.objects.filter(
            bill=bill, status__in=[PaymentStatus.PENDING, PaymentStatus.UNKNOWN, PaymentStatus.CONFIRMED]
        ).first()
        if live is not None:
            if live.status == PaymentStatus.CONFIRMED:
                raise Conflict(_("This bill is already paid."), code="bill_paid")
            raise Conflict(
                _("A payment for this bill is already being processed. You will be told the result."),
                code="payment_in_progress",
            )
        coins = bill.coins
        payment = Payment.objects.create(
            county_id=bill.county_id,
            bill=bill,
            citizen=citizen,
            source=source,
            channel=channel,
            client_key=client_key,
            amount_twd=bill.amount_twd,
            coins=coins,
        )
        if line is not None:
            if line.outstanding + coins > line.limit_coins:
                raise CreditExhausted(_("The parking credit is used up."))
            CreditLine.objects.filter(pk=line.pk).update(outstanding=F("outstanding") + coins)
            Advance.objects.create(county_id=bill.county_id, citizen=citizen, payment=payment, coins=coins)
        held = ledger.hold(
            key=f"parking:payment:{payment.pk}:hold",
            debit=debit,
            credit=clearing,
            amount=coins,
            kind=KIND_PAYMENT,
            expires_at=timezone.now() + HOLD_TTL,
            memo="parking fee",
            metadata={"payment": payment.pk, "bill": bill.bill_no, "source": source},
        )
        Payment.objects.filter(pk=payment.pk).update(hold_id=held.hold_id)
        payment.hold_id = held.hold_id
    return payment


def ensure_credit_line(citizen: Citizen) -> None:
    """Create the citizen's credit line with the county's bound (its own short transaction)."""
    from .services import settings_for

    if not CreditLine.objects.filter(pk=citizen.pk).exists():
        try:
            with transaction.atomic():
                CreditLine.objects.get_or_create(
                    citizen=citizen,
                    defaults={
                        "county_id": citizen.county_id,
                        "limit_coins": settings_for(citizen.county_id).credit_limit_coins,
                    },
                )
        except IntegrityError:
            pass  # created concurrently


def credit_line_locked(citizen: Citizen) -> CreditLine:
    """The citizen's credit line, locked (FOR UPDATE) until commit: every advance, repayment and
    cancellation of one citizen takes this lock first."""
    ensure_credit_line(citizen)
    return CreditLine.objects.select_for_update().get(pk=citizen.pk)


def submit(payment: Payment, operator: ParkingOperator | None = None) -> Payment:
    """Call the operator for an open payment and settle the hold by its answer."""
    operator = operator or get_operator()
    Payment.objects.filter(pk=payment.pk).update(operator_calls=F("operator_calls") + 1)
    try:
        receipt = operator.pay(payment.bill.bill_no, payment.amount_twd, payment.reference)
    except OperatorTimeout:
        Payment.objects.filter(pk=payment.pk, status=PaymentStatus.PENDING).update(status=PaymentStatus.UNKNOWN)
        payment.refresh_from_db()
        logger.warning("parking payment %s: operator timeout; hold %s stays open", payment.pk, payment.hold_id)
        return payment
    except BillAlreadyPaid as exc:
        fail(payment, exc.code, paid_elsewhere=exc.channel or "other")
        raise
    except OperatorError as exc:
        fail(payment, exc.code)
        raise
    return confirm(payment, receipt)


def confirm(payment: Payment, receipt: OperatorReceipt) -> Payment:
    """The operator took the payment: post the hold, mark the bill paid, send the receipt notice."""
    with transaction.atomic():
        p = Payment.objects.select_for_update(of=("self",)).select_related("bill", "citizen").get(pk=payment.pk)
        if p.status in (PaymentStatus.CONFIRMED, PaymentStatus.REFUNDED):
            return p
        transfer_id = None
        try:
            transfer_id = ledger.post_hold(key=f"parking:payment:{p.pk}:post", hold_id=p.hold_id or 0).transfer_id
        except HoldNotOpen:
            # The hold expired (or was voided) before the operator's confirmation reached us: the fee
            # was paid, the coins were not taken. Take them now if they are there; a person looks.
            transfer_id = _late_charge(p)
        now = timezone.now()
        Payment.objects.filter(pk=p.pk).update(
            status=PaymentStatus.CONFIRMED,
            transfer_id=transfer_id,
            operator_receipt=receipt.receipt_no[:60],
            confirmed_at=now,
            failure_code="",
        )
        Bill.objects.filter(pk=p.bill_id).update(
            status=BillStatus.PAID, paid_channel=get_operator().channel_name, paid_at=receipt.paid_at
        )
        p.refresh_from_db()
        if p.source == PaymentSource.ADVANCE:
            notices.advance_notice(p)
        else:
            notices.payment_receipt(p)
    return p


def _late_charge(p: Payment) -> int | None:
    debit = advance_pool(p.county_id) if p.source == PaymentSource.ADVANCE else ledger.wallet_of(p.citizen)
    detail = ""
    transfer_id = None
    try:
        transfer_id = ledger.transfer(
            key=f"parking:payment:{p.pk}:late",
            debit=debit,
            credit=ledger.parking_clearing(p.county_id),
            amount=p.coins,
            kind=KIND_PAYMENT,
            memo="parking fee (confirmed after the hold expired)",
            metadata={"payment": p.pk},
        ).transfer_id
    except DomainError as exc:
        detail = f"late charge refused: {exc.code}"
    ReconciliationFlag.objects.get_or_create(
        bill_id=p.bill_id,
        kind=FlagKind.POSTED_AFTER_EXPIRY,
        defaults={"county_id": p.county_id, "payment": p, "detail": detail or "charged after the hold expired"},
    )
    return transfer_id


def fail(payment: Payment, code: str, *, paid_elsewhere: str = "") -> Payment:
    """Nothing was paid: void the hold, undo an advance, remember why."""
    with transaction.atomic():
        if payment.source == PaymentSource.ADVANCE:
            credit_line_locked(payment.citizen)  # the lock order of open_payment: credit line first
        p = Payment.objects.select_for_update().get(pk=payment.pk)
        if p.status not in (PaymentStatus.PENDING, PaymentStatus.UNKNOWN):
            return p
        if p.hold_id:
            with contextlib.suppress(HoldNotOpen):  # already expired: the coins are free again either way
                ledger.void_hold(key=f"parking:payment:{p.pk}:void", hold_id=p.hold_id)
        Payment.objects.filter(pk=p.pk).update(status=PaymentStatus.FAILED, failure_code=code[:40])
        if p.source == PaymentSource.ADVANCE:
            _cancel_advance(p)
        if paid_elsewhere:
            Bill.objects.filter(pk=p.bill_id, status=BillStatus.UNPAID).update(
                status=BillStatus.PAID_ELSEWHERE, paid_channel=paid_elsewhere[:40]
            )
        p.refresh_from_db()
    return p


def _cancel_advance(p: Payment) -> None:
    advance = Advance.objects.select_for_update().filter(payment=p, status=AdvanceStatus.OPEN).first()
    if advance is None:
        return
    line = credit_line_locked(p.citizen)
    CreditLine.objects.filter(pk=line.pk).update(outstanding=F("outstanding") - advance.owed)
    Advance.objects.filter(pk=advance.pk).update(status=AdvanceStatus.CANCELLED, closed_at=timezone.now())


# --- settling payments whose outcome is unknown -------------------------------------------------------


def settle_unknown_payments(county_id: int | None = None, now: datetime.datetime | None = None) -> dict[str, int]:
    """Ask the operator about every `unknown` payment (and `pending` ones stuck after a crash):
    recorded → post the hold; never recorded → void it; no answer → leave it for the next run."""
    now = now or timezone.now()
    qs = Payment.objects.filter(status=PaymentStatus.UNKNOWN) | Payment.objects.filter(
        status=PaymentStatus.PENDING, created_at__lt=now - STUCK_AFTER
    )
    if county_id is not None:
        qs = qs.filter(county_id=county_id)
    operator = get_operator()
    counts = {"confirmed": 0, "failed": 0, "still_unknown": 0}
    for payment in qs.select_related("bill").order_by("id"):
        try:
            receipt = operator.payment_status(payment.reference)
        except OperatorError:
            counts["still_unknown"] += 1
            continue
        if receipt is not None:
            confirm(payment, receipt)
            counts["confirmed"] += 1
        else:
            failed = fail(payment, "operator_never_received")
            if failed.status == PaymentStatus.FAILED:
                notices.failed_notice(failed)
            counts["failed"] += 1
    return counts
