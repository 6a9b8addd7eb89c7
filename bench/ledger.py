"""Benchmark: sustained coin transfers/s on PostgreSQL, with pgbench's TPC-B-like script as the floor.

    .venv/bin/python bench/ledger.py [--clients 16] [--duration 20] [--wallets 2000]
                                     [--processes 1,2] [--flushers 2] [--configs 1x16,2x8] [--scale 16] [--no-api]
                                     [--api-cpu N] [--no-direct] [--no-pgbench]

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

CPU per transaction is reported for pgbench (client and its backends, over a window of its run) and
for the API (wrk, the gunicorn workers, the bench database's backends); `--api-cpu N` also measures
the CPU per API request in one process calling the WSGI application (fast path, Django path, and
the same transfers handed straight to the batcher; ADR 0014 "Ledger API").

Targets: transfers_per_second ≥ pgbench_tps; api_transfers_per_second ≥ 0.5 × pgbench_tps. The
final line is JSON with transfers_per_second, api_transfers_per_second, pgbench_tps (and details).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
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
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- CPU accounting (per transaction: the load generator, the server and the PostgreSQL backends) ---


def _cpu_of(pid: int) -> float:
    """utime + stime of a live process (all its threads), in seconds; 0 when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def _backends(database: str) -> list[int]:
    """PostgreSQL backends connected to `database` (their title is "postgres: user database host …")."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            title = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("postgres: ") and f" {database} " in title:
            found.append(int(entry.name))
    return found


def _children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def cpu_snapshot(pids: list[int]) -> dict[int, float]:
    return {pid: _cpu_of(pid) for pid in pids}


def _rusage_cpu(usage: resource.struct_rusage) -> float:
    return usage.ru_utime + usage.ru_stime


def _only(snapshot: dict[int, float], pids: set[int], inside: bool) -> dict[int, float]:
    return {pid: cpu for pid, cpu in snapshot.items() if (pid in pids) == inside}


def cpu_delta(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU seconds used between two snapshots by processes alive at both."""
    return sum(after[pid] - before[pid] for pid in before if pid in after and after[pid] >= before[pid])


# --- pgbench ----------------------------------------------------------------------------------------


def _pg_args(url: str) -> tuple[list[str], dict[str, str]]:
    p = urlparse(url)
    env = {**os.environ}
    if p.password:
        env["PGPASSWORD"] = p.password
    args = ["-h", p.hostname or "127.0.0.1", "-p", str(p.port or 5432), "-U", p.username or "postgres"]
    return args, env


