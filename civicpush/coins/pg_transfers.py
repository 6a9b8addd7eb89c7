"""The PostgreSQL hot path for batches of plain transfers (what `transfer`, `transfer_batch` and the
`TransferBatcher` send): the same rules as the generic engine in `ledger._apply_once`, in two round
trips per batch whatever its size — the commit and the durability barrier included — with no ORM
objects.

Round trip 1 (psycopg pipeline mode: separate statements, each with its own snapshot):
0. (own transaction only) `BEGIN`; `synchronous_commit = off` for this transaction (early lock
   release: callers are answered only after the durability barrier) and generic plans.
1. Lock the accounts, ascending id, `FOR NO KEY UPDATE` (the generic engine's lock order), reading
   their kinds (whether their coins expire); the same statement checks the batch's idempotency keys
   (any key already recorded → the whole batch goes back to the generic engine, which answers
   replays and conflicts from the record) and that the county's chain head exists (no lock).
2. Read their balance rows — a statement after the locks, so that under READ COMMITTED it sees what
   the previous holders of those locks committed.
Then, in Python: simulate the batch (earliest-expiring lots first; a transfer without enough coins
gets `InsufficientFunds` and changes nothing) and build each transfer's canonical chain text up to
its sequence number (`chain.head`).
Round trip 2:
3. One statement of data-modifying CTEs writes everything: the keys (sorted), the balance deltas
   (UPDATE of existing lots, INSERT of new ones), the transfers and their legs; it locks the
   county's chain head (last, as always: after every account lock), computes the hash chain in SQL
   — sha256(previous hash + text + seq + "}"), exactly `chain.link` — and moves the head. The chain
   head, which serialises every writer of the county, is held only while this statement runs and
   commits, not across round trips and the Python in between.
4. (own transaction only) `COMMIT`, and with `durable` the barrier (`ledger._wait_durable`).
Every statement's text is fixed, so each is prepared once per connection.

The database CHECKs (no negative balance, held ≤ balance), the unique keys, NOT NULL (a chain hash
that could not be computed fails the statement) and the append-only triggers stay the backstop,
exactly as for the generic engine; a unique violation from a concurrent first use of a key rolls the
attempt back and `ledger._apply` retries it (then step 1 finds the key).
"""

from __future__ import annotations

import contextlib
import datetime
import json
from collections import defaultdict
from typing import Any

import psycopg
from django.db import connection
from psycopg import pq

from . import chain
from .errors import InsufficientFunds
from .ledger import NON_EXPIRING_KINDS, TransferResult, _account_kinds, _Lot, _Op, _take

