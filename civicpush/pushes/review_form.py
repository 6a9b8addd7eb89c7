"""The push review form (推播審核表, seed 000) as a PDF and as a context for the HTML print view.

The six sign-off boxes (承辦人 科長 TTPush專責窗口 / 秘書 副局長 局長) are filled with the name and
time of the current revision's approvals; a box whose role the push's chain does not require shows
"—". Traditional Chinese uses reportlab's built-in CID font MSung-Light (no font file needed).
"""

from __future__ import annotations

import datetime
import io
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from civicpush.org.roles import Role

from .models import Decision, Push, PushApproval, PushType
from .scheduling import TAIPEI
from .text import display_width_rounded

FONT = "MSung-Light"
# The printed form's boxes, in its order: (label, role).
SIGNOFF_BOXES: list[list[tuple[str, str]]] = [
    [("承辦人", Role.DRAFTER), ("科長", Role.UNIT_HEAD), ("TTPush專責窗口", Role.PUSH_LIAISON)],
    [("秘書", Role.SECRETARY), ("副局長", Role.DEPUTY_DIRECTOR), ("局長", Role.DIRECTOR)],
]
TYPE_BOXES: list[tuple[str, str]] = [
    ("問卷", PushType.QUESTIONNAIRE),
    ("宣導", PushType.PROMOTION),
    ("活動", PushType.EVENT),
    ("通知", PushType.NOTICE),
]


def roc_date(day: datetime.date | None) -> str:
    """2026-06-05 → "115 年 06 月 05 日" (民國), as the form prints dates."""
    if day is None:
        return "     年    月    日"
    return f"{day.year - 1911} 年 {day.month:02d} 月 {day.day:02d} 日"


def _local(moment: datetime.datetime | None) -> str:
    if moment is None:
        return ""
    local = moment.astimezone(TAIPEI)
    return f"{local.year - 1911}/{local:%m/%d %H:%M}"


def review_form_context(push: Push) -> dict[str, Any]:
    """Everything the form shows, as plain values (the HTML print view renders the same)."""
    approvals = {
        a.role: a
        for a in PushApproval.objects.filter(
            push=push, revision=push.revision, is_current=True, decision=Decision.APPROVED
        ).order_by("step")
    }
    chain = set(push.chain_roles or [])
    drafter_name = str(push.created_by)
    signoffs = []
    for row in SIGNOFF_BOXES:
        boxes = []
        for label, role in row:
            if role == Role.DRAFTER:
                name, at = (drafter_name, _local(push.submitted_at)) if push.submitted_at else (drafter_name, "")
                required = True
            else:
                approval = approvals.get(role)
                name = approval.approver_name if approval else ""
                at = _local(approval.decided_at) if approval else ""
                required = role in chain if chain else True
            boxes.append({"label": label, "role": role, "name": name, "signed_at": at, "required": required})
        signoffs.append(boxes)
    return {
        "push": push,
        "revision": push.revision,
        "planned_date": roc_date(push.planned_date),
        "types": [{"label": label, "checked": push.push_type == value} for label, value in TYPE_BOXES],
        "title": push.full_title,
        "subtitle": push.subtitle,
        "body": push.body,
        "body_width": display_width_rounded(push.body),
        "questionnaire": push.questionnaire_text,
        "coin_amount": push.coin_amount,
        "coin_method": push.coin_method,
        "contact_name": push.contact_name,
        "contact_phone": push.contact_phone,
        "contact_email": push.contact_email,
        "remarks": push.remarks,
        "unit": push.unit.name,
        "agency": push.unit.agency.name,
        "signoffs": signoffs,
    }


def _register_font() -> None:
    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))


def _para(value: Any, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(str(value or "")).replace("\n", "<br/>"), style)


def review_form_pdf(push: Push) -> bytes:
    """The filled-in 推播審核表 as an A4 PDF."""
    _register_font()
    ctx = review_form_context(push)
    base = ParagraphStyle("cell", fontName=FONT, fontSize=10.5, leading=15, wordWrap="CJK")
    small = ParagraphStyle("small", parent=base, fontSize=8.5, leading=11, textColor=colors.HexColor("#444444"))
    head = ParagraphStyle("head", parent=base, fontSize=16, leading=22, alignment=1)
    label = ParagraphStyle("label", parent=base, alignment=1)

    def lbl(text: str, note: str = "") -> list[Paragraph]:
        cells = [_para(text, label)]
        if note:
            cells.append(_para(note, small))
        return cells

    types = "　".join(("■" if t["checked"] else "□") + t["label"] for t in ctx["types"])
    coins = f"{ctx['coin_amount']} 枚" if ctx["coin_amount"] else ""
    data: list[list[Any]] = [
        [lbl("預計推播日期*", "(或活動日期)"), _para(ctx["planned_date"], base), "", "", "", ""],
        [lbl("推播類型*"), _para(types, base), "", "", "", ""],
        [lbl("訊息標題*"), _para(ctx["title"], base), "", "", "", ""],
        [lbl("副標題"), _para(ctx["subtitle"], base), "", "", "", ""],
        [lbl("訊息內容*", "(限120全形字元)"), [_para(ctx["body"], base), _para(f"{ctx['body_width']} / 120", small)], "", "", "", ""],
        [lbl("問卷內容"), _para(ctx["questionnaire"], base), "", "", "", ""],
        [lbl("金幣贈送額度", "(1題10金幣、單一推播至少20金幣)"), _para(coins, base), "", "", "", ""],
        [lbl("金幣贈送方式"), _para(ctx["coin_method"], base), "", "", "", ""],
        [
            lbl("業務承辦人*"), _para(ctx["contact_name"], base),
            lbl("電話"), _para(ctx["contact_phone"], base),
            lbl("信箱"), _para(ctx["contact_email"], base),
        ],
        [lbl("備註"), _para(ctx["remarks"], base), "", "", "", ""],
    ]  # fmt: skip
    widths = [32 * mm, 34 * mm, 18 * mm, 30 * mm, 16 * mm, 50 * mm]
    table = Table(data, colWidths=widths)
    spans = [("SPAN", (1, i), (5, i)) for i in range(len(data)) if i != 8]
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (0, -1), colors.HexColor("#f1f1f1")),
                ("BACKGROUND", (2, 8), (2, 8), colors.HexColor("#f1f1f1")),
                ("BACKGROUND", (4, 8), (4, 8), colors.HexColor("#f1f1f1")),
                ("MINROWHEIGHT", (0, 4), (-1, 4), 30 * mm),
                *spans,
            ]
        )
    )
    sign_rows: list[list[Any]] = []
    for row in ctx["signoffs"]:
        sign_rows.append([_para(b["label"], label) for b in row])
        sign_rows.append(
            [
                [_para(b["name"], label), _para(b["signed_at"], small)] if b["required"] else _para("—", label)
                for b in row
            ]
        )
    signs = Table(sign_rows, colWidths=[60 * mm] * 3, rowHeights=[8 * mm, 20 * mm] * len(ctx["signoffs"]))
    signs.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f1f1f1")),
                ("BACKGROUND", (0, 2), (-1, 2), colors.HexColor("#f1f1f1")),
            ]
        )
    )
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=15 * mm,
        rightMargin=15 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=f"推播審核表 {ctx['title']}",
        author=ctx["agency"],
    )
    doc.build(
        [
            _para(f"{ctx['agency']} TT-Push推播訊息 審核表", head),
            _para(f"{ctx['unit']}　第 {ctx['revision']} 版", small),
            Spacer(1, 4 * mm),
            table,
            Spacer(1, 6 * mm),
            signs,
        ]
    )
    return out.getvalue()
