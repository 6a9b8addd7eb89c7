"""Statements as documents: a store's monthly statement (PDF and XLSX) and the county's claim summary
(請款總表, PDF and XLSX). Documents are printed in Traditional Chinese (the county's paperwork); the
PDF uses reportlab's built-in CID font MSung-Light like the push review form."""

from __future__ import annotations

import io
from decimal import Decimal
from typing import Any

from django.utils import timezone
from openpyxl import Workbook
from openpyxl.styles import Font
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from civicpush.console.audit_export import safe_cell

from .models import Statement, StatementStatus
from .settlement import county_summary, ntd

FONT = "MSung-Light"
STATUS_ZH: dict[str, str] = {
    StatementStatus.DRAFT: "草稿",
    StatementStatus.ISSUED: "已發出，待商店確認",
    StatementStatus.CONFIRMED: "商店已確認",
    StatementStatus.DISPUTED: "商店有異議",
    StatementStatus.APPROVED: "主計已核准",
    StatementStatus.PAID: "已撥款",
}
CHANNEL_ZH = {
    "store_scan": "商店掃碼",
    "citizen_scan": "民眾掃碼",
    "app_redemption": "App 兌換",
    "counter_redemption": "櫃台兌換",
}


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _money(value: Decimal) -> str:
    return f"{value:,.1f}"


def statement_figures(statement: Statement) -> list[tuple[str, str]]:
    return [
        ("商店名稱", statement.store.name),
        ("統一編號", statement.store.ubn),
        ("請款年月", statement.period_label),
        ("狀態", STATUS_ZH.get(statement.status, statement.status)),
        ("交易筆數", f"{statement.payments_count:,}"),
        ("收取金幣", f"{statement.gross_coins:,}"),
        ("退款金幣", f"{statement.refund_coins:,}"),
        ("帳本淨額（金幣）", f"{statement.ledger_net_coins:,}"),
        ("前期調整（金幣）", f"{statement.adjustment_coins:,}"),
        ("應付金幣", f"{statement.due_coins:,}"),
        ("應付金額（新臺幣，10 金幣 = 1 元）", _money(ntd(statement.due_coins))),
        ("撥款帳戶", statement.store.bank_account_masked),
        ("快照雜湊 (SHA-256)", statement.snapshot_hash or "（草稿，尚未凍結）"),
    ]


def _lines(statement: Statement) -> list[dict[str, Any]]:
    return list((statement.snapshot or {}).get("lines", []))


def statement_pdf(statement: Statement) -> bytes:
    _register_font()
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm)
    base = ParagraphStyle("cell", fontName=FONT, fontSize=10, leading=14, wordWrap="CJK")
    head = ParagraphStyle("head", parent=base, fontSize=15, leading=22, alignment=1)
    story: list[Any] = [Paragraph(f"臺東金幣特約商店請款明細　{statement.period_label}", head), Spacer(1, 4 * mm)]
    table = Table(
        [[Paragraph(k, base), Paragraph(v, base)] for k, v in statement_figures(statement)],
        colWidths=[60 * mm, 115 * mm],
    )
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story += [table, Spacer(1, 5 * mm)]
    lines = _lines(statement)
    if lines:
        rows = [["時間", "類別", "管道", "帳本交易編號", "金幣"]]
        for line in lines:
            rows.append(
                [
                    line["at"],
                    "付款" if line["type"] == "payment" else "退款",
                    CHANNEL_ZH.get(line.get("channel", ""), ""),
                    str(line["transfer"]),
                    f"{line['coins']:,}",
                ]
            )
        detail = Table(rows, colWidths=[45 * mm, 20 * mm, 30 * mm, 35 * mm, 30 * mm], repeatRows=1)
        detail.setStyle(
            TableStyle(
                [
                    ("FONTNAME", (0, 0), (-1, -1), FONT),
                    ("FONTSIZE", (0, 0), (-1, -1), 9),
                    ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                    ("ALIGN", (-1, 1), (-1, -1), "RIGHT"),
                ]
            )
        )
        story.append(detail)
    story += [Spacer(1, 8 * mm), Paragraph("商店確認（店章）：＿＿＿＿＿＿＿＿　　日期：＿＿＿＿＿＿", base)]
    doc.build(story)
    return out.getvalue()


