"""The batch hot path, round 3 (issue 5): the shortcuts must produce exactly what the reference code
produces — the same request fingerprints, the same chain texts and hashes (`verify_ledger` recomputes
them in Python) — and the PostgreSQL path in its own transaction (tests with `transaction=True`:
inside a test's atomic block the ledger joins that transaction instead) must commit all or nothing.
On SQLite the same tests run the generic engine."""

from __future__ import annotations

import copy
import datetime
import random
import string
from typing import Any

import pytest
from django.db import connection

from civicpush.coins import chain, ledger
from civicpush.coins.errors import InsufficientFunds
from civicpush.coins.models import ChainHead, LedgerKey, Transfer, TransferLeg
from civicpush.coins.verify import verify

from .ledger_fixtures import World, make_citizen, make_world

R = ledger.TransferRequest
_ODD = string.printable + 'é中文\u2028\x1f\x00"\\\U0001f600'


def _text(rng: random.Random, *, nul: bool = True) -> str:
    alphabet = _ODD if nul else _ODD.replace("\x00", "")
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 16)))


def test_the_fast_fingerprint_is_the_reference_fingerprint() -> None:
    rng = random.Random(11)
    for _ in range(3000):
        metadata = rng.choice(
            [{}, {"a": 1, _text(rng): [1.5, None, True, _text(rng)], "d": datetime.date(2026, 1, 2)}, {"z": {"y": 2}}]
        )
        op = ledger._Op(op="transfer", key=_text(rng) or "k", county_id=1, debit_id=rng.randint(1, 10**12),
                        credit_id=rng.randint(1, 10**12), amount=rng.randint(1, 10**15), kind=_text(rng),
                        memo=_text(rng), metadata=metadata, actor_label=_text(rng))  # fmt: skip
        assert copy.copy(op).seal().fingerprint == copy.copy(op)._seal_generic().fingerprint
    # Anything but a plain transfer takes the reference encoding.
    hold = ledger._Op(op="hold", key="h", debit_id=1, credit_id=2, amount=3,
                      expires_at=datetime.datetime(2027, 1, 1, tzinfo=datetime.UTC))  # fmt: skip
    assert copy.copy(hold).seal().fingerprint == copy.copy(hold)._seal_generic().fingerprint


def test_the_chain_head_text_is_the_canonical_text() -> None:
    rng = random.Random(12)
    for _ in range(3000):
        metadata = rng.choice([{}, None, {"b": 1, "a": [1, 2.5, {"z": None, "y": _text(rng)}], _text(rng): 3}])
        legs = [(rng.randint(1, 9), rng.randint(1, 9), rng.randint(1, 10**12)) for _ in range(rng.randint(1, 4))]
        offset = datetime.timezone(datetime.timedelta(hours=rng.randint(-12, 12)))
        created = datetime.datetime(2026, 1, 1, tzinfo=offset) + datetime.timedelta(microseconds=rng.randint(0, 10**13))
        fields = {"chain_seq": rng.randint(1, 10**9), "county_id": rng.randint(1, 99), "key": _text(rng),
                  "kind": _text(rng), "debit_account_id": rng.randint(1, 10**6),
                  "credit_account_id": rng.randint(1, 10**6), "amount": rng.randint(1, 10**9), "budget_id": None,
                  "hold_id": None, "reverses_id": None, "memo": _text(rng), "metadata": metadata,
                  "actor_label": _text(rng), "created_at": created}  # fmt: skip
        text = chain.head(
            county_id=fields["county_id"], key=fields["key"], kind=fields["kind"],
            debit_id=fields["debit_account_id"], credit_id=fields["credit_account_id"], amount=fields["amount"],
            memo=fields["memo"], metadata=chain.metadata_text(metadata), actor_label=fields["actor_label"],
            created_at=chain.created_at_text(created), legs=legs,
        )  # fmt: skip
        assert text + str(fields["chain_seq"]) + "}" == chain.canonical(fields, legs)
        assert "\x1f" not in text  # the separator of the chain texts sent to PostgreSQL


def _fund(world: World, account: Any, amount: int, period: Any = None) -> None:
    ledger.issue(key=f"fund:{account.pk}:{amount}", budget=world.budget, credit=account, amount=amount,
                 period=period or world.period, reason="test funding")  # fmt: skip


@pytest.mark.django_db(transaction=True)
def test_odd_strings_new_lots_and_several_lots_keep_the_chain_exact(org: Any) -> None:
    world = make_world(org.unit("prevention"))
    rng = random.Random(13)
    a, b, c = (ledger.wallet_of(make_citizen(world.county)) for _ in range(3))
    store = ledger.store_payable(world.county, ref="hotpath-store")
    _fund(world, a, 5, world.early)
    _fund(world, a, 20)
    requests = [
        # 7 coins from a: 5 of the early lot first, then 2 of the late one; c gets two new lots.
        R(key='odd "key" \\ é\x1f', debit=a, credit=c, amount=7, kind='k"\x1f', memo=_text(rng, nul=False),
          metadata={"note": "中文 \"quoted\" \x1f", "n": [1, 2.5, None], "é": {"z": 1, "a": True}}),
        R(key="plain", debit=a, credit=b, amount=3, kind="gift", actor="someone \u2028"),
        R(key="too-much", debit=b, credit=c, amount=4, kind="gift"),  # b has 3 (from "plain")
        R(key="to-store", debit=c, credit=store, amount=6, kind="spend"),  # c's early lot first
    ]  # fmt: skip
    results = ledger.transfer_batch(requests)
    assert [type(r).__name__ for r in results] == ["TransferResult", "TransferResult", "InsufficientFunds",
                                                    "TransferResult"]  # fmt: skip
    first = Transfer.objects.get(key=requests[0].key)
    assert first.memo == requests[0].memo and first.kind == requests[0].kind
    assert first.metadata == requests[0].metadata
    legs = sorted(TransferLeg.objects.filter(transfer=first).values_list("period_id", "amount"))
    assert legs == sorted([(world.early.pk, 5), (world.period.pk, 2)])
    store_legs = list(
        TransferLeg.objects.filter(transfer__key="to-store")
        .order_by("period__expires_at")
        .values_list("period_id", "amount")
    )
    assert store_legs == [(world.early.pk, 5), (world.period.pk, 1)]
    assert [ledger.balance(x) for x in (a, b, c, store)] == [15, 3, 1, 6]
    assert not LedgerKey.objects.filter(key="too-much").exists()
    assert verify() == []  # the hashes computed by PostgreSQL are the ones Python recomputes
    # A replay of the whole batch: every committed key answers with its first result.
    again = ledger.transfer_batch(requests)
    assert [getattr(r, "replayed", None) for r in again] == [True, True, None, True]
    assert [getattr(r, "transfer_id", None) for r in again] == [getattr(r, "transfer_id", None) for r in results]


