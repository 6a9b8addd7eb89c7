"""Helpers for citizen inbox tests: citizens who can sign in, and pushes sent through the real chain."""

from __future__ import annotations

import datetime
import io
import itertools
from typing import Any

from django.conf import settings
from django.test import Client
from django.utils import timezone
from PIL import Image

from civicpush.audiences.models import Group, GroupKind, GroupMembership
from civicpush.citizens import services as citizen_services
from civicpush.citizens.middleware import CITIZEN_SESSION_KEY
from civicpush.citizens.models import Citizen
from civicpush.pushes import dispatching, services
from civicpush.pushes.chains import next_step
from civicpush.pushes.models import (
    CountyPushPolicy,
    Dispatch,
    DispatchStatus,
    Push,
    PushType,
    ScheduleKind,
    TargetKind,
)

_phones = itertools.count(20_000_000)


def new_citizen(phone: str | None = None, *, created_at: datetime.datetime | None = None) -> Citizen:
    """A signed-up citizen with the current privacy notice accepted, signed up a day ago by default
    (so "everyone" pushes sent in the test reach them)."""
    created_at = created_at or timezone.now() - datetime.timedelta(days=1)
    phone = phone or f"+8869{next(_phones):08d}"
    citizen = citizen_services.do_sign_up(
        phone, notice_version=settings.PRIVACY_NOTICE_VERSION, client_ip="198.51.100.7"
    )
    Citizen.objects.filter(pk=citizen.pk).update(created_at=created_at)
    citizen.refresh_from_db()
    return citizen


def client_for(citizen: Citizen) -> Client:
    client = Client()
    session = client.session
    session[CITIZEN_SESSION_KEY] = citizen.pk
    session.save()
    return client


def group_of(org: Any, members: list[Citizen], *, added_at: datetime.datetime | None = None) -> Group:
    unit = org.unit("prevention")
    group = Group.objects.create(county=unit.county, unit=unit, name="消防局預防科0801", kind=GroupKind.STATIC)
    at = added_at or timezone.now() - datetime.timedelta(days=30)
    GroupMembership.objects.bulk_create([GroupMembership(group=group, citizen=c, added_at=at) for c in members])
    return group


def png(width: int = 640, height: int = 400) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (220, 80, 40)).save(out, "PNG")
    return out.getvalue()


def send_push(
    org: Any,
    *,
    at: datetime.datetime | None = None,
    image_alt: str | None = None,
    **fields: Any,
) -> Push:
    """Draft (by prevention.drafter), approve every step, schedule now and dispatch at `at`."""
    values: dict[str, Any] = {
        "push_type": PushType.PROMOTION,
        "title": "[防火]居家安全宣導",
        "subtitle": "住警器守護您的家",
        "body": "請記得每月測試住宅用火災警報器。\n第二行說明。",
        "planned_date": datetime.date(2026, 12, 1),
        "contact_name": "王小明",
        "contact_phone": "089-322112",
        "contact_email": "ming@fire.example.gov.tw",
        "target_kind": TargetKind.EVERYONE,
    }
    values.update(fields)
    drafter = org.user("prevention.drafter")
    push = services.do_create_draft(drafter, org.unit("prevention"), **values)
    if image_alt is not None:
        services.do_add_image(drafter, push, png(), alt_text=image_alt)
    services.do_submit(drafter, push)
    by_role = {
        "push_liaison": "fire.liaison",
        "secretary": "fire.secretary",
        "deputy_director": "fire.deputy",
        "director": "fire.director",
    }
    push.refresh_from_db()
    while (step := next_step(push)) is not None:
        role = push.chain_roles[step]
        services.do_decide(org.user(by_role.get(role, f"{push.unit.code}.head")), push, "approved")
        push.refresh_from_db()
    at = at or timezone.now() - datetime.timedelta(minutes=5)
    # No quiet hours, so a test run at night sends at once (quiet hours are the pushes tests' subject).
    midnight = datetime.time(0, 0)
    CountyPushPolicy.objects.update_or_create(
        county=push.county, defaults={"quiet_start": midnight, "quiet_end": midnight}
    )
    services.do_schedule(drafter, push, ScheduleKind.NOW, now=at)
    dispatching.dispatch_due(at)
    # DISPATCHING until the delivery fan-out (on commit) finishes; the inbox shows both.
    assert Dispatch.objects.filter(push=push, status__in=[DispatchStatus.DISPATCHING, DispatchStatus.SENT]).exists()
    push.refresh_from_db()
    return push