PGBENCH_CPU: dict[str, float] = {}


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
    proc = subprocess.Popen(
        [binary, *args, "-c", str(clients), "-j", "2", "-T", str(seconds), name],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    # CPU per transaction over a window inside the run (all connections open): pgbench itself and
    # its backends (PostgreSQL's shared background processes are left out, as for the API).
    window = max(1.0, seconds - 2.0)
    time.sleep(1.0)
    pids = [proc.pid, *_backends(name)]
    before, started = cpu_snapshot(pids), time.perf_counter()
    time.sleep(window)
    after, elapsed = cpu_snapshot(pids), time.perf_counter() - started
    out, err = proc.communicate()
    if proc.returncode:
        raise SystemExit(f"pgbench failed:\n{err}")
    PGBENCH_CPU.update(
        client=cpu_delta({proc.pid: before[proc.pid]}, {proc.pid: after[proc.pid]}),
        backends=cpu_delta(before, after) - (after[proc.pid] - before[proc.pid]),
        seconds=elapsed,
    )
    match = re.search(
        r"tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)", out
    )
    if not match:
        raise SystemExit(f"could not read pgbench's tps:\n{out}")
    tps = float(match.group(1))
    transactions = tps * PGBENCH_CPU["seconds"]
    PGBENCH_CPU.update(
        client_us=round(PGBENCH_CPU["client"] / transactions * 1e6, 1),
        backends_us=round(PGBENCH_CPU["backends"] / transactions * 1e6, 1),
    )
    return tps


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
    database = urlparse(url).path.lstrip("/")
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
                    # CPU of the whole run: wrk (a child: its rusage), the gunicorn workers and the
                    # database's backends (the workers' connections and the batchers').
                    server = [*_children(proc.pid), *_backends(database)]
                    before, wrk_before = cpu_snapshot(server), resource.getrusage(resource.RUSAGE_CHILDREN)
                    out = subprocess.run(
                        ["wrk", "-t", "2", "-c", str(clients), "-d", f"{duration}s", "--timeout", "30s", "-s", str(lua), base],
                        env=env, capture_output=True, text=True, check=True,
                    ).stdout  # fmt: skip
                    after, wrk_after = cpu_snapshot(server), resource.getrusage(resource.RUSAGE_CHILDREN)
                    raw = json.loads(
                        next(line for line in out.splitlines() if line.startswith("BENCHJSON ")).split(" ", 1)[1]
                    )
                    ok = raw["requests"] - raw["non2xx"] - raw["errors"]
                    backends = set(_backends(database))
                    per = 1e6 / max(1, raw["requests"])
                    return {
                        "rps": round(ok / (raw["duration_us"] / 1e6), 1),
                        "p50_ms": round(raw["p50_us"] / 1000, 2),
                        "p99_ms": round(raw["p99_us"] / 1000, 2),
                        "errors": raw["errors"] + raw["non2xx"],
                        "cpu_us": {
                            "wrk": round((_rusage_cpu(wrk_after) - _rusage_cpu(wrk_before)) * per, 1),
                            "gunicorn": round(cpu_delta(_only(before, backends, False), after) * per, 1),
                            "backends": round(cpu_delta(_only(before, backends, True), after) * per, 1),
                        },
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


def measure_api_cpu(setup: dict[str, Any], requests: int, threads: int) -> dict[str, Any]:
    """CPU per transfer request in ONE process calling the WSGI application (`civicpush.config.wsgi`)
    from `threads` threads, with the fast path (coins/fastpath_api.py) on and off, and for the same
    transfers handed straight to the batcher. Each request pays 1 coin from a pool into a wallet with
    a new key (201 expected). `time.process_time()` covers the request threads and the batcher's
    threads (the ledger's Python work), not PostgreSQL. Load-independent enough to decide by."""
    import io

    os.environ["CIVICPUSH_LEDGER_BATCHING"] = "1"
    from civicpush.coins import ledger
    from civicpush.coins.models import Account
    from civicpush.config.wsgi import application

    auth = f"Bearer {api_key(setup['unit_id'])}"
    rng = random.Random(11)
    pairs = [(rng.choice(setup["pools"]), rng.choice(setup["wallets"])) for _ in range(2000)]
    accounts = Account.objects.in_bulk({a for pair in pairs for a in pair})
    tag = f"cpu-{int(time.time() * 1000)}-{secrets.token_hex(3)}"
    per_thread = max(1, requests // threads)

    thread_cpu: list[float] = []

    def http_client(mode: str, n: int, failures: list[str]) -> None:
        started = time.thread_time()
        for i in range(per_thread):
            d, c = pairs[(n * per_thread + i) % len(pairs)]
            body = json.dumps({"key": f"{tag}-{mode}-{n}-{i}", "debit_account_id": d, "credit_account_id": c,
                               "amount": 1, "kind": "bench"}).encode()  # fmt: skip
            environ = {
                "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/coins/transfers", "QUERY_STRING": "",
                "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1:8000",
                "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http",
                "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr, "CONTENT_TYPE": "application/json",
                "CONTENT_LENGTH": str(len(body)), "HTTP_AUTHORIZATION": auth,
            }  # fmt: skip
            status: list[str] = []
            result = application(environ, lambda s, h, e=None, status=status: status.append(s))
            b"".join(result)
            if hasattr(result, "close"):
                result.close()
            if not status[0].startswith("201"):
                failures.append(status[0])
        thread_cpu.append(time.thread_time() - started)

    def direct_client(mode: str, n: int, failures: list[str]) -> None:
        started = time.thread_time()
        batcher = ledger.batcher()
        for i in range(per_thread):
            d, c = pairs[(n * per_thread + i) % len(pairs)]
            req = ledger.TransferRequest(key=f"{tag}-{mode}-{n}-{i}", debit=accounts[d], credit=accounts[c], amount=1,
                                         kind="bench", actor="api-key:bench")  # fmt: skip
            batcher.transfer(req)
        thread_cpu.append(time.thread_time() - started)

    def run(mode: str) -> tuple[float, float, float]:
        nonlocal tag
        thread_cpu.clear()
        tag = f"{tag}+"  # new idempotency keys for every round
        application.active = mode == "fastpath"
        client = direct_client if mode == "direct" else http_client
        failures: list[str] = []
        pool = [threading.Thread(target=client, args=(mode, n, failures)) for n in range(threads)]
        cpu, wall = time.process_time(), time.perf_counter()
        for t in pool:
            t.start()
        for t in pool:
            t.join()
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        if failures:
            raise SystemExit(f"{mode}: {len(failures)} requests failed, e.g. {failures[0]}")
        done = per_thread * threads
        return cpu / done * 1e6, done / wall, sum(thread_cpu) / done * 1e6

    run("fastpath")  # warm-up: caches, the batcher's threads and connections
    run("django")
    figures: dict[str, list[tuple[float, float, float]]] = {"fastpath": [], "django": [], "direct": []}
    for _round in range(2):
        for mode in figures:
            figures[mode].append(run(mode))
    application.active = True
    best = {mode: min(runs) for mode, runs in figures.items()}  # the lower CPU of two rounds each
    return {
        "threads": threads,
        "requests_per_mode": per_thread * threads,
        "cpu_us_per_transfer": {mode: round(cpu, 1) for mode, (cpu, _rps, _t) in best.items()},
        # of which in the request threads (the rest: the batcher's flushers and durability thread)
        "request_thread_cpu_us": {mode: round(t, 1) for mode, (_cpu, _rps, t) in best.items()},
        "in_process_per_second": {mode: round(rps, 1) for mode, (_cpu, rps, _t) in best.items()},
    }


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
    parser.add_argument("--no-direct", action="store_true", help="skip the direct ledger clients (API work)")
    parser.add_argument(
        "--api-cpu", type=int, default=0, metavar="N",
        help="also measure CPU per API request in one process (fast path, Django, direct), N requests each",
    )  # fmt: skip
    parser.add_argument("--no-pgbench", action="store_true", help="skip pgbench (development runs only)")
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

    load_start = os.getloadavg()
    pgbench_tps = 0.0
    if not args.no_pgbench:
        pgbench_tps = run_pgbench(
            os.environ.get("BENCH_PGBENCH_URL", DEFAULT_PGBENCH_URL), args.scale, args.clients, args.duration
        )
        log(f"pgbench: {pgbench_tps:.0f} tps; CPU per transaction: {json.dumps(PGBENCH_CPU)}")

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    setup = build(args.wallets)
    vacuum()
    connection.close()

    api_cpu: dict[str, Any] = {}
    if args.api_cpu:
        log(f"API CPU per request in one process ({args.api_cpu} requests per mode, {args.clients} threads) …")
        api_cpu = measure_api_cpu(setup, args.api_cpu, args.clients)
        log(json.dumps(api_cpu))
        connection.close()

    runs = []
    for processes in (int(p) for p in args.processes.split(",") if not args.no_direct):
        log(f"ledger, batched: {args.clients} clients over {processes} process(es), {args.duration} s …")
        runs.append({**run_ledger(setup["wallets"], args.clients, processes, args.duration, True, args.flushers),
                     "processes": processes})  # fmt: skip
        log(json.dumps(runs[-1]))
    batched = max(runs, key=lambda r: r["transfers_per_second"]) if runs else {
        "transfers_per_second": None, "mean_batch": None, "processes": None, "errors": 0}  # fmt: skip
    unbatched: dict[str, Any] = {}
    if not args.no_unbatched and runs:
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
                "target_transfers_met": bool(runs) and batched["transfers_per_second"] >= pgbench_tps,
                "target_api_met": bool(api) and api["rps"] >= 0.5 * pgbench_tps,
                "api_ratio": round(api["rps"] / pgbench_tps, 3) if api and pgbench_tps else None,
                "api_cpu_us": api.get("cpu_us"),
                "pgbench_cpu_us": {k: PGBENCH_CPU.get(k) for k in ("client_us", "backends_us")},
                "api_in_process": api_cpu or None,
                "load_average": [round(x, 1) for x in (*load_start, *os.getloadavg())],  # 1/5/15-min, start and end
            }
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