# Lock the accounts (ascending id, `FOR NO KEY UPDATE`, never one that may go negative) and read
# their kinds, with the batch's checks evaluated once (uncommitted keys are caught by the unique
# index at the write): is any key already recorded, does the county's chain head exist (no lock).
LOCK_ACCOUNTS = (
    "SELECT a.id, a.kind, c.recorded, c.has_head FROM ("
    "SELECT EXISTS (SELECT 1 FROM coins_ledgerkey WHERE key = ANY(%b::varchar[])) AS recorded, "
    "EXISTS (SELECT 1 FROM coins_chainhead WHERE county_id = %s) AS has_head) AS c "
    "LEFT JOIN LATERAL (SELECT id, kind FROM coins_account WHERE id = ANY(string_to_array(%s, ',')::bigint[]) "
    "AND NOT may_go_negative ORDER BY id FOR NO KEY UPDATE) AS a ON true"
)
# For our own transaction only (both settings end with it): early lock release, and generic plans
# for the prepared statements that follow. For these statements the generic plan is the custom one
# (index scans by key, id and lot); the default mode kept re-planning the account lock on every
# batch (its generic cost estimate is higher), which cost the server more than executing it.
SETTINGS = (
    "SELECT set_config('synchronous_commit', 'off', true), set_config('plan_cache_mode', 'force_generic_plan', true)"
)
BARRIER = "SELECT pg_logical_emit_message(true, 'civicpush.coins', 'durable')"  # see ledger._wait_durable
READ_BALANCES = (
    "SELECT account_id, period_id, budget_id, balance, held, expires_at FROM coins_balance "
    "WHERE account_id = ANY(string_to_array(%s, ',')::bigint[])"
)
CREATE_HEAD = "INSERT INTO coins_chainhead (county_id, seq, hash) VALUES (%s, 0, %s) ON CONFLICT DO NOTHING"
WRITE = """
WITH RECURSIVE t_in AS (
    SELECT n, e->>0 AS k, e->>1 AS f, e->>2 AS kind, (e->>3)::bigint AS d, (e->>4)::bigint AS c,
           (e->>5)::bigint AS amt, e->>6 AS memo, (e->7)::jsonb AS meta, e->>8 AS actor
    FROM jsonb_array_elements(%(transfers)s::jsonb) WITH ORDINALITY AS r (e, n)
), keys AS (
    INSERT INTO coins_ledgerkey (key, fingerprint, operation, created_at)
    SELECT k, f, 'transfer', %(now)s FROM t_in ORDER BY n
), changed AS (
    UPDATE coins_balance AS b SET balance = b.balance + u.d
    FROM unnest(string_to_array(%(u_acc)s, ',')::bigint[], string_to_array(%(u_period)s, ',')::bigint[],
                string_to_array(%(u_budget)s, ',')::bigint[], string_to_array(%(u_delta)s, ',')::bigint[])
         AS u (a, p, g, d)
    WHERE b.account_id = u.a AND b.period_id = u.p AND b.budget_id = u.g
), added AS (
    INSERT INTO coins_balance (account_id, period_id, budget_id, expires_at, may_go_negative, balance, held)
    SELECT a, p, g, e, false, d, 0
    FROM unnest(string_to_array(%(i_acc)s, ',')::bigint[], string_to_array(%(i_period)s, ',')::bigint[],
                string_to_array(%(i_budget)s, ',')::bigint[], string_to_array(%(i_expires)s, ',')::timestamptz[],
                string_to_array(%(i_delta)s, ',')::bigint[]) AS u (a, p, g, e, d)
), head AS (
    SELECT seq, hash FROM coins_chainhead WHERE county_id = %(county)s AND %(chained)s FOR NO KEY UPDATE
), texts AS (
    SELECT string_to_array(%(texts)s, chr(31)) AS t
), chain (n, seq, prev, hash) AS (
    SELECT 0::bigint, h.seq, NULL::text, h.hash::text FROM (VALUES (1)) AS v (one) LEFT JOIN head AS h ON true
    UNION ALL
    SELECT c.n + 1, c.seq + 1, c.hash,
           encode(sha256(convert_to(c.hash || x.t[c.n + 1] || (c.seq + 1)::text || '}', 'UTF8')), 'hex')
    FROM chain AS c, texts AS x WHERE %(chained)s AND c.n < cardinality(x.t)
), moved AS (
    UPDATE coins_chainhead AS ch SET seq = l.seq, hash = l.hash
    FROM (SELECT seq, hash FROM chain ORDER BY n DESC LIMIT 1) AS l
    WHERE ch.county_id = %(county)s AND %(chained)s
), transfers AS (
    INSERT INTO coins_transfer (county_id, key, kind, debit_account_id, credit_account_id, amount, memo, metadata,
                                actor_label, created_at, chain_seq, prev_hash, hash)
    SELECT %(county)s, u.k, u.kind, u.d, u.c, u.amt, u.memo, u.meta, u.actor, %(now)s,
           CASE WHEN %(chained)s THEN c.seq END, CASE WHEN %(chained)s THEN c.prev ELSE '' END,
           CASE WHEN %(chained)s THEN c.hash ELSE '' END
    FROM t_in AS u LEFT JOIN chain AS c ON c.n = u.n AND %(chained)s
    ORDER BY u.n
    RETURNING id, key
), legs AS (
    INSERT INTO coins_transferleg (transfer_id, period_id, budget_id, amount)
    SELECT t.id, (e->>1)::bigint, (e->>2)::bigint, (e->>3)::bigint
    FROM jsonb_array_elements(%(legs)s::jsonb) AS l (e) JOIN transfers AS t ON t.key = l.e->>0
)
SELECT id, key FROM transfers
"""


def _ints(values: list[int]) -> str:
    return ",".join(map(str, values))


_json = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


