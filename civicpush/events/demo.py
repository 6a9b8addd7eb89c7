"""Demo events: an upcoming "防災體驗營" with registrations and a waitlist, so the console's event
pages, the scanner and a demo citizen's ticket have something to show after `make run`."""

from __future__ import annotations

import datetime
from typing import Any

from django.utils import timezone

from civicpush.citizens.models import Citizen
from civicpush.demo.citizens import demo_phones
from civicpush.pushes.models import PushType, TargetKind

from . import services
from .models import Event


def demo_events_exist(county: Any) -> bool:
    return Event.objects.filter(county=county).exists()


def load_demo_events(demo: Any, now: datetime.datetime | None = None) -> int:
    """One event push (approved and sent), its event with 30 seats, 34 registrations (30 confirmed,
    4 on the waitlist). Returns the number of registrations."""
    from civicpush.demo.pushes import _Builder, _content, _local  # the demo's push builder

    now = now or timezone.now()
    builder = _Builder(demo, now)
    unit = "prevention"
    push = builder.draft(
        unit,
        _content(
            "[活動]防災體驗營",
            "地震、火災避難與滅火器操作體驗，親子皆宜。名額 30 名，額滿候補。",
            push_type=PushType.EVENT,
            target_kind=TargetKind.EVERYONE,
            takes_registrations=True,
        ),
    )
    starts = _local(7, 9, 30, now)
    services.do_save_event(
        builder.drafter(unit),
        push,
        title="防災體驗營",
        starts_at=starts,
        ends_at=starts + datetime.timedelta(hours=3),
        place="臺東縣消防局防災教育館（臺東市中興路二段）",
        map_url="https://www.openstreetmap.org/search?query=%E8%87%BA%E6%9D%B1%E7%B8%A3%E6%B6%88%E9%98%B2%E5%B1%80",
        capacity=30,
        registration_opens_at=now - datetime.timedelta(days=1),
        registration_closes_at=starts - datetime.timedelta(days=1),
        questions=[
            {"label": "參加人數（含本人）", "kind": "choice", "options": ["1", "2", "3", "4"], "required": True}
        ],
        organiser_name="王小明",
        organiser_phone="089-322112#231",
    )
    builder.sign(builder.submit(push))
    builder.send(push, now - datetime.timedelta(hours=2))
    event = Event.objects.get(push=push)
    phones = demo_phones(60)[1:35]  # the first demo citizen stays unregistered: they can try it
    count = 0
    for citizen in Citizen.objects.filter(phone_e164__in=phones).order_by("pk"):
        services.do_register(citizen, event, {"q1": "2"}, now=now - datetime.timedelta(hours=1))
        count += 1
    return count
