"""The coin ledger's rules (issue 5): issuing within budget, transfers, idempotency, holds,
reversals, expiry, the database's own guards, and `verify_ledger`."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from civicpush.coins import ledger
from civicpush.coins.errors import (
    AlreadyReversed,
    BudgetExceeded,
    HoldNotOpen,
    IdempotencyConflict,
    InsufficientFunds,
    IssueDeadlinePassed,
)
from civicpush.coins.models import Balance, Hold, HoldStatus, LedgerKey, Transfer
from civicpush.coins.verify import verify
from civicpush.core.errors import DomainError, ValidationFailed

from .ledger_fixtures import World, make_budget, make_citizen, make_period, make_world


@pytest.fixture
def world(org: Any) -> World:
    return make_world(org.unit("prevention"))


def _fund(world: World, account: Any, amount: int, *, period: Any = None, key: str | None = None) -> Any:
    return ledger.issue(
        key=key or f"fund:{account.pk}:{amount}:{(period or world.period).pk}",
        budget=world.budget,
        credit=account,
        amount=amount,
        period=period or world.period,
        reason="test funding",
    )


def test_issue_credits_the_account_and_counts_against_the_budget(world: World) -> None:
    wallet = ledger.wallet_of(make_citizen(world.county))
    result = _fund(world, wallet, 50)
    assert result.amount == 50 and not result.replayed
    assert ledger.balance(wallet) == 50
    assert ledger.balance(ledger.issuing_account(world.county)) == -50
    world.budget.refresh_from_db()
    assert world.budget.issued_amount == 50
    t = Transfer.objects.get(pk=result.transfer_id)
    assert t.budget_id == world.budget.pk and set(t.legs.values_list("budget_id", flat=True)) == {world.budget.pk}
    assert verify() == []


def test_accounts_are_one_per_owner(world: World) -> None:
    citizen = make_citizen(world.county)
    assert ledger.wallet_of(citizen) == ledger.wallet_of(citizen)
    assert ledger.reward_pool(world.county, ref="push:1") == ledger.reward_pool(world.county, ref="push:1")
    assert ledger.reward_pool(world.county, ref="push:1") != ledger.reward_pool(world.county, ref="push:2")
    assert ledger.unit_budget_account(world.budget).budget_id == world.budget.pk
    assert ledger.issuing_account(world.county).may_go_negative
    assert not ledger.county_pool(world.county).may_go_negative
    assert ledger.expired_account(world.county) != ledger.parking_clearing(world.county)
    assert ledger.store_payable(world.county, ref="store:7").kind == "store_payable"


def test_issuing_beyond_the_budget_is_refused(org: Any) -> None:
    world = make_world(org.unit("rescue"), reserved=100)
    pool = ledger.reward_pool(world.county, ref="push:9")
    _fund(world, pool, 80)
    with pytest.raises(BudgetExceeded):
        _fund(world, pool, 21, key="too-much")
    _fund(world, pool, 20, key="exactly-the-rest")
    world.budget.refresh_from_db()
    assert world.budget.issued_amount == world.budget.reserved_amount == 100


def test_issuing_after_the_deadline_needs_an_extension(org: Any) -> None:
    unit = org.unit("ems")
    budget = make_budget(unit, issue_deadline=timezone.localdate() - datetime.timedelta(days=1))
    period = make_period(unit.county, "p", 100)
    pool = ledger.county_pool(unit.county)
    with pytest.raises(IssueDeadlinePassed):
        ledger.issue(key="late", budget=budget, credit=pool, amount=5, period=period, reason="x")
    budget.extension_until = timezone.localdate() + datetime.timedelta(days=10)
    budget.save()
    assert ledger.issue(key="late", budget=budget, credit=pool, amount=5, period=period, reason="x").amount == 5


def test_unreserved_budget_cannot_issue(org: Any) -> None:
    unit = org.unit("command")
    budget = make_budget(unit, status="requested")
    with pytest.raises(BudgetExceeded):
        ledger.issue(
            key="k", budget=budget, credit=ledger.county_pool(unit.county), amount=1,
            period=make_period(unit.county, "p", 10), reason="x",
        )  # fmt: skip


def test_spending_uses_the_earliest_expiring_coins_first(world: World) -> None:
    wallet = ledger.wallet_of(make_citizen(world.county))
    store = ledger.store_payable(world.county, ref="store:1")
    _fund(world, wallet, 30, period=world.period)
    _fund(world, wallet, 20, period=world.early)
    ledger.transfer(key="buy", debit=wallet, credit=store, amount=25, kind="spend")
    by_period = dict((p.code, n) for p, n in ledger.balance_by_period(wallet))
    assert by_period == {"late": 25}
    assert [p.code for p, _n in ledger.balance_by_period(store)] == ["early", "late"]
    assert dict((p.code, n) for p, n in ledger.balance_by_period(store)) == {"early": 20, "late": 5}


def test_insufficient_funds_changes_nothing(world: World) -> None:
    a = ledger.wallet_of(make_citizen(world.county))
    b = ledger.wallet_of(make_citizen(world.county))
    _fund(world, a, 10)
    with pytest.raises(InsufficientFunds) as excinfo:
        ledger.transfer(key="t1", debit=a, credit=b, amount=11, kind="gift")
    assert excinfo.value.status == 400 and str(excinfo.value.message)
    assert ledger.balance(a) == 10 and ledger.balance(b) == 0
    assert not LedgerKey.objects.filter(key="t1").exists()
    # A refused key may be used again once there is money.
    _fund(world, a, 1, key="top-up")
    assert ledger.transfer(key="t1", debit=a, credit=b, amount=11, kind="gift").amount == 11


def test_a_retry_with_the_same_key_returns_the_first_result(world: World) -> None:
    a = ledger.wallet_of(make_citizen(world.county))
    b = ledger.wallet_of(make_citizen(world.county))
    _fund(world, a, 100)
    first = ledger.transfer(key="pay-1", debit=a, credit=b, amount=40, kind="gift", memo="m")
    again = ledger.transfer(key="pay-1", debit=a, credit=b, amount=40, kind="gift", memo="m")
    assert again.replayed and not first.replayed
    assert again.transfer_id == first.transfer_id
    assert ledger.balance(a) == 60 and Transfer.objects.filter(key="pay-1").count() == 1


def test_the_same_key_with_a_different_body_is_a_conflict(world: World) -> None:
    a = ledger.wallet_of(make_citizen(world.county))
    b = ledger.wallet_of(make_citizen(world.county))
    _fund(world, a, 100)
    ledger.transfer(key="pay-2", debit=a, credit=b, amount=40, kind="gift")
    with pytest.raises(IdempotencyConflict) as excinfo:
        ledger.transfer(key="pay-2", debit=a, credit=b, amount=41, kind="gift")
    assert excinfo.value.status == 409
    with pytest.raises(IdempotencyConflict):  # keys are one namespace over all operations
        ledger.hold(key="pay-2", debit=a, credit=b, amount=40, kind="gift", expires_at=timezone.now())
    assert ledger.balance(a) == 60


def test_invalid_requests_are_refused(world: World) -> None:
    a = ledger.wallet_of(make_citizen(world.county))
    for amount in (0, -1, 1.5, True):
        with pytest.raises(ValidationFailed):
            ledger.transfer(key="x", debit=a, credit=ledger.county_pool(world.county), amount=amount, kind="k")
    with pytest.raises(ValidationFailed):
        ledger.transfer(key="x", debit=a, credit=a, amount=1, kind="k")
    with pytest.raises(ValidationFailed):
        ledger.transfer(key="x", debit=ledger.issuing_account(world.county), credit=a, amount=1, kind="k")


def test_hold_reserves_then_posts_partially(world: World) -> None:
    wallet = ledger.wallet_of(make_citizen(world.county))
    parking = ledger.parking_clearing(world.county)
    _fund(world, wallet, 100)
    h = ledger.hold(
        key="h1",
        debit=wallet,
        credit=parking,
        amount=60,
        kind="parking",
        expires_at=timezone.now() + datetime.timedelta(hours=1),
    )
    assert ledger.balance(wallet) == 100 and ledger.available(wallet) == 40
    with pytest.raises(InsufficientFunds):
        ledger.transfer(key="t", debit=wallet, credit=parking, amount=41, kind="spend")
    posted = ledger.post_hold(key="h1-post", hold_id=h.hold_id, amount=45)
    assert posted.amount == 45
    assert ledger.balance(wallet) == 55 and ledger.available(wallet) == 55 and ledger.balance(parking) == 45
    assert Hold.objects.get(pk=h.hold_id).status == HoldStatus.POSTED
    assert ledger.post_hold(key="h1-post", hold_id=h.hold_id, amount=45).replayed
    with pytest.raises(HoldNotOpen):
        ledger.void_hold(key="h1-void", hold_id=h.hold_id)
    assert verify() == []


def test_void_and_expiry_release_holds(world: World) -> None:
    wallet = ledger.wallet_of(make_citizen(world.county))
    store = ledger.store_payable(world.county, ref="s")
    _fund(world, wallet, 100)
    soon = timezone.now() + datetime.timedelta(minutes=5)
    h1 = ledger.hold(key="a", debit=wallet, credit=store, amount=30, kind="spend", expires_at=soon)
    h2 = ledger.hold(key="b", debit=wallet, credit=store, amount=30, kind="spend", expires_at=soon)
    assert ledger.available(wallet) == 40
    ledger.void_hold(key="a-void", hold_id=h1.hold_id)
    ledger.void_hold(key="a-void", hold_id=h1.hold_id)  # replay: fine, once
    assert ledger.available(wallet) == 70
    assert ledger.expire_holds(now=soon + datetime.timedelta(seconds=1)) == 1
    assert Hold.objects.get(pk=h2.hold_id).status == HoldStatus.EXPIRED
    assert ledger.available(wallet) == 100 and ledger.balance(store) == 0
    with pytest.raises(HoldNotOpen):
        ledger.post_hold(key="late-post", hold_id=h2.hold_id)
    assert verify() == []


def test_reverse_is_the_only_correction_and_happens_once(world: World) -> None:
    wallet = ledger.wallet_of(make_citizen(world.county))
    store = ledger.store_payable(world.county, ref="s")
    _fund(world, wallet, 100)
    spend = ledger.transfer(key="s1", debit=wallet, credit=store, amount=70, kind="spend")
    rev = ledger.reverse(key="r1", transfer_id=spend.transfer_id, reason="refund")
    assert rev.debit_account_id == store.pk and rev.credit_account_id == wallet.pk
    assert ledger.balance(wallet) == 100 and ledger.balance(store) == 0
    assert Transfer.objects.get(pk=rev.transfer_id).reverses_id == spend.transfer_id
    with pytest.raises(AlreadyReversed):
        ledger.reverse(key="r2", transfer_id=spend.transfer_id, reason="again")
    with pytest.raises(ValidationFailed):
        ledger.reverse(key="r3", transfer_id=rev.transfer_id, reason="undo the undo")
    assert ledger.reverse(key="r1", transfer_id=spend.transfer_id, reason="refund").replayed


def test_reversing_an_issue_returns_the_coins_to_the_budget(world: World) -> None:
    pool = ledger.reward_pool(world.county, ref="push:5")
    issued = _fund(world, pool, 300)
    ledger.reverse(key="undo-issue", transfer_id=issued.transfer_id, reason="wrong pool")
    world.budget.refresh_from_db()
    assert world.budget.issued_amount == 0 and ledger.balance(ledger.issuing_account(world.county)) == 0
    assert verify() == []


def test_reversal_needs_the_coins_to_still_be_there(world: World) -> None:
    a = ledger.wallet_of(make_citizen(world.county))
    b = ledger.wallet_of(make_citizen(world.county))
    _fund(world, a, 50)
    t = ledger.transfer(key="g", debit=a, credit=b, amount=50, kind="gift")
    ledger.transfer(key="g2", debit=b, credit=a, amount=20, kind="gift")
    with pytest.raises(InsufficientFunds):
        ledger.reverse(key="rg", transfer_id=t.transfer_id, reason="x")


def test_transfer_batch_isolates_each_item(world: World) -> None:
    a = ledger.wallet_of(make_citizen(world.county))
    b = ledger.wallet_of(make_citizen(world.county))
    _fund(world, a, 10)
    R = ledger.TransferRequest
    results = ledger.transfer_batch(
        [
            R(key="b1", debit=a, credit=b, amount=6, kind="gift"),
            R(key="b2", debit=a, credit=b, amount=6, kind="gift"),  # only 4 left: refused
            R(key="b3", debit=b, credit=a, amount=6, kind="gift"),  # uses b1's coins in the same batch
            R(key="b1", debit=a, credit=b, amount=6, kind="gift"),  # duplicate in the batch: replay
            R(key="b1", debit=a, credit=b, amount=7, kind="gift"),  # conflict
            R(key="b4", debit=a, credit=b, amount=0, kind="gift"),  # invalid
        ]
    )
    assert [type(r).__name__ for r in results] == [
        "TransferResult", "InsufficientFunds", "TransferResult", "TransferResult", "IdempotencyConflict", "ValidationFailed",
    ]  # fmt: skip
    assert results[3].replayed and results[3].transfer_id == results[0].transfer_id  # type: ignore[union-attr]
    assert ledger.balance(a) == 10 and ledger.balance(b) == 0
    assert verify() == []


@pytest.mark.django_db(transaction=True)
def test_the_batcher_groups_callers_and_answers_each(org: Any) -> None:
    world = make_world(org.unit("disaster"))
    a = ledger.wallet_of(make_citizen(world.county))
    b = ledger.wallet_of(make_citizen(world.county))
    _fund(world, a, 5)
    batcher = ledger.TransferBatcher().start()
    try:
        futures = [
            batcher.submit(ledger.TransferRequest(key=f"q{i}", debit=a, credit=b, amount=1, kind="gift"))
            for i in range(8)
        ]
        results = [f.result(30) for f in futures]
    finally:
        batcher.stop()
    assert sum(isinstance(r, ledger.TransferResult) for r in results) == 5
    assert sum(isinstance(r, InsufficientFunds) for r in results) == 3
    assert ledger.balance(b) == 5 and verify() == []


def test_expiry_sweep_at_the_period_boundary(world: World) -> None:
    wallet = ledger.wallet_of(make_citizen(world.county))
    store = ledger.store_payable(world.county, ref="s")
    _fund(world, wallet, 40, period=world.early)
    _fund(world, wallet, 60, period=world.period)
    h = ledger.hold(
        key="h",
        debit=wallet,
        credit=store,
        amount=10,
        kind="spend",
        expires_at=world.early.expires_at + datetime.timedelta(days=2),
    )
    expired = ledger.expired_account(world.county)
    with time_machine.travel(world.early.expires_at - datetime.timedelta(seconds=1)):
        assert ledger.expire_period_coins() == 0
        assert ledger.available(wallet) == 90
    with time_machine.travel(world.early.expires_at + datetime.timedelta(seconds=1)):
        assert ledger.available(wallet) == 60  # expired coins cannot be spent, even before the sweep
        assert ledger.expire_period_coins() == 30  # the held 10 stay with their hold
        assert ledger.expire_period_coins() == 0  # a second run moves nothing
        assert ledger.balance(expired) == 30 and ledger.balance(wallet) == 70
        ledger.void_hold(key="h-void", hold_id=h.hold_id)
        assert ledger.expire_period_coins() == 10
    assert ledger.balance(wallet) == 60
    assert [p.code for p, _n in ledger.balance_by_period(expired)] == ["early"]
    assert verify() == []


def test_coins_owed_to_a_store_do_not_expire_while_they_wait_for_the_settlement(world: World) -> None:
    wallet = ledger.wallet_of(make_citizen(world.county))
    payable = ledger.store_payable(world.county, ref="s-owed")
    settled = ledger.store_payable(world.county, ref="s-owed-settled")
    _fund(world, wallet, 50, period=world.early)
    ledger.transfer(key="pay-before-expiry", debit=wallet, credit=payable, amount=50, kind="spend")
    with time_machine.travel(world.early.expires_at + datetime.timedelta(days=5)):
        assert ledger.expire_period_coins() == 0  # the payable is not swept
        assert ledger.balance(payable) == 50
        ledger.transfer(key="monthly-payout", debit=payable, credit=settled, amount=50, kind="settlement")
    assert ledger.balance(payable) == 0 and ledger.balance(settled) == 50
    assert verify() == []


def test_the_database_refuses_a_negative_balance(world: World) -> None:
    wallet = ledger.wallet_of(make_citizen(world.county))
    _fund(world, wallet, 5)
    row = Balance.objects.get(account=wallet)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE coins_balance SET balance = balance - 6 WHERE id = %s", [row.pk])
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE coins_balance SET held = 6 WHERE id = %s", [row.pk])
    issuing_row = Balance.objects.get(account=ledger.issuing_account(world.county))
    assert issuing_row.balance == -5  # the issuing account alone may go below zero


def test_the_database_refuses_issuing_beyond_the_reserved_budget(world: World) -> None:
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE coins_budget SET issued_amount = reserved_amount + 1 WHERE id = %s", [world.budget.pk])


def test_transfers_are_append_only(world: World) -> None:
    wallet = ledger.wallet_of(make_citizen(world.county))
    result = _fund(world, wallet, 5)
    t = Transfer.objects.get(pk=result.transfer_id)
    t.amount = 6
    with pytest.raises(PermissionError):
        t.save()
    with pytest.raises(PermissionError):
        Transfer.objects.filter(pk=t.pk).update(amount=6)
    with pytest.raises(PermissionError):
        t.delete()
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE coins_transfer SET amount = 6 WHERE id = %s", [t.pk])
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE coins_transferleg SET amount = 6 WHERE transfer_id = %s", [t.pk])


def _tamper(sql: str, params: list[Any]) -> None:
    """Change a ledger row behind the ledger's back (the append-only trigger switched off)."""
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Replica mode skips ordinary triggers for this session only (needs a superuser).
            cursor.execute("SET LOCAL session_replication_role = replica")
            cursor.execute(sql, params)
            cursor.execute("SET LOCAL session_replication_role = origin")
        else:
            cursor.execute("DROP TRIGGER coins_transfer_append_only")
            cursor.execute(sql, params)
            cursor.execute(
                "CREATE TRIGGER coins_transfer_append_only BEFORE UPDATE ON coins_transfer "
                "BEGIN SELECT RAISE(ABORT, 'coins_transfer is append-only'); END;"
            )


