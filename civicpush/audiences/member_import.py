"""Reading a member list (CSV or XLSX, one mobile number or ID number a row) and resolving it to citizens.

Nothing here writes: `services.do_import_members` calls `resolve_member_file` and adds the members
only when every row resolved. Row numbers are the file's own (1-based, header included), so staff
can find the row in Excel.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from typing import IO, Any

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from civicpush.citizens import national_id
from civicpush.citizens.models import Citizen, CitizenProfile, CitizenStatus
from civicpush.citizens.phone import display_mobile, normalise_mobile
from civicpush.core.errors import ValidationFailed

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 100_000
LOOKUP_CHUNK = 500  # stays under SQLite's bound-parameter limit
HEADER_WORDS = frozenset(
    {
        "mobile", "phone", "手機", "手機號碼", "行動電話",
        "id", "national_id", "身分證", "身分證字號", "身分證號", "統一證號", "居留證號",
    }
)  # fmt: skip


class RowErrorReason:
    INVALID_FORMAT = "invalid_format"
    NO_SUCH_CITIZEN = "no_such_citizen"
    DUPLICATE_IN_FILE = "duplicate_in_file"


REASON_MESSAGES: dict[str, Any] = {
    RowErrorReason.INVALID_FORMAT: _("Not a valid mobile number or ID number."),
    RowErrorReason.NO_SUCH_CITIZEN: _("No citizen with this number has signed up."),
    RowErrorReason.DUPLICATE_IN_FILE: _("This citizen is already in an earlier row of the file."),
}


@dataclass(frozen=True)
class RowError:
    row: int
    value: str  # ID numbers masked (A12*****89); staff never see a whole ID number
    reason: str
    message: Any = None
    first_row: int | None = None  # for duplicates: the earlier row


@dataclass
class ImportResult:
    added: int = 0
    already_members: int = 0
    errors: list[RowError] = field(default_factory=list)
    rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True)
class _Entry:
    row: int
    kind: str  # "mobile" | "id"
    key: str  # E.164 number or normalised ID number
    shown: str


def _file_error(message: Any) -> ValidationFailed:
    return ValidationFailed(message, field_errors={"file": [message]})


def _read_capped(file: IO[bytes] | bytes) -> bytes:
    data = file if isinstance(file, bytes) else file.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise _file_error(
            format_lazy(
                _("The file is larger than {size} MB. Split it into smaller files."), size=MAX_FILE_BYTES // 2**20
            )
        )
    if not data:
        raise _file_error(_("The file is empty."))
    return data


def _decode_csv(data: bytes) -> str:
    # UTF-8 (with or without the BOM Excel writes), else Big5/cp950 as Taiwanese Excel exports CSV.
    for encoding in ("utf-8-sig", "cp950"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise _file_error(_("The file could not be read. Save it as CSV UTF-8 or as an Excel workbook (.xlsx)."))


def _cell_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def _csv_rows(data: bytes) -> list[tuple[int, str]]:
    text = _decode_csv(data)
    out: list[tuple[int, str]] = []
    for number, row in enumerate(csv.reader(io.StringIO(text)), start=1):
        if number > MAX_ROWS + 1:
            raise _too_many_rows()
        out.append((number, _cell_text(row[0]) if row else ""))
    return out


def _xlsx_rows(data: bytes) -> list[tuple[int, str]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a file that is not a workbook
        raise _file_error(_("The file could not be read as an Excel workbook (.xlsx).")) from exc
    try:
        sheet = workbook.worksheets[0]
        out: list[tuple[int, str]] = []
        for number, row in enumerate(sheet.iter_rows(max_col=1, values_only=True), start=1):
            if number > MAX_ROWS + 1:
                raise _too_many_rows()
            out.append((number, _cell_text(row[0]) if row else ""))
        return out
    finally:
        workbook.close()


def _too_many_rows() -> ValidationFailed:
    return _file_error(
        format_lazy(_("The file has more than {rows} rows. Split it into smaller files."), rows=MAX_ROWS)
    )


def read_rows(file: IO[bytes] | bytes, filename: str) -> list[tuple[int, str]]:
    """(row number, first cell) for each non-blank row, without an optional header row."""
    data = _read_capped(file)
    lower = (filename or "").lower()
    if lower.endswith(".xlsx"):
        rows = _xlsx_rows(data)
    elif lower.endswith((".csv", ".txt")):
        rows = _csv_rows(data)
    else:
        raise _file_error(_("Upload a CSV file (.csv) or an Excel workbook (.xlsx)."))
    rows = [(n, v) for n, v in rows if v]
    if rows and rows[0][1].strip().lower().replace(" ", "") in HEADER_WORDS:
        rows = rows[1:]
    if not rows:
        raise _file_error(_("The file has no numbers in its first column."))
    if len(rows) > MAX_ROWS:
        raise _too_many_rows()
    return rows


def _parse(row: int, raw: str) -> _Entry | RowError:
    text = raw.strip()
    if text[:1].isalpha():
        try:
            number = national_id.validate(text)
        except ValidationFailed:
            masked = national_id.mask(text) if len(text) >= 6 else "*" * len(text)
            return RowError(row, masked, RowErrorReason.INVALID_FORMAT)
        return _Entry(row, "id", number, national_id.mask(number))
    digits = re.sub(r"[\s\-().]", "", text)
    if re.fullmatch(r"9\d{8}", digits):  # Excel dropped the leading 0 of a number cell
        digits = "0" + digits
    try:
        e164 = normalise_mobile(digits)
    except ValidationFailed:
        return RowError(row, text[:20], RowErrorReason.INVALID_FORMAT)
    return _Entry(row, "mobile", e164, display_mobile(e164))


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + LOOKUP_CHUNK] for i in range(0, len(items), LOOKUP_CHUNK)]


def resolve_member_file(file: IO[bytes] | bytes, filename: str) -> tuple[list[int], list[RowError]]:
    """Citizen ids in file order and every row error (bad format, unknown citizen, duplicate)."""
    return resolve_identifiers(read_rows(file, filename))


def resolve_identifiers(rows: list[tuple[int, str]]) -> tuple[list[int], list[RowError]]:
    """(row number, mobile or ID number) pairs → citizen ids in row order and every row error."""
    entries: list[_Entry] = []
    errors: list[RowError] = []
    for row, raw in rows:
        parsed = _parse(row, raw)
        (errors if isinstance(parsed, RowError) else entries).append(parsed)  # type: ignore[arg-type]

    phones = sorted({e.key for e in entries if e.kind == "mobile"})
    hashes = {e.key: national_id.lookup_hash(e.key) for e in entries if e.kind == "id"}
    by_phone: dict[str | None, int] = {}
    for chunk in _chunks(phones):
        by_phone.update(
            Citizen.objects.filter(phone_e164__in=chunk, status=CitizenStatus.ACTIVE).values_list("phone_e164", "id")
        )
    by_hash: dict[str | None, int] = {}
    for chunk in _chunks(sorted(set(hashes.values()))):
        by_hash.update(
            CitizenProfile.objects.filter(national_id_hmac__in=chunk, citizen__status=CitizenStatus.ACTIVE).values_list(
                "national_id_hmac", "citizen_id"
            )
        )

    citizen_ids: list[int] = []
    first_row: dict[int, int] = {}
    for e in entries:
        cid = by_phone.get(e.key) if e.kind == "mobile" else by_hash.get(hashes[e.key])
        if cid is None:
            errors.append(RowError(e.row, e.shown, RowErrorReason.NO_SUCH_CITIZEN))
        elif cid in first_row:
            errors.append(RowError(e.row, e.shown, RowErrorReason.DUPLICATE_IN_FILE, first_row=first_row[cid]))
        else:
            first_row[cid] = e.row
            citizen_ids.append(cid)
    errors = sorted(
        (RowError(x.row, x.value, x.reason, REASON_MESSAGES[x.reason], x.first_row) for x in errors),
        key=lambda x: x.row,
    )
    return citizen_ids, errors