# Django opens its psycopg connections with `prepare_threshold=None`, which disables prepared
# statements altogether (`prepare=True` included); its own queries use client-side binding and are
# never prepared anyway. This threshold is never reached by an unprepared query, so only the
# statements below, executed with `prepare=True`, are prepared (once per connection).
_PREPARE_ONLY_WHEN_ASKED = 1 << 30


def _cursor(raw: psycopg.Connection[Any]) -> psycopg.Cursor[Any]:
    # A server-side-binding cursor on Django's own connection (same session, same transaction):
    # Django's default client-side binding cannot prepare statements.
    if raw.prepare_threshold is None:
        raw.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
    return psycopg.Cursor(raw)


def apply_transfers(ops: list[_Op], pending: list[int], results: list[Any], now: datetime.datetime) -> bool:
    """Apply the transfer ops at `pending` (distinct keys, one county) inside the caller's
    transaction, filling `results`. False (nothing written) when the generic engine must answer."""
    with connection.wrap_database_errors:  # psycopg's errors as Django's: `_apply` retries on them
        return _apply_transfers(ops, pending, results, now, own=False)


def apply_transfers_committed(
    ops: list[_Op], pending: list[int], results: list[Any], now: datetime.datetime, *, durable: bool
) -> bool:
    """The same in a transaction of its own (Django's connection must be in autocommit, outside any
    atomic block), committed with early lock release (`synchronous_commit = off`), the COMMIT
    pipelined with the write and, with `durable`, the durability barrier (`ledger._wait_durable`)
    pipelined after the COMMIT: one round trip writes, commits, releases the locks at once and
    returns when the commit is on disk. Without `durable` the caller must pass a barrier before
    answering. False: the transaction was rolled back, nothing written, the generic engine must
    answer."""
    connection.ensure_connection()
    raw = connection.connection
    assert raw is not None and raw.autocommit
    with connection.wrap_database_errors:
        try:
            return _apply_transfers(ops, pending, results, now, own=True, durable=durable)
        finally:
            if raw.info.transaction_status != pq.TransactionStatus.IDLE and not raw.closed:
                with contextlib.suppress(psycopg.Error):  # a broken connection: Django closes it
                    raw.execute("ROLLBACK")


