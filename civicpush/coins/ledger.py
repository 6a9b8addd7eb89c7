"""The one way coins move (issue 5). Public names are the lead's contract (coins/CONTRACT.md).

How every operation runs (`_apply`): a batch of one or more operations is applied in ONE database
transaction, each operation with its own result, in these steps:

1. Idempotency: keys already recorded in `LedgerKey` are answered from the record (same body →
   the first result with `replayed=True`; different body → `IdempotencyConflict`) and do nothing.
2. Locks, always in this order, each group by ascending id: accounts (`SELECT … FOR NO KEY UPDATE`:
   not FOR UPDATE, which would also block every insert whose foreign key points at the row; the
   issuing account is never locked — it may go negative, so nothing is read from it, and locking it
   would serialise all issuing county-wide), budgets, holds; then the lot rows are upserted in
   (account, period, budget) order; the county's chain head is locked last. One global order means
   no deadlock cycles; should PostgreSQL still report a deadlock or serialization failure (or a
   concurrent first use of the same key), the whole attempt is rolled back and retried.
3. The batch is simulated in memory over the locked balances, operation by operation, so a refused
   operation (not enough coins, budget exhausted, hold not open …) has no effect and does not
   disturb the others (TigerBeetle's per-event results without savepoints).
4. The effects are written set-wise: keys, balance deltas (`balance = balance + n`, aggregated per
   lot), budget counters, holds, transfers and legs, chain.

The database is the backstop for the rules the simulation enforces: CHECKs refuse a negative
balance (except on the issuing account), holds above the balance, and issuing above the reserved
budget; keys are unique; transfers and legs are append-only.

Batching (`transfer_batch`, `TransferBatcher`) is what makes the ledger fast: one commit, one chain
lock and one update per touched lot for many transfers, as TigerBeetle batches events. On
PostgreSQL, batches of plain transfers take the raw-SQL path in `pg_transfers` (two round trips, the
hash chain computed under the chain head's lock inside the writing statement).

A refused operation records nothing: retrying its key later may succeed (unlike TigerBeetle's
`id_already_failed`); a retry of a *successful* key never applies twice.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import json.encoder
import random
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Sequence
from concurrent.futures import Future, InvalidStateError
from dataclasses import dataclass, field
from typing import Any

from django.db import DatabaseError, IntegrityError, OperationalError, connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicpush.core.errors import DomainError, NotFound, ValidationFailed

from . import chain
from .errors import (
    AlreadyReversed,
    BudgetExceeded,
    HoldNotOpen,
    IdempotencyConflict,
    InsufficientFunds,
    IssueDeadlinePassed,
)
from .models import (
    Account,
    AccountKind,
    Balance,
    Budget,
    BudgetStatus,
    ChainHead,
    ExpiryPeriod,
    Hold,
    HoldLeg,
    HoldStatus,
    LedgerKey,
    Transfer,
    TransferLeg,
)

__all__ = [
    "AccountKind",
    "HoldResult",
    "TransferBatcher",
    "TransferRequest",
    "TransferResult",
    "available",
    "balance",
    "balance_by_period",
    "county_pool",
    "expire_holds",
    "expire_period_coins",
    "expired_account",
    "hold",
    "issue",
    "issuing_account",
    "parking_clearing",
    "post_hold",
    "reverse",
    "reward_pool",
    "store_payable",
    "transfer",
    "transfer_batch",
    "unit_budget_account",
    "void_hold",
    "wallet_of",
]

MAX_ATTEMPTS = 12
RETRYABLE_SQLSTATES = {"40001", "40P01", "23505", "55P03"}


# --- accounts -------------------------------------------------------------------------------------


def _county_id(county: Any) -> int:
    return int(county if isinstance(county, int) else county.pk)


def _account(county: Any, kind: str, ref: str = "", **extra: Any) -> Account:
    county_id = _county_id(county)
    found = Account.objects.filter(county_id=county_id, kind=kind, ref=ref).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Account.objects.create(
                county_id=county_id, kind=kind, ref=ref, may_go_negative=(kind == AccountKind.ISSUING), **extra
            )
    except IntegrityError:
        return Account.objects.get(county_id=county_id, kind=kind, ref=ref)


def issuing_account(county: Any) -> Account:
    """The county's issuing account: the only one allowed below zero (minus the coins in circulation)."""
    return _account(county, AccountKind.ISSUING)


def county_pool(county: Any) -> Account:
    return _account(county, AccountKind.COUNTY_POOL)


def unit_budget_account(budget: Budget) -> Account:
    """One account per Budget (unit × year)."""
    return _account(
        budget.county_id, AccountKind.UNIT_BUDGET, f"budget:{budget.pk}", budget=budget, unit_id=budget.unit_id
    )


def reward_pool(county: Any, *, ref: str, unit: Any = None) -> Account:
    """A reward pool per push or campaign, e.g. ref="push:123" or "campaign:cny-2027"."""
    return _account(county, AccountKind.REWARD_POOL, ref, unit=unit)


def wallet_of(citizen: Any) -> Account:
    return _account(citizen.county_id, AccountKind.WALLET, f"citizen:{citizen.pk}", citizen=citizen)


def store_payable(county: Any, *, ref: str) -> Account:
    return _account(county, AccountKind.STORE_PAYABLE, ref)


def parking_clearing(county: Any) -> Account:
    return _account(county, AccountKind.PARKING_CLEARING)


def expired_account(county: Any) -> Account:
    return _account(county, AccountKind.EXPIRED)


# --- results and requests ---------------------------------------------------------------------------


@dataclass(frozen=True)
class TransferResult:
    transfer_id: int
    key: str
    amount: int
    debit_account_id: int
    credit_account_id: int
    created_at: datetime.datetime
    replayed: bool  # True when the key had already been used with the same body


@dataclass(frozen=True)
class HoldResult:
    hold_id: int
    key: str
    amount: int
    debit_account_id: int
    credit_account_id: int
    expires_at: datetime.datetime
    created_at: datetime.datetime
    replayed: bool


@dataclass
class TransferRequest:
    """One transfer for `transfer_batch` (the same arguments as `transfer`)."""

    key: str
    debit: Account
    credit: Account
    amount: int
    kind: str
    memo: str = ""
    actor: Any = None
    metadata: dict[str, Any] | None = None


