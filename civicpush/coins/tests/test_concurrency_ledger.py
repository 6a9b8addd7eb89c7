"""The ledger under real concurrency on PostgreSQL: 8 worker processes (each its own connection)
against the committed test database, with retried keys, changed bodies, killed connections and
workers that die inside an open transaction. Afterwards the books must balance to the coin."""

from __future__ import annotations

import datetime
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import psycopg
import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from civicpush.coins import ledger
from civicpush.coins.models import Balance, Budget, LedgerKey, Transfer, TransferLeg
from civicpush.coins.verify import verify

from .ledger_fixtures import make_budget, make_citizen, make_period

REPO = Path(__file__).resolve().parents[3]
WORKERS = 8
EXIT_EVERY = 3000  # about one op in 3,000 ends its worker inside an open transaction
ITEMS_PER_ROUND = 1.3  # a round is one operation, or 3–8 transfers in one batch (8 % of rounds)

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(transactional_db: Any) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("concurrency is proven on PostgreSQL (set DATABASE_URL); SQLite serialises all writers")


def _db_url() -> str:
    s = settings.DATABASES["default"]
    return (
        f"postgres://{s['USER']}:{s.get('PASSWORD') or ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"
    )


def _spawn(setup: Path, log: Path, worker: int, ops: int, start: int = 0, **extra: Any) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "civicpush.coins.tests.ledger_workload", "--setup", str(setup), "--log", str(log),
           "--worker", str(worker), "--ops", str(ops), "--start", str(start)]  # fmt: skip
    for k, v in extra.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    env = {**os.environ, "DATABASE_URL": _db_url(), "DJANGO_SETTINGS_MODULE": "civicpush.config.settings_test"}
    return subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.PIPE)


def _world(org_unit_code: str, reserved: int) -> tuple[Any, dict[str, Any]]:
    from civicpush.org.tests.factories import build_fire_bureau

    demo = build_fire_bureau()
    unit = demo.unit(org_unit_code)
    county = unit.county
    budget = make_budget(unit, reserved=reserved)
    # The early period ends while the workload runs: the sweep and spends race at the boundary.
    early = make_period(county, "early", 0)
    early.expires_at = timezone.now() + datetime.timedelta(seconds=12)
    early.save()
    late = make_period(county, "late", 365)
    wallets = [ledger.wallet_of(make_citizen(county)).pk for _ in range(40)]
    setup = {
        "wallets": wallets,
        "pools": [ledger.reward_pool(county, ref=f"push:{i}").pk for i in range(3)],
        "stores": [ledger.store_payable(county, ref=f"store:{i}").pk for i in range(3)],
        "parking": ledger.parking_clearing(county).pk,
        "budget": budget.pk,
        "periods": [early.pk, late.pk],
        "shared": 50,
        "unit": 5,
    }
    return budget, setup


