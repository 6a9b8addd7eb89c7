"""Whole-ledger checks (`manage.py verify_ledger`): chain, balances, holds, budgets, conservation.

Reads only; returns the problems found (empty list: the ledger is consistent). Run it on a quiet
database or accept that transfers committed during the run may show as transient differences.
"""

from __future__ import annotations

from collections import defaultdict

from django.db import connection

from . import chain
from .models import Balance, Budget, ChainHead, Transfer, TransferLeg


def verify(*, check_chain: bool = True) -> list[str]:
    problems: list[str] = []
    with connection.cursor() as cursor:
        # 1. Every lot balance equals the sum of its postings; held equals its open holds.
        expected: dict[tuple[int, int, int], int] = defaultdict(int)
        cursor.execute(
            "SELECT t.credit_account_id, t.debit_account_id, l.period_id, l.budget_id, SUM(l.amount) "
            "FROM coins_transferleg l JOIN coins_transfer t ON t.id = l.transfer_id "
            "GROUP BY t.credit_account_id, t.debit_account_id, l.period_id, l.budget_id"
        )
        for credit, debit, period, budget, amount in cursor.fetchall():
            expected[(credit, period, budget)] += int(amount)
            expected[(debit, period, budget)] -= int(amount)
        expected_held: dict[tuple[int, int, int], int] = defaultdict(int)
        cursor.execute(
            "SELECT h.debit_account_id, l.period_id, l.budget_id, SUM(l.amount) FROM coins_holdleg l "
            "JOIN coins_hold h ON h.id = l.hold_id WHERE h.status = 'open' "
            "GROUP BY h.debit_account_id, l.period_id, l.budget_id"
        )
        for account, period, budget, amount in cursor.fetchall():
            expected_held[(account, period, budget)] += int(amount)
        cursor.execute(
            "SELECT b.account_id, b.period_id, b.budget_id, b.balance, b.held, b.may_go_negative, a.kind "
            "FROM coins_balance b JOIN coins_account a ON a.id = b.account_id"
        )
        seen = set()
        per_lot: dict[tuple[int, int], int] = defaultdict(int)
        for account, period, budget, bal, held, negative_ok, kind in cursor.fetchall():
            lot = (account, period, budget)
            seen.add(lot)
            per_lot[(period, budget)] += int(bal)
            if int(bal) != expected.get(lot, 0):
                problems.append(
                    f"balance drift: account {account} period {period} budget {budget}: stored {bal}, "
                    f"postings say {expected.get(lot, 0)}"
                )
            if int(held) != expected_held.get(lot, 0):
                problems.append(
                    f"held drift: account {account} period {period} budget {budget}: stored {held}, "
                    f"open holds say {expected_held.get(lot, 0)}"
                )
            if negative_ok != (kind == "issuing"):
                problems.append(f"account {account} ({kind}) has may_go_negative={negative_ok}")
            if kind != "issuing" and (int(bal) < 0 or int(held) > int(bal)):
                problems.append(f"account {account} ({kind}) is overdrawn: balance {bal}, held {held}")
        for lot, amount in expected.items():
            if lot not in seen and amount:
                problems.append(f"missing balance row for account {lot[0]} period {lot[1]} budget {lot[2]}: {amount}")
        # 2. Conservation: every lot sums to zero over all accounts (issuing = minus circulation).
        for (period, budget), total in sorted(per_lot.items()):
            if total:
                problems.append(f"coins not conserved in period {period} budget {budget}: accounts sum to {total}")
        # 3. Each transfer's legs add up to its amount.
        cursor.execute(
            "SELECT t.id, t.amount, COALESCE(SUM(l.amount), 0) FROM coins_transfer t "
            "LEFT JOIN coins_transferleg l ON l.transfer_id = t.id GROUP BY t.id, t.amount "
            "HAVING t.amount <> COALESCE(SUM(l.amount), 0)"
        )
        for tid, amount, legs in cursor.fetchall():
            problems.append(f"transfer {tid}: amount {amount} but legs sum to {legs}")
        # 4. Every transfer key is a recorded idempotency key.
        cursor.execute(
            "SELECT COUNT(*) FROM coins_transfer t LEFT JOIN coins_ledgerkey k ON k.key = t.key WHERE k.key IS NULL"
        )
        missing = cursor.fetchone()[0]
        if missing:
            problems.append(f"{missing} transfers without an idempotency key record")
    # 5. Budgets: issued_amount equals issues minus reversed issues.
    issued: dict[int, int] = defaultdict(int)
    for budget_id, amount in Transfer.objects.filter(kind="issue").values_list("budget_id", "amount"):
        issued[budget_id] += amount
    for budget_id, amount in Transfer.objects.filter(reverses__kind="issue").values_list(
        "reverses__budget_id", "amount"
    ):
        issued[budget_id] -= amount
    for b in Budget.objects.all().only("id", "issued_amount", "reserved_amount"):
        if b.issued_amount != issued.get(b.pk, 0):
            problems.append(f"budget {b.pk}: issued_amount {b.issued_amount}, transfers say {issued.get(b.pk, 0)}")
    if check_chain:
        problems += verify_chain()
    return problems


def verify_chain() -> list[str]:
    """Recompute every county's hash chain from its first transfer."""
    problems: list[str] = []
    legs: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for tid, p, b, a in TransferLeg.objects.values_list("transfer_id", "period_id", "budget_id", "amount").iterator(
        chunk_size=5000
    ):
        legs[tid].append((p, b, a))
    heads = {h.county_id: h for h in ChainHead.objects.all()}
    fields = [
        "id", "county_id", "key", "kind", "debit_account_id", "credit_account_id", "amount", "budget_id",
        "hold_id", "reverses_id", "memo", "metadata", "actor_label", "created_at", "chain_seq", "prev_hash", "hash",
    ]  # fmt: skip
    unchained = Transfer.objects.filter(chain_seq__isnull=True).count()
    if unchained and heads:
        problems.append(f"{unchained} transfers are outside the hash chain")
    prev: dict[int, tuple[int, str]] = {}
    rows = Transfer.objects.filter(chain_seq__isnull=False).order_by("county_id", "chain_seq").values(*fields)
    for row in rows.iterator(chunk_size=5000):
        county = row["county_id"]
        seq, prev_hash = prev.get(county, (0, chain.GENESIS))
        if row["chain_seq"] != seq + 1:
            problems.append(f"county {county}: chain sequence jumps from {seq} to {row['chain_seq']}")
        if row["prev_hash"] != prev_hash:
            problems.append(f"transfer {row['id']} (seq {row['chain_seq']}): previous hash does not match")
        recomputed = chain.link(row["prev_hash"], row, legs.get(row["id"], []))
        if recomputed != row["hash"]:
            problems.append(f"transfer {row['id']} (seq {row['chain_seq']}): hash does not match its content")
        prev[county] = (row["chain_seq"], row["hash"])
    for county, head in heads.items():
        seq, last = prev.get(county, (0, chain.GENESIS))
        if (head.seq, head.hash) != (seq, last):
            problems.append(f"county {county}: chain head ({head.seq}) does not match the last transfer ({seq})")
    return problems


def lots_total() -> int:
    return int(sum(Balance.objects.values_list("balance", flat=True)))
