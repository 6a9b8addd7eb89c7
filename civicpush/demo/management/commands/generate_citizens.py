"""`manage.py generate_citizens N [--batch 50000] [--seed S]`: synthetic citizens for benchmarks
(PostgreSQL: COPY; SQLite: bulk_create). Phones are in the +886 99 block, apart from the demo ones."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from civicpush.demo.bulk_load import generate_citizens
from civicpush.demo.organisation import ensure_county


class Command(BaseCommand):
    help = "Add N synthetic citizens (consent + profile each) for benchmarks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("count", type=int)
        parser.add_argument("--batch", type=int, default=50_000, help="Citizens per transaction (default 50000).")
        parser.add_argument("--seed", default="1", help="Seed for the synthetic profiles (default 1).")

    def handle(self, *args: Any, **options: Any) -> None:
        from civicpush.citizens.reference import ensure_reference_data

        count, batch = options["count"], options["batch"]
        if count < 0 or batch < 1:
            raise CommandError("N must be at least 0 and --batch at least 1.")
        county = ensure_county()
        ensure_reference_data(county)
        started = time.monotonic()

        def progress(done: int, total: int) -> None:
            elapsed = time.monotonic() - started
            self.stdout.write(
                f"{done / total:6.1%}  {done:>12,} / {total:,} citizens  {elapsed:7.1f} s  "
                f"{done / elapsed if elapsed else 0:,.0f}/s"
            )
            self.stdout.flush()

        generate_citizens(county, count, batch=batch, seed=options["seed"], progress=progress)
        elapsed = time.monotonic() - started
        self.stdout.write(f"Generated {count:,} citizens in {elapsed:.1f} s.")