def _read_logs(paths: list[Path]) -> list[dict[str, Any]]:
    rows = []
    for p in paths:
        if p.exists():
            rows += [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
    return rows


class Chaos(threading.Thread):
    """Terminates a random worker backend that is inside a statement or an open transaction."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.stop = threading.Event()
        self.killed = 0

    def run(self) -> None:
        with psycopg.connect(_db_url(), autocommit=True) as conn:
            while not self.stop.wait(0.15):
                row = conn.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE "
                    "'ledger-worker-%%' AND state IN ('active', 'idle in transaction') ORDER BY random() LIMIT 1"
                ).fetchone()
                self.killed += bool(row and row[0])


def _replayed_balances() -> dict[tuple[int, int, int], int]:
    """Balances recomputed from scratch by replaying every recorded transfer in id order."""
    out: dict[tuple[int, int, int], int] = defaultdict(int)
    legs = defaultdict(list)
    for tid, p, b, a in TransferLeg.objects.values_list("transfer_id", "period_id", "budget_id", "amount"):
        legs[tid].append((p, b, a))
    for t in Transfer.objects.order_by("id").values("id", "debit_account_id", "credit_account_id"):
        for p, b, a in legs[t["id"]]:
            out[(t["debit_account_id"], p, b)] -= a
            out[(t["credit_account_id"], p, b)] += a
    return out


def test_random_concurrent_workload_keeps_the_books(pg: None, tmp_path: Path) -> None:
    total_ops = int(os.environ.get("CIVICPUSH_LEDGER_STRESS_OPS", "20000"))
    budget, setup = _world("prevention", reserved=10_000_000)
    setup_file = tmp_path / "setup.json"
    setup_file.write_text(json.dumps(setup))
    per = int(total_ops / ITEMS_PER_ROUND) // WORKERS + 1
    logs = [tmp_path / f"w{i}.jsonl" for i in range(WORKERS)]
    chaos = Chaos()
    chaos.start()
    started = time.monotonic()
    # Two workers surely die mid-transaction (halfway), the others by chance.
    procs = {
        i: _spawn(setup_file, logs[i], i, per, seed=11, exit_every=EXIT_EVERY, exit_at=per // 2 if i < 2 else -1)
        for i in range(WORKERS)
    }
    exits = 0
    try:
        while procs:
            for i, proc in list(procs.items()):
                code = proc.poll()
                if code is None:
                    continue
                del procs[i]
                if code == 3:  # died on purpose inside a transaction: carry on after that op
                    exits += 1
                    last = max(r["n"] for r in _read_logs([logs[i]]))
                    procs[i] = _spawn(setup_file, logs[i], i, per, start=last + 1, seed=11, exit_every=EXIT_EVERY)
                elif code != 0:
                    raise AssertionError(f"worker {i} failed ({code}): {proc.stderr.read().decode()[-3000:]}")  # type: ignore[union-attr]
            time.sleep(0.05)
    finally:
        chaos.stop.set()
        chaos.join()
        for proc in procs.values():
            proc.kill()
    elapsed = time.monotonic() - started
    # A final sweep after everything expired: no open hold or expired coin may block the checks.
    ledger.expire_holds(now=timezone.now() + datetime.timedelta(hours=1))
    ledger.expire_period_coins()

    rows = _read_logs(logs)
    ops = [r for r in rows if r["op"] not in ("retry", "retry_changed")]
    assert len({(r["w"], r["n"]) for r in rows}) >= per * WORKERS * 0.99, "every round ran"
    assert len(rows) >= total_ops, "at least the asked number of ledger operations ran"
    outcomes = Counter(r["outcome"] for r in rows)
    kinds = Counter(r["op"] for r in ops if r["outcome"] in ("ok", "replayed"))
    print(f"\n{len(rows)} ops in {elapsed:.1f}s; {chaos.killed} connections killed; {exits} exits; {outcomes}; {kinds}")
    assert all(
        kinds[k] > 0 for k in ("issue", "spend", "transfer", "hold", "post", "void", "reverse", "shared", "batch")
    )
    assert chaos.killed > 0 and exits > 0
    assert outcomes["gave_up"] == 0

    # Every key had a single effect.
    per_key = Counter(Transfer.objects.values_list("key", flat=True))
    assert per_key and max(per_key.values()) == 1
    assert (
        Transfer.objects.count()
        == LedgerKey.objects.filter(operation__in=["transfer", "issue", "post", "reverse", "expire"]).count()
    )
    # Retries with the same body replayed the same transfer; changed bodies were refused.
    first: dict[str, int] = {r["key"]: r["tid"] for r in ops if r.get("tid") and r["op"] != "shared"}
    for r in rows:
        if r["op"] == "retry":
            assert r["outcome"] in ("replayed", "ok"), r
            if r["key"] in first and r.get("tid"):
                assert r["tid"] == first[r["key"]], r
        if r["op"] == "retry_changed":
            assert r["outcome"] == "idempotency_conflict", r
    # Shared keys raced by all workers: one transfer each, and everyone saw that one.
    shared_tids: dict[str, set[int]] = defaultdict(set)
    for r in ops:
        if r["op"] == "shared" and r.get("tid"):
            shared_tids[r["key"]].add(r["tid"])
    assert shared_tids and all(len(t) == 1 for t in shared_tids.values())
    assert Transfer.objects.filter(key__startswith="shared:").count() == len(shared_tids)
    # Operations whose worker died inside the open transaction left nothing behind.
    died = [r["key"] for r in rows if r["outcome"] == "exit_in_open_transaction"]
    assert died and not LedgerKey.objects.filter(key__in=died).exists()
    # Successful keys are recorded.
    ok_keys = {r["key"] for r in ops if r["outcome"] == "ok" and r["key"]}
    assert LedgerKey.objects.filter(key__in=ok_keys).count() == len(ok_keys)

    # Conservation, no overdraft, balances = replay of the recorded transfers, chain intact.
    assert not Balance.objects.filter(may_go_negative=False, balance__lt=0).exists()
    assert not Balance.objects.exclude(account__kind="issuing").filter(may_go_negative=True).exists()
    replay = _replayed_balances()
    stored = {(b.account_id, b.period_id, b.budget_id): b.balance for b in Balance.objects.all()}
    assert {k: v for k, v in replay.items() if v} == {k: v for k, v in stored.items() if v}
    assert sum(stored.values()) == 0
    budget.refresh_from_db()
    assert budget.issued_amount == -ledger.balance(ledger.issuing_account(budget.county_id)) > 0
    assert verify() == []


def test_concurrent_issuing_cannot_exceed_the_budget(pg: None, tmp_path: Path) -> None:
    budget, setup = _world("rescue", reserved=1_000)  # 200 issues of 5 coins fit
    setup_file = tmp_path / "setup.json"
    setup_file.write_text(json.dumps(setup))
    logs = [tmp_path / f"b{i}.jsonl" for i in range(WORKERS)]
    procs = [_spawn(setup_file, logs[i], i, 40, mode="budget") for i in range(WORKERS)]  # 320 attempts
    for proc in procs:
        assert proc.wait(120) == 0, proc.stderr.read().decode()[-3000:]  # type: ignore[union-attr]
    outcomes = Counter(r["outcome"] for r in _read_logs(logs))
    assert outcomes == {"ok": 200, "budget_exceeded": 120}
    budget = Budget.objects.get(pk=budget.pk)
    assert budget.issued_amount == budget.reserved_amount == 1_000
    assert -ledger.balance(ledger.issuing_account(budget.county_id)) == 1_000
    assert verify() == []
