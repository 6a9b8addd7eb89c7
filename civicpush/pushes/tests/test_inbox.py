"""The citizen's inbox: visibility at read time, the daily promotional cap, reads and clicks."""

from __future__ import annotations

import datetime
import threading

import pytest
from django.db import connection, connections
from django.utils import timezone

from civicpush.audiences.models import GroupMembership
from civicpush.core.errors import NotFound
from civicpush.pushes import dispatching, services, tasks
from civicpush.pushes.inbox import inbox_for, is_visible_to, unread_count
from civicpush.pushes.models import (
    Dispatch,
    DispatchStatus,
    Push,
    PushRead,
    PushType,
    ScheduleKind,
    TargetKind,
    Urgency,
)
from civicpush.pushes.scheduling import TAIPEI
from civicpush.pushes.tests.conftest import draft_fields, make_citizen, make_group


def _send(push: Push, at: datetime.datetime) -> None:
    services.do_schedule(push.created_by, push, ScheduleKind.NOW, now=at)
    dispatching.dispatch_due(at)  # (with transaction=True tests the on-commit task may have sent it already)
    # DISPATCHING until the delivery fan-out (on commit) finishes; the inbox shows both.
    assert Dispatch.objects.filter(push=push, status__in=[DispatchStatus.DISPATCHING, DispatchStatus.SENT]).exists()


@pytest.fixture
def everyone_push(org, approve_all):
    def build(**overrides) -> Push:
        drafter = org.user("prevention.drafter")
        push = services.do_create_draft(
            drafter, org.unit("prevention"), **draft_fields(target_kind=TargetKind.EVERYONE, **overrides)
        )
        services.do_submit(drafter, push)
        return approve_all(push)

    return build


def _titles(entries) -> list[str]:
    return [e.push.title for e in entries]


def test_a_citizen_who_joins_after_the_freeze_does_not_see_it_and_one_who_left_after_still_does(
    org, approved_group_push
) -> None:
    stayer, leaver, joiner = (make_citizen(org.county) for _ in range(3))
    group = make_group(org.unit("prevention"), [stayer, leaver])
    push = approved_group_push([group])
    sent_at = timezone.now() - datetime.timedelta(hours=2)
    _send(push, sent_at)
    later = sent_at + datetime.timedelta(minutes=30)
    GroupMembership.objects.filter(group=group, citizen=leaver).update(removed_at=later)
    GroupMembership.objects.create(group=group, citizen=joiner, added_at=later)

    assert _titles(inbox_for(stayer)) == [push.title]
    assert _titles(inbox_for(leaver)) == [push.title]
    assert inbox_for(joiner) == []
    assert not is_visible_to(joiner, push)
    with pytest.raises(NotFound):
        services.do_record_read(joiner, push)


def test_everyone_push_is_invisible_to_a_citizen_who_signed_up_after(org, everyone_push) -> None:
    sent_at = timezone.now() - datetime.timedelta(days=1)
    before = make_citizen(org.county, created_at=sent_at - datetime.timedelta(days=10))
    after = make_citizen(org.county, created_at=sent_at + datetime.timedelta(hours=1))
    push = everyone_push()
    _send(push, sent_at)
    push.refresh_from_db()
    assert push.audience_size == 1
    assert _titles(inbox_for(before)) == [push.title]
    assert inbox_for(after) == []


def test_only_three_promotions_a_day_are_shown_and_urgent_ones_are_exempt(org, everyone_push) -> None:
    day = (
        (timezone.now() - datetime.timedelta(days=2))
        .astimezone(TAIPEI)
        .replace(hour=9, minute=0, second=0, microsecond=0)
    )
    citizen = make_citizen(org.county, created_at=day - datetime.timedelta(days=30))
    promos = []
    for i in range(4):
        push = everyone_push(title=f"宣導{i}")
        _send(push, day + datetime.timedelta(hours=i))
        promos.append(push)
    urgent = everyone_push(title="颱風警報", urgency=Urgency.URGENT)
    _send(urgent, day + datetime.timedelta(hours=5))
    notice = everyone_push(title="停水通知", push_type=PushType.NOTICE)
    _send(notice, day + datetime.timedelta(hours=6))

    titles = _titles(inbox_for(citizen))
    assert titles == ["停水通知", "颱風警報", "宣導2", "宣導1", "宣導0"]
    # The cap is decided on the whole day, not on the page or the filter.
    assert _titles(inbox_for(citizen, limit=1)) == ["停水通知"]
    assert _titles(inbox_for(citizen, search="宣導3")) == []
    assert unread_count(citizen) == 5


