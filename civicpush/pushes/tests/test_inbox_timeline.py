"""The in-process broadcast timelines behind the inbox: freshness after writes, and the same answers
as the rules in `inbox.py`'s docstring, checked against a brute-force oracle on random data."""

from __future__ import annotations

import datetime
import random
from typing import Any

import pytest
from django.utils import timezone

from civicpush.audiences.models import GroupMembership
from civicpush.citizens.models import Citizen
from civicpush.pushes import dispatching, services, timeline
from civicpush.pushes.inbox import inbox_for, inbox_page, unread_count
from civicpush.pushes.models import (
    PROMOTIONAL_TYPES,
    CountyPushPolicy,
    Dispatch,
    DispatchStatus,
    Push,
    PushRead,
    PushTargetGroup,
    PushType,
    ScheduleKind,
    TargetKind,
    Urgency,
)
from civicpush.pushes.scheduling import taipei_date
from civicpush.pushes.tests.conftest import draft_fields, make_citizen, make_group

pytestmark = pytest.mark.django_db


def _send(push: Push, at: datetime.datetime) -> None:
    services.do_schedule(push.created_by, push, ScheduleKind.NOW, now=at)
    dispatching.dispatch_due(at)


@pytest.fixture
def everyone_push(org, approve_all):
    def build(**overrides: Any) -> Push:
        drafter = org.user("prevention.drafter")
        push = services.do_create_draft(
            drafter, org.unit("prevention"), **draft_fields(target_kind=TargetKind.EVERYONE, **overrides)
        )
        services.do_submit(drafter, push)
        return approve_all(push)

    return build


def test_the_cached_timeline_sees_a_new_broadcast_and_a_stop_at_once(org, everyone_push) -> None:
    now = timezone.now()
    citizen = make_citizen(org.county, created_at=now - datetime.timedelta(days=5))
    first = everyone_push(title="第一則", push_type=PushType.NOTICE)
    _send(first, now - datetime.timedelta(hours=3))
    assert [e.push_id for e in inbox_for(citizen)] == [first.pk]

    builds = timeline.stats["builds"]
    assert [e.push_id for e in inbox_for(citizen)] == [first.pk]
    assert timeline.stats["builds"] == builds  # nothing changed: the process's timeline is reused

    second = everyone_push(title="第二則", push_type=PushType.NOTICE)
    _send(second, now - datetime.timedelta(hours=1))
    assert [e.push_id for e in inbox_for(citizen)] == [second.pk, first.pk]  # no stale inbox
    assert unread_count(citizen) == 2

    # A dispatch that is sending is visible; cancelled, it stops at a batch boundary and leaves.
    sending = Dispatch.objects.get(push=second)
    Dispatch.objects.filter(pk=sending.pk).update(status=DispatchStatus.DISPATCHING)
    Push.objects.filter(pk=second.pk).update(status="dispatching")
    second.refresh_from_db()
    services.do_cancel(org.user("prevention.drafter"), second)
    assert [e.push_id for e in inbox_for(citizen)] == [second.pk, first.pk]
    dispatching.mark_dispatch_stopped(sending.pk)
    assert [e.push_id for e in inbox_for(citizen)] == [first.pk]
    assert unread_count(citizen) == 1


def test_editing_a_push_after_its_first_send_shows_the_new_text(org, everyone_push) -> None:
    """A daily push is still editable after its first send (status scheduled): its sent entries
    show the edit at once."""
    citizen = make_citizen(org.county, created_at=timezone.now() - datetime.timedelta(days=5))
    push = everyone_push(title="每日提醒", push_type=PushType.NOTICE)
    _send(push, timezone.now() - datetime.timedelta(hours=1))
    assert [e.entry.title for e in inbox_for(citizen)] == ["每日提醒"]
    Push.objects.filter(pk=push.pk).update(status="scheduled")  # as if more days were to come
    push.refresh_from_db()
    services.do_update_draft(org.user("prevention.drafter"), push, title="每日提醒（更正）")
    assert [e.entry.title for e in inbox_for(citizen)] == ["每日提醒（更正）"]
    assert [e.push.title for e in inbox_for(citizen)] == ["每日提醒（更正）"]


# --- the same answers as a brute-force oracle ----------------------------------------------------


