"""Benchmark `make bench-pay` (issue 8): store payments per second over HTTP.

On PostgreSQL (BENCH_DATABASE_URL, default civicpush_bench_pay): 16 stores, each with a cashier
(store staff, session + CSRF), and funded citizens each with a fresh pay code (issued through the
wallet's public `issue_pay_code`; every payment consumes one code). gunicorn (gthread, as
bench/ledger.py starts it) serves POST /api/v1/stores/payments; wrk keeps 16 connections open, each
request made by one of the 16 stores' cashiers with a new client_key and the next unused pay code.
The whole real path runs: consume the code, Payment row, ledger transfer wallet → store payable, and
the receipt system notice after commit. As in production, the notice's delivery fan-out is queued
on a broker (BENCH_BROKER_URL, default Redis db 12) for the workers; no worker runs during the
benchmark, and the queued tasks are removed afterwards — SMS/push delivery is not the web path.

Prints progress on stderr and a final JSON line with payments_per_second, p50_ms, p99_ms.
Run it alone: `flock /tmp/civicpush-bench.lock make bench-pay`.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(REPO))

from common import TEST_SECRETS, ensure_database, log  # noqa: E402
from inbox import start_server, stop_server  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civicpush_bench_pay"
STORES = 16
AMOUNT = 10

WRK_LUA = r"""
local tokens = {}
local cookies = {}
local csrf = os.getenv("BENCH_CSRF")
local prefix = os.getenv("BENCH_PREFIX")
for line in io.lines(os.getenv("BENCH_COOKIES")) do cookies[#cookies + 1] = line end
local counter = 0
local threads = {}
-- `tid` is a global set per thread by setup() (a `local tid` here would hide it).
function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end
function init(args)
  local nthreads = tonumber(os.getenv("BENCH_THREADS"))
  local i = 0
  for line in io.lines(os.getenv("BENCH_TOKENS")) do
    if i % nthreads == tid then tokens[#tokens + 1] = line end
    i = i + 1
  end
end
function request()
  counter = counter + 1
  local token = tokens[((counter - 1) % #tokens) + 1]
  local cookie = cookies[((counter + tid * 8) % #cookies) + 1]
  local body = string.format('{"pay_code":"%s","amount":%s,"client_key":"%s-%d-%d"}',
    token, os.getenv("BENCH_AMOUNT"), prefix, tid, counter)
  return wrk.format("POST", "/api/v1/stores/payments",
    {["Content-Type"] = "application/json", ["Cookie"] = cookie, ["X-CSRFToken"] = csrf}, body)
end
function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format(
    "BENCHJSON {\"requests\": %d, \"duration_us\": %d, \"p50_us\": %d, \"p99_us\": %d, \"errors\": %d, \"non2xx\": %d}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errors, summary.errors.status))
end
"""


def build(citizens: int) -> dict[str, Any]:
    """The demo organisation, 16 stores with a cashier each, `citizens` funded citizens."""
    import datetime

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from civicpush.citizens.models import Citizen
    from civicpush.citizens.reference import ensure_reference_data
    from civicpush.coins import ledger
    from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
    from civicpush.demo.organisation import create_fire_bureau
    from civicpush.org.models import StaffUser
    from civicpush.stores.models import Store, StoreRole, StoreStaff
    from civicpush.stores.tests.helpers import store_data

    demo = create_fire_bureau()
    county = demo.county
    ensure_reference_data(county)
    operator = demo.user("county.operator")
    stores = list(Store.objects.filter(county=county, name__startswith="壓測商店").order_by("pk"))
    from civicpush.stores import services

    for n in range(len(stores), STORES):
        stores.append(services.do_create_store(operator, county.pk, store_data(county, name=f"壓測商店{n:02d}")))
    cashiers = []
    password = make_password(None)
    for store in stores:
        user, _ = StaffUser.objects.get_or_create(
            username=f"bench.cashier{store.pk}", defaults={"county": county, "password": password}
        )
        StoreStaff.objects.get_or_create(user=user, defaults={"store": store, "role": StoreRole.CASHIER})
        cashiers.append(user.pk)
    year = timezone.localdate().year
    budget, _ = Budget.objects.get_or_create(
        unit=demo.unit("admin"),
        year=year,
        defaults={
            "county": county,
            "requested_amount": 10**9,
            "reserved_amount": 10**9,
            "status": BudgetStatus.RESERVED,
            "issue_deadline": timezone.localdate() + datetime.timedelta(days=365),
        },
    )
    period, _ = ExpiryPeriod.objects.get_or_create(
        county=county, code="bench-pay", defaults={"expires_at": timezone.now() + datetime.timedelta(days=3650)}
    )
    existing = Citizen.objects.filter(county=county, phone_e164__startswith="+88696").count()
    if existing < citizens:
        Citizen.objects.bulk_create(
            [Citizen(county=county, phone_e164=f"+88696{n:07d}") for n in range(existing, citizens)], batch_size=2000
        )
    pool = ledger.county_pool(county)
    ids = list(
        Citizen.objects.filter(county=county, phone_e164__startswith="+88696")
        .order_by("pk")
        .values_list("pk", flat=True)[:citizens]
    )
    stamp = secrets.token_hex(4)
    ledger.issue(
        key=f"bench-pay:pool:{stamp}",
        budget=budget,
        credit=pool,
        amount=len(ids) * AMOUNT * 20,
        period=period,
        reason="bench",
    )
    for start in range(0, len(ids), 500):
        chunk = Citizen.objects.filter(pk__in=ids[start : start + 500])
        results = ledger.transfer_batch(
            [
                ledger.TransferRequest(
                    key=f"bench-pay:fund:{stamp}:{c.pk}",
                    debit=pool,
                    credit=ledger.wallet_of(c),
                    amount=AMOUNT * 20,
                    kind="bench",
                )
                for c in chunk
            ]
        )
        bad = [r for r in results if not hasattr(r, "transfer_id")]
        if bad:
            raise SystemExit(f"funding failed: {bad[0]}")
    return {"cashiers": cashiers, "citizens": ids}


def issue_codes(citizen_ids: list[int], valid_from: float) -> list[str]:
    """One pay code per citizen, issued through the public issue_pay_code with `now` = `valid_from`
    (so each expires 60 s after it)."""
    import datetime

    from civicpush.citizens.models import Citizen
    from civicpush.wallet.services import issue_pay_code

    now = datetime.datetime.fromtimestamp(valid_from, tz=datetime.UTC)
    return [issue_pay_code(c, now=now).token for c in Citizen.objects.filter(pk__in=citizen_ids).order_by("pk")]


def _cookies(cashier_ids: list[int], csrf: str) -> list[str]:
    from django.conf import settings
    from django.test import Client

    from civicpush.org.models import StaffUser

    out = []
    for pk in cashier_ids:
        client = Client()
        client.force_login(StaffUser.objects.get(pk=pk))
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
        out.append(f"{settings.SESSION_COOKIE_NAME}={session}; {settings.CSRF_COOKIE_NAME}={csrf}")
    return out


def run_wrk(base: str, env: dict[str, str], clients: int, duration: int, lua: Path) -> dict[str, Any]:
    out = subprocess.run(
        ["wrk", "-t", env["BENCH_THREADS"], "-c", str(clients), "-d", f"{duration}s", "--timeout", "30s", "-s", str(lua), base],
        env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    raw = json.loads(next(line for line in out.splitlines() if line.startswith("BENCHJSON ")).split(" ", 1)[1])
    ok = raw["requests"] - raw["non2xx"] - raw["errors"]
    return {
        "requests": raw["requests"],
        "ok": ok,
        "payments_per_second": round(ok / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1000, 2),
        "p99_ms": round(raw["p99_us"] / 1000, 2),
        "errors": raw["errors"] + raw["non2xx"],
    }


def _drop_queued_tasks(broker: str) -> None:
    """Remove the receipts' fan-out tasks this run queued (only the kombu queue keys of our db)."""
    if not broker.startswith("redis://"):
        return
    import redis

    client = redis.Redis.from_url(broker)
    client.delete("personal", "default", "bulk")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--citizens", type=int, default=6000, help="pay codes available (one per payment)")
    parser.add_argument("--config", default="2x8", help="gunicorn WORKERSxTHREADS")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must be a PostgreSQL URL")
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "civicpush.config.settings"
    os.environ.setdefault("CIVICPUSH_LOG_LEVEL", "WARNING")
    for key, value in TEST_SECRETS.items():
        os.environ.setdefault(key, value)
    broker = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/12")
    os.environ.pop("CELERY_BROKER_URL", None)  # the setup runs without a broker

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0, interactive=False)
    log(f"building {STORES} stores and {args.citizens:,} funded citizens …")
    setup = build(args.citizens)
    csrf = secrets.token_hex(16)
    cookies = _cookies(setup["cashiers"], csrf)
    warm = setup["citizens"][:500]
    measured = setup["citizens"][500:]
    log("issuing pay codes …")
    # Issued with the wallet's `now` set 60 s ahead: each code stays valid (60 s) until 120 s from here,
    # long enough for the whole run (consume_pay_code checks only the expiry).
    valid_from = time.time() + 60
    warm_codes = issue_codes(warm, time.time())
    codes = issue_codes(measured, valid_from)
    connection.close()
    workers, threads = (int(x) for x in args.config.lower().split("x"))
    from civicpush.stores.models import Payment

    payments_before = Payment.objects.count()
    connection.close()
    os.environ["CELERY_BROKER_URL"] = broker
    proc, base = start_server(url, workers, threads)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pay-") as tmp:
            lua = Path(tmp) / "pay.lua"
            lua.write_text(WRK_LUA)
            (Path(tmp) / "cookies.txt").write_text("\n".join(cookies) + "\n")
            env = {**os.environ, "BENCH_COOKIES": str(Path(tmp) / "cookies.txt"), "BENCH_CSRF": csrf,
                   "BENCH_THREADS": "2", "BENCH_AMOUNT": str(AMOUNT)}  # fmt: skip
            (Path(tmp) / "warm.txt").write_text("\n".join(warm_codes) + "\n")
            run_wrk(base, {**env, "BENCH_TOKENS": str(Path(tmp) / "warm.txt"), "BENCH_PREFIX": f"w{secrets.token_hex(3)}"},
                    args.clients, 2, lua)  # fmt: skip
            (Path(tmp) / "codes.txt").write_text("\n".join(codes) + "\n")
            payments_before = Payment.objects.count()
            connection.close()
            log(f"measuring {args.duration} s with {args.clients} store clients ({args.config}) …")
            result = run_wrk(
                base, {**env, "BENCH_TOKENS": str(Path(tmp) / "codes.txt"), "BENCH_PREFIX": f"m{secrets.token_hex(3)}"},
                args.clients, args.duration, lua,
            )  # fmt: skip
    finally:
        stop_server(proc)
        _drop_queued_tasks(broker)
    if result["ok"] > len(codes):
        raise SystemExit("more successes than pay codes: a code was charged twice")
    result["payments_recorded"] = Payment.objects.count() - payments_before
    result["pay_codes"] = len(codes)
    if result["ok"] >= len(codes):
        log("warning: every pay code was used; raise --citizens for a longer run")
    log(json.dumps(result))
    print(json.dumps({"payments_per_second": result["payments_per_second"], "p50_ms": result["p50_ms"],
                      "p99_ms": result["p99_ms"], "clients": args.clients, "duration_s": args.duration,
                      "config": args.config, "errors": result["errors"]}))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
