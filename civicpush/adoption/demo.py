"""Demo roster and awards: each unit's staff (its accounts plus made-up colleagues, most of them
demo citizens, i.e. using the app), the brigades' volunteer groups, seed 000's rules, the five
shared all-staff groups and one award period. Idempotent."""

from __future__ import annotations

import datetime
import random
from typing import Any

from django.utils import timezone

from civicpush.audiences.models import Group
from civicpush.citizens.models import Citizen, CitizenStatus

from . import awards, roster, staff_groups
from .models import AwardPeriod, RosterEntry, RosterKind, StaffGroupDefinition
from .rules_seed import ensure_default_rules

SURNAMES = "陳林黃張李王吳劉蔡楊許鄭謝郭洪曾邱廖賴周"
GIVEN = "志明雅婷冠宇怡君建宏淑芬家豪美玲俊傑佳穎文雄秀英"
BRIGADES = ["taitung-brigade", "guanshan-brigade", "chenggong-brigade", "dawu-brigade"]
HQ_UNITS = ["rescue", "investigation", "prevention", "disaster", "ems", "command", "admin", "personnel"]
# (unit, staff, share using the app)
STAFF_PLAN = {code: (6, 0.95) for code in HQ_UNITS} | {code: (12, 0.8) for code in BRIGADES}
STAFF_PLAN["taitung-brigade"] = (12, 0.92)
VOLUNTEERS = {
    "taitung-brigade": [
        (RosterKind.VOLUNTEER_FIRE, 20, 0.9),
        (RosterKind.WOMEN_PREVENTION, 10, 0.7),
        (RosterKind.PHOENIX, 8, 1.0),
    ],
    "guanshan-brigade": [(RosterKind.VOLUNTEER_FIRE, 15, 0.6)],
}


def load_demo_adoption(demo: Any) -> int:
    """Returns how many roster entries were created (0 when the roster exists)."""
    ensure_default_rules(demo.agency)
    if RosterEntry.objects.filter(county=demo.county).exists():
        return 0
    rng = random.Random("civicpush-demo-roster")
    phones = iter(
        Citizen.objects.filter(county=demo.county, status=CitizenStatus.ACTIVE)
        .exclude(phone_e164__isnull=True)
        .order_by("-pk")
        .values_list("phone_e164", flat=True)[:400]
    )
    created = 0

    def person(unit: Any, kind: str, share: float) -> None:
        nonlocal created
        name = rng.choice(SURNAMES) + rng.choice(GIVEN[::2]) + rng.choice(GIVEN[1::2])
        mobile = next(phones, "") if rng.random() < share else f"+8869{rng.randrange(10**7, 10**8)}"
        RosterEntry.objects.create(county=demo.county, unit=unit, kind=kind, name=name, mobile=mobile or "")
        created += 1

    for code, (staff, share) in STAFF_PLAN.items():
        unit = demo.unit(code)
        for suffix in ("drafter", "head", "manager"):  # demo accounts: most of them use the app too
            user = demo.user(f"{code}.{suffix}")
            if not user.mobile and rng.random() < share:
                user.mobile = next(phones, "")
                user.save(update_fields=["mobile"])
        roster.do_sync_staff(demo.user(f"{code}.drafter"), unit)
        for _ in range(staff):
            person(unit, RosterKind.STAFF, share)
        for kind, count, vshare in VOLUNTEERS.get(code, []):
            for _ in range(count):
                person(unit, kind, vshare)
    for base, roots in [("局本部", HQ_UNITS), *[(demo.unit(b).name, [b]) for b in BRIGADES]]:
        # A shared group of the same name the demo pushes already target (the admin section's
        # 局本部 group) becomes the first version: this month's roster group replaces it.
        earlier = (
            Group.objects.filter(
                county=demo.county, shared_with_agency=True, retired_at__isnull=True, name__contains=base
            )
            .order_by("pk")
            .first()
        )
        definition, _ = StaffGroupDefinition.objects.get_or_create(
            agency=demo.agency,
            base_name=base,
            defaults={
                "owner_unit": earlier.unit if earlier else demo.unit("command"),
                "current_group": earlier,
            },
        )
        definition.root_units.set([demo.unit(c) for c in roots])
        staff_groups.refresh(definition)
    today = timezone.localdate()
    period = AwardPeriod.objects.create(
        agency=demo.agency,
        name=f"{today.year - 1911}年下載使用達成率",
        starts_on=datetime.date(today.year, 1, 1),
        deadline=today,
    )
    awards.do_evaluate_period(demo.user("admin.drafter"), period)
    return created
