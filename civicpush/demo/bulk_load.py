"""Load millions of synthetic citizens fast, for benchmarks.

PostgreSQL: ids are reserved from the tables' sequences (so concurrent normal inserts never collide),
then each batch goes in with three COPY streams (citizens, consents, profiles) in one transaction.
SQLite: bulk_create in batches, with explicit citizen ids taken after the current maximum.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from civicpush.citizens.models import Citizen, CitizenProfile, ConsentRecord
from civicpush.org.models import County

from .citizens import CitizenGenerator, bench_phone, townships_for, write_citizens_orm

Progress = Callable[[int, int], None]

_TEXT_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _copy_text(value: Any) -> str:
    """One value in PostgreSQL's COPY text format."""
    if value is None:
        return "\\N"
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, int | uuid.UUID):
        return str(value)
    if isinstance(value, datetime.datetime | datetime.date):
        return value.isoformat()
    return str(value).translate(_TEXT_ESCAPES)


class _CopyTable:
    """COPY into a model's table: the columns we supply, in that order, then every other column
    with its model default (or NULL), so a column added later with a default does not break this."""

    def __init__(self, model: type[models.Model], supplied: Sequence[str], now: datetime.datetime) -> None:
        by_attname = {f.attname: f for f in model._meta.concrete_fields}
        self.supplied = list(supplied)
        rest = [f for name, f in by_attname.items() if name not in self.supplied]
        # Callable defaults (uuid4, …) are drawn per row; everything else once.
        self.per_row = [f for f in rest if f.has_default() and callable(f.default)]
        self.constant = [f for f in rest if f not in self.per_row]
        suffix = [_copy_text(self._fallback(f, now)) for f in self.constant]
        self.suffix = "".join("\t" + v for v in suffix)
        columns = [by_attname[n].column for n in self.supplied] + [f.column for f in self.per_row + self.constant]
        self.sql = 'COPY "{}" ({}) FROM STDIN'.format(model._meta.db_table, ", ".join(f'"{c}"' for c in columns))

    @staticmethod
    def _fallback(field: models.Field, now: datetime.datetime) -> Any:
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            return now
        return field.get_default()

    def data(self, rows: Iterable[Sequence[Any]]) -> bytes:
        """The COPY text for `rows` (tuples in the order of `supplied`)."""
        suffix, per_row = self.suffix, self.per_row
        if per_row:
            lines = [
                "\t".join([*map(_copy_text, row), *(_copy_text(f.get_default()) for f in per_row)]) + suffix
                for row in rows
            ]
        else:
            lines = ["\t".join(map(_copy_text, row)) + suffix for row in rows]
        lines.append("")
        return "\n".join(lines).encode()

    def copy(self, cursor: Any, data: bytes) -> None:
        with cursor.copy(self.sql) as copy:
            for start in range(0, len(data), 1 << 20):
                copy.write(data[start : start + (1 << 20)])


def _reserve_ids(cursor: Any, model: type[models.Model], count: int) -> list[int]:
    """`count` fresh ids from the model's id sequence (safe beside concurrent inserts)."""
    table = model._meta.db_table
    column = model._meta.pk.column
    cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)", [table, column, count])
    return [row[0] for row in cursor.fetchall()]


@dataclass
class _Tables:
    citizen: _CopyTable
    consent: _CopyTable
    profile: _CopyTable

    @classmethod
    def for_now(cls, now: datetime.datetime) -> _Tables:
        return cls(
            citizen=_CopyTable(Citizen, ["id", "county_id", "pseudonym", "phone_e164"], now),
            consent=_CopyTable(ConsentRecord, ["id", "citizen_id", "notice_version", "accepted_at"], now),
            profile=_CopyTable(
                CitizenProfile,
                [
                    "citizen_id",
                    "consent_id",
                    "display_name",
                    "township_id",
                    "village_id",
                    "birth_year",
                    "gender",
                    "topics_mask",
                    "residency",
                ],
                now,
            ),
        )


