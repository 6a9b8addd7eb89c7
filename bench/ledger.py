"""Benchmark: sustained coin transfers/s on PostgreSQL, with pgbench's TPC-B-like script as the floor.

    .venv/bin/python bench/ledger.py [--clients 16] [--duration 20] [--wallets 2000]
                                     [--processes 1,2] [--flushers 2] [--configs 1x16,2x8] [--scale 16] [--no-api]

Issue 5 (the ledger). On PostgreSQL (BENCH_DATABASE_URL, default
postgres://postgres@127.0.0.1:5432/civicpush_bench_ledger; created when missing, never dropped):

1. pgbench: `pgbench -i -s SCALE` into its own database (BENCH_PGBENCH_URL, default
   …/civicpush_pgbench; initialised once per scale), then `pgbench -c 16 -j 2 -T DURATION` with the
   built-in tpcb-like script: transactions/s is the floor (a transfer does about the work of one
   TPC-B transaction: read and update balances, insert a history row). pgbench vacuums its tables
   before it runs; so does this script for the ledger's tables (`vacuum()`).
2. Ledger: a county, a reserved budget and W funded wallets. 16 concurrent clients (threads, split
   over P processes so Python uses both cores) each send one 1-coin transfer between two random
   wallets at a time and wait for its own result; each process's `TransferBatcher` groups the
   requests waiting at that moment into one transaction (TigerBeetle-style batching). With the
   hash chain on, as in production. Also measured: the same clients without batching (one
   transaction per transfer) for comparison.
3. API: gunicorn (gthread, WORKERSxTHREADS) with CIVICPUSH_LEDGER_BATCHING=1, 16 wrk connections
   (or a Python generator) POSTing /api/v1/coins/transfers with a live API key of the budget's unit
   (`Authorization: Bearer cpk_live_…`), each request paying 1 coin from one of the unit's 32 reward
   pools into a random wallet — a unit's system paying rewards — with a new idempotency key each.
4. `verify_ledger` must pass afterwards.

Targets: transfers_per_second ≥ pgbench_tps; api_transfers_per_second ≥ 0.5 × pgbench_tps. The
final line is JSON with transfers_per_second, api_transfers_per_second, pgbench_tps (and details).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from common import TEST_SECRETS, ensure_database, log  # noqa: E402
from inbox import start_server, stop_server  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civicpush_bench_ledger"
DEFAULT_PGBENCH_URL = "postgres://postgres@127.0.0.1:5432/civicpush_pgbench"
POOLS = 32  # reward pools of the bench unit: the API's unit key pays from them into wallets


# --- pgbench ----------------------------------------------------------------------------------------


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    p = urlparse(url)
    env = {**os.environ}
    if p.password:
        env["PGPASSWORD"] = p.password
    args = ["-h", p.hostname or "127.0.0.1", "-p", str(p.port or 5432), "-U", p.username or "postgres"]
    return args, env


def run_pgbench(url: str, scale: int, clients: int, seconds: int) -> float:
    import psycopg

    binary = shutil.which("pgbench") or "/usr/lib/postgresql/15/bin/pgbench"
    ensure_database(url)
    name = urlparse(url).path.lstrip("/")
    args, env = _pg_args(url)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT to_regclass('pgbench_branches') IS NOT NULL").fetchone()
        have = conn.execute("SELECT count(*) FROM pgbench_branches").fetchone()[0] if row and row[0] else 0  # type: ignore[index]
    if have != scale:
        log(f"pgbench -i -s {scale} …")
        subprocess.run([binary, *args, "-i", "-q", "-s", str(scale), name], env=env, check=True, capture_output=True)
    log(f"pgbench tpcb-like, {clients} clients, {seconds} s …")
    out = subprocess.run(
        [binary, *args, "-c", str(clients), "-j", "2", "-T", str(seconds), name],
        env=env, check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    match = re.search(
        r"tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)", out
    )
    if not match:
        raise SystemExit(f"could not read pgbench's tps:\n{out}")
    return float(match.group(1))


# --- data ---------------------------------------------------------------------------------------------


def build(wallets: int) -> dict[str, Any]:
    """A county with a huge reserved budget and `wallets` wallets of 1,000,000 coins each (reused)."""
    import datetime

    from django.utils import timezone

    from civicpush.citizens.models import Citizen
    from civicpush.coins import ledger
    from civicpush.coins.models import Account, Budget, BudgetStatus, ExpiryPeriod
    from civicpush.demo.organisation import create_fire_bureau
    from civicpush.org.models import StaffUser

    demo = create_fire_bureau()
    county = demo.county
    unit = demo.unit("prevention")
    year = timezone.localdate().year
    budget, _ = Budget.objects.get_or_create(
        unit=unit, year=year,
        defaults={"county": county, "requested_amount": 10**15, "reserved_amount": 10**15, "status": BudgetStatus.RESERVED,
                  "issue_deadline": timezone.localdate() + datetime.timedelta(days=365)},
    )  # fmt: skip
    period, _ = ExpiryPeriod.objects.get_or_create(
        county=county,
        code="bench",
        defaults={"name": "bench", "expires_at": timezone.now() + datetime.timedelta(days=3650)},
    )
    have = list(Account.objects.filter(county=county, kind="wallet").order_by("id").values_list("id", flat=True))
    if len(have) < wallets:
        log(f"creating and funding {wallets - len(have)} wallets …")
        start = Citizen.objects.filter(county=county).count()
        for i in range(start, start + wallets - len(have)):
            citizen = Citizen.objects.create(county=county, phone_e164=f"+8869{80000000 + i:08d}")
            wallet = ledger.wallet_of(citizen)
            ledger.issue(key=f"bench-fund:{wallet.pk}", budget=budget, credit=wallet, amount=1_000_000, period=period,
                         reason="bench funding")  # fmt: skip
        have = list(Account.objects.filter(county=county, kind="wallet").order_by("id").values_list("id", flat=True))
    pools = []
    for i in range(POOLS):
        pool = ledger.reward_pool(county, ref=f"bench-pool:{i}", unit=unit)
        ledger.issue(key=f"bench-fund-pool:{pool.pk}", budget=budget, credit=pool, amount=10**12, period=period,
                     reason="bench funding")  # fmt: skip
        pools.append(pool.pk)
    operator = StaffUser.objects.get(username="county.operator")
    return {"wallets": have[:wallets], "pools": pools, "operator_id": operator.pk, "county_id": county.pk,
            "unit_id": unit.pk}  # fmt: skip


def api_key(unit_id: int) -> str:
    """A fresh live API key of the budget's unit (its manager creates it, as in the console)."""
    from civicpush.org.models import RoleAssignment, Unit
    from civicpush.org.services import do_create_api_key

    unit = Unit.objects.get(pk=unit_id)
    manager = RoleAssignment.objects.filter(unit=unit, role="unit_account_manager").select_related("user").first()
    if manager is None:
        raise SystemExit("the demo organisation has no account manager for the bench unit")
    _row, raw = do_create_api_key(actor=manager.user, unit=unit, name=f"bench {secrets.token_hex(3)}", kind="live")
    return raw


