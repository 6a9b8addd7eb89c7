"""Demo feedback: the county's categories and their routing, FAQ pages, and a few items at each
step (received, acknowledged, answered and rated). Idempotent."""

from __future__ import annotations

from typing import Any

from civicpush.citizens.models import Citizen, CitizenStatus

from . import services
from .models import FaqEntry, Feedback, FeedbackCategory

CATEGORIES = [("消防安全", "prevention"), ("緊急救護", "ems"), ("災害防救", "disaster"), ("其他建議", "admin")]
FAQ = [
    ("prevention", "住宅用火災警報器要裝在哪裡？", "每間臥室、廚房及樓梯間各裝一顆，裝在天花板或牆面高處。"),
    ("prevention", "可以申請免費住警器嗎？", "設籍本縣的弱勢家庭可向所轄分隊申請，請攜帶身分證件。"),
    ("ems", "救護車收費嗎？", "緊急傷病送醫不收費；非緊急使用依規定收費。"),
]
ITEMS = [
    ("消防安全", "complaint", "巷口消防栓常被機車擋住，請協助處理。", "answer", 5),
    ("緊急救護", "suggestion", "建議在社區活動中心辦理 CPR 教學。", "answer", 4),
    ("災害防救", "suggestion", "颱風期間希望能推播避難所開設資訊。", "ack", None),
    ("其他建議", "suggestion", "希望 App 字體可以再大一點。", "", None),
]


def load_demo_feedback(demo: Any) -> int:
    if FeedbackCategory.objects.filter(county=demo.county).exists():
        return 0
    categories = {}
    for i, (name, unit_code) in enumerate(CATEGORIES):
        categories[name] = FeedbackCategory.objects.create(
            county=demo.county, name=name, unit=demo.unit(unit_code), sort_order=i
        )
    for unit_code, question, answer in FAQ:
        FaqEntry.objects.create(unit=demo.unit(unit_code), question=question, answer=answer)
    citizens = list(
        Citizen.objects.filter(county=demo.county, status=CitizenStatus.ACTIVE).order_by("pk")[5 : 5 + len(ITEMS)]
    )
    for citizen, (category, kind, text, step, rating) in zip(citizens, ITEMS, strict=False):
        feedback = services.do_submit(citizen, category=categories[category], kind=kind, text=text)
        actor = demo.user(f"{categories[category].unit.code}.drafter")
        if step in ("ack", "answer"):
            services.do_acknowledge(actor, feedback)
        if step == "answer":
            services.do_answer(actor, feedback, "感謝您的意見，已請轄區分隊處理並持續追蹤。")
        if rating:
            services.do_rate(citizen, feedback, rating)
    return Feedback.objects.filter(county=demo.county).count()
