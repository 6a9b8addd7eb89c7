"""`manage.py verify_ledger`: recompute the hash chain and check every balance against its postings."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from civicpush.coins.verify import verify


class Command(BaseCommand):
    help = "Check the coin ledger: hash chain, balances = postings, holds, budgets, conservation."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--no-chain", action="store_true", help="skip recomputing the hash chain")

    def handle(self, *args: Any, **options: Any) -> None:
        problems = verify(check_chain=not options["no_chain"])
        for problem in problems[:200]:
            self.stderr.write(problem)
        if problems:
            raise CommandError(f"ledger verification failed: {len(problems)} problem(s)")
        self.stdout.write("ledger OK")