def vacuum() -> None:
    """As pgbench vacuums its tables before each run: the ledger's small, hot tables are compacted
    (VACUUM FULL rewrites them with the table's fillfactor) and the transfer tables vacuumed, so
    that dead rows of earlier runs do not weigh on this one."""
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("coins_balance", "coins_chainhead", "coins_account", "coins_budget"):
            cursor.execute(f"VACUUM FULL ANALYZE {table}")
        for table in ("coins_transfer", "coins_transferleg", "coins_ledgerkey"):
            cursor.execute(f"VACUUM ANALYZE {table}")


# --- direct ledger clients ------------------------------------------------------------------------


def _ledger_process(args: tuple[list[int], int, float, bool, str, int, int]) -> dict[str, Any]:
    """One process: `threads` clients, each one transfer at a time, for `seconds`."""
    wallet_ids, threads, seconds, batched, prefix, seed, flushers = args
    import django

    django.setup()
    from django.db import connection

    from civicpush.coins import ledger
    from civicpush.coins.models import Account

    accounts = Account.objects.in_bulk(wallet_ids)
    connection.close()
    batcher = ledger.TransferBatcher(flushers=flushers).start() if batched else None
    stop_at = time.perf_counter() + seconds
    counts = [0] * threads
    errors = [0] * threads

    def client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        i = 0
        while time.perf_counter() < stop_at:
            a, b = rng.sample(wallet_ids, 2)
            i += 1
            req = ledger.TransferRequest(
                key=f"{prefix}-{n}-{i}", debit=accounts[a], credit=accounts[b], amount=1, kind="bench"
            )
            try:
                if batcher is not None:
                    batcher.transfer(req)
                else:
                    ledger.transfer(key=req.key, debit=req.debit, credit=req.credit, amount=1, kind="bench")
                counts[n] += 1
            except Exception:
                errors[n] += 1
        if batcher is None:
            connection.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    batches = items = 0
    if batcher is not None:
        batcher.stop()
        batches, items = batcher.batches, batcher.items
    return {"done": sum(counts), "errors": sum(errors), "seconds": elapsed, "batches": batches, "items": items}