@dataclass
class _Op:
    op: str  # transfer | issue | hold | post | void | reverse | expire
    key: str
    county_id: int = 0
    debit_id: int = 0
    credit_id: int = 0
    amount: int | None = None
    kind: str = ""
    memo: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    actor_label: str = ""
    budget_id: int | None = None
    period_id: int | None = None
    expires_at: datetime.datetime | None = None
    hold_id: int | None = None
    transfer_id: int | None = None
    lot: tuple[int, int] | None = None  # expire: the one lot (period, budget) to empty
    void_status: str = HoldStatus.VOIDED
    fingerprint: str = ""

    def seal(self) -> _Op:
        if (
            self.op == "transfer"
            and type(self.amount) is int
            and type(self.debit_id) is int
            and type(self.credit_id) is int
            and self.budget_id is None
            and self.period_id is None
            and self.expires_at is None
            and self.hold_id is None
            and self.transfer_id is None
            and self.lot is None
        ):
            # The hot path (a plain transfer): the same text as below, without building and sorting a dict.
            meta = _dumps(self.metadata) if self.metadata else "{}"
            text = (
                f'{{"amount":{self.amount},"budget":null,"credit":{self.credit_id},"debit":{self.debit_id},'
                f'"expires_at":null,"hold":null,"kind":{_encode_str(self.kind)},"lot":null,'
                f'"memo":{_encode_str(self.memo)},"metadata":{meta},"op":"transfer","period":null,"transfer":null}}'
            )
            self.fingerprint = hashlib.sha256(text.encode()).hexdigest()
            return self
        return self._seal_generic()

    def _seal_generic(self) -> _Op:
        body = {
            "op": self.op,
            "debit": self.debit_id,
            "credit": self.credit_id,
            "amount": self.amount,
            "kind": self.kind,
            "memo": self.memo,
            "metadata": self.metadata,
            "budget": self.budget_id,
            "period": self.period_id,
            "expires_at": self.expires_at.astimezone(datetime.UTC).isoformat() if self.expires_at else None,
            "hold": self.hold_id,
            "transfer": self.transfer_id,
            "lot": list(self.lot) if self.lot else None,
        }
        self.fingerprint = hashlib.sha256(_dumps(body).encode()).hexdigest()
        return self


