"""Benchmark: the audience estimate of a three-filter dynamic group over N citizens (PostgreSQL).

Target (issue "Pushes", part 3): ≤ 300 ms for 1,000,000 citizens. Uses BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/civicpush_bench; created when missing), migrates, tops the
citizens up to N with `manage.py generate_citizens`, then times `estimate_filters` for
townships ∈ 3 townships, age 30–64, topics any-of 2: one warm-up, then median and max of 11 runs.
Prints a final JSON line.

    .venv/bin/python bench/audience_estimate.py --citizens 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civicpush_bench"
# Throw-away values (the same as civicpush/config/settings_test.py), used only when unset.
TEST_SECRETS = {
    "CIVICPUSH_SECRET_KEY": "test-only-secret-key-not-for-production-0123456789",
    "CIVICPUSH_FIELD_KEY": "dGVzdC1vbmx5LWZpZWxkLWtleS0wMTIzNDU2Nzg5YWI=",
    "CIVICPUSH_HMAC_KEY": "test-only-hmac-key",
}


def ensure_database(url: str) -> None:
    """CREATE DATABASE when it does not exist yet (connects to the server's `postgres` database)."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=11)
    parser.add_argument("--explain", action="store_true", help="print EXPLAIN ANALYZE of the count")
    args = parser.parse_args()

    url = os.environ.get("BENCH_DATABASE_URL", DEFAULT_URL)
    if not url.startswith(("postgres://", "postgresql://")):
        raise SystemExit("BENCH_DATABASE_URL must be a PostgreSQL URL")
    ensure_database(url)
    os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "civicpush.config.settings"
    for key, value in TEST_SECRETS.items():
        os.environ.setdefault(key, value)
    sys.path.insert(0, str(REPO))

    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from civicpush.audiences.segments import citizens_matching, validate_filters
    from civicpush.audiences.selectors import estimate_filters
    from civicpush.citizens.models import CitizenProfile, Township
    from civicpush.citizens.topics import Topic

    call_command("migrate", verbosity=0, interactive=False)
    have = CitizenProfile.objects.count()
    if have < args.citizens:
        print(f"generating {args.citizens - have:,} citizens (have {have:,}) …", file=sys.stderr, flush=True)
        # A seed per top-up: the generator's pseudonyms repeat for a repeated seed.
        call_command("generate_citizens", args.citizens - have, seed=f"audience-{have}", stdout=sys.stderr)
        with connection.cursor() as cursor:  # set the visibility map so index-only scans can be used
            for table in ("citizens_citizen", "citizens_citizenprofile"):
                cursor.execute(f'VACUUM ANALYZE "{table}"')
    total = CitizenProfile.objects.count()

    townships = list(Township.objects.order_by("sort_order", "code").values_list("pk", flat=True)[:3])
    if len(townships) < 3:
        raise SystemExit("reference data missing: fewer than 3 townships")
    filters = {
        "townships": townships,
        "age_min": 30,
        "age_max": 64,
        "topics": [Topic.TOURISM, Topic.DISEASE_PREVENTION],
    }
    matches = estimate_filters(filters)  # warm-up
    timings = []
    for _ in range(args.runs):
        started = time.perf_counter()
        count = estimate_filters(filters)
        timings.append((time.perf_counter() - started) * 1000)
        assert count == matches
    if args.explain:
        sql, params = citizens_matching(validate_filters(filters)).query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) SELECT COUNT(*) FROM ({sql}) q", params)
            print("\n".join(row[0] for row in cursor.fetchall()), file=sys.stderr)
    print(
        json.dumps(
            {
                "benchmark": "audience_estimate",
                "citizens": total,
                "filters": 3,
                "median_ms": round(statistics.median(timings), 1),
                "max_ms": round(max(timings), 1),
                "matches": matches,
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