def test_a_promotion_on_another_day_is_not_capped_by_yesterdays(org, everyone_push) -> None:
    day = (
        (timezone.now() - datetime.timedelta(days=3))
        .astimezone(TAIPEI)
        .replace(hour=9, minute=0, second=0, microsecond=0)
    )
    citizen = make_citizen(org.county, created_at=day - datetime.timedelta(days=30))
    for i in range(3):
        _send(everyone_push(title=f"昨天{i}"), day + datetime.timedelta(hours=i))
    _send(everyone_push(title="今天"), day + datetime.timedelta(days=1))
    titles = _titles(inbox_for(citizen))
    assert titles[0] == "今天" and len(titles) == 4


def test_pages_continue_before_the_last_entry(org, everyone_push) -> None:
    start = timezone.now() - datetime.timedelta(days=10)
    citizen = make_citizen(org.county, created_at=start - datetime.timedelta(days=1))
    for i in range(5):
        _send(everyone_push(title=f"通知{i}", push_type=PushType.NOTICE), start + datetime.timedelta(days=i))
    first = inbox_for(citizen, limit=2)
    second = inbox_for(citizen, limit=2, before=first[-1].frozen_at)
    assert _titles(first) == ["通知4", "通知3"]
    assert _titles(second) == ["通知2", "通知1"]


def test_pinned_valid_notices_come_first(org, everyone_push) -> None:
    start = timezone.now() - datetime.timedelta(days=2)
    citizen = make_citizen(org.county, created_at=start - datetime.timedelta(days=1))
    pinned = everyone_push(title="置頂", push_type=PushType.NOTICE, pinned=True)
    _send(pinned, start)
    _send(everyone_push(title="新的", push_type=PushType.NOTICE), start + datetime.timedelta(days=1))
    entries = inbox_for(citizen)
    assert _titles(entries) == ["置頂", "新的"] and entries[0].pinned


def test_expired_pushes_leave_the_inbox(org, everyone_push) -> None:
    start = timezone.now() - datetime.timedelta(days=2)
    citizen = make_citizen(org.county, created_at=start - datetime.timedelta(days=1))
    push = everyone_push(title="過期", valid_to=timezone.now() + datetime.timedelta(days=1))
    _send(push, start)
    assert _titles(inbox_for(citizen)) == ["過期"]
    assert inbox_for(citizen, now=timezone.now() + datetime.timedelta(days=2)) == []


def test_reading_twice_records_one_read_and_clicks_count_each(org, approved_group_push) -> None:
    citizen = make_citizen(org.county)
    push = approved_group_push([make_group(org.unit("prevention"), [citizen])])
    _send(push, timezone.now() - datetime.timedelta(minutes=5))
    assert unread_count(citizen) == 1
    assert services.do_record_read(citizen, push) is True
    assert services.do_record_read(citizen, push) is False
    services.do_record_click(citizen, push)
    services.do_record_click(citizen, push)
    assert PushRead.objects.filter(push=push, citizen=citizen).count() == 1
    assert push.clicks.count() == 2
    assert unread_count(citizen) == 0
    assert inbox_for(citizen)[0].is_read


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_opens_record_exactly_one_read(org, approved_group_push) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL: SQLite serialises writers, so it cannot show the race")
    citizen = make_citizen(org.county)
    push = approved_group_push([make_group(org.unit("prevention"), [citizen])])
    _send(push, timezone.now() - datetime.timedelta(minutes=5))
    n = 8
    barrier = threading.Barrier(n)
    results: list[bool] = []
    errors: list[BaseException] = []

    def open_it() -> None:
        try:
            barrier.wait(timeout=10)
            results.append(services.do_record_read(citizen, push))
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=open_it) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert sorted(results) == [False] * (n - 1) + [True]
    assert PushRead.objects.filter(push=push, citizen=citizen).count() == 1


def test_tasks_are_named_for_their_queues() -> None:
    assert tasks.dispatch_due_pushes.name == "civicpush.bulk.dispatch_due_pushes"
    assert tasks.dispatch_push.name == "civicpush.personal.dispatch_push"
