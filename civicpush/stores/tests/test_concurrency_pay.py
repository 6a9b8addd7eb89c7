"""Two concurrent scans of one pay code charge once (real PostgreSQL, real threads and connections)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections

from civicpush.coins import ledger
from civicpush.coins.models import Transfer
from civicpush.core.errors import DomainError
from civicpush.stores import payments as pay
from civicpush.stores.models import Payment
from civicpush.wallet.services import issue_pay_code

from .helpers import funded_citizen, make_shop

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


def _race(calls):
    barrier = threading.Barrier(len(calls))
    results: list[object] = [None] * len(calls)

    def run(i, call):
        try:
            barrier.wait()
            results[i] = call()
        except DomainError as exc:
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results


def test_two_concurrent_scans_of_one_pay_code_charge_once(org):
    shop, other = make_shop(org), make_shop(org)
    for round_ in range(5):
        citizen = funded_citizen(shop, 1000)
        token = issue_pay_code(citizen).token
        results = _race(
            [
                lambda t=token, r=round_: pay.charge_pay_code(shop.cashier, shop.store, t, 300, f"race-a-{r}-xxxx"),
                lambda t=token, r=round_: pay.charge_pay_code(other.cashier, other.store, t, 300, f"race-b-{r}-xxxx"),
            ]
        )
        won = [r for r in results if isinstance(r, pay.PaymentResult)]
        assert len(won) == 1, results
        assert Payment.objects.filter(citizen=citizen).count() == 1
        assert ledger.available(ledger.wallet_of(citizen)) == 700


def test_a_doubled_store_request_with_one_key_charges_once(org):
    shop = make_shop(org)
    citizen = funded_citizen(shop, 1000)
    token = issue_pay_code(citizen).token
    results = _race([lambda: pay.charge_pay_code(shop.cashier, shop.store, token, 250, "double-tap-0001")] * 4)
    assert all(isinstance(r, pay.PaymentResult) for r in results), results
    assert len({r.payment.pk for r in results}) == 1 and sum(not r.replayed for r in results) == 1
    assert Transfer.objects.filter(kind=pay.KIND_PAYMENT, debit_account=ledger.wallet_of(citizen)).count() == 1
    assert ledger.available(ledger.wallet_of(citizen)) == 750


def test_concurrent_redemptions_never_take_the_stock_below_zero(org):
    from civicpush.stores import services
    from civicpush.stores.models import Offer, Voucher

    shop = make_shop(org)
    offer = services.do_save_offer(shop.operator, shop.store, {"title": "限量禮盒", "coin_price": "100", "stock": "2"})
    citizens = [funded_citizen(shop, 500) for _ in range(5)]
    results = _race([lambda c=c: pay.redeem_in_app(c, offer, f"redeem-race-{c.pk}") for c in citizens])
    won = [r for r in results if isinstance(r, Voucher)]
    assert len(won) == 2, results
    offer.refresh_from_db()
    assert offer.stock == 0 and Offer.objects.filter(stock__lt=0).count() == 0
    assert sum(ledger.available(ledger.wallet_of(c)) for c in citizens) == 5 * 500 - 2 * 100
