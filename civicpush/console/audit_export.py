"""Exports of audit entries: CSV (UTF-8 with BOM, so Excel reads Chinese) and XLSX."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator
from typing import Any
from zoneinfo import ZoneInfo

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.core.models import AuditEntry

from .audit_selectors import unit_names

TAIPEI = ZoneInfo("Asia/Taipei")
BATCH = 2000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def headers() -> list[str]:
    return [
        _("Time (Taiwan)"),
        _("Actor"),
        _("Action"),
        _("Unit"),
        _("Object type"),
        _("Object id"),
        _("Object"),
        _("Before"),
        _("After"),
        _("Data"),
        _("Client IP"),
        _("Request id"),
    ]


COLUMN_WIDTHS = [20, 22, 28, 16, 20, 10, 30, 40, 40, 40, 16, 34]


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def safe_cell(value: str) -> str:
    """Text that a spreadsheet will not run as a formula (user-entered names end up in the log)."""
    return "'" + value if value.startswith(FORMULA_START) else value


def rows(entries: QuerySet[AuditEntry]) -> Iterator[list[str]]:
    """One list of cell texts per entry, fetched in batches so a large export stays small in memory."""
    qs = entries.select_related(None)
    batch: list[AuditEntry] = []

    def flush(items: list[AuditEntry]) -> Iterable[list[str]]:
        names = unit_names({e.unit_id for e in items if e.unit_id is not None})
        for e in items:
            yield [
                timezone.localtime(e.created_at, TAIPEI).strftime("%Y-%m-%d %H:%M:%S"),
                e.actor_label,
                e.action,
                names.get(e.unit_id, "") if e.unit_id is not None else "",
                e.object_type,
                e.object_id,
                e.object_repr,
                _json(e.before),
                _json(e.after),
                _json(e.data),
                e.client_ip or "",
                e.request_id,
            ]

    for entry in qs.iterator(chunk_size=BATCH):
        batch.append(entry)
        if len(batch) >= BATCH:
            yield from flush(batch)
            batch = []
    if batch:
        yield from flush(batch)


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_chunks(entries: QuerySet[AuditEntry]) -> Iterator[bytes]:
    writer = csv.writer(_Echo())
    yield "\ufeff".encode()
    yield writer.writerow(headers()).encode()
    for row in rows(entries):
        yield writer.writerow([safe_cell(c) for c in row]).encode()


def xlsx_bytes(entries: QuerySet[AuditEntry]) -> bytes:
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title=_("Audit log")[:31])
    for index, width in enumerate(COLUMN_WIDTHS):
        ws.column_dimensions[chr(ord("A") + index)].width = width
    ws.freeze_panes = "A2"
    bold = Font(bold=True)
    header_cells = []
    for text in headers():
        cell = WriteOnlyCell(ws, value=text)
        cell.font = bold
        header_cells.append(cell)
    ws.append(header_cells)
    for row in rows(entries):
        ws.append([safe_cell(c) for c in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()
