"""Paying a bill with coins: hold → operator → post or void; timeouts settled by asking the operator;
retries never charge twice."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from civicpush.coins import ledger
from civicpush.coins.models import Hold, HoldStatus, Transfer
from civicpush.core.errors import Conflict, ValidationFailed
from civicpush.delivery.models import SystemNotice
from civicpush.parking import payments
from civicpush.parking.models import Bill, BillStatus, Payment, PaymentChannel, PaymentSource, PaymentStatus, SimPayment
from civicpush.parking.operators import simulator
from civicpush.parking.operators.base import (
    BillAlreadyPaid,
    OperatorMaintenance,
    OperatorUnavailable,
)

from .world import PIN, available, bill_for, bind, make_citizen, wallet

pytestmark = pytest.mark.django_db


def clearing(world) -> int:
    return ledger.balance(ledger.parking_clearing(world.county))


def test_paying_a_bill_posts_the_hold_and_sends_a_receipt(world) -> None:
    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    payment = payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0001")
    assert payment.status == PaymentStatus.CONFIRMED and payment.coins == 400
    assert wallet(citizen) == 600 and clearing(world) == 400
    assert Hold.objects.get(pk=payment.hold_id).status == HoldStatus.POSTED
    bill.refresh_from_db()
    assert bill.status == BillStatus.PAID
    assert SimPayment.objects.filter(payment_ref=payment.reference).count() == 1
    notice = SystemNotice.objects.get(reference=f"parking-payment:{payment.pk}:paid")
    assert bill.plate not in notice.push.title + notice.push.body and "400" not in notice.push.body


def test_the_hold_is_voided_when_the_operator_fails(world) -> None:
    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    simulator.inject_fault("pay", "5xx")
    with pytest.raises(OperatorUnavailable):
        payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0002")
    payment = Payment.objects.get(bill=bill)
    assert payment.status == PaymentStatus.FAILED and payment.failure_code == "operator_unavailable"
    assert Hold.objects.get(pk=payment.hold_id).status == HoldStatus.VOIDED
    assert wallet(citizen) == 1000 and available(citizen) == 1000 and clearing(world) == 0
    bill.refresh_from_db()
    assert bill.status == BillStatus.UNPAID
    # The bill can be paid again afterwards (a new attempt, once the operator is back).
    again = payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0003")
    assert again.status == PaymentStatus.CONFIRMED and wallet(citizen) == 600


def test_the_hold_is_voided_when_the_bill_was_already_paid_at_a_store(world) -> None:
    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    opened = payments.open_payment(
        bill, citizen, source=PaymentSource.WALLET, channel=PaymentChannel.MANUAL, client_key="k-store-paid"
    )
    assert available(citizen) == 600  # held
    simulator.pay_at_store(bill.bill_no)  # between our hold and our call
    with pytest.raises(BillAlreadyPaid):
        payments.submit(opened)
    opened.refresh_from_db()
    assert opened.status == PaymentStatus.FAILED
    assert Hold.objects.get(pk=opened.hold_id).status == HoldStatus.VOIDED
    assert available(citizen) == 1000
    bill.refresh_from_db()
    assert bill.status == BillStatus.PAID_ELSEWHERE


def test_in_the_maintenance_window_nothing_is_held_and_the_citizen_is_told_when_to_retry(world) -> None:
    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    with time_machine.travel("2026-11-21 02:30:00+08:00", tick=False):
        assert simulator.in_maintenance()
        with pytest.raises(OperatorMaintenance) as caught:
            payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0004")
        assert "04:00" in str(caught.value.message)
    assert not Payment.objects.exists() and not Hold.objects.exists()
    assert available(citizen) == 1000
    with time_machine.travel("2026-11-21 04:00:00+08:00", tick=False):
        assert payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0005").status == PaymentStatus.CONFIRMED


def test_a_hold_placed_just_before_the_window_is_voided_when_the_call_meets_it(world) -> None:
    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    with time_machine.travel("2026-11-21 01:59:59+08:00", tick=False) as clock:
        opened = payments.open_payment(
            bill, citizen, source=PaymentSource.WALLET, channel=PaymentChannel.MANUAL, client_key="k-window"
        )
        clock.shift(datetime.timedelta(seconds=2))
        with pytest.raises(OperatorMaintenance):
            payments.submit(opened)
    opened.refresh_from_db()
    assert opened.status == PaymentStatus.FAILED
    assert Hold.objects.get(pk=opened.hold_id).status == HoldStatus.VOIDED
    assert available(citizen) == 1000


def test_a_timeout_leaves_the_hold_until_the_operator_says_it_never_got_the_payment(world) -> None:
    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    simulator.inject_fault("pay", "timeout")
    payment = payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0006")
    assert payment.status == PaymentStatus.UNKNOWN
    assert Hold.objects.get(pk=payment.hold_id).status == HoldStatus.OPEN
    assert available(citizen) == 600 and wallet(citizen) == 1000
    # A second attempt, even with a new form, cannot start while the first is unknown.
    with pytest.raises(Conflict):
        payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0007")
    simulator.inject_fault("payment_status", "timeout")
    assert payments.settle_unknown_payments()["still_unknown"] == 1  # the operator is still silent
    assert payments.settle_unknown_payments()["failed"] == 1
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert Hold.objects.get(pk=payment.hold_id).status == HoldStatus.VOIDED
    assert available(citizen) == 1000 and clearing(world) == 0


def test_a_timeout_after_the_operator_took_the_payment_is_posted_once(world) -> None:
    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    simulator.inject_fault("pay", "timeout_after_commit")
    payment = payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0008")
    assert payment.status == PaymentStatus.UNKNOWN
    assert payments.settle_unknown_payments() == {"confirmed": 1, "failed": 0, "still_unknown": 0}
    assert payments.settle_unknown_payments() == {"confirmed": 0, "failed": 0, "still_unknown": 0}
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.CONFIRMED and payment.operator_receipt
    assert wallet(citizen) == 600 and clearing(world) == 400
    assert SimPayment.objects.filter(bill__bill_no=bill.bill_no).count() == 1


def test_retrying_the_same_payment_charges_once(world) -> None:
    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    first = payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0009")
    again = payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0009")  # the same form sent twice
    assert again.pk == first.pk
    with pytest.raises(Conflict):  # a different form for a paid bill
        payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0010")
    assert Payment.objects.count() == 1
    assert Transfer.objects.filter(kind=payments.KIND_PAYMENT).count() == 1
    assert wallet(citizen) == 600
    # The operator, asked again with the same reference, answers with the first receipt.
    receipt = simulator.SimulatedOperator().pay(bill.bill_no, 40, first.reference)
    assert receipt.receipt_no == Payment.objects.get().operator_receipt
    assert SimPayment.objects.count() == 1


def test_not_enough_coins_or_a_wrong_pin_changes_nothing(world) -> None:
    citizen = make_citizen(world, coins=100)
    bill = bill_for(bind(citizen), 40)
    with pytest.raises(ValidationFailed) as caught:
        payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-0011")
    assert caught.value.code == "insufficient_funds"
    with pytest.raises(ValidationFailed) as caught:
        payments.do_pay_bill(citizen, bill.pk, "999999", "form-key-0012")
    assert caught.value.code == "wrong_pin"
    assert not Payment.objects.exists() and not Hold.objects.exists() and wallet(citizen) == 100


def test_only_the_verified_owner_can_pay_a_bill(world) -> None:
    owner = make_citizen(world, coins=1000)
    bill = bill_for(bind(owner), 40)
    stranger = make_citizen(world, coins=1000)
    from civicpush.core.errors import NotFound

    with pytest.raises(NotFound):
        payments.do_pay_bill(stranger, bill.pk, PIN, "form-key-0013")
    assert Bill.objects.get(pk=bill.pk).status == BillStatus.UNPAID