def run_ledger(
    wallets: list[int], clients: int, processes: int, seconds: int, batched: bool, flushers: int = 1
) -> dict[str, Any]:
    from multiprocessing import get_context

    per = [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]
    prefix = f"bench-{'b' if batched else 's'}-{int(time.time() * 1000)}-{secrets.token_hex(3)}"
    with get_context("spawn").Pool(processes) as pool:
        parts = pool.map(
            _ledger_process,
            [(wallets, n, float(seconds), batched, f"{prefix}-{p}", p, flushers) for p, n in enumerate(per)],
        )
    done = sum(p["done"] for p in parts)
    elapsed = max(p["seconds"] for p in parts)
    batches = sum(p["batches"] for p in parts)
    return {
        "transfers_per_second": round(done / elapsed, 1),
        "transfers": done,
        "errors": sum(p["errors"] for p in parts),
        "mean_batch": round(sum(p["items"] for p in parts) / batches, 1) if batches else 1.0,
    }


# --- the API ---------------------------------------------------------------------------------------


WRK_LUA = r"""
local pairs_list = {}
for line in io.lines(os.getenv("BENCH_PAIRS")) do pairs_list[#pairs_list + 1] = line end
local prefix = os.getenv("BENCH_PREFIX")
local auth = os.getenv("BENCH_AUTH")
local counter = 0
local threads = {}
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  counter = 0
end
function request()
  counter = counter + 1
  local pair = pairs_list[((counter * 7919 + tid * 104729) % #pairs_list) + 1]
  local d, c = pair:match("(%d+),(%d+)")
  local body = string.format(
    '{"key":"%s-%d-%d","debit_account_id":%s,"credit_account_id":%s,"amount":1,"kind":"bench"}',
    prefix, tid, counter, d, c)
  return wrk.format("POST", "/api/v1/coins/transfers",
    {["Content-Type"] = "application/json", ["Authorization"] = auth}, body)
end
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "BENCHJSON {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, \"errors\": %d, \"non2xx\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errors, summary.errors.status))
end
"""


