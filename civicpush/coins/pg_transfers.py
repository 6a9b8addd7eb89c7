"""The PostgreSQL hot path for batches of plain transfers (what `transfer`, `transfer_batch` and the
`TransferBatcher` send): the same rules as the generic engine in `ledger._apply_once`, in five
statements and two round trips per batch whatever its size (plus the commit), with no ORM objects.

Round trip 1 (psycopg pipeline mode: separate statements, each with its own snapshot):
1. `SELECT` the batch's idempotency keys. Any key already recorded → hand the whole batch back to
   the generic engine (replays and conflicts are rare; it answers them from the record).
2. Lock the accounts, ascending id, `FOR NO KEY UPDATE` (the generic engine's lock order).
3. Read their balance rows — a statement after the locks, so that under READ COMMITTED it sees what
   the previous holders of those locks committed.
4. Lock the county's chain head (last, as always).
Then, in Python: simulate the batch (earliest-expiring lots first; a transfer without enough coins
gets `InsufficientFunds` and changes nothing) and compute the hash chain.
Round trip 2:
5. One statement of data-modifying CTEs writes everything from arrays (`unnest`): the keys (sorted),
   the balance deltas (UPDATE of existing lots, INSERT of new ones), the transfers and their legs,
   and the chain head. The statements' text does not depend on the batch size, so psycopg prepares
   them once per connection.

The database CHECKs (no negative balance, held ≤ balance), the unique keys and the append-only
triggers stay the backstop, exactly as for the generic engine; a unique violation from a concurrent
first use of a key rolls the attempt back and `ledger._apply` retries it (then step 1 finds the key).
"""

from __future__ import annotations

import datetime
import json
from collections import defaultdict
from typing import Any

import psycopg
from django.db import connection

from . import chain
from .errors import InsufficientFunds
from .ledger import TransferResult, _Lot, _Op, _take, coins_expire_in

SYNC_OFF = "SELECT set_config('synchronous_commit', 'off', true)"
SELECT_KEYS = "SELECT 1 FROM coins_ledgerkey WHERE key = ANY(%s::varchar[]) LIMIT 1"
LOCK_ACCOUNTS = (
    "SELECT id FROM coins_account WHERE id = ANY(%s::bigint[]) AND NOT may_go_negative ORDER BY id FOR NO KEY UPDATE"
)
READ_BALANCES = (
    "SELECT account_id, period_id, budget_id, balance, held, expires_at FROM coins_balance "
    "WHERE account_id = ANY(%s::bigint[])"
)
LOCK_HEAD = "SELECT seq, hash FROM coins_chainhead WHERE county_id = %s FOR NO KEY UPDATE"
CREATE_HEAD = "INSERT INTO coins_chainhead (county_id, seq, hash) VALUES (%s, 0, %s) ON CONFLICT DO NOTHING"
WRITE = """
WITH keys AS (
    INSERT INTO coins_ledgerkey (key, fingerprint, operation, created_at)
    SELECT k, f, 'transfer', %(now)s FROM unnest(%(keys)s::varchar[], %(fingerprints)s::varchar[]) AS u (k, f)
), changed AS (
    UPDATE coins_balance AS b SET balance = b.balance + u.d, held = b.held + u.h
    FROM unnest(%(u_acc)s::bigint[], %(u_period)s::bigint[], %(u_budget)s::bigint[], %(u_delta)s::bigint[],
                %(u_held)s::bigint[]) AS u (a, p, g, d, h)
    WHERE b.account_id = u.a AND b.period_id = u.p AND b.budget_id = u.g
), added AS (
    INSERT INTO coins_balance (account_id, period_id, budget_id, expires_at, may_go_negative, balance, held)
    SELECT a, p, g, e, false, d, 0
    FROM unnest(%(i_acc)s::bigint[], %(i_period)s::bigint[], %(i_budget)s::bigint[], %(i_expires)s::timestamptz[],
                %(i_delta)s::bigint[]) AS u (a, p, g, e, d)
), head AS (
    UPDATE coins_chainhead SET seq = %(head_seq)s, hash = %(head_hash)s
    WHERE county_id = %(county)s AND %(chained)s
), transfers AS (
    INSERT INTO coins_transfer (county_id, key, kind, debit_account_id, credit_account_id, amount, memo, metadata,
                                actor_label, created_at, chain_seq, prev_hash, hash)
    SELECT %(county)s, k, kind, d, c, amt, memo, meta::jsonb, actor, %(now)s, seq, prev, h
    FROM unnest(%(t_key)s::varchar[], %(t_kind)s::varchar[], %(t_debit)s::bigint[], %(t_credit)s::bigint[],
                %(t_amount)s::bigint[], %(t_memo)s::varchar[], %(t_meta)s::text[], %(t_actor)s::varchar[],
                %(t_seq)s::bigint[], %(t_prev)s::varchar[], %(t_hash)s::varchar[])
         WITH ORDINALITY AS u (k, kind, d, c, amt, memo, meta, actor, seq, prev, h, n)
    ORDER BY n
    RETURNING id, key
), legs AS (
    INSERT INTO coins_transferleg (transfer_id, period_id, budget_id, amount)
    SELECT t.id, u.p, u.g, u.a
    FROM unnest(%(l_key)s::varchar[], %(l_period)s::bigint[], %(l_budget)s::bigint[], %(l_amount)s::bigint[])
         AS u (k, p, g, a)
    JOIN transfers AS t ON t.key = u.k
)
SELECT id, key FROM transfers
"""