def _oracle(
    citizen: Any,
    dispatches: list[dict[str, Any]],
    memberships: list[tuple[int, datetime.datetime, datetime.datetime | None]],
    reads: set[int],
    cap: int,
    now: datetime.datetime,
) -> tuple[list[dict[str, Any]], set[int], set[int]]:
    """The docstring's rules, literally: every dispatch checked on its own. Returns the dispatches
    shown (visible, and within the cap), the ids of the shown ones, and the push ids read."""

    def visible(d: dict[str, Any]) -> bool:
        if d["status"] not in ("dispatching", "sent") or d["frozen_at"] is None:
            return False
        if d["valid_from"] is not None and d["valid_from"] > now:
            return False
        if d["valid_to"] is not None and d["valid_to"] <= now:
            return False
        t = d["frozen_at"]
        if d["target_kind"] == TargetKind.PERSON:
            return d["target_citizen_id"] == citizen.pk
        if d["target_kind"] == TargetKind.EVERYONE:
            return citizen.created_at <= t
        return any(
            gid in d["groups"] and added <= t and (removed is None or removed > t)
            for gid, added, removed in memberships
        )

    def promotional(d: dict[str, Any]) -> bool:
        return (
            d["push_type"] in PROMOTIONAL_TYPES
            and d["urgency"] != Urgency.URGENT
            and d["target_kind"] != TargetKind.PERSON
        )

    seen = [d for d in dispatches if visible(d)]
    by_day: dict[datetime.date, list[dict[str, Any]]] = {}
    for d in seen:
        if promotional(d):
            by_day.setdefault(taipei_date(d["frozen_at"]), []).append(d)
    allowed = set()
    for day_promos in by_day.values():
        day_promos.sort(key=lambda d: (d["frozen_at"], d["id"]))
        allowed |= {d["id"] for d in day_promos[:cap]}
    shown = [d for d in seen if not promotional(d) or d["id"] in allowed]
    return shown, {d["id"] for d in shown}, reads


