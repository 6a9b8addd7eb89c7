"""The review form PDF, statistics, and exports."""

from __future__ import annotations

import csv
import datetime
import io

import pytest
from django.utils import timezone
from openpyxl import load_workbook
from pypdf import PdfReader

from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.pushes import dispatching, exports, services, stats
from civicpush.pushes.models import ScheduleKind, TargetKind
from civicpush.pushes.review_form import review_form_context, review_form_pdf
from civicpush.pushes.tests.conftest import draft_fields, make_citizen


@pytest.fixture
def sent_everyone_push(org, approve_all):
    drafter = org.user("prevention.drafter")
    sent_at = timezone.now() - datetime.timedelta(hours=3)
    readers = [make_citizen(org.county, created_at=sent_at - datetime.timedelta(days=1)) for _ in range(4)]
    push = services.do_create_draft(
        drafter, org.unit("prevention"), **draft_fields(target_kind=TargetKind.EVERYONE, coin_amount=50)
    )
    services.do_submit(drafter, push)
    push = approve_all(push)
    services.do_schedule(drafter, push, ScheduleKind.NOW, now=sent_at)
    dispatching.dispatch_due(sent_at)
    push.refresh_from_db()
    services.do_record_read(readers[0], push, now=sent_at + datetime.timedelta(minutes=10))
    services.do_record_read(readers[1], push, now=sent_at + datetime.timedelta(hours=1, minutes=5))
    services.do_record_click(readers[1], push, now=sent_at + datetime.timedelta(hours=1, minutes=6))
    return push


def _pdf_text(data: bytes) -> str:
    return "".join(page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages)


def test_review_form_pdf_has_the_title_and_every_signers_name(org, sent_everyone_push) -> None:
    data = review_form_pdf(sent_everyone_push)
    assert data.startswith(b"%PDF")
    text = _pdf_text(data)
    for expected in ["居家安全宣導", "審核表", "局長", "秘書 陳志明", "局長 張文雄", "TTPush 專責窗口 林怡君"]:
        assert expected in text, expected


def test_review_form_context_fills_the_six_boxes(org, sent_everyone_push) -> None:
    ctx = review_form_context(sent_everyone_push)
    boxes = [b for row in ctx["signoffs"] for b in row]
    assert [b["label"] for b in boxes] == ["承辦人", "科長", "TTPush專責窗口", "秘書", "副局長", "局長"]
    assert all(b["name"] and b["signed_at"] for b in boxes)
    assert ctx["title"] == "[防火]居家安全宣導"
    assert [t["checked"] for t in ctx["types"]] == [False, True, False, False]


def test_push_statistics_count_audience_reads_and_clicks(org, sent_everyone_push) -> None:
    head = org.user("prevention.head")
    s = stats.push_stats(head, sent_everyone_push)
    assert (s.audience, s.reads, s.clicks, s.read_rate) == (4, 2, 1, 0.5)
    hours = stats.reads_per_hour(head, sent_everyone_push, hours=4)
    assert sum(n for _h, n in hours) == 2 and len(hours) == 4
    with pytest.raises(NotFound):
        stats.push_stats(org.user("investigation.drafter"), sent_everyone_push)


def test_unit_and_county_statistics(org, sent_everyone_push) -> None:
    unit = stats.unit_stats(org.user("prevention.head"), org.unit("prevention"))
    assert unit["by_month"][-1]["pushes"] == 1 and unit["by_month"][-1]["reads"] == 2
    assert unit["top"][0]["push_id"] == sent_everyone_push.pk
    county = stats.county_stats(org.user("county.operator"), org.county)
    assert county["headline"]["members"] == 4 and county["headline"]["reads"] == 2
    with pytest.raises(PermissionDenied):
        stats.county_headline(org.user("prevention.head"), org.county)


def test_exports_write_the_same_rows_as_csv_and_xlsx(org, sent_everyone_push) -> None:
    header, rows = stats.push_stats_rows(org.user("prevention.head"), unit=org.unit("prevention"))
    assert len(rows) == 1
    parsed = list(csv.reader(io.StringIO(exports.write_csv(header, rows).decode("utf-8-sig"))))
    assert parsed[0] == header and parsed[1][3] == "[防火]居家安全宣導" and parsed[1][10] == "2"
    ws = load_workbook(io.BytesIO(exports.write_xlsx(header, rows))).active
    assert [c.value for c in ws[1]] == header and ws.cell(row=2, column=11).value == 2


def test_exports_neutralise_spreadsheet_formulas() -> None:
    data = exports.write_csv(["title"], [['=HYPERLINK("http://x")']]).decode("utf-8-sig")
    assert "'=HYPERLINK" in data