def _apply_transfers(
    ops: list[_Op], pending: list[int], results: list[Any], now: datetime.datetime, own: bool, durable: bool = False
) -> bool:
    first = ops[pending[0]]
    county_id = first.county_id
    keys = [ops[i].key for i in pending]
    account_ids = sorted({ops[i].debit_id for i in pending} | {ops[i].credit_id for i in pending})
    raw = connection.connection
    assert raw is not None
    chained = chain.enabled()
    # Round trip 1 (pipeline mode; separate statements, each with its own snapshot).
    cur, lock_cur, read_cur = _cursor(raw), _cursor(raw), _cursor(raw)
    with raw.pipeline():
        if own:
            cur.execute("BEGIN")
            cur.execute(SETTINGS, prepare=True)
        id_list = _ints(account_ids)
        lock_cur.execute(LOCK_ACCOUNTS, [keys, county_id, id_list], prepare=True, binary=True)
        read_cur.execute(READ_BALANCES, [id_list], prepare=True, binary=True)  # (C loaders, not Django's)
    locked = lock_cur.fetchall()
    if locked[0][2]:
        return False  # a key already recorded: the generic engine answers from the record
    has_head = locked[0][3]
    kinds = {row[0]: row[1] for row in locked if row[0] is not None}
    if len(kinds) != len(account_ids):
        return False  # an account that may go negative (or is gone): the generic engine decides
    _account_kinds.update(kinds)

    state: dict[int, dict[tuple[int, int], _Lot]] = {a: {} for a in account_ids}
    lot_expiry: dict[tuple[int, int], datetime.datetime] = {}
    for acc, p, b, bal, held, exp in read_cur.fetchall():
        state[acc][(p, b)] = _Lot(bal, held, exp)
        lot_expiry[(p, b)] = exp
    existing = {(acc, *lot) for acc, lots in state.items() for lot in lots}

    deltas: dict[tuple[int, int, int], int] = defaultdict(int)
    done: list[tuple[_Op, int, list[tuple[int, int, int]]]] = []
    for i in pending:
        op = ops[i]
        debit_id, credit_id = op.debit_id, op.credit_id
        debit_lots = state[debit_id]
        legs = _take(debit_lots, op.amount or 0, now, expiring=kinds[debit_id] not in NON_EXPIRING_KINDS)
        if legs is None:
            results[i] = InsufficientFunds()
            continue
        credit_lots = state[credit_id]
        for p, b, a in legs:
            debit_lots[(p, b)].balance -= a
            lot = credit_lots.get((p, b))
            if lot is None:
                credit_lots[(p, b)] = _Lot(a, 0, lot_expiry[(p, b)])
            else:
                lot.balance += a
            deltas[(debit_id, p, b)] -= a
            deltas[(credit_id, p, b)] += a
        done.append((op, i, legs))
    if not done:
        if own:
            raw.execute("ROLLBACK")
        return True

    if chained and not has_head:
        raw.execute(CREATE_HEAD, [county_id, chain.GENESIS])  # the county's first transfer (rare)
    done.sort(key=lambda x: x[0].key)  # keys, transfers and the chain in key order
    u_acc: list[int] = []
    u_period: list[int] = []
    u_budget: list[int] = []
    u_delta: list[int] = []
    i_acc: list[int] = []
    i_period: list[int] = []
    i_budget: list[int] = []
    i_expires: list[datetime.datetime] = []
    i_delta: list[int] = []
    for k, d in sorted(deltas.items()):
        if not d:
            continue
        acc, p, b = k
        if k in existing:
            u_acc.append(acc)
            u_period.append(p)
            u_budget.append(b)
            u_delta.append(d)
        else:
            i_acc.append(acc)
            i_period.append(p)
            i_budget.append(b)
            i_expires.append(lot_expiry[(p, b)])
            i_delta.append(d)
    # One JSON document for the transfers and one for their legs (json.dumps is C; psycopg's array
    # dumpers are Python per element), whole numbers as comma-separated text, and the chain texts —
    # JSON with every control character escaped — joined with U+001F.
    created = chain.created_at_text(now) if chained else ""
    head = chain.head
    rows: list[list[Any]] = []
    leg_rows: list[list[Any]] = []
    texts: list[str] = []
    for op, _i, legs in done:
        key, metadata, amount = op.key, op.metadata, op.amount or 0
        rows.append(
            [key, op.fingerprint, op.kind, op.debit_id, op.credit_id, amount, op.memo, metadata, op.actor_label]
        )
        if chained:
            texts.append(
                head(
                    county_id=county_id, key=key, kind=op.kind, debit_id=op.debit_id, credit_id=op.credit_id,
                    amount=amount, memo=op.memo, metadata=chain.metadata_text(metadata),
                    actor_label=op.actor_label, created_at=created, legs=legs,
                )
            )  # fmt: skip
        for p, b, a in legs:
            leg_rows.append([key, p, b, a])
    n = len(rows)
    params: dict[str, Any] = {
        "now": now,
        "transfers": _json(rows),
        "u_acc": _ints(u_acc),
        "u_period": _ints(u_period),
        "u_budget": _ints(u_budget),
        "u_delta": _ints(u_delta),
        "i_acc": _ints(i_acc),
        "i_period": _ints(i_period),
        "i_budget": _ints(i_budget),
        "i_expires": ",".join(e.isoformat() for e in i_expires),
        "i_delta": _ints(i_delta),
        "county": county_id,
        "chained": chained,
        "texts": "\x1f".join(texts),
        "legs": _json(leg_rows),
    }
    # Round trip 2: the write and (own transaction) the commit.
    if own:
        with raw.pipeline():
            cur.execute(WRITE, params, prepare=True)
            lock_cur.execute("COMMIT")
            if durable:
                lock_cur.execute(BARRIER, prepare=True)
    else:
        cur.execute(WRITE, params, prepare=True)
    ids = dict((key, pk) for pk, key in cur.fetchall())
    if len(ids) != n:  # cannot happen (the statement inserts one transfer per key or fails)
        raise AssertionError("the batch write inserted fewer transfers than it was given")
    for op, i, _legs in done:
        results[i] = TransferResult(ids[op.key], op.key, op.amount or 0, op.debit_id, op.credit_id, now, False)
    return True
