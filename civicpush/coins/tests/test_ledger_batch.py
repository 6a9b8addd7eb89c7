"""Batches of transfers (the hot path, issue 5 benchmark): each caller gets its own result, a refused
or replayed member does not disturb the others, and the books stay exact. On PostgreSQL these run
the raw-SQL batch path (`coins/pg_transfers.py`) and, in committed transactions, early lock release
with the durability barrier; on SQLite the generic engine."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from civicpush.coins import ledger
from civicpush.coins.errors import IdempotencyConflict, InsufficientFunds
from civicpush.coins.models import Balance, LedgerKey, Transfer
from civicpush.coins.verify import verify

from .ledger_fixtures import World, make_citizen, make_world

R = ledger.TransferRequest


def _fund(world: World, account: Any, amount: int) -> None:
    ledger.issue(key=f"fund:{account.pk}", budget=world.budget, credit=account, amount=amount, period=world.period,
                 reason="test funding")  # fmt: skip


def _wallets(world: World, n: int) -> list[Any]:
    return [ledger.wallet_of(make_citizen(world.county)) for _ in range(n)]


def test_a_retried_key_inside_a_batch_replays_while_the_rest_commit(org: Any) -> None:
    world = make_world(org.unit("prevention"))
    a, b, c = _wallets(world, 3)
    _fund(world, a, 10)
    first = ledger.transfer(key="k1", debit=a, credit=b, amount=3, kind="gift")
    results = ledger.transfer_batch(
        [
            R(key="k2", debit=a, credit=c, amount=2, kind="gift"),
            R(key="k1", debit=a, credit=b, amount=3, kind="gift"),  # a retry of a committed transfer
            R(key="k3", debit=b, credit=c, amount=4, kind="gift"),  # b has 3: refused
            R(key="k1", debit=a, credit=b, amount=4, kind="gift"),  # same key, other body
            R(key="k4", debit=c, credit=b, amount=1, kind="gift"),  # c's first lot comes from k2
        ]
    )
    assert isinstance(results[0], ledger.TransferResult) and not results[0].replayed
    assert isinstance(results[1], ledger.TransferResult) and results[1].replayed
    assert results[1].transfer_id == first.transfer_id
    assert isinstance(results[2], InsufficientFunds)
    assert isinstance(results[3], IdempotencyConflict)
    assert isinstance(results[4], ledger.TransferResult) and not results[4].replayed
    assert [ledger.balance(x) for x in (a, b, c)] == [5, 4, 1]
    assert not LedgerKey.objects.filter(key="k3").exists()
    assert Transfer.objects.filter(key__in=["k1", "k2", "k3", "k4"]).count() == 3
    assert verify() == []


def test_one_caller_short_of_coins_does_not_fail_the_batch(org: Any) -> None:
    world = make_world(org.unit("prevention"))
    pool = ledger.reward_pool(world.county, ref="push:batch", unit=world.unit)
    wallets = _wallets(world, 6)
    _fund(world, pool, 50)
    requests = [R(key=f"pay{i}", debit=pool, credit=w, amount=10, kind="reward") for i, w in enumerate(wallets)]
    results = ledger.transfer_batch(requests)
    ok = [r for r in results if isinstance(r, ledger.TransferResult)]
    assert len(ok) == 5 and isinstance(results[5], InsufficientFunds)
    assert len({r.transfer_id for r in ok}) == 5
    assert ledger.balance(pool) == 0 and [ledger.balance(w) for w in wallets] == [10] * 5 + [0]
    # Every lot row is exact and the chain links the batch in key order.
    assert sum(Balance.objects.exclude(account__kind="issuing").values_list("balance", flat=True)) == 50
    seqs = list(Transfer.objects.filter(kind="reward").order_by("key").values_list("chain_seq", flat=True))
    assert seqs == sorted(seqs) and len(set(seqs)) == 5
    assert verify() == []


@pytest.mark.django_db(transaction=True)
def test_the_batcher_commits_concurrent_callers_with_retries_and_a_short_one(org: Any) -> None:
    world = make_world(org.unit("disaster"))
    pool = ledger.reward_pool(world.county, ref="push:batcher", unit=world.unit)
    wallets = _wallets(world, 12)
    _fund(world, pool, 100)
    batcher = ledger.TransferBatcher().start()
    try:
        futures = [
            batcher.submit(R(key=f"bt{i}", debit=pool, credit=w, amount=9, kind="reward"))
            for i, w in enumerate(wallets)
        ]
        results = [f.result(30) for f in futures]
        again = batcher.submit(R(key="bt0", debit=pool, credit=wallets[0], amount=9, kind="reward")).result(30)
    finally:
        batcher.stop()
    assert sum(isinstance(r, ledger.TransferResult) for r in results) == 11
    assert sum(isinstance(r, InsufficientFunds) for r in results) == 1
    assert isinstance(again, ledger.TransferResult) and again.replayed
    assert again.transfer_id == results[0].transfer_id  # type: ignore[union-attr]
    assert ledger.balance(pool) == 1 and verify() == []


@pytest.mark.django_db(transaction=True)
def test_early_lock_release_stays_inside_the_ledger_transaction(org: Any) -> None:
    """The ledger's own transactions commit without waiting for the disk (then wait at the barrier);
    the session's later transactions, e.g. a caller's, are synchronous again."""
    world = make_world(org.unit("disaster"))
    a, b = _wallets(world, 2)
    _fund(world, a, 5)
    ledger.transfer(key="sync1", debit=a, credit=b, amount=2, kind="gift")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            assert cursor.fetchone()[0] == "on"  # type: ignore[index]
    assert ledger.balance(b) == 2 and verify() == []