def test_verify_detects_a_tampered_transfer(world: World) -> None:
    a = ledger.wallet_of(make_citizen(world.county))
    b = ledger.wallet_of(make_citizen(world.county))
    _fund(world, a, 50)
    t = ledger.transfer(key="x1", debit=a, credit=b, amount=20, kind="gift", memo="lunch")
    ledger.transfer(key="x2", debit=a, credit=b, amount=5, kind="gift")
    call_command("verify_ledger")
    _tamper("UPDATE coins_transfer SET memo = 'dinner' WHERE id = %s", [t.transfer_id])
    problems = verify()
    assert any("hash does not match" in p and str(t.transfer_id) in p for p in problems)
    with pytest.raises(CommandError):
        call_command("verify_ledger")


def test_verify_detects_a_balance_drift(world: World) -> None:
    a = ledger.wallet_of(make_citizen(world.county))
    _fund(world, a, 50)
    assert verify() == []
    with connection.cursor() as cursor:
        cursor.execute("UPDATE coins_balance SET balance = balance + 7 WHERE account_id = %s", [a.pk])
    problems = verify()
    assert any("balance drift" in p for p in problems)
    assert any("not conserved" in p for p in problems)


def test_errors_are_domain_errors_with_translated_messages(world: World) -> None:
    from django.utils import translation

    with translation.override("zh-hant"):
        assert str(InsufficientFunds().message) != "There are not enough coins for this."
    assert issubclass(IdempotencyConflict, DomainError)
