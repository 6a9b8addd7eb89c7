"""Load (or reload) the Taitung townships and villages."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from civicpush.citizens.models import Township, Village
from civicpush.citizens.reference import ensure_reference_data


class Command(BaseCommand):
    help = "Create or update Taitung County, its 16 townships and the villages in citizens/data/villages_taitung.csv."

    def handle(self, *args: Any, **options: Any) -> None:
        from civicpush.demo.organisation import ensure_county

        county = ensure_county()
        ensure_reference_data(county)
        self.stdout.write(
            f"{county.name}: {Township.objects.filter(county=county).count()} townships, "
            f"{Village.objects.filter(township__county=county).count()} villages"
        )
