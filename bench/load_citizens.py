"""Benchmark: load N synthetic citizens (consent + profile each) into a fresh PostgreSQL database.

    .venv/bin/python bench/load_citizens.py [--citizens 1000000] [--batch 50000]

Uses BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/civicpush_bench), which is
DROPPED and created again. Needs CIVICPUSH_SECRET_KEY, CIVICPUSH_FIELD_KEY and CIVICPUSH_HMAC_KEY
(`make bench-citizens` provides them). Only the load is timed, not the migrations. The last line
printed is JSON: {"benchmark": "load_citizens", "citizens": N, "seconds": s, "citizens_per_second": r}.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civicpush_bench"


def recreate_database(url: str) -> None:
    import psycopg
    from psycopg import sql

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    if not name:
        raise SystemExit("BENCH_DATABASE_URL must name a database")
    admin_url = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=50_000)
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    os.environ["DJANGO_SETTINGS_MODULE"] = "civicpush.config.settings"
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("CIVICPUSH_LOG_LEVEL", "WARNING")

    print(f"Recreating {urlsplit(url).path.lstrip('/')} …", flush=True)
    recreate_database(url)

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)

    started = time.perf_counter()
    call_command("generate_citizens", str(args.citizens), "--batch", str(args.batch))
    seconds = time.perf_counter() - started

    print(
        json.dumps(
            {
                "benchmark": "load_citizens",
                "citizens": args.citizens,
                "seconds": round(seconds, 2),
                "citizens_per_second": round(args.citizens / seconds) if seconds else None,
            }
        ),
        flush=True,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