def _oracle_page(
    shown: list[dict[str, Any]],
    reads: set[int],
    *,
    topic: int | None = None,
    push_type: str | None = None,
    search: str | None = None,
    before: datetime.datetime | None = None,
    limit: int = 20,
) -> list[tuple[int, bool, bool]]:
    def wanted(d: dict[str, Any]) -> bool:
        if topic is not None and d["topic"] != topic:
            return False
        if push_type and d["push_type"] != push_type:
            return False
        if search:
            term = search.strip()[:100].lower()
            return any(term in d[f].lower() for f in ("title", "title_tag", "subtitle", "body"))
        return True

    def newest_first(ds: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(ds, key=lambda d: (d["frozen_at"], d["id"]), reverse=True)

    pinned = []
    if before is None:
        pinned = newest_first([d for d in shown if d["pinned"] and d["push_type"] == PushType.NOTICE and wanted(d)])
        pinned = pinned[:20]
    pinned_ids = {d["id"] for d in pinned}
    regular = newest_first(
        [d for d in shown if d["id"] not in pinned_ids and wanted(d) and (before is None or d["frozen_at"] < before)]
    )[:limit]
    return [(d["id"], d["push_id"] in reads, True) for d in pinned] + [
        (d["id"], d["push_id"] in reads, False) for d in regular
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_inbox_matches_a_brute_force_oracle_on_random_data(org, seed: int) -> None:
    rng = random.Random(seed)
    now = timezone.now().replace(microsecond=0)
    county, unit, user = org.county, org.unit("prevention"), org.user("prevention.drafter")
    cap = rng.choice([1, 2, 3])
    CountyPushPolicy.objects.update_or_create(county=county, defaults={"daily_promotion_cap": cap})
    citizens = [make_citizen(county, created_at=now - datetime.timedelta(days=rng.uniform(0, 45))) for _ in range(7)]
    groups = [make_group(unit, [], name=f"g{i}") for i in range(5)]
    memberships: dict[int, list[tuple[int, datetime.datetime, datetime.datetime | None]]] = {c.pk: [] for c in citizens}
    for c in citizens:
        for g in rng.sample(groups, rng.randint(0, 4)):
            added = now - datetime.timedelta(days=rng.uniform(0, 50))
            removed = None if rng.random() < 0.6 else added + datetime.timedelta(days=rng.uniform(0, 20))
            GroupMembership.objects.create(group=g, citizen=c, added_at=added, removed_at=removed)
            memberships[c.pk].append((g.pk, added, removed))
            if removed is not None and rng.random() < 0.5:  # left and joined again
                again = removed + datetime.timedelta(days=rng.uniform(0, 5))
                GroupMembership.objects.create(group=g, citizen=c, added_at=again)
                memberships[c.pk].append((g.pk, again, None))

    words = ["防火", "防災", "宣導", "活動", "Flood", "flood"]
    dispatches: list[dict[str, Any]] = []
    for i in range(200):
        kind = rng.choices([TargetKind.EVERYONE, TargetKind.GROUPS, TargetKind.PERSON], [45, 40, 15])[0]
        push_type = PushType.NOTICE if kind == TargetKind.PERSON else rng.choice(list(PushType.values))
        valid_from = valid_to = None
        if rng.random() < 0.15:
            valid_to = now + datetime.timedelta(days=rng.uniform(-20, 10))
        if rng.random() < 0.1:
            valid_from = now + datetime.timedelta(days=rng.uniform(-20, 2))
        push = Push.objects.create(
            county=county,
            unit=unit,
            created_by=user,
            push_type=push_type,
            title_tag=rng.choice(["", *words]),
            title=f"{rng.choice(words)} 第{i}則",
            subtitle=rng.choice(["", "副標", "FLOOD warning"]),
            body=f"第一行 {rng.choice(words)}\n第二行",
            topic=rng.choice([None, 0, 3, 7]),
            urgency=Urgency.URGENT if rng.random() < 0.1 else Urgency.NORMAL,
            pinned=push_type == PushType.NOTICE and rng.random() < 0.2,
            valid_from=valid_from,
            valid_to=valid_to,
            target_kind=kind,
            target_citizen=rng.choice(citizens) if kind == TargetKind.PERSON else None,
            status="sent",
        )
        targets = set()
        if kind == TargetKind.GROUPS:
            targets = {g.pk for g in rng.sample(groups, rng.randint(1, 3))}
            PushTargetGroup.objects.bulk_create([PushTargetGroup(push=push, group_id=g) for g in targets])
        for n in range(1 if rng.random() < 0.85 else 3):  # a few daily pushes with several dispatches
            # Whole minutes, and a few shared instants: ties are broken by dispatch id.
            frozen = now - datetime.timedelta(minutes=rng.randrange(0, 40 * 24 * 60, 7 if i % 5 else 720))
            status = rng.choices(["sent", "dispatching", "stopped", "pending", "cancelled"], [80, 5, 5, 5, 5])[0]
            d = Dispatch.objects.create(
                push=push,
                county=county,
                target_kind=kind,
                scheduled_for=frozen + datetime.timedelta(seconds=n),
                frozen_at=None if status in ("pending", "cancelled") else frozen,
                status=status,
            )
            dispatches.append(
                {
                    "id": d.pk,
                    "push_id": push.pk,
                    "frozen_at": d.frozen_at,
                    "status": status,
                    "target_kind": kind,
                    "target_citizen_id": push.target_citizen_id,
                    "groups": targets,
                    "push_type": push_type,
                    "urgency": push.urgency,
                    "pinned": push.pinned,
                    "topic": push.topic,
                    "valid_from": valid_from,
                    "valid_to": valid_to,
                    "title": push.title,
                    "title_tag": push.title_tag,
                    "subtitle": push.subtitle,
                    "body": push.body,
                }
            )
    timeline.bump(county.pk)  # rows written behind the services' back
    # One citizen signed up at the very instant a broadcast froze (created_at <= frozen_at: seen).
    exact = rng.choice([d for d in dispatches if d["target_kind"] == TargetKind.EVERYONE and d["frozen_at"]])
    Citizen.objects.filter(pk=citizens[0].pk).update(created_at=exact["frozen_at"])
    citizens[0].refresh_from_db()
    push_ids = sorted({d["push_id"] for d in dispatches})
    reads: dict[int, set[int]] = {}
    for c in citizens:
        reads[c.pk] = set(rng.sample(push_ids, 40))
        PushRead.objects.bulk_create([PushRead(push_id=p, citizen=c, read_at=now) for p in reads[c.pk]])

    checked = 0
    for c in citizens:
        for at in (now, now - datetime.timedelta(days=3), now + datetime.timedelta(days=4)):
            shown, _ids, read = _oracle(c, dispatches, memberships[c.pk], reads[c.pk], cap, at)

            def mine(**kw: Any) -> list[tuple[int, bool, bool]]:
                return [(e.dispatch_id, e.is_read, e.pinned) for e in inbox_for(c, now=at, **kw)]  # noqa: B023

            for kw in (
                {},
                {"limit": 5},
                {"limit": 100},
                {"push_type": PushType.PROMOTION},
                {"topic": 3},
                {"search": "flood"},
                {"search": " 第1"},
                {"push_type": PushType.NOTICE, "limit": 3},
            ):
                expected = _oracle_page(shown, read, **kw)
                assert mine(**kw) == expected, (c.pk, at, kw)
                checked += 1
                if expected and not expected[-1][2]:  # the next page, from the last regular entry
                    last = next(d for d in shown if d["id"] == expected[-1][0])
                    kw2 = {**kw, "before": last["frozen_at"]}
                    assert mine(**kw2) == _oracle_page(shown, read, **kw2), (c.pk, at, kw2)
            unread = sum(
                1 for d in shown if d["frozen_at"] >= at - datetime.timedelta(days=30) and d["push_id"] not in read
            )
            assert unread_count(c, now=at) == unread
            assert inbox_page(c, now=at)[1] == unread
    assert checked == len(citizens) * 3 * 8
