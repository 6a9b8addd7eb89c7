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
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import TEST_SECRETS, ensure_database, three_filter_group, time_audience_estimate  # noqa: E402

DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/civicpush_bench"


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
    from civicpush.citizens.models import CitizenProfile

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

    timings, matches = time_audience_estimate(args.runs)
    filters = three_filter_group()
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