@pytest.mark.django_db(transaction=True)
def test_a_failed_write_leaves_nothing_and_the_connection_usable(org: Any, monkeypatch: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the raw-SQL path is PostgreSQL's")
    from civicpush.coins import pg_transfers

    world = make_world(org.unit("prevention"))
    a, b = (ledger.wallet_of(make_citizen(world.county)) for _ in range(2))
    _fund(world, a, 10)
    before = (Transfer.objects.count(), LedgerKey.objects.count(), ChainHead.objects.get().seq)
    monkeypatch.setattr(pg_transfers, "WRITE", "SELECT 1 / (0 * length(%(transfers)s))")
    with pytest.raises(Exception, match="division by zero"):
        ledger.transfer(key="fails", debit=a, credit=b, amount=4, kind="gift")
    monkeypatch.undo()
    assert (Transfer.objects.count(), LedgerKey.objects.count(), ChainHead.objects.get().seq) == before
    assert [ledger.balance(a), ledger.balance(b)] == [10, 0]
    assert ledger.transfer(key="works", debit=a, credit=b, amount=4, kind="gift").amount == 4
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")  # early lock release stayed inside the ledger's transaction
        assert cursor.fetchone()[0] == "on"  # type: ignore[index]
    assert [ledger.balance(a), ledger.balance(b)] == [6, 4] and verify() == []


@pytest.mark.django_db(transaction=True)
def test_the_first_chained_transfer_of_a_county_creates_its_chain_head(org: Any, settings: Any) -> None:
    world = make_world(org.unit("prevention"))
    a, b = (ledger.wallet_of(make_citizen(world.county)) for _ in range(2))
    settings.COINS_HASH_CHAIN = False
    _fund(world, a, 10)  # unchained: no chain head yet
    assert not ChainHead.objects.filter(county=world.county).exists()
    settings.COINS_HASH_CHAIN = True
    ledger.transfer_batch([R(key="c1", debit=a, credit=b, amount=2, kind="gift"),
                           R(key="c2", debit=b, credit=a, amount=1, kind="gift")])  # fmt: skip
    head = ChainHead.objects.get(county=world.county)
    rows = list(Transfer.objects.filter(key__in=["c1", "c2"]).order_by("chain_seq"))
    assert [t.chain_seq for t in rows] == [1, 2] and head.seq == 2 and head.hash == rows[1].hash
    assert rows[0].prev_hash == chain.GENESIS and rows[1].prev_hash == rows[0].hash
    for t in rows:
        legs = list(TransferLeg.objects.filter(transfer=t).values_list("period_id", "budget_id", "amount"))
        fields = {f: getattr(t, f) for f in ("chain_seq", "county_id", "key", "kind", "debit_account_id",
                                             "credit_account_id", "amount", "budget_id", "hold_id", "reverses_id",
                                             "memo", "metadata", "actor_label", "created_at")}  # fmt: skip
        assert chain.link(t.prev_hash, fields, legs) == t.hash


@pytest.mark.django_db(transaction=True)
def test_the_batcher_answers_each_caller_through_transfer_and_submit(org: Any) -> None:
    import threading

    world = make_world(org.unit("disaster"))
    pool = ledger.reward_pool(world.county, ref="push:hotpath", unit=world.unit)
    wallets = [ledger.wallet_of(make_citizen(world.county)) for _ in range(10)]
    _fund(world, pool, 45)
    batcher = ledger.TransferBatcher(flushers=3).start()
    answers: dict[int, Any] = {}

    def pay(i: int) -> None:
        try:
            answers[i] = batcher.transfer(R(key=f"hp{i}", debit=pool, credit=wallets[i], amount=5, kind="reward"))
        except InsufficientFunds as exc:
            answers[i] = exc

    try:
        threads = [threading.Thread(target=pay, args=(i,)) for i in range(10)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        replay = batcher.submit(R(key="hp0", debit=pool, credit=wallets[0], amount=5, kind="reward")).result(30)
    finally:
        batcher.stop()
    paid = [i for i, r in answers.items() if isinstance(r, ledger.TransferResult)]
    assert len(answers) == 10 and len(paid) == 9
    assert sum(isinstance(r, InsufficientFunds) for r in answers.values()) == 1
    assert len({answers[i].transfer_id for i in paid}) == 9
    if 0 in paid:
        assert replay.replayed and replay.transfer_id == answers[0].transfer_id
    assert ledger.balance(pool) == 0 and batcher.items == 11 and verify() == []
