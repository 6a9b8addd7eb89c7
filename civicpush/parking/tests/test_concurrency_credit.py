"""The parking credit bound under real concurrency on PostgreSQL: many advances for one citizen at
once never exceed the bound, and two daily runs at once never pay a bill twice."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection, connections

from civicpush.coins import ledger
from civicpush.parking import notices, payments, runs, services
from civicpush.parking.models import (
    Advance,
    AdvanceStatus,
    CreditLine,
    Payment,
    PaymentChannel,
    PaymentSource,
    PaymentStatus,
    SimPayment,
)

from .world import bill_for, bind, make_citizen

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(transactional_db: Any, monkeypatch: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL (set DATABASE_URL); SQLite serialises all writers")
    # Notices are not under test here (their delivery runs in-process on commit in tests).
    monkeypatch.setattr(notices, "_send", lambda *args, **kwargs: None)


def _race(jobs: list[Any]) -> list[Any]:
    """Run each job in its own thread (own connection), all released at once; their results or errors."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = jobs[i]()
        except Exception as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


def test_concurrent_advances_never_exceed_the_credit_bound(pg: None, world: Any) -> None:
    world.fund_pool(100_000)
    citizen = make_citizen(world)  # no coins: everything is advanced; bound 1,000 coins
    binding = bind(citizen)
    bills = [bill_for(binding, 20) for _ in range(12)]  # 200 coins each: at most 5 fit

    def advance(bill: Any) -> Any:
        return lambda: payments.pay_bill(
            bill, citizen, source=PaymentSource.ADVANCE, channel=PaymentChannel.AUTO, client_key=f"race:{bill.pk}"
        )

    results = _race([advance(b) for b in bills])
    outcomes = Counter(type(r).__name__ for r in results)
    assert outcomes["Payment"] == 5, outcomes
    assert outcomes["CreditExhausted"] == 7, outcomes
    line = CreditLine.objects.get(citizen=citizen)
    advanced = Advance.objects.filter(citizen=citizen, status=AdvanceStatus.OPEN)
    assert line.outstanding == sum(a.coins for a in advanced) == 1000 <= line.limit_coins
    assert Payment.objects.filter(status=PaymentStatus.CONFIRMED).count() == 5
    assert ledger.balance(payments.advance_pool(world.county)) == 100_000 - 1000
    assert ledger.balance(ledger.parking_clearing(world.county)) == 1000


def test_two_daily_runs_at_once_pay_each_bill_once(pg: None, world: Any) -> None:
    world.fund_pool(100_000)
    citizens = []
    for i in range(4):
        citizen = make_citizen(world, coins=300 if i % 2 else 0)
        binding = bind(citizen, f"ABC-{5600 + i}")
        services.do_enrol_auto_deduct(citizen, accepted=True, terms_version=world.settings.terms_version)
        for _ in range(3):
            bill_for(binding, 20)
        citizens.append(citizen)

    _race([lambda: runs.run_auto_deduct(world.county, force=True) for _ in range(3)])

    paid_refs = Counter(SimPayment.objects.filter(channel="civicpush").values_list("bill_id", flat=True))
    assert paid_refs and max(paid_refs.values()) == 1  # the operator saw each bill paid once
    for citizen in citizens:
        line = CreditLine.objects.filter(citizen=citizen).first()
        if line is not None:
            assert 0 <= line.outstanding <= line.limit_coins
            owed = sum(a.owed for a in Advance.objects.filter(citizen=citizen, status=AdvanceStatus.OPEN))
            assert line.outstanding == owed
    live = Counter(
        Payment.objects.filter(
            status__in=[PaymentStatus.CONFIRMED, PaymentStatus.PENDING, PaymentStatus.UNKNOWN]
        ).values_list("bill_id", flat=True)
    )
    assert max(live.values()) == 1
