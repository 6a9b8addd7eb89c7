"""Pieces every benchmark shares: throw-away secrets, the bench database, logging, and the
three-filter audience estimate (measured by both bench-audience and bench-inbox)."""

from __future__ import annotations

import statistics
import sys
import time
from typing import Any
from urllib.parse import urlparse

# Throw-away values (the same as civicpush/config/settings_test.py), used only when unset.
TEST_SECRETS = {
    "CIVICPUSH_SECRET_KEY": "test-only-secret-key-not-for-production-0123456789",
    "CIVICPUSH_FIELD_KEY": "dGVzdC1vbmx5LWZpZWxkLWtleS0wMTIzNDU2Nzg5YWI=",
    "CIVICPUSH_HMAC_KEY": "test-only-hmac-key",
}


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def ensure_database(url: str) -> None:
    """CREATE DATABASE when it does not exist yet (connects to the server's `postgres` database)."""
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    if not name:
        raise SystemExit("BENCH_DATABASE_URL must name a database")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def three_filter_group() -> dict[str, Any]:
    """The benchmark's dynamic group: three townships, age 30–64, topics any of two."""
    from civicpush.citizens.models import Township
    from civicpush.citizens.topics import Topic

    townships = list(Township.objects.order_by("sort_order", "code").values_list("pk", flat=True)[:3])
    if len(townships) < 3:
        raise SystemExit("reference data missing: fewer than 3 townships")
    return {"townships": townships, "age_min": 30, "age_max": 64, "topics": [Topic.TOURISM, Topic.DISEASE_PREVENTION]}


def time_audience_estimate(runs: int) -> tuple[list[float], int]:
    """Milliseconds of `runs` estimates of the three-filter group after one warm-up, and the count."""
    from civicpush.audiences.selectors import estimate_filters

    filters = three_filter_group()
    matches = estimate_filters(filters)  # warm-up
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        count = estimate_filters(filters)
        timings.append((time.perf_counter() - started) * 1000)
        assert count == matches
    return timings, matches


def median(values: list[float]) -> float:
    return round(statistics.median(values), 1)
