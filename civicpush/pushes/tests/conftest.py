"""Fixtures for push tests: citizens, groups, and a push walked through its chain."""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable
from typing import Any

import pytest
from django.utils import timezone

from civicpush.audiences.models import Group, GroupKind, GroupMembership
from civicpush.citizens.models import Citizen
from civicpush.pushes import services
from civicpush.pushes.models import Push, PushType, TargetKind

_phones = itertools.count(10_000_000)


def make_citizen(county: Any, *, created_at: datetime.datetime | None = None) -> Citizen:
    citizen = Citizen.objects.create(county=county, phone_e164=f"+8869{next(_phones):08d}")
    if created_at is not None:
        Citizen.objects.filter(pk=citizen.pk).update(created_at=created_at)
        citizen.refresh_from_db()
    return citizen


def make_group(
    unit: Any, members: list[Citizen], *, added_at: datetime.datetime | None = None, name: str = "g"
) -> Group:
    group = Group.objects.create(county=unit.county, unit=unit, name=name, kind=GroupKind.STATIC)
    at = added_at or timezone.now() - datetime.timedelta(days=30)
    GroupMembership.objects.bulk_create([GroupMembership(group=group, citizen=c, added_at=at) for c in members])
    return group


def draft_fields(**overrides: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "push_type": PushType.PROMOTION,
        "title": "[防火]居家安全宣導",
        "subtitle": "住警器守護您的家",
        "body": "請記得每月測試住宅用火災警報器。",
        "planned_date": datetime.date(2026, 12, 1),
        "contact_name": "王小明",
        "contact_phone": "089-322112",
        "contact_email": "ming@fire.example.gov.tw",
    }
    fields.update(overrides)
    return fields


@pytest.fixture
def citizen_factory(org: Any) -> Callable[..., Citizen]:
    def factory(**kwargs: Any) -> Citizen:
        return make_citizen(org.county, **kwargs)

    return factory


@pytest.fixture
def approve_all(org: Any) -> Callable[[Push], Push]:
    """Sign every remaining step of a submitted push with the demo user holding that role."""
    by_role = {
        "unit_head": None,  # resolved per unit below
        "push_liaison": org.user("fire.liaison"),
        "secretary": org.user("fire.secretary"),
        "deputy_director": org.user("fire.deputy"),
        "director": org.user("fire.director"),
    }

    def approve(push: Push) -> Push:
        from civicpush.pushes.chains import next_step

        push.refresh_from_db()
        while (step := next_step(push)) is not None:
            role = push.chain_roles[step]
            user = by_role.get(role) or org.user(f"{push.unit.code}.head")
            services.do_decide(user, push, "approved")
            push.refresh_from_db()
        return push

    return approve


@pytest.fixture
def approved_group_push(org: Any, approve_all: Callable[[Push], Push]) -> Callable[..., Push]:
    """A prevention push to the given groups, submitted and fully approved."""

    def build(groups: list[Group], **overrides: Any) -> Push:
        drafter = org.user("prevention.drafter")
        push = services.do_create_draft(
            drafter,
            org.unit("prevention"),
            **draft_fields(target_kind=TargetKind.GROUPS, target_group_ids=[g.pk for g in groups], **overrides),
        )
        services.do_submit(drafter, push)
        return approve_all(push)

    return build
