"""Printable forms: the roster in seed 000's layout (下載使用TTPush雲端推播系統人員一覽表: two name /
downloaded column pairs, then total, downloaded count and rate, then the drafter's and the unit
head's signature lines) and the award recommendation list, each as XLSX and PDF (reportlab's CID
font MSung-Light for Traditional Chinese, as the push review form does)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any
from xml.sax.saxutils import escape

from openpyxl import Workbook
from openpyxl.styles import Alignment, Border, Font, Side
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from .models import AwardPeriod, Outcome, Recipient, Recommendation
from .roster import RosterSheet

FORM_TITLE = "下載使用TTPush雲端推播系統人員一覽表"
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value: Any) -> Any:
    """Text a spreadsheet will not run as a formula (names are typed in by staff)."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_START) else value


FONT = "MSung-Light"
YES, NO = "是", "否"


def sheet_label(sheet: RosterSheet) -> str:
    """單位：臺東大隊 or 單位：臺東大隊（義消）."""
    suffix = "" if sheet.kind == "staff" else f"（{sheet.kind_label.split('(')[-1].rstrip(')')}）"
    return f"{sheet.unit.name}{suffix}"


def _pairs(sheet: RosterSheet) -> list[tuple[str, str, str, str]]:
    cells = [(line.entry.name, YES if line.adopted else NO) for line in sheet.lines]
    half = (len(cells) + 1) // 2
    left, right = cells[:half], cells[half:]
    rows = []
    for i in range(max(half, 1)):
        a = left[i] if i < len(left) else ("", "")
        b = right[i] if i < len(right) else ("", "")
        rows.append((a[0], a[1], b[0], b[1]))
    return rows


def roster_xlsx(sheets: Sequence[RosterSheet]) -> bytes:
    wb = Workbook()
    wb.remove(wb.active)
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    for n, sheet in enumerate(sheets, start=1):
        ws = wb.create_sheet(f"{n:02d} {sheet_label(sheet)}"[:31])
        ws.append([FORM_TITLE])
        ws.merge_cells("A1:D1")
        ws["A1"].font = Font(bold=True, size=14)
        ws["A1"].alignment = Alignment(horizontal="center")
        ws.append([f"單位：{safe_cell(sheet_label(sheet))}"])
        ws.append(["姓名", "是否下載", "姓名", "是否下載"])
        for row in _pairs(sheet):
            ws.append([safe_cell(v) for v in row])
        ws.append(["總數", "已下載數", "達成率"])
        ws.append([sheet.total, sheet.adopted, f"{sheet.rate}%"])
        ws.append([])
        ws.append(["承辦人：", "", "單位主管：", ""])
        for row in ws.iter_rows(min_row=3, max_row=ws.max_row - 2):
            for cell in row:
                cell.border = box
        for col in "ABCD":
            ws.column_dimensions[col].width = 16
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _styles() -> tuple[ParagraphStyle, ParagraphStyle]:
    base = ParagraphStyle("cell", fontName=FONT, fontSize=11, leading=15, wordWrap="CJK")
    head = ParagraphStyle("head", parent=base, fontSize=15, leading=21, alignment=1)
    return base, head


def _p(value: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(value if value is not None else "")), style)


GRID = TableStyle(
    [
        ("FONTNAME", (0, 0), (-1, -1), FONT),
        ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#eeeeee")),
    ]
)


def roster_pdf(sheets: Sequence[RosterSheet]) -> bytes:
    """One A4 page per sheet, in the seed's layout, ready to sign."""
    _register_font()
    base, head = _styles()
    story: list[Any] = []
    for i, sheet in enumerate(sheets):
        if i:
            story.append(PageBreak())
        story += [_p(FORM_TITLE, head), Spacer(1, 4 * mm), _p(f"單位：{sheet_label(sheet)}", base), Spacer(1, 2 * mm)]
        rows = [[_p(h, base) for h in ("姓名", "是否下載", "姓名", "是否下載")]]
        rows += [[_p(v, base) for v in row] for row in _pairs(sheet)]
        story.append(Table(rows, colWidths=[45 * mm, 35 * mm, 45 * mm, 35 * mm], style=GRID, repeatRows=1))
        story.append(Spacer(1, 3 * mm))
        totals = [
            [_p(h, base) for h in ("總數", "已下載數", "達成率")],
            [_p(sheet.total, base), _p(sheet.adopted, base), _p(f"{sheet.rate}%", base)],
        ]
        story.append(Table(totals, colWidths=[53 * mm, 53 * mm, 54 * mm], style=GRID))
        story.append(Spacer(1, 12 * mm))
        story.append(_p("承辦人：＿＿＿＿＿＿＿＿＿＿　　　　單位主管：＿＿＿＿＿＿＿＿＿＿", base))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, title=FORM_TITLE).build(story)
    return out.getvalue()


def _recommendation_cells(r: Recommendation) -> list[str]:
    return [
        r.unit.name,
        r.rule.name + (f"：{r.subject}" if r.subject else ""),
        f"{r.fact_value.normalize():f}",
        str(Recipient(r.recipient_role).label).split("(")[-1].rstrip(")"),
        r.recipient_name,
        str(Outcome(r.outcome).label),
        r.rule.basis,
    ]


REC_HEADERS = ["單位", "事由", "量測值", "對象", "姓名", "擬予獎懲", "依據"]


def recommendations_xlsx(period: AwardPeriod, rows: Sequence[Recommendation]) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "獎懲建議"
    ws.append(
        [
            f"{period.agency.name} 獎懲建議名冊：{safe_cell(period.name)}（{period.starts_on:%Y-%m-%d}～{period.deadline:%Y-%m-%d}）"
        ]
    )
    ws.append(REC_HEADERS)
    for r in rows:
        ws.append([safe_cell(v) for v in _recommendation_cells(r)])
    ws.append([])
    ws.append(["承辦人：", "", "單位主管：", "", "行政科："])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def recommendations_pdf(period: AwardPeriod, rows: Sequence[Recommendation]) -> bytes:
    _register_font()
    base, head = _styles()
    small = ParagraphStyle("small", parent=base, fontSize=9.5, leading=13)
    story: list[Any] = [
        _p(f"{period.agency.name} 獎懲建議名冊", head),
        _p(f"{period.name}（{period.starts_on:%Y-%m-%d}～{period.deadline:%Y-%m-%d}）", base),
        Spacer(1, 4 * mm),
    ]
    data = [[_p(h, small) for h in REC_HEADERS]] + [[_p(v, small) for v in _recommendation_cells(r)] for r in rows]
    if not rows:
        data.append([_p("（本期無建議）", small)] + [""] * 6)
    widths = [22 * mm, 48 * mm, 16 * mm, 18 * mm, 24 * mm, 20 * mm, 32 * mm]
    story.append(Table(data, colWidths=widths, style=GRID, repeatRows=1))
    story.append(Spacer(1, 14 * mm))
    story.append(_p("承辦人：＿＿＿＿＿＿＿　　單位主管：＿＿＿＿＿＿＿　　行政科：＿＿＿＿＿＿＿", base))
    out = io.BytesIO()
    SimpleDocTemplate(out, pagesize=A4, leftMargin=12 * mm, rightMargin=12 * mm, title="獎懲建議名冊").build(story)
    return out.getvalue()