def _dumps(value: Any) -> str:
    """The canonical JSON of request fingerprints."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


_encode_str = json.encoder.encode_basestring  # how json.dumps(ensure_ascii=False) writes a str


def _actor_label(actor: Any) -> str:
    if actor is None:
        return "system"
    if hasattr(actor, "get_username"):
        return str(actor.get_username())[:200]
    return str(actor)[:200]


def _check_key(key: str) -> str:
    if not isinstance(key, str) or not key.strip() or len(key) > 200:
        raise ValidationFailed(_("An idempotency key of 1 to 200 characters is required."), code="invalid_key")
    return key


def _check_amount(amount: Any, *, optional: bool = False) -> int | None:
    if amount is None and optional:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValidationFailed(_("The amount must be a whole number of coins above zero."), code="invalid_amount")
    return amount


def _transfer_op(
    *, key: str, debit: Account, credit: Account, amount: int, kind: str, memo: str, actor: Any, metadata: Any
) -> _Op:
    _check_key(key)
    _check_amount(amount)
    if debit.pk == credit.pk:
        raise ValidationFailed(_("A transfer needs two different accounts."), code="same_account")
    if debit.county_id != credit.county_id:
        raise ValidationFailed(_("Coins cannot move between counties yet."), code="cross_county")
    if debit.kind == AccountKind.ISSUING or credit.kind == AccountKind.ISSUING:
        # New coins come only through `issue` (budget-checked); coins return only by `reverse`.
        raise ValidationFailed(_("Use issue or reverse for the issuing account."), code="issuing_account")
    return _Op(
        op="transfer",
        key=key,
        county_id=debit.county_id,
        debit_id=debit.pk,
        credit_id=credit.pk,
        amount=amount,
        kind=str(kind)[:40],
        memo=str(memo)[:300],
        metadata=dict(metadata or {}),
        actor_label=_actor_label(actor),
    ).seal()


# --- public operations ------------------------------------------------------------------------------


def _one(op: _Op) -> Any:
    result = _apply([op])[0]
    if isinstance(result, DomainError):
        raise result
    return result


def transfer(
    *,
    key: str,
    debit: Account,
    credit: Account,
    amount: int,
    kind: str,
    memo: str = "",
    actor: Any = None,
    metadata: dict[str, Any] | None = None,
) -> TransferResult:
    """Move `amount` whole coins from `debit` to `credit`, earliest-expiring coins first, in one
    transaction. Same key + same body → the first result (replayed=True); different body →
    IdempotencyConflict; not enough available coins → InsufficientFunds."""
    return _one(
        _transfer_op(
            key=key, debit=debit, credit=credit, amount=amount, kind=kind, memo=memo, actor=actor, metadata=metadata
        )
    )


def transfer_batch(requests: Sequence[TransferRequest]) -> list[TransferResult | DomainError]:
    """Apply many transfers in one transaction (one commit); each gets its own result or error.

    A refused transfer changes nothing and does not affect the others. Invalid requests (bad amount,
    same account …) get their ValidationFailed in place."""
    return _transfer_batch(requests, wait_durable=True)


def _transfer_batch(requests: Sequence[TransferRequest], *, wait_durable: bool) -> list[TransferResult | DomainError]:
    results: list[TransferResult | DomainError | None] = [None] * len(requests)
    ops: list[_Op] = []
    where: list[int] = []
    for i, r in enumerate(requests):
        try:
            ops.append(
                _transfer_op(
                    key=r.key,
                    debit=r.debit,
                    credit=r.credit,
                    amount=r.amount,
                    kind=r.kind,
                    memo=r.memo,
                    actor=r.actor,
                    metadata=r.metadata,
                )
            )
            where.append(i)
        except DomainError as exc:
            results[i] = exc
    if ops:
        for i, res in zip(where, _apply(ops, wait_durable=wait_durable), strict=True):
            results[i] = res
    return results  # type: ignore[return-value]


def issue(
    *,
    key: str,
    budget: Budget,
    credit: Account,
    amount: int,
    period: ExpiryPeriod,
    reason: str,
    actor: Any = None,
    metadata: dict[str, Any] | None = None,
) -> TransferResult:
    """New coins from the county's issuing account, paid from `budget`, expiring with `period`.

    Refused beyond the budget's reserved amount (checked under the budget's row lock and by a DB
    CHECK), when the budget is not reserved, after its issue deadline (unless an extension covers
    today), or into a period that has already expired."""
    _check_key(key)
    _check_amount(amount)
    if budget.county_id != credit.county_id or period.county_id != credit.county_id:
        raise ValidationFailed(_("Coins cannot move between counties yet."), code="cross_county")
    if credit.kind in (AccountKind.ISSUING, AccountKind.EXPIRED):
        raise ValidationFailed(_("Coins cannot be issued to this account."), code="invalid_account")
    issuing = issuing_account(credit.county_id)
    return _one(
        _Op(
            op="issue",
            key=key,
            county_id=credit.county_id,
            debit_id=issuing.pk,
            credit_id=credit.pk,
            amount=amount,
            kind="issue",
            memo=str(reason)[:300],
            metadata=dict(metadata or {}),
            actor_label=_actor_label(actor),
            budget_id=budget.pk,
            period_id=period.pk,
        ).seal()
    )


def hold(
    *,
    key: str,
    debit: Account,
    credit: Account,
    amount: int,
    kind: str,
    expires_at: datetime.datetime,
    memo: str = "",
    actor: Any = None,
    metadata: dict[str, Any] | None = None,
) -> HoldResult:
    """Reserve `amount` on `debit` (earliest-expiring coins first) for a later post to `credit`."""
    op = _transfer_op(
        key=key, debit=debit, credit=credit, amount=amount, kind=kind, memo=memo, actor=actor, metadata=metadata
    )
    op.op = "hold"
    op.expires_at = expires_at
    return _one(op.seal())


def post_hold(*, key: str, hold_id: int, amount: int | None = None, actor: Any = None) -> TransferResult:
    """Turn an open hold into a transfer of `amount` (default: all of it); the rest is released."""
    _check_key(key)
    _check_amount(amount, optional=True)
    return _one(_Op(op="post", key=key, hold_id=int(hold_id), amount=amount, actor_label=_actor_label(actor)).seal())


def void_hold(*, key: str, hold_id: int, actor: Any = None) -> None:
    """Release an open hold; nothing moves."""
    _check_key(key)
    _one(_Op(op="void", key=key, hold_id=int(hold_id), actor_label=_actor_label(actor)).seal())


def expire_holds(now: datetime.datetime | None = None) -> int:
    """Close every open hold past its `expires_at` (status `expired`); returns how many."""
    now = now or timezone.now()
    done = 0
    while True:
        ids = list(
            Hold.objects.filter(status=HoldStatus.OPEN, expires_at__lte=now)
            .order_by("id")
            .values_list("id", flat=True)[:200]
        )
        if not ids:
            return done
        ops = [
            _Op(
                op="void", key=f"hold-expired:{i}", hold_id=i, void_status=HoldStatus.EXPIRED, actor_label="system"
            ).seal()
            for i in ids
        ]
        results = _apply(ops, now=now)
        done += sum(1 for r in results if not isinstance(r, DomainError))
        if len(ids) < 200:
            return done


def reverse(*, key: str, transfer_id: int, reason: str, actor: Any = None) -> TransferResult:
    """The only correction: an opposite transfer over the same lots, referencing the original.
    A transfer can be reversed once; a reversal cannot itself be reversed. Reversing an issue
    returns the coins to its budget."""
    _check_key(key)
    return _one(
        _Op(
            op="reverse", key=key, transfer_id=int(transfer_id), memo=str(reason)[:300], actor_label=_actor_label(actor)
        ).seal()
    )


def balance(account: Account) -> int:
    """Posted balance (negative only for the issuing account)."""
    return int(sum(Balance.objects.filter(account=account).values_list("balance", flat=True)))


def available(account: Account, now: datetime.datetime | None = None) -> int:
    """What can be spent now: the posted balance of unexpired lots minus open holds on them."""
    now = now or timezone.now()
    rows = Balance.objects.filter(account=account, expires_at__gt=now).values_list("balance", "held")
    return int(sum(b - h for b, h in rows))


def balance_by_period(account: Account) -> list[tuple[ExpiryPeriod, int]]:
    """Posted balance per expiry period, earliest expiry first (periods with coins only)."""
    totals: dict[int, int] = defaultdict(int)
    for period_id, amount in Balance.objects.filter(account=account).values_list("period_id", "balance"):
        totals[period_id] += amount
    periods = ExpiryPeriod.objects.filter(pk__in=[p for p, a in totals.items() if a]).order_by("expires_at", "id")
    return [(p, totals[p.pk]) for p in periods]


def expire_period_coins(now: datetime.datetime | None = None) -> int:
    """Nightly sweep: move every coin of an expired period (not held) to the county's expired
    account, one transfer per lot. Returns the number of coins moved."""
    now = now or timezone.now()
    moved = 0
    stamp = now.astimezone(datetime.UTC).strftime("%Y%m%dT%H%M%S%f")
    last_id = 0
    while True:
        lots = list(
            Balance.objects.filter(id__gt=last_id, expires_at__lte=now, may_go_negative=False, balance__gt=0)
            .exclude(account__kind__in=[AccountKind.EXPIRED, *NON_EXPIRING_KINDS])
            .order_by("id")
            .values_list("id", "account_id", "account__county_id", "period_id", "budget_id")[:200]
        )
        if not lots:
            return moved
        last_id = lots[-1][0]
        ops = []
        for _lot_id, account_id, county_id, period_id, budget_id in lots:
            target = expired_account(county_id)
            ops.append(
                _Op(
                    op="expire",
                    key=f"expire:{account_id}:{period_id}:{budget_id}:{stamp}",
                    county_id=county_id,
                    debit_id=account_id,
                    credit_id=target.pk,
                    kind="expire",
                    memo="period expired",
                    actor_label="system",
                    lot=(period_id, budget_id),
                ).seal()
            )
        for result in _apply(ops, now=now):
            if isinstance(result, TransferResult) and not result.replayed:
                moved += result.amount


# --- the engine -------------------------------------------------------------------------------------


class _Retry(Exception):
    pass


def _retryable(exc: BaseException) -> bool:
    if isinstance(exc, _Retry):
        return True
    cause = exc.__cause__
    sqlstate = getattr(cause, "sqlstate", None) or getattr(cause, "pgcode", None)
    if sqlstate:
        return sqlstate in RETRYABLE_SQLSTATES
    text = str(exc)
    return "UNIQUE constraint failed" in text or "database is locked" in text


def _apply(ops: list[_Op], now: datetime.datetime | None = None, *, wait_durable: bool = True) -> list[Any]:
    """Apply `ops` in one transaction (a savepoint when the caller is already in one), retrying
    the whole attempt on deadlock, serialization failure or a concurrent first use of a key.

    Early lock release (PostgreSQL, when this is the outermost transaction): the transaction commits
    without waiting for its WAL to reach the disk (`synchronous_commit = off` for it alone), so the
    account locks and the county's chain head — which serialise every writer — are free again at
    once instead of after an fsync (about 3 ms here); then a durability barrier (a tiny synchronous
    commit, see `_wait_durable`) waits until the WAL up to that commit is on disk, and only then is
    the result returned. No caller ever hears of a transfer that a crash could still undo; a crash
    loses a suffix of the WAL, so a later transaction that saw this one is lost with it. Inside a
    caller's transaction nothing changes: the caller's own commit is synchronous as usual.
    Plain transfers (the hot path) go to `pg_transfers` in a transaction of their own, whose write,
    COMMIT and barrier travel in one round trip. `wait_durable=False` leaves the barrier to the
    caller: it must call `_wait_durable()` (on any connection) before handing out the results."""
    release_early = connection.vendor == "postgresql" and not connection.in_atomic_block
    if release_early and ops and all(op.op == "transfer" for op in ops):
        # Plain transfers (the hot path): raw SQL in a transaction of its own, two round trips.
        fast = _apply_transfers_committed(ops, now, durable=wait_durable)  # the barrier included
        if fast is not None:
            return fast
    for attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                results = _apply_once(ops, now or timezone.now(), release_early)
            if release_early and wait_durable:
                _wait_durable()
            return results
        except (_Retry, IntegrityError, OperationalError, DatabaseError) as exc:
            if attempt == MAX_ATTEMPTS - 1 or not _retryable(exc):
                raise
            time.sleep(random.uniform(0, 0.002 * (2 ** min(attempt, 6))))
    raise AssertionError("unreachable")


def _dedupe(ops: list[_Op]) -> tuple[list[Any], list[bool], dict[int, int], dict[str, int]]:
    """A key repeated inside one batch: same body → answered with its first occurrence's result
    (`dup_of`); another body → IdempotencyConflict."""
    results: list[Any] = [None] * len(ops)
    settled = [False] * len(ops)
    dup_of: dict[int, int] = {}
    first_by_key: dict[str, int] = {}
    for i, op in enumerate(ops):
        j = first_by_key.get(op.key)
        if j is None:
            first_by_key[op.key] = i
        elif ops[j].fingerprint != op.fingerprint:
            results[i], settled[i] = IdempotencyConflict(), True
        else:
            dup_of[i] = j
    return results, settled, dup_of, first_by_key


def _apply_transfers_committed(ops: list[_Op], now: datetime.datetime | None, *, durable: bool) -> list[Any] | None:
    """Plain transfers of one county on PostgreSQL, outside any transaction: `pg_transfers` in a
    transaction of its own (early lock release, the commit pipelined with the write), retried like
    `_apply`. None when the generic engine must answer (a key already recorded, an account that may
    go negative, several counties): nothing was written."""
    from .pg_transfers import apply_transfers_committed

    results, settled, dup_of, _first = _dedupe(ops)
    fresh = [i for i in range(len(ops)) if not settled[i] and i not in dup_of]
    if not fresh or len({ops[i].county_id for i in fresh}) != 1:
        return None
    for attempt in range(MAX_ATTEMPTS):
        try:
            if not apply_transfers_committed(ops, fresh, results, now or timezone.now(), durable=durable):
                return None
            return _replay_duplicates(results, dup_of)
        except (IntegrityError, OperationalError, DatabaseError) as exc:
            if attempt == MAX_ATTEMPTS - 1 or not _retryable(exc):
                raise
            time.sleep(random.uniform(0, 0.002 * (2 ** min(attempt, 6))))
    raise AssertionError("unreachable")


def _wait_durable() -> None:
    """Return once everything committed so far (by any session, so also what this one has read) is
    on disk: a one-statement transaction that writes WAL (a transactional logical message: it takes
    a transaction id and logs a record; no table, no row lock) and, with synchronous_commit on (the
    server's setting, untouched), waits at its commit until the WAL up to its commit record — which
    covers every earlier commit — is flushed. Concurrent barriers share one flush (group commit).
    (A transaction that writes no WAL, e.g. `SELECT pg_current_xact_id()`, commits without a flush.)"""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_logical_emit_message(true, 'civicpush.coins', 'durable')")


@dataclass
class _Lot:
    balance: int
    held: int
    expires_at: datetime.datetime


# Coins owed onwards do not expire where they wait: a store's payable (paid out at the monthly
# settlement) and parking clearing (paid to the operator). The nightly sweep skips them and their
# lots stay spendable after their period's date.
NON_EXPIRING_KINDS = frozenset({AccountKind.STORE_PAYABLE, AccountKind.PARKING_CLEARING})
_account_kinds: dict[int, str] = {}  # account id → kind (an account's kind never changes)


def coins_expire_in(account_id: int) -> bool:
    kind = _account_kinds.get(account_id)
    if kind is None:
        kind = _account_kinds[account_id] = Account.objects.values_list("kind", flat=True).get(pk=account_id)
    return kind not in NON_EXPIRING_KINDS


def _spendable(
    lots: dict[tuple[int, int], _Lot], now: datetime.datetime, *, expiring: bool = True
) -> list[tuple[tuple[int, int], _Lot]]:
    """Unexpired lots with available coins, earliest expiry first (then period, then budget id)."""
    usable = [
        (k, lot) for k, lot in lots.items() if (lot.expires_at > now or not expiring) and lot.balance - lot.held > 0
    ]
    usable.sort(key=lambda kv: (kv[1].expires_at, kv[0]))
    return usable


def _take(
    lots: dict[tuple[int, int], _Lot], amount: int, now: datetime.datetime, *, expiring: bool = True
) -> list[tuple[int, int, int]] | None:
    taken: list[tuple[int, int, int]] = []
    left = amount
    for (period_id, budget_id), lot in _spendable(lots, now, expiring=expiring):
        use = min(left, lot.balance - lot.held)
        taken.append((period_id, budget_id, use))
        left -= use
        if not left:
            return taken
    return None


def _replay(rec: LedgerKey) -> Any:
    if rec.operation == "void":
        return None
    if rec.operation == "hold":
        h = Hold.objects.get(key=rec.key)
        return HoldResult(
            h.pk, h.key, h.amount, h.debit_account_id, h.credit_account_id, h.expires_at, h.created_at, True
        )
    t = Transfer.objects.get(key=rec.key)
    return TransferResult(t.pk, t.key, t.amount, t.debit_account_id, t.credit_account_id, t.created_at, True)


def _apply_once(ops: list[_Op], now: datetime.datetime, release_early: bool = False) -> list[Any]:
    n = len(ops)
    results, settled, dup_of, first_by_key = _dedupe(ops)
    if connection.vendor == "postgresql" and not release_early and all(op.op == "transfer" for op in ops):
        # Plain transfers of one county inside the caller's transaction: raw SQL, two round trips.
        # (Outside one, `_apply` already tried `_apply_transfers_committed`.)
        from .pg_transfers import apply_transfers

        fresh = [i for i in range(n) if not settled[i] and i not in dup_of]
        if fresh and len({ops[i].county_id for i in fresh}) == 1 and apply_transfers(ops, fresh, results, now):
            return _replay_duplicates(results, dup_of)
    if release_early:
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO off")
    for rec in LedgerKey.objects.filter(key__in=list(first_by_key)):
        i = first_by_key[rec.key]
        results[i] = _replay(rec) if rec.fingerprint == ops[i].fingerprint else IdempotencyConflict()
        settled[i] = True
    pending = [i for i in range(n) if not settled[i] and i not in dup_of]

    # References (unlocked read; re-read under lock below).
    hold_ids = {ops[i].hold_id or 0 for i in pending if ops[i].op in ("post", "void")}
    holds = {h.pk: h for h in Hold.objects.filter(pk__in=hold_ids)} if hold_ids else {}
    orig_ids = {ops[i].transfer_id or 0 for i in pending if ops[i].op == "reverse"}
    originals: dict[int, Transfer] = {}
    orig_legs: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    if orig_ids:
        originals = {t.pk: t for t in Transfer.objects.filter(pk__in=orig_ids)}
        for tid, p, b, a in TransferLeg.objects.filter(transfer_id__in=orig_ids).values_list(
            "transfer_id", "period_id", "budget_id", "amount"
        ):
            orig_legs[tid].append((p, b, a))
    live: list[int] = []
    for i in pending:
        op = ops[i]
        if op.op in ("post", "void"):
            h = holds.get(op.hold_id or 0)
            if h is None:
                results[i] = NotFound()
                continue
            op.county_id, op.debit_id, op.credit_id = h.county_id, h.debit_account_id, h.credit_account_id
        elif op.op == "reverse":
            t = originals.get(op.transfer_id or 0)
            if t is None:
                results[i] = NotFound()
                continue
            op.county_id, op.debit_id, op.credit_id = t.county_id, t.credit_account_id, t.debit_account_id
        live.append(i)

    # Locks: accounts (never the issuing account), budgets, holds — each ascending.
    account_ids = {ops[i].debit_id for i in live} | {ops[i].credit_id for i in live}
    locked = (
        Account.objects.select_for_update(no_key=True)
        .filter(pk__in=account_ids, may_go_negative=False)
        .order_by("pk")
        .values_list("pk", "kind")
    )
    info: dict[int, tuple[bool, str]] = {a: (True, AccountKind.ISSUING) for a in account_ids}
    info.update({a: (False, kind) for a, kind in locked})
    lock_ids = sorted(a for a, (neg, _k) in info.items() if not neg)
    budget_ids = {ops[i].budget_id or 0 for i in live if ops[i].op == "issue"}
    for i in live:
        if ops[i].op == "reverse" and originals[ops[i].transfer_id or 0].budget_id is not None:
            budget_ids.add(int(originals[ops[i].transfer_id or 0].budget_id))  # type: ignore[arg-type]
    budgets: dict[int, Budget] = {}
    if budget_ids:
        budgets = {
            b.pk: b for b in Budget.objects.select_for_update(no_key=True).filter(pk__in=budget_ids).order_by("pk")
        }
    hold_legs: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    if hold_ids:
        holds = {h.pk: h for h in Hold.objects.select_for_update(no_key=True).filter(pk__in=hold_ids).order_by("pk")}
        for hid, p, b, a in (
            HoldLeg.objects.filter(hold_id__in=hold_ids)
            .order_by("id")
            .values_list("hold_id", "period_id", "budget_id", "amount")
        ):
            hold_legs[hid].append((p, b, a))
    periods: dict[int, ExpiryPeriod] = {}
    period_ids = {ops[i].period_id or 0 for i in live if ops[i].op == "issue"}
    if period_ids:
        periods = {p.pk: p for p in ExpiryPeriod.objects.filter(pk__in=period_ids)}
    reversed_ids: set[int] = set()
    if orig_ids:
        reversed_ids = set(Transfer.objects.filter(reverses_id__in=orig_ids).values_list("reverses_id", flat=True))

    # Locked balances, in memory.
    state: dict[int, dict[tuple[int, int], _Lot]] = {acc: {} for acc in lock_ids}
    for acc, p, b, bal, held, exp in Balance.objects.filter(account_id__in=lock_ids).values_list(
        "account_id", "period_id", "budget_id", "balance", "held", "expires_at"
    ):
        state[acc][(p, b)] = _Lot(bal, held, exp)
    lot_expiry: dict[tuple[int, int], datetime.datetime] = {}
    existing: set[tuple[int, int, int]] = set()
    for acc, lots in state.items():
        for k, lot in lots.items():
            lot_expiry[k] = lot.expires_at
            existing.add((acc, *k))

    deltas: dict[tuple[int, int, int], list[int]] = defaultdict(lambda: [0, 0])  # (acc, p, b) → [Δbalance, Δheld]
    budget_delta: dict[int, int] = defaultdict(int)
    new_transfers: list[tuple[int, dict[str, Any], list[tuple[int, int, int]]]] = []
    new_holds: list[tuple[int, Hold, list[tuple[int, int, int]]]] = []
    closed_holds: list[tuple[int, Hold, int | None]] = []  # (op index of the post or -1, hold, posting transfer idx)
    keyed: list[int] = []

    def credit(acc: int, p: int, b: int, amount: int) -> None:
        deltas[(acc, p, b)][0] += amount
        if acc in state:
            lot = state[acc].get((p, b))
            if lot is None:
                state[acc][(p, b)] = _Lot(amount, 0, lot_expiry[(p, b)])
            else:
                lot.balance += amount

    def debit(acc: int, p: int, b: int, amount: int) -> None:
        deltas[(acc, p, b)][0] -= amount
        if acc in state:
            state[acc][(p, b)].balance -= amount

    def add_transfer(i: int, op: _Op, amount: int, legs: list[tuple[int, int, int]], **extra: Any) -> None:
        fields = {
            "county_id": op.county_id,
            "key": op.key,
            "kind": op.kind,
            "debit_account_id": op.debit_id,
            "credit_account_id": op.credit_id,
            "amount": amount,
            "budget_id": None,
            "hold_id": None,
            "reverses_id": None,
            "memo": op.memo,
            "metadata": op.metadata,
            "actor_label": op.actor_label,
            "created_at": now,
        }
        fields.update(extra)
        for p, b, a in legs:
            debit(op.debit_id, p, b, a)
            credit(op.credit_id, p, b, a)
        new_transfers.append((i, fields, legs))

    closed: set[int] = set()
    for i in live:
        op = ops[i]
        kind = info.get(op.debit_id, (False, ""))[1]
        if op.op == "transfer":
            legs = _take(state[op.debit_id], op.amount or 0, now, expiring=coins_expire_in(op.debit_id))
            if legs is None:
                results[i] = InsufficientFunds()
                continue
            add_transfer(i, op, op.amount or 0, legs)
        elif op.op == "issue":
            bud = budgets[op.budget_id or 0]
            period = periods.get(op.period_id or 0)
            if bud.status != BudgetStatus.RESERVED:
                results[i] = BudgetExceeded(_("This budget is not reserved for issuing."), code="budget_not_reserved")
                continue
            if timezone.localdate(now) > bud.effective_deadline:
                results[i] = IssueDeadlinePassed()
                continue
            if period is None or period.expires_at <= now:
                results[i] = ValidationFailed(_("This expiry period has already ended."), code="period_expired")
                continue
            if bud.issued_amount + budget_delta[bud.pk] + (op.amount or 0) > bud.reserved_amount:
                results[i] = BudgetExceeded()
                continue
            budget_delta[bud.pk] += op.amount or 0
            lot_expiry[(period.pk, bud.pk)] = period.expires_at
            add_transfer(i, op, op.amount or 0, [(period.pk, bud.pk, op.amount or 0)], budget_id=bud.pk)
        elif op.op == "hold":
            legs = _take(state[op.debit_id], op.amount or 0, now, expiring=coins_expire_in(op.debit_id))
            if legs is None:
                results[i] = InsufficientFunds()
                continue
            for p, b, a in legs:
                deltas[(op.debit_id, p, b)][1] += a
                state[op.debit_id][(p, b)].held += a
            h = Hold(
                county_id=op.county_id,
                key=op.key,
                kind=op.kind,
                debit_account_id=op.debit_id,
                credit_account_id=op.credit_id,
                amount=op.amount or 0,
                expires_at=op.expires_at or now,
                memo=op.memo,
                metadata=op.metadata,
                actor_label=op.actor_label,
                created_at=now,
            )
            new_holds.append((i, h, legs))
        elif op.op in ("post", "void"):
            h = holds[op.hold_id or 0]
            if h.status != HoldStatus.OPEN or h.pk in closed:
                results[i] = HoldNotOpen()
                continue
            if op.op == "post":
                want = h.amount if op.amount is None else op.amount
                if want > h.amount:
                    results[i] = ValidationFailed(
                        _("A hold cannot be posted for more than it holds."), code="post_exceeds_hold"
                    )
                    continue
            for p, b, a in hold_legs[h.pk]:
                deltas[(h.debit_account_id, p, b)][1] -= a
                state[h.debit_account_id][(p, b)].held -= a
            closed.add(h.pk)
            if op.op == "void":
                h.status, h.closed_at = op.void_status, now
                closed_holds.append((i, h, None))
                keyed.append(i)
                continue
            left, legs = want, []
            for p, b, a in hold_legs[h.pk]:
                if left:
                    use = min(a, left)
                    legs.append((p, b, use))
                    left -= use
            op.kind, op.memo, op.metadata = h.kind, h.memo, h.metadata
            h.status, h.closed_at, h.posted_amount = HoldStatus.POSTED, now, want
            add_transfer(i, op, want, legs, hold_id=h.pk)
            closed_holds.append((i, h, len(new_transfers) - 1))
        elif op.op == "reverse":
            t = originals[op.transfer_id or 0]
            if t.pk in reversed_ids:
                results[i] = AlreadyReversed()
                continue
            if t.reverses_id is not None:
                results[i] = ValidationFailed(_("A reversal cannot be reversed."), code="reversal_of_reversal")
                continue
            legs = orig_legs[t.pk]
            if not info[op.debit_id][0]:
                lots = state[op.debit_id]
                if any(lots.get((p, b)) is None or lots[(p, b)].balance - lots[(p, b)].held < a for p, b, a in legs):
                    results[i] = InsufficientFunds()
                    continue
            for p, b, _a in legs:
                if (p, b) not in lot_expiry:
                    lot_expiry[(p, b)] = _lot_expiry_from_db(p)
            if t.budget_id is not None and t.kind == "issue":
                budget_delta[t.budget_id] -= t.amount
            op.kind = "reversal"
            reversed_ids.add(t.pk)
            add_transfer(i, op, t.amount, legs, reverses_id=t.pk)
        elif op.op == "expire":
            if kind == AccountKind.EXPIRED:
                continue
            expiring = state[op.debit_id].get(op.lot or (0, 0))
            amount = (expiring.balance - expiring.held) if expiring is not None and expiring.expires_at <= now else 0
            if amount <= 0:
                continue  # nothing (left) to expire: no transfer, no key
            p, b = op.lot  # type: ignore[misc]
            add_transfer(i, op, amount, [(p, b, amount)])
        keyed.append(i)

    if keyed:
        _write(
            ops,
            now,
            keyed,
            deltas,
            budget_delta,
            new_transfers,
            new_holds,
            closed_holds,
            info,
            lot_expiry,
            existing,
            results,
        )
    return _replay_duplicates(results, dup_of)


def _replay_duplicates(results: list[Any], dup_of: dict[int, int]) -> list[Any]:
    """A key repeated (with the same body) inside one batch gets its first occurrence's result, replayed."""
    for i, j in dup_of.items():
        res = results[j]
        if isinstance(res, TransferResult | HoldResult):
            res = type(res)(**{**res.__dict__, "replayed": True})
        results[i] = res
    return results


def _lot_expiry_from_db(period_id: int) -> datetime.datetime:
    return ExpiryPeriod.objects.values_list("expires_at", flat=True).get(pk=period_id)


INSERT_BALANCE = (
    "INSERT INTO coins_balance (account_id, period_id, budget_id, expires_at, may_go_negative, balance, held) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s)"
)
UPSERT_BALANCE = (
    "INSERT INTO coins_balance (account_id, period_id, budget_id, expires_at, may_go_negative, balance, held) "
    "VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (account_id, period_id, budget_id) DO UPDATE SET "
    "balance = coins_balance.balance + EXCLUDED.balance, held = coins_balance.held + EXCLUDED.held"
)


def _write(
    ops: list[_Op],
    now: datetime.datetime,
    keyed: list[int],
    deltas: dict[tuple[int, int, int], list[int]],
    budget_delta: dict[int, int],
    new_transfers: list[tuple[int, dict[str, Any], list[tuple[int, int, int]]]],
    new_holds: list[tuple[int, Hold, list[tuple[int, int, int]]]],
    closed_holds: list[tuple[int, Hold, int | None]],
    info: dict[int, tuple[bool, str]],
    lot_expiry: dict[tuple[int, int], datetime.datetime],
    existing: set[tuple[int, int, int]],
    results: list[Any],
) -> None:
    # 1. The idempotency gate, keys in sorted order (a concurrent first use of a key waits here and
    #    then fails with a unique violation → the attempt is retried and finds the key recorded).
    LedgerKey.objects.bulk_create(
        sorted(
            (
                LedgerKey(key=ops[i].key, fingerprint=ops[i].fingerprint, operation=ops[i].op, created_at=now)
                for i in keyed
            ),
            key=lambda k: k.key,
        )
    )
    # 2. Balances: one statement per touched lot, in lot order. Lots of locked accounts that existed
    #    are UPDATEd (a CHECK on an INSERT row would see the bare delta), new ones INSERTed; the
    #    issuing account's lots (never locked, may go negative) are upserted, locking them only here.
    adapt = connection.ops.adapt_datetimefield_value
    updates, inserts, upserts = [], [], []
    for (acc, p, b), d in sorted(deltas.items()):
        if not (d[0] or d[1]):
            continue
        if info[acc][0]:
            upserts.append((acc, p, b, adapt(lot_expiry[(p, b)]), True, d[0], d[1]))
        elif (acc, p, b) in existing:
            updates.append((d[0], d[1], acc, p, b))
        else:
            inserts.append((acc, p, b, adapt(lot_expiry[(p, b)]), False, d[0], d[1]))
    with connection.cursor() as cursor:
        if updates and connection.vendor == "postgresql":
            # One statement for the whole batch (rows are already locked through their accounts).
            values = ", ".join(["(%s::bigint, %s::bigint, %s::bigint, %s::bigint, %s::bigint)"] * len(updates))
            cursor.execute(
                "UPDATE coins_balance AS b SET balance = b.balance + v.d, held = b.held + v.h "
                f"FROM (VALUES {values}) AS v (d, h, account_id, period_id, budget_id) "
                "WHERE b.account_id = v.account_id AND b.period_id = v.period_id AND b.budget_id = v.budget_id",
                [x for row in updates for x in row],
            )
        elif updates:
            cursor.executemany(
                "UPDATE coins_balance SET balance = balance + %s, held = held + %s "
                "WHERE account_id = %s AND period_id = %s AND budget_id = %s",
                updates,
            )
        if inserts:
            cursor.executemany(INSERT_BALANCE, inserts)
        if upserts:
            cursor.executemany(UPSERT_BALANCE, upserts)
        if budget_delta:
            cursor.executemany(
                "UPDATE coins_budget SET issued_amount = issued_amount + %s WHERE id = %s",
                [(d, b) for b, d in sorted(budget_delta.items()) if d],
            )
    # 3. Holds.
    if new_holds:
        new_holds.sort(key=lambda x: x[1].key)
        Hold.objects.bulk_create([h for _i, h, _l in new_holds])
        HoldLeg.objects.bulk_create(
            [HoldLeg(hold_id=h.pk, period_id=p, budget_id=b, amount=a) for _i, h, legs in new_holds for p, b, a in legs]
        )
        for i, h, _legs in new_holds:
            results[i] = HoldResult(
                h.pk, h.key, h.amount, h.debit_account_id, h.credit_account_id, h.expires_at, now, False
            )
    # 4. Transfers, chained under the county's chain head (locked last).
    order = sorted(range(len(new_transfers)), key=lambda k: new_transfers[k][1]["key"])
    if chain.enabled() and new_transfers:
        counties = sorted({new_transfers[k][1]["county_id"] for k in order})
        heads_qs = ChainHead.objects.select_for_update(no_key=True).filter(county_id__in=counties).order_by("pk")
        heads = {h.county_id: h for h in heads_qs}
        if len(heads) < len(counties):
            for county_id in counties:
                ChainHead.objects.get_or_create(county_id=county_id)
            heads = {h.county_id: h for h in heads_qs.all()}
        for k in order:
            fields, legs = new_transfers[k][1], new_transfers[k][2]
            head = heads[fields["county_id"]]
            head.seq += 1
            fields["chain_seq"] = head.seq
            fields["prev_hash"] = head.hash
            fields["hash"] = chain.link(head.hash, fields, legs)
            head.hash = fields["hash"]
        for head in heads.values():
            ChainHead.objects.filter(pk=head.pk).update(seq=head.seq, hash=head.hash)
    transfers = Transfer.objects.bulk_create([Transfer(**new_transfers[k][1]) for k in order])
    by_index = dict(zip(order, transfers, strict=True))
    TransferLeg.objects.bulk_create(
        [
            TransferLeg(transfer_id=by_index[k].pk, period_id=p, budget_id=b, amount=a)
            for k in order
            for p, b, a in new_transfers[k][2]
        ]
    )
    for k, t in by_index.items():
        i = new_transfers[k][0]
        results[i] = TransferResult(t.pk, t.key, t.amount, t.debit_account_id, t.credit_account_id, now, False)
    for _i, h, tidx in closed_holds:
        Hold.objects.filter(pk=h.pk, status=HoldStatus.OPEN).update(
            status=h.status,
            closed_at=now,
            posted_amount=h.posted_amount,
            post_transfer_id=by_index[tidx].pk if tidx is not None else None,
        )


# --- batching many callers into shared commits ----------------------------------------------------


class _Waiter:
    """What `TransferBatcher.transfer` waits on: one lock, released once by the flusher (cheaper
    than a Future's condition variable; `submit` still hands out real Futures)."""

    __slots__ = ("_error", "_lock", "_value")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lock.acquire()
        self._value: Any = None
        self._error: BaseException | None = None

    def set_result(self, value: Any) -> None:
        self._value = value
        self._lock.release()

    def set_exception(self, error: BaseException) -> None:
        self._error = error
        self._lock.release()

    def result(self, timeout: float) -> Any:
        if not self._lock.acquire(timeout=timeout):
            raise TimeoutError("the ledger batcher did not answer in time")
        if self._error is not None:
            raise self._error
        return self._value


class TransferBatcher:
    """Groups concurrent callers' transfers into shared commits (TigerBeetle-style batching).

    `submit()` queues a request and returns a Future with that caller's own TransferResult or
    DomainError; `transfer()` waits for it. Flusher threads (each its own DB connection; two by
    default: while one batch waits for the disk, the next one is being applied) take everything
    queued — up to `max_batch` — and apply it in one transaction. While a batch is in flight new
    requests pile up, so the batch size follows the load with no timer: alone, a caller waits one
    commit; under load, many share one. After waking, the flusher lingers a little (`linger`, only
    while the queue keeps growing) for the callers it just answered.

    Durability: on PostgreSQL a batch of plain transfers is written, committed with early lock
    release and followed by the durability barrier in one pipelined round trip (see `_apply` and
    `pg_transfers`): the county's chain head and the accounts are free again as soon as the commit
    is in the WAL buffers, and the batch's callers are answered only once it is on disk.
    """

    def __init__(
        self,
        *,
        max_batch: int = 500,
        flushers: int = 2,
        linger: float = 0.0002,
        switch_interval: float = 0.0005,
        split_min: int = 5,
    ) -> None:
        self.max_batch = max_batch
        self.split_min = split_min
        self.flushers = flushers
        self.linger = linger
        self.switch_interval = switch_interval
        self._queue: list[tuple[TransferRequest, Any]] = []
        self._cond = threading.Condition(threading.Lock())
        self._idle = 0  # flushers waiting for the queue to fill (only they are notified)
        self._applying = 0  # flushers applying a batch
        self._threads: list[threading.Thread] = []
        self._stopping = False
        self.batches = 0
        self.items = 0

    def start(self) -> TransferBatcher:
        with self._cond:
            if not self._threads:
                # The flusher holds row locks (its accounts) across its round trips; after each one it
                # needs the GIL back. With request threads busy in Python (a web worker), CPython's
                # default 5 ms switch interval made every round trip wait up to 5 ms with the locks
                # held, stalling other processes' batches behind them.
                if sys.getswitchinterval() > self.switch_interval:
                    sys.setswitchinterval(self.switch_interval)
                for n in range(self.flushers):
                    thread = threading.Thread(target=self._run, name=f"coins-batcher-{n}", daemon=True)
                    thread.start()
                    self._threads.append(thread)
        return self

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def _put(self, request: TransferRequest, sink: Any) -> None:
        if not self._threads:
            self.start()
        with self._cond:
            self._queue.append((request, sink))
            if self._idle:
                self._cond.notify()

    def submit(self, request: TransferRequest) -> Future[Any]:
        future: Future[Any] = Future()
        self._put(request, future)
        return future

    def transfer(self, request: TransferRequest, timeout: float = 30) -> TransferResult:
        waiter = _Waiter()
        self._put(request, waiter)
        result = waiter.result(timeout)
        if isinstance(result, DomainError):
            raise result
        return result  # type: ignore[no-any-return]

    def _take_batch(self) -> list[tuple[TransferRequest, Any]] | None:
        """The next batch (None: stopping and nothing left)."""
        while True:
            with self._cond:
                while not self._queue and not self._stopping:
                    self._idle += 1
                    try:
                        self._cond.wait()
                    finally:
                        self._idle -= 1
                if not self._queue:
                    return None
                seen = len(self._queue)
            # Callers just answered by the previous batch are about to come back: give them a moment
            # (while the queue keeps growing, up to `linger` each) to join this one. A plain sleep:
            # a lingering flusher is not woken by every arrival.
            while seen < self.max_batch and not self._stopping:
                time.sleep(self.linger)
                if len(self._queue) == seen:
                    break
                seen = len(self._queue)
            with self._cond:
                waiting = len(self._queue)
                if not waiting:
                    continue  # another flusher took them meanwhile
                take = min(waiting, self.max_batch)
                if self._applying < len(self._threads) - 1 and take >= 2 * self.split_min:
                    # Another flusher is free: share the queue with it, so that two half batches are
                    # in flight at once instead of one whole batch and an idle connection (a batch's
                    # time is mostly waiting: round trips, the commit's flush).
                    take = (take + 1) // 2
                    if self._idle:
                        self._cond.notify()
                self._applying += 1
                batch, self._queue = self._queue[:take], self._queue[take:]
                return batch

    def _run(self) -> None:
        from django.db import close_old_connections

        try:
            while True:
                batch = self._take_batch()
                if batch is None:
                    return
                try:
                    results: list[Any] = _transfer_batch([r for r, _s in batch], wait_durable=True)
                except Exception as exc:  # a database outage: every caller of this batch gets it
                    close_old_connections()
                    results = [exc] * len(batch)
                with self._cond:
                    self._applying -= 1
                    self.batches += 1
                    self.items += len(batch)
                for (_r, sink), result in zip(batch, results, strict=True):
                    try:
                        if isinstance(result, Exception) and not isinstance(result, DomainError):
                            sink.set_exception(result)  # committed but not known durable, or not committed
                        else:
                            sink.set_result(result)
                    except InvalidStateError:  # a Future its caller cancelled: the others still get theirs
                        pass
        finally:
            connection.close()


_batchers: dict[int, TransferBatcher] = {}
_batchers_lock = threading.Lock()


def batcher() -> TransferBatcher:
    """This process's shared batcher (started on first use; one per process, e.g. per web worker).
    CIVICPUSH_LEDGER_SWITCH_INTERVAL sets the interpreter's thread switch interval it asks for (seconds;
    default 0.0005, see `TransferBatcher.start`)."""
    import os

    with _batchers_lock:
        pid = os.getpid()
        b = _batchers.get(pid)
        if b is None:
            interval = float(os.environ.get("CIVICPUSH_LEDGER_SWITCH_INTERVAL", "0.0005"))
            b = _batchers[pid] = TransferBatcher(switch_interval=interval).start()
        return b