def _batch_data(
    tables: _Tables, generator: CitizenGenerator, county_id: int, citizen_ids: list[int], consent_ids: list[int]
) -> tuple[bytes, bytes, bytes]:
    """Pure Python (no database): the three COPY payloads of one batch."""
    notice = settings.PRIVACY_NOTICE_VERSION
    people = [generator.next(bench_phone(cid)) for cid in citizen_ids]
    return (
        tables.citizen.data((cid, county_id, p.pseudonym, p.phone) for cid, p in zip(citizen_ids, people, strict=True)),
        tables.consent.data(
            (kid, cid, notice, p.accepted_at) for kid, cid, p in zip(consent_ids, citizen_ids, people, strict=True)
        ),
        tables.profile.data(
            (cid, kid, p.display_name, p.township_id, p.village_id, p.birth_year, p.gender, p.topics_mask, p.residency)
            for kid, cid, p in zip(consent_ids, citizen_ids, people, strict=True)
        ),
    )


def _generate_postgresql(
    county: County, generator: CitizenGenerator, n: int, batch: int, progress: Progress | None
) -> None:
    """Pipeline: a worker thread builds batch i+1 (CPU) while this thread COPYs batch i (the
    database works in its own process, psycopg releases the GIL while waiting)."""
    tables = _Tables.for_now(timezone.now())
    sizes = [min(batch, n - start) for start in range(0, n, batch)]
    done = 0
    with ThreadPoolExecutor(max_workers=1) as pool, connection.cursor() as django_cursor:

        def submit(size: int) -> Future[tuple[bytes, bytes, bytes]]:
            citizen_ids = _reserve_ids(django_cursor, Citizen, size)
            consent_ids = _reserve_ids(django_cursor, ConsentRecord, size)
            return pool.submit(_batch_data, tables, generator, county.pk, citizen_ids, consent_ids)

        pending = submit(sizes[0])
        for i, size in enumerate(sizes):
            citizens, consents, profiles = pending.result()
            if i + 1 < len(sizes):
                pending = submit(sizes[i + 1])
            with transaction.atomic():
                # Synthetic data: losing the last batch in a crash is fine, waiting for each flush is not.
                django_cursor.execute("SET LOCAL synchronous_commit TO OFF")
                raw = connection.connection  # psycopg 3 connection, inside Django's transaction
                with raw.cursor() as cursor:
                    tables.citizen.copy(cursor, citizens)
                    tables.consent.copy(cursor, consents)
                    tables.profile.copy(cursor, profiles)
            done += size
            if progress is not None:
                progress(done, n)


def _next_sqlite_ids(size: int) -> list[int]:
    """Ids after every id ever used (AUTOINCREMENT never reuses one, so neither do we)."""
    table = Citizen._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT COALESCE(MAX(id), 0) FROM "{table}"')
        highest = cursor.fetchone()[0]
        cursor.execute("SELECT seq FROM sqlite_sequence WHERE name = %s", [table])
        row = cursor.fetchone()
    start = max(highest, row[0] if row else 0) + 1
    return list(range(start, start + size))


def _orm_batch(county: County, generator: CitizenGenerator, size: int) -> None:
    with transaction.atomic():
        ids = _next_sqlite_ids(size) if connection.vendor == "sqlite" else None
        if ids is None:
            raise NotImplementedError(f"No bulk loader for {connection.vendor}")
        write_citizens_orm(county, [generator.next(bench_phone(i)) for i in ids], ids=ids)


def generate_citizens(
    county: County, n: int, *, batch: int = 50_000, seed: int | str = 1, progress: Progress | None = None
) -> int:
    """Add `n` synthetic citizens (consent + profile each) to `county`, `batch` per transaction."""
    if n <= 0:
        return 0
    generator = CitizenGenerator(seed, townships_for(county))
    if connection.vendor == "postgresql":
        _generate_postgresql(county, generator, n, batch, progress)
        with connection.cursor() as cursor:
            for model in (Citizen, ConsentRecord, CitizenProfile):
                cursor.execute(f'ANALYZE "{model._meta.db_table}"')
        return n
    done = 0
    while done < n:
        size = min(batch, n - done)
        _orm_batch(county, generator, size)
        done += size
        if progress is not None:
            progress(done, n)
    return done


# For other bulk loaders (bench/inbox.py): the same COPY helper and id reservation.
CopyTable = _CopyTable
reserve_ids = _reserve_ids