def _python_api_worker(args: tuple[str, int, list[str], dict[str, str], float, int, str]) -> tuple[int, int]:
    import http.client

    host, port, pairs, headers, seconds, threads, prefix = args
    done = [0] * threads
    errors = [0] * threads
    stop_at = time.perf_counter() + seconds

    def client(n: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        i = 0
        while time.perf_counter() < stop_at:
            i += 1
            d, c = pairs[(i * 7919 + n * 104729) % len(pairs)].split(",")
            body = json.dumps({"key": f"{prefix}-{n}-{i}", "debit_account_id": int(d), "credit_account_id": int(c),
                               "amount": 1, "kind": "bench"})  # fmt: skip
            try:
                conn.request("POST", "/api/v1/coins/transfers", body=body, headers=headers)
                r = conn.getresponse()
                r.read()
                if r.status == 201:
                    done[n] += 1
                else:
                    errors[n] += 1
            except OSError:
                errors[n] += 1
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)

    pool = [threading.Thread(target=client, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(done), sum(errors)


def run_api(url: str, config: str, setup: dict[str, Any], clients: int, seconds: int, generator: str) -> dict[str, Any]:
    workers, threads = (int(x) for x in config.lower().split("x"))
    rng = random.Random(7)
    # A unit's system pays rewards: from one of its reward pools into a citizen's wallet.
    pairs = [f"{rng.choice(setup['pools'])},{rng.choice(setup['wallets'])}" for _ in range(20_000)]
    auth = f"Bearer {api_key(setup['unit_id'])}"
    headers = {"Content-Type": "application/json", "Authorization": auth}
    from django.db import connection

    connection.close()
    os.environ["CIVICPUSH_LEDGER_BATCHING"] = "1"
    proc, base = start_server(url, workers, threads)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-ledger-") as tmp:
            pairs_file = Path(tmp) / "pairs.txt"
            pairs_file.write_text("\n".join(pairs) + "\n")
            lua = Path(tmp) / "transfer.lua"
            lua.write_text(WRK_LUA)

            def measure(duration: int) -> dict[str, Any]:
                prefix = f"api-{int(time.time() * 1000)}-{secrets.token_hex(3)}"
                if generator == "wrk":
                    env = {**os.environ, "BENCH_PAIRS": str(pairs_file), "BENCH_PREFIX": prefix, "BENCH_AUTH": auth}
                    out = subprocess.run(
                        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{duration}s", "--timeout", "30s", "-s", str(lua), base],
                        env=env, capture_output=True, text=True, check=True,
                    ).stdout  # fmt: skip
                    raw = json.loads(
                        next(line for line in out.splitlines() if line.startswith("BENCHJSON ")).split(" ", 1)[1]
                    )
                    ok = raw["requests"] - raw["non2xx"] - raw["errors"]
                    return {
                        "rps": round(ok / (raw["duration_us"] / 1e6), 1),
                        "p50_ms": round(raw["p50_us"] / 1000, 2),
                        "p99_ms": round(raw["p99_us"] / 1000, 2),
                        "errors": raw["errors"] + raw["non2xx"],
                    }
                from multiprocessing import Pool

                parsed = urlparse(base)
                per = [clients // 2 + (1 if i < clients % 2 else 0) for i in range(2)]
                started = time.perf_counter()
                with Pool(2) as pool:
                    parts = pool.map(
                        _python_api_worker,
                        [
                            (
                                parsed.hostname or "127.0.0.1",
                                parsed.port or 80,
                                pairs,
                                headers,
                                float(duration),
                                n,
                                f"{prefix}-{k}",
                            )
                            for k, n in enumerate(per)
                        ],
                    )
                elapsed = time.perf_counter() - started
                return {"rps": round(sum(d for d, _e in parts) / elapsed, 1), "errors": sum(e for _d, e in parts)}

            check = _python_api_worker((urlparse(base).hostname, urlparse(base).port, pairs[:1],  # type: ignore[arg-type]
                                        headers,
                                        0.5, 1, f"probe-{secrets.token_hex(4)}"))  # fmt: skip
            if check[0] == 0:
                raise SystemExit("the API refused the bench's transfers (expected 201)")
            measure(3)  # warm-up
            result = measure(seconds)
    finally:
        stop_server(proc)
    return {"config": config, **result}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--wallets", type=int, default=2000)
    parser.add_argument(
        "--processes",
        default="1,2",
        help="processes sharing the direct clients; comma-separated: each is run, the best reported",
    )
    parser.add_argument("--flushers", type=int, default=2, help="batcher flusher threads per process")
    parser.add_argument("--configs", default="1x16,2x8", help="gunicorn WORKERSxTHREADS to try, comma-separated")
    parser.add_argument("--scale", type=int, default=16, help="pgbench scale factor")
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-api", action="store_true")
    parser.add_argument("--no-unbatched", action="store_true")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must be a PostgreSQL URL")
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "civicpush.config.settings"
    os.environ.setdefault("CIVICPUSH_LOG_LEVEL", "WARNING")
    os.environ.setdefault("CIVICPUSH_CONN_MAX_AGE", "600")
    for key, value in TEST_SECRETS.items():
        os.environ.setdefault(key, value)

    load_start = os.getloadavg()[0]
    pgbench_tps = run_pgbench(
        os.environ.get("BENCH_PGBENCH_URL", DEFAULT_PGBENCH_URL), args.scale, args.clients, args.duration
    )
    log(f"pgbench: {pgbench_tps:.0f} tps")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    setup = build(args.wallets)
    vacuum()
    connection.close()

    runs = []
    for processes in (int(p) for p in args.processes.split(",")):
        log(f"ledger, batched: {args.clients} clients over {processes} process(es), {args.duration} s …")
        runs.append({**run_ledger(setup["wallets"], args.clients, processes, args.duration, True, args.flushers),
                     "processes": processes})  # fmt: skip
        log(json.dumps(runs[-1]))
    batched = max(runs, key=lambda r: r["transfers_per_second"])
    unbatched: dict[str, Any] = {}
    if not args.no_unbatched:
        log("ledger, one transaction per transfer …")
        unbatched = run_ledger(setup["wallets"], args.clients, batched["processes"], args.duration, batched=False)
        log(json.dumps(unbatched))

    api: dict[str, Any] = {}
    results: list[dict[str, Any]] = []
    if not args.no_api:
        generator = args.generator
        if generator == "auto":
            generator = "wrk" if shutil.which("wrk") else "python"
        for config in args.configs.split(","):
            log(f"API via gunicorn {config}, {generator}, {args.clients} connections …")
            results.append(run_api(url, config, setup, args.clients, args.duration, generator))
            log(json.dumps(results[-1]))
        api = max(results, key=lambda r: r["rps"])

    from civicpush.coins.verify import verify

    started = time.monotonic()
    problems = verify()
    log(f"verify_ledger: {len(problems)} problem(s) in {time.monotonic() - started:.1f} s")
    for problem in problems[:20]:
        log(f"  {problem}")

    print(
        json.dumps(
            {
                "transfers_per_second": batched["transfers_per_second"],
                "api_transfers_per_second": api.get("rps"),
                "pgbench_tps": round(pgbench_tps, 1),
                "transfers_per_second_unbatched": unbatched.get("transfers_per_second"),
                "mean_batch": batched["mean_batch"],
                "processes": batched["processes"],
                "batched_by_processes": {r["processes"]: r["transfers_per_second"] for r in runs},
                "api_config": api.get("config"),
                "api_by_config": {r["config"]: r["rps"] for r in results} if api else {},
                "api_p50_ms": api.get("p50_ms"),
                "api_p99_ms": api.get("p99_ms"),
                "errors": batched["errors"] + unbatched.get("errors", 0) + (api.get("errors") or 0),
                "clients": args.clients,
                "verify_problems": len(problems),
                "target_transfers_met": batched["transfers_per_second"] >= pgbench_tps,
                "target_api_met": bool(api) and api["rps"] >= 0.5 * pgbench_tps,
                "load_average": [round(load_start, 1), round(os.getloadavg()[0], 1)],  # 1-min, at start and end
            }
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