def _cursor() -> psycopg.Cursor[Any]:
    # A server-side-binding cursor on Django's own connection (same session, same transaction):
    # Django's default client-side binding cannot prepare statements.
    raw = connection.connection
    assert raw is not None
    return psycopg.Cursor(raw)


def apply_transfers(
    ops: list[_Op], pending: list[int], results: list[Any], now: datetime.datetime, *, release_early: bool = False
) -> bool:
    """Apply the transfer ops at `pending` (distinct keys, one county) inside the caller's
    transaction, filling `results`. False (nothing written) when the generic engine must answer.
    `release_early`: this transaction commits without waiting for the disk (see `ledger._apply`)."""
    with connection.wrap_database_errors:  # psycopg's errors as Django's: `_apply` retries on them
        return _apply_transfers(ops, pending, results, now, release_early)


def _apply_transfers(
    ops: list[_Op], pending: list[int], results: list[Any], now: datetime.datetime, release_early: bool
) -> bool:
    county_id = ops[pending[0]].county_id
    keys = [ops[i].key for i in pending]
    account_ids = sorted({ops[i].debit_id for i in pending} | {ops[i].credit_id for i in pending})
    raw = connection.connection
    assert raw is not None
    # Steps 1–3 in one round trip (pipeline mode; still three statements, each with its own snapshot).
    chained = chain.enabled()
    with _cursor() as cur, _cursor() as lock_cur, _cursor() as read_cur, _cursor() as head_cur:
        with raw.pipeline():
            if release_early:
                lock_cur.execute(SYNC_OFF, prepare=True)
            cur.execute(SELECT_KEYS, [keys], prepare=True)
            lock_cur.execute(LOCK_ACCOUNTS, [account_ids], prepare=True)
            read_cur.execute(READ_BALANCES, [account_ids], prepare=True)
            if chained:  # still last: after every account lock (one round trip fewer)
                head_cur.execute(LOCK_HEAD, [county_id], prepare=True)
        if cur.fetchone() is not None:
            return False
        if len(lock_cur.fetchall()) != len(account_ids):
            return False  # an account that may go negative (or is gone): the generic engine decides
        state: dict[int, dict[tuple[int, int], _Lot]] = {a: {} for a in account_ids}
        lot_expiry: dict[tuple[int, int], datetime.datetime] = {}
        for acc, p, b, bal, held, exp in read_cur.fetchall():
            state[acc][(p, b)] = _Lot(bal, held, exp)
            lot_expiry[(p, b)] = exp
        existing = {(acc, *lot) for acc, lots in state.items() for lot in lots}

        deltas: dict[tuple[int, int, int], int] = defaultdict(int)
        done: list[tuple[int, list[tuple[int, int, int]]]] = []
        for i in pending:
            op = ops[i]
            legs = _take(state[op.debit_id], op.amount or 0, now, expiring=coins_expire_in(op.debit_id))
            if legs is None:
                results[i] = InsufficientFunds()
                continue
            debit_lots, credit_lots = state[op.debit_id], state[op.credit_id]
            for p, b, a in legs:
                debit_lots[(p, b)].balance -= a
                lot = credit_lots.get((p, b))
                if lot is None:
                    credit_lots[(p, b)] = _Lot(a, 0, lot_expiry[(p, b)])
                else:
                    lot.balance += a
                deltas[(op.debit_id, p, b)] -= a
                deltas[(op.credit_id, p, b)] += a
            done.append((i, legs))
        if not done:
            return True

        done.sort(key=lambda x: ops[x[0]].key)  # keys, transfers and the chain in key order
        seq, head_hash = 0, chain.GENESIS
        if chained:
            row = head_cur.fetchone()
            if row is None:
                cur.execute(CREATE_HEAD, [county_id, chain.GENESIS])
                row = cur.execute(LOCK_HEAD, [county_id], prepare=True).fetchone()
            seq, head_hash = row  # type: ignore[misc]
        u_rows = [(k, d) for k, d in sorted(deltas.items()) if d and k in existing]
        i_rows = [(k, d) for k, d in sorted(deltas.items()) if d and k not in existing]
        t_cols: dict[str, list[Any]] = {c: [] for c in ("key", "kind", "debit", "credit", "amount", "memo", "meta",
                                                        "actor", "seq", "prev", "hash")}  # fmt: skip
        l_cols: dict[str, list[Any]] = {c: [] for c in ("key", "period", "budget", "amount")}
        for i, legs in done:
            op = ops[i]
            prev_hash, this_hash, this_seq = "", "", None
            if chained:
                seq += 1
                fields = {
                    "chain_seq": seq, "county_id": county_id, "key": op.key, "kind": op.kind,
                    "debit_account_id": op.debit_id, "credit_account_id": op.credit_id, "amount": op.amount,
                    "budget_id": None, "hold_id": None, "reverses_id": None, "memo": op.memo,
                    "metadata": op.metadata, "actor_label": op.actor_label, "created_at": now,
                }  # fmt: skip
                prev_hash, this_hash, this_seq = head_hash, chain.link(head_hash, fields, legs), seq
                head_hash = this_hash
            for col, value in (("key", op.key), ("kind", op.kind), ("debit", op.debit_id), ("credit", op.credit_id),
                               ("amount", op.amount), ("memo", op.memo), ("actor", op.actor_label),
                               ("seq", this_seq), ("prev", prev_hash), ("hash", this_hash)):  # fmt: skip
                t_cols[col].append(value)
            t_cols["meta"].append(json.dumps(op.metadata))
            for p, b, a in legs:
                l_cols["key"].append(op.key)
                l_cols["period"].append(p)
                l_cols["budget"].append(b)
                l_cols["amount"].append(a)
        params: dict[str, Any] = {
            "now": now,
            "keys": [ops[i].key for i, _l in done],
            "fingerprints": [ops[i].fingerprint for i, _l in done],
            "u_acc": [k[0] for k, _d in u_rows],
            "u_period": [k[1] for k, _d in u_rows],
            "u_budget": [k[2] for k, _d in u_rows],
            "u_delta": [d for _k, d in u_rows],
            "u_held": [0] * len(u_rows),
            "i_acc": [k[0] for k, _d in i_rows],
            "i_period": [k[1] for k, _d in i_rows],
            "i_budget": [k[2] for k, _d in i_rows],
            "i_expires": [lot_expiry[(k[1], k[2])] for k, _d in i_rows],
            "i_delta": [d for _k, d in i_rows],
            "county": county_id,
            "chained": chained,
            "head_seq": seq,
            "head_hash": head_hash,
            **{f"t_{c}": v for c, v in t_cols.items()},
            **{f"l_{c}": v for c, v in l_cols.items()},
        }
        ids = {key: pk for pk, key in cur.execute(WRITE, params, prepare=True).fetchall()}
    for i, _legs in done:
        op = ops[i]
        results[i] = TransferResult(
            ids[op.key],
            op.key,
            op.amount or 0,
            op.debit_id,
            op.credit_id,
            now,
            False,  # type: ignore[arg-type]
        )
    return True
