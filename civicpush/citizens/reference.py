"""Load Taitung reference data: the 16 townships and the versioned village list (data/villages_taitung.csv).

The village CSV is hand-curated and incomplete; it must be checked against the Ministry of the
Interior's 村里代碼 list and can be reloaded any time (`manage.py load_reference_data`).
"""

from __future__ import annotations

import csv
import datetime
from pathlib import Path

from django.db import transaction

from civicpush.org.models import County

from .models import Township, Village
from .reference_data import TAITUNG_TOWNSHIPS

VILLAGES_CSV = Path(__file__).resolve().parent / "data" / "villages_taitung.csv"


def _read_villages(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        lines = [line for line in fh if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines))


def _date(value: str) -> datetime.date | None:
    return datetime.date.fromisoformat(value.strip()) if value and value.strip() else None


@transaction.atomic
def ensure_reference_data(county: County) -> None:
    """Create or update the townships and villages of `county` (idempotent; safe to run again)."""
    townships: dict[str, Township] = {}
    for order, (code, name, name_en, postal) in enumerate(TAITUNG_TOWNSHIPS, start=1):
        townships[code], _created = Township.objects.update_or_create(
            code=code,
            defaults={"county": county, "name": name, "name_en": name_en, "postal_code": postal, "sort_order": order},
        )
    for row in _read_villages(VILLAGES_CSV):
        township = townships[row["township_code"].strip()]
        valid_from = _date(row["valid_from"])
        assert valid_from is not None, f"valid_from missing for {row}"
        Village.objects.update_or_create(
            township=township,
            name=row["name"].strip(),
            valid_from=valid_from,
            defaults={"code": row["village_code"].strip(), "valid_to": _date(row["valid_to"])},
        )
