"""Demo case progress: two case types and a handful of cases of demo citizens at various steps
(one past its standard time, so the overdue sweep has something to declare). Idempotent."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from civicpush.citizens.models import Citizen, CitizenStatus

from . import services
from .models import Case

CASE_TYPES = [
    ("prevention", "fire-plan-review", "消防安全設備圖說審查", 10),
    ("ems", "ems-record", "救護紀錄表申請", 3),
]


def load_demo_cases(demo: Any) -> int:
    """Open demo cases for the first demo citizens; returns how many were opened (0 when present)."""
    if Case.objects.filter(county=demo.county).exists():
        return 0
    types = {}
    for unit_code, code, name, days in CASE_TYPES:
        actor = demo.user(f"{unit_code}.drafter")
        types[code], _ = services.do_save_case_type(
            actor, demo.unit(unit_code), code=code, name=name, standard_days=days
        )
    citizens = list(Citizen.objects.filter(county=demo.county, status=CitizenStatus.ACTIVE).order_by("pk")[:5])
    now = timezone.now()
    opened = 0
    steps = [
        ("fire-plan-review", 2, [("in_progress", "", "")]),
        ("fire-plan-review", 6, [("needs_documents", "", "請補送消防安全設備平面圖")]),
        ("ems-record", 1, [("done", "", "請至救護科領取")]),
        ("ems-record", 9, []),  # past its 3 working days: the sweep declares it overdue
        ("fire-plan-review", 20, [("overdue", "需會同建管單位現場會勘", "")]),
    ]
    for i, (citizen, (code, days_ago, events)) in enumerate(zip(citizens, steps, strict=False)):
        case_type = types[code]
        actor = demo.user(f"{case_type.unit.code}.drafter")
        case, _ = services.do_open_case(
            actor, case_type, external_ref=f"DEMO-{i + 1:03d}", citizen_number=citizen.phone_e164 or "",
            received_at=now - datetime.timedelta(days=days_ago),
        )  # fmt: skip
        for n, (kind, reason, note) in enumerate(events):
            services.do_record_event(
                actor, case, kind=kind, client_reference=f"demo-{n}", reason=reason, note=note,
                expected_completion=timezone.localdate() + datetime.timedelta(days=7) if kind == "overdue" else None,
            )  # fmt: skip
        opened += 1
    services.run_overdue_sweep()
    return opened
