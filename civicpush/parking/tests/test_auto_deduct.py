"""Auto-deduct: the daily run pays yesterday's bills, advances within the credit bound when coins are
short (with a notice), is repaid from later coins, and runs once a day."""

from __future__ import annotations

import pytest
import time_machine

from civicpush.coins import ledger
from civicpush.core.errors import Conflict, ValidationFailed
from civicpush.delivery.models import SystemNotice
from civicpush.parking import payments, runs, services
from civicpush.parking.models import (
    Advance,
    AdvanceStatus,
    BillStatus,
    CreditLine,
    DailyRun,
    Payment,
    PaymentSource,
    PaymentStatus,
)

from .world import bill_for, bind, make_citizen, wallet

pytestmark = pytest.mark.django_db


def enrolled(world, coins: int):
    citizen = make_citizen(world, coins=coins)
    binding = bind(citizen)
    services.do_enrol_auto_deduct(citizen, accepted=True, terms_version=world.settings.terms_version)
    binding.refresh_from_db()
    assert binding.auto_deduct
    return citizen, binding


def pool(world) -> int:
    return ledger.balance(payments.advance_pool(world.county))


def test_terms_must_be_accepted_in_their_current_version(world) -> None:
    citizen = make_citizen(world)
    with pytest.raises(ValidationFailed):
        services.do_enrol_auto_deduct(citizen, accepted=False, terms_version=world.settings.terms_version)
    with pytest.raises(Conflict):
        services.do_enrol_auto_deduct(citizen, accepted=True, terms_version="2020-01")
    enrolment = services.do_enrol_auto_deduct(citizen, accepted=True, terms_version=world.settings.terms_version)
    assert enrolment.active and enrolment.terms_version == world.settings.terms_version and enrolment.accepted_at


def test_the_daily_run_pays_yesterdays_bills_from_coins_once(world) -> None:
    citizen, binding = enrolled(world, 1000)
    old = bill_for(binding, 30, days_ago=1)
    today = bill_for(binding, 20, days_ago=0)  # today's slip waits for tomorrow's run
    summary = runs.run_auto_deduct(world.county)
    assert summary["paid"] == 1
    old.refresh_from_db()
    today.refresh_from_db()
    assert old.status == BillStatus.PAID and today.status == BillStatus.UNPAID
    assert wallet(citizen) == 700
    assert runs.run_auto_deduct(world.county) == {"skipped": True}
    assert DailyRun.objects.filter(job="auto_deduct").count() == 1


def test_short_coins_are_advanced_within_the_bound_with_a_notice_then_repaid(world) -> None:
    world.fund_pool(10_000)
    citizen, binding = enrolled(world, 100)  # credit bound: 1,000 coins
    first = bill_for(binding, 60)  # 600 coins: advanced
    second = bill_for(binding, 50)  # 500 coins: would exceed the bound → not paid, notice
    summary = runs.run_auto_deduct(world.county)
    assert summary["advanced"] == 1 and summary["not_paid"] == 1
    payment = Payment.objects.get(bill=first)
    assert payment.source == PaymentSource.ADVANCE and payment.status == PaymentStatus.CONFIRMED
    assert CreditLine.objects.get(citizen=citizen).outstanding == 600
    assert wallet(citizen) == 100  # the citizen's own coins were not touched
    assert pool(world) == 10_000 - 600
    assert SystemNotice.objects.filter(reference=f"parking-payment:{payment.pk}:advanced").exists()
    assert SystemNotice.objects.filter(reference=f"parking-bill:{second.pk}:auto-failed").exists()
    second.refresh_from_db()
    assert second.status == BillStatus.UNPAID

    # The citizen earns coins; the next day's run repays the advance first.
    world.give(citizen, 900)
    with time_machine.travel("2026-11-21 10:00:00+08:00", tick=True):
        summary = runs.run_auto_deduct(world.county)
    assert summary["repaid_coins"] == 600
    assert Advance.objects.get(payment=payment).status == AdvanceStatus.REPAID
    # 1,000 − 600 = 400 coins left: not enough for the 500-coin bill, but the bound is free again.
    assert summary["advanced"] == 1
    second.refresh_from_db()
    assert second.status == BillStatus.PAID
    assert CreditLine.objects.get(citizen=citizen).outstanding == 500
    assert wallet(citizen) == 400
    assert pool(world) == 10_000 - 500


def test_the_credit_bound_is_a_database_rule(world) -> None:
    from django.db import IntegrityError, transaction

    citizen = make_citizen(world)
    CreditLine.objects.create(citizen=citizen, county=world.county, limit_coins=500, outstanding=400)
    with pytest.raises(IntegrityError), transaction.atomic():
        CreditLine.objects.filter(citizen=citizen).update(outstanding=600)


def test_an_empty_advance_pool_advances_nothing(world) -> None:
    citizen, binding = enrolled(world, 0)
    bill = bill_for(binding, 40)
    summary = runs.run_auto_deduct(world.county)
    assert summary["not_paid"] == 1
    assert not Payment.objects.exists() and not Advance.objects.exists()
    assert CreditLine.objects.get(citizen=citizen).outstanding == 0
    assert SystemNotice.objects.filter(reference=f"parking-bill:{bill.pk}:auto-failed").exists()


def test_overdue_bills_are_never_auto_paid_and_the_window_postpones_the_run(world) -> None:
    _citizen, binding = enrolled(world, 1000)
    bill = bill_for(binding, 30)
    from civicpush.parking.models import Bill

    Bill.objects.filter(pk=bill.pk).update(due_date="2026-11-19")
    assert runs.run_auto_deduct(world.county)["paid"] == 0
    with time_machine.travel("2026-11-22 02:30:00+08:00", tick=False):
        assert runs.run_auto_deduct(world.county, force=True)["postponed"] == "operator_maintenance"
    assert DailyRun.objects.filter(day="2026-11-22").count() == 0
