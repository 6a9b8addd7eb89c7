"""Builders for event tests: an approved and sent event push with its event."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from civicpush.events import services
from civicpush.events.models import Event
from civicpush.pushes import dispatching
from civicpush.pushes import services as push_services
from civicpush.pushes.models import PushType, ScheduleKind, TargetKind
from civicpush.pushes.tests.conftest import draft_fields
from civicpush.wallet.tests.helpers import period, reserved_budget


def sent_event(
    org: Any,
    approve_all: Any,
    *,
    capacity: int = 10,
    coins: int = 0,
    starts_in: datetime.timedelta | None = None,
    group_ids: list[int] | None = None,
    **fields: Any,
) -> Event:
    drafter = org.user("prevention.drafter")
    unit = org.unit("prevention")
    now = timezone.now()
    push = push_services.do_create_draft(
        drafter,
        unit,
        **draft_fields(
            push_type=PushType.EVENT,
            title="[活動]防災體驗營",
            body="歡迎報名防災體驗營，名額有限。",
            target_kind=TargetKind.EVERYONE,
            takes_registrations=True,
        ),
    )
    starts = now + (starts_in if starts_in is not None else datetime.timedelta(days=3))
    budget = reserved_budget(unit) if coins else None
    per = period(unit, f"E{push.pk}") if coins else None
    values: dict[str, Any] = {
        "title": "防災體驗營",
        "starts_at": starts,
        "ends_at": starts + datetime.timedelta(hours=2),
        "place": "臺東縣消防局 3 樓禮堂",
        "map_url": "https://www.openstreetmap.org/?mlat=22.75&mlon=121.15",
        "capacity": capacity,
        "registration_opens_at": now - datetime.timedelta(days=1),
        "registration_closes_at": min(starts, starts + datetime.timedelta(hours=1)),
        "organiser_name": "王小明",
        "organiser_phone": "089-322112",
        "attendance_coins": coins,
        "budget": budget,
        "period": per,
    }
    values.update(fields)
    event = services.do_save_event(drafter, push, group_ids=group_ids, **values)
    push_services.do_submit(drafter, push)
    approve_all(push)
    push.refresh_from_db()
    push_services.do_schedule(drafter, push, ScheduleKind.NOW, now=now)
    dispatching.dispatch_due(now)
    event.refresh_from_db()
    return event
