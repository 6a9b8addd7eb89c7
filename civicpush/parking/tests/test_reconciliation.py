"""The daily reconciliation: a bill paid at a convenience store and with coins is flagged and the
coins are refunded by a reversing transfer, with a notice; running again changes nothing."""

from __future__ import annotations

import datetime

import pytest
import time_machine

from civicpush.coins import ledger
from civicpush.coins.models import Transfer
from civicpush.delivery.models import SystemNotice
from civicpush.parking import payments, runs
from civicpush.parking.models import (
    Bill,
    BillStatus,
    FlagKind,
    FlagStatus,
    Payment,
    PaymentStatus,
    ReconciliationFlag,
)
from civicpush.parking.operators import simulator

from .world import PIN, bill_for, bind, make_citizen, wallet

pytestmark = pytest.mark.django_db


def test_a_bill_paid_at_a_store_and_with_coins_is_refunded_once(world) -> None:
    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    # Paid at 7-ELEVEN this morning; the store reports it to the operator two days later.
    simulator.pay_at_store(bill.bill_no, reported_after=datetime.timedelta(days=2))
    payment = payments.do_pay_bill(citizen, bill.pk, PIN, "form-key-r001")
    assert payment.status == PaymentStatus.CONFIRMED and wallet(citizen) == 600

    assert runs.run_reconciliation(world.county)["double_paid"] == 0  # the store has not reported yet
    with time_machine.travel("2026-11-22 12:00:00+08:00", tick=True):
        summary = runs.run_reconciliation(world.county)
    assert summary["double_paid"] == 1 and summary["refunded"] == 1
    flag = ReconciliationFlag.objects.get()
    assert (
        flag.kind == FlagKind.DOUBLE_PAYMENT and flag.status == FlagStatus.REFUNDED and flag.other_channel == "7-ELEVEN"
    )
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.REFUNDED
    refund = Transfer.objects.get(pk=payment.refund_transfer_id)
    assert refund.reverses_id == payment.transfer_id and refund.amount == 400
    assert wallet(citizen) == 1000 and ledger.balance(ledger.parking_clearing(world.county)) == 0
    assert Bill.objects.get(pk=bill.pk).status == BillStatus.PAID_ELSEWHERE
    assert SystemNotice.objects.filter(reference=f"parking-payment:{payment.pk}:refund").count() == 1

    with time_machine.travel("2026-11-23 10:00:00+08:00", tick=True):
        again = runs.run_reconciliation(world.county)
    assert again["refunded"] == 0
    assert Transfer.objects.filter(reverses__isnull=False).count() == 1 and wallet(citizen) == 1000


def test_a_refunded_advance_returns_what_was_repaid_and_forgives_the_rest(world) -> None:
    from civicpush.parking import services
    from civicpush.parking.models import Advance, AdvanceStatus, CreditLine

    world.fund_pool(5000)
    citizen = make_citizen(world)
    binding = bind(citizen)
    services.do_enrol_auto_deduct(citizen, accepted=True, terms_version=world.settings.terms_version)
    bill = bill_for(binding, 60)
    simulator.pay_at_store(bill.bill_no, reported_after=datetime.timedelta(days=2))
    runs.run_auto_deduct(world.county)
    payment = Payment.objects.get(bill=bill)
    world.give(citizen, 200)
    from civicpush.parking.advances import repay_advances

    assert repay_advances(citizen) == 200
    with time_machine.travel("2026-11-22 12:00:00+08:00", tick=True):
        assert runs.run_reconciliation(world.county)["refunded"] == 1
    assert Advance.objects.get(payment=payment).status == AdvanceStatus.CANCELLED
    assert CreditLine.objects.get(citizen=citizen).outstanding == 0
    assert wallet(citizen) == 200  # the repaid part came back
    assert ledger.balance(payments.advance_pool(world.county)) == 5000


def test_a_store_payment_alone_marks_the_bill_paid_elsewhere(world) -> None:
    citizen = make_citizen(world, coins=1000)
    bill = bill_for(bind(citizen), 40)
    simulator.pay_at_store(bill.bill_no)
    runs.run_reconciliation(world.county)
    assert Bill.objects.get(pk=bill.pk).status == BillStatus.PAID_ELSEWHERE
    assert not ReconciliationFlag.objects.exists()


def test_reminders_are_sent_once_without_plate_or_amount(world) -> None:
    citizen = make_citizen(world)
    binding = bind(citizen)
    simulator.issue_bill(binding.plate, "car", 35)
    assert runs.sync_and_remind(world.county)["reminders"] == 1
    assert runs.sync_and_remind(world.county)["reminders"] == 0
    notice = SystemNotice.objects.get(kind="parking_reminder")
    text = notice.push.title + notice.push.body
    assert binding.plate not in text and "35" not in text and "350" not in text
    assert notice.push.link.startswith("/parking/bills/")