def statement_xlsx(statement: Statement) -> bytes:
    wb = Workbook()
    ws = wb.active
    ws.title = "請款明細"
    ws.append(["臺東金幣特約商店請款明細", statement.period_label])
    ws["A1"].font = Font(bold=True)
    for k, v in statement_figures(statement):
        ws.append([k, safe_cell(v)])
    # Numbers as numbers (read back by accounting's spreadsheets).
    ws.append(["應付金額（數值）", float(ntd(statement.due_coins))])
    ws.append(["應付金幣（數值）", statement.due_coins])
    lines = wb.create_sheet("交易")
    lines.append(["時間", "類別", "管道", "帳本交易編號", "金幣"])
    for line in _lines(statement):
        lines.append(
            [
                line["at"],
                "付款" if line["type"] == "payment" else "退款",
                CHANNEL_ZH.get(line.get("channel", ""), ""),
                line["transfer"],
                line["coins"],
            ]
        )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


SUMMARY_HEADER = [
    "鄉鎮市",
    "商店名稱",
    "統一編號",
    "狀態",
    "交易筆數",
    "收取金幣",
    "退款金幣",
    "調整金幣",
    "應付金幣",
    "應付金額（元）",
    "撥款參考號",
]


def _summary_rows(county_id: int, year: int, month: int) -> tuple[list[list[Any]], dict[str, Any]]:
    rows, totals = county_summary(county_id, year, month)
    out = []
    for r in rows:
        s = r.statement
        out.append(
            [
                s.store.township.name,
                safe_cell(s.store.name),
                s.store.ubn,
                STATUS_ZH.get(s.status, s.status),
                s.payments_count,
                s.gross_coins,
                s.refund_coins,
                s.adjustment_coins,
                s.due_coins,
                float(r.due_ntd),
                safe_cell(s.bank_reference),
            ]
        )
    return out, totals


def summary_xlsx(county_id: int, year: int, month: int) -> bytes:
    rows, totals = _summary_rows(county_id, year, month)
    wb = Workbook()
    ws = wb.active
    ws.title = "請款總表"
    ws.append([f"臺東金幣特約商店請款總表 {year}-{month:02d}", f"產製時間 {timezone.localtime():%Y-%m-%d %H:%M}"])
    ws["A1"].font = Font(bold=True)
    ws.append(SUMMARY_HEADER)
    for row in rows:
        ws.append(row)
    ws.append(
        [
            "合計",
            f"{totals['stores']} 家",
            "",
            "",
            totals["payments_count"],
            totals["gross_coins"],
            totals["refund_coins"],
            totals["adjustment_coins"],
            totals["due_coins"],
            float(totals["due_ntd"]),
            "",
        ]
    )
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def summary_pdf(county_id: int, year: int, month: int) -> bytes:
    _register_font()
    rows, totals = _summary_rows(county_id, year, month)
    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=landscape(A4), leftMargin=10 * mm, rightMargin=10 * mm, topMargin=12 * mm)
    head = ParagraphStyle("head", fontName=FONT, fontSize=15, leading=22, alignment=1)
    data: list[list[Any]] = [SUMMARY_HEADER]
    for row in rows:
        data.append(
            [f"{v:,}" if isinstance(v, int) else (f"{v:,.1f}" if isinstance(v, float) else str(v)) for v in row]
        )
    data.append(
        [
            "合計",
            f"{totals['stores']} 家",
            "",
            "",
            f"{totals['payments_count']:,}",
            f"{totals['gross_coins']:,}",
            f"{totals['refund_coins']:,}",
            f"{totals['adjustment_coins']:,}",
            f"{totals['due_coins']:,}",
            _money(totals["due_ntd"]),
            "",
        ]
    )
    table = Table(data, repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), FONT),
                ("FONTSIZE", (0, 0), (-1, -1), 8.5),
                ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
                ("ALIGN", (4, 1), (-2, -1), "RIGHT"),
            ]
        )
    )
    doc.build([Paragraph(f"臺東金幣特約商店請款總表　{year}-{month:02d}", head), Spacer(1, 4 * mm), table])
    return out.getvalue()
