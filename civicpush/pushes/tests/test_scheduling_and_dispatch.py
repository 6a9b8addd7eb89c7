"""Scheduling, quiet hours, county slots, cancelling, and dispatch (invariant 1 re-checked)."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from civicpush.core.errors import Conflict, ValidationFailed
from civicpush.core.models import AuditEntry
from civicpush.pushes import dispatching, services
from civicpush.pushes.chains import ChainIncomplete
from civicpush.pushes.models import (
    Dispatch,
    DispatchStatus,
    PushStatus,
    PushType,
    ScheduleKind,
    SlotBooking,
    TargetKind,
    Urgency,
)
from civicpush.pushes.scheduling import TAIPEI
from civicpush.pushes.tests.conftest import draft_fields, make_citizen, make_group

FUTURE_NIGHT = datetime.datetime(2030, 1, 10, 23, 0, tzinfo=TAIPEI)


def test_a_push_cannot_be_scheduled_before_its_chain_is_complete(org) -> None:
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    drafter = org.user("prevention.drafter")
    push = services.do_create_draft(drafter, org.unit("prevention"), **draft_fields(target_group_ids=[group.pk]))
    with pytest.raises(Conflict):
        services.do_schedule(drafter, push, ScheduleKind.NOW)
    services.do_submit(drafter, push)
    with pytest.raises(Conflict):
        services.do_schedule(drafter, push, ScheduleKind.NOW)
    assert not Dispatch.objects.exists()


def test_forced_status_in_the_database_does_not_let_a_push_out(org) -> None:
    """Someone sets status=scheduled by hand and adds a dispatch: dispatch re-checks the chain."""
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    drafter = org.user("prevention.drafter")
    push = services.do_create_draft(drafter, org.unit("prevention"), **draft_fields(target_group_ids=[group.pk]))
    services.do_submit(drafter, push)
    type(push).objects.filter(pk=push.pk).update(status=PushStatus.SCHEDULED)
    push.refresh_from_db()
    with pytest.raises(ChainIncomplete):
        services.do_schedule(drafter, push, ScheduleKind.NOW)
    d = Dispatch.objects.create(
        push=push, county=org.county, target_kind=push.target_kind, scheduled_for=timezone.now()
    )
    assert dispatching.dispatch_due() == []
    d.refresh_from_db()
    push.refresh_from_db()
    assert d.status == DispatchStatus.BLOCKED and d.frozen_at is None
    assert push.status == PushStatus.SCHEDULED and push.first_sent_at is None
    assert AuditEntry.objects.filter(action="pushes.dispatch.blocked", object_id=str(push.pk)).exists()


def test_approvals_of_an_old_revision_do_not_count_at_dispatch(org, approved_group_push) -> None:
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    push = approved_group_push([group])
    services.do_schedule(org.user("prevention.drafter"), push, ScheduleKind.NOW)
    # Forge: bump the revision behind the services' back, leaving revision-1 approvals.
    type(push).objects.filter(pk=push.pk).update(revision=2)
    assert dispatching.dispatch_due() == []
    assert Dispatch.objects.get(push=push).status == DispatchStatus.BLOCKED


def test_quiet_hours_hold_a_normal_push_to_the_morning(org, approved_group_push) -> None:
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    push = approved_group_push([group])
    push = services.do_schedule(org.user("prevention.drafter"), push, ScheduleKind.NOW, now=FUTURE_NIGHT)
    assert push.send_at == datetime.datetime(2030, 1, 11, 7, 0, tzinfo=TAIPEI)
    assert Dispatch.objects.get(push=push).scheduled_for == push.send_at


def test_quiet_hours_do_not_hold_an_urgent_push(org, approved_group_push) -> None:
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    push = approved_group_push([group], urgency=Urgency.URGENT)
    push = services.do_schedule(org.user("prevention.drafter"), push, ScheduleKind.NOW, now=FUTURE_NIGHT)
    assert push.send_at == FUTURE_NIGHT


def test_a_timed_push_after_quiet_hours_start_waits_and_daily_pushes_get_one_dispatch_a_day(
    org, approved_group_push
) -> None:
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    push = approved_group_push([group])
    at = datetime.datetime(2030, 1, 10, 6, 30, tzinfo=TAIPEI)
    push = services.do_schedule(
        org.user("prevention.drafter"), push, ScheduleKind.AT, send_at=at, now=at - datetime.timedelta(hours=8)
    )
    assert push.send_at == datetime.datetime(2030, 1, 10, 7, 0, tzinfo=TAIPEI)
    push = services.do_schedule(
        org.user("prevention.drafter"),
        push,
        ScheduleKind.DAILY,
        daily_time=datetime.time(9, 0),
        daily_until=datetime.date(2030, 1, 12),
        now=datetime.datetime(2030, 1, 10, 8, 0, tzinfo=TAIPEI),
    )
    times = list(Dispatch.objects.filter(push=push).values_list("scheduled_for", flat=True))
    assert [t.astimezone(TAIPEI).day for t in times] == [10, 11, 12]


def test_routine_promotion_needs_an_approved_county_slot_with_room(org, approved_group_push) -> None:
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    operator = org.user("county.operator")
    starts = timezone.now() + datetime.timedelta(days=3)
    slot = services.do_open_slot(operator, org.county, starts.astimezone(TAIPEI).replace(hour=10, minute=0), 1)
    first = approved_group_push([group], is_routine_promotion=True)
    with pytest.raises(ValidationFailed) as exc:
        services.do_schedule(org.user("prevention.drafter"), first, ScheduleKind.NOW)
    assert "slot" in exc.value.field_errors
    with pytest.raises(ValidationFailed):
        services.do_schedule(org.user("prevention.drafter"), first, ScheduleKind.AT, slot=slot)  # not approved yet
    services.do_approve_slot(operator, slot)
    first = services.do_schedule(org.user("prevention.drafter"), first, ScheduleKind.AT, slot=slot)
    assert first.send_at == slot.starts_at and first.status == PushStatus.SCHEDULED
    second = approved_group_push([group], is_routine_promotion=True)
    with pytest.raises(ValidationFailed) as exc:
        services.do_schedule(org.user("prevention.drafter"), second, ScheduleKind.AT, slot=slot)
    assert "slot" in exc.value.field_errors  # full
    services.do_cancel(org.user("prevention.drafter"), first)
    assert not SlotBooking.objects.filter(slot=slot, released_at__isnull=True).exists()
    services.do_schedule(org.user("prevention.drafter"), second, ScheduleKind.AT, slot=slot)


def test_only_the_county_operator_opens_slots(org) -> None:
    from civicpush.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.do_open_slot(org.user("prevention.head"), org.county, timezone.now() + datetime.timedelta(days=1), 3)


def test_cancel_before_sending_cancels_its_dispatches(org, approved_group_push) -> None:
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    push = approved_group_push([group])
    services.do_schedule(
        org.user("prevention.drafter"),
        push,
        ScheduleKind.AT,
        send_at=timezone.now() + datetime.timedelta(days=2, hours=1),
    )
    services.do_cancel(org.user("prevention.head"), push, "日期改了")
    push.refresh_from_db()
    assert push.status == PushStatus.CANCELLED
    assert Dispatch.objects.get(push=push).status == DispatchStatus.CANCELLED
    assert dispatching.dispatch_due(timezone.now() + datetime.timedelta(days=3)) == []


def test_cancel_while_sending_stops_at_the_next_batch_and_keeps_the_rest_from_going(org, approved_group_push) -> None:
    group = make_group(org.unit("prevention"), [make_citizen(org.county)])
    push = approved_group_push([group])
    services.do_schedule(
        org.user("prevention.drafter"),
        push,
        ScheduleKind.DAILY,
        daily_time=datetime.time(10, 0),
        daily_until=(timezone.now() + datetime.timedelta(days=3)).astimezone(TAIPEI).date(),
    )
    first, *rest = Dispatch.objects.filter(push=push).order_by("scheduled_for")
    Dispatch.objects.filter(pk=first.pk).update(status=DispatchStatus.DISPATCHING, frozen_at=timezone.now())
    type(push).objects.filter(pk=push.pk).update(status=PushStatus.DISPATCHING)
    push.refresh_from_db()
    services.do_cancel(org.user("prevention.drafter"), push)
    first.refresh_from_db()
    assert first.cancel_requested_at is not None and dispatching.should_stop(first.pk)
    assert all(d.status == DispatchStatus.CANCELLED for d in Dispatch.objects.filter(pk__in=[d.pk for d in rest]))
    dispatching.mark_dispatch_stopped(first.pk)
    first.refresh_from_db()
    assert first.status == DispatchStatus.STOPPED
    with pytest.raises(Conflict):
        services.do_cancel(org.user("prevention.drafter"), push)


def test_dispatch_freezes_the_audience_and_marks_the_push_sent(org, approved_group_push) -> None:
    members = [make_citizen(org.county) for _ in range(3)]
    group = make_group(org.unit("prevention"), members)
    push = approved_group_push([group])
    services.do_schedule(org.user("prevention.drafter"), push, ScheduleKind.AT, send_at=timezone.now())
    sent = dispatching.dispatch_due()
    push.refresh_from_db()
    d = Dispatch.objects.get(push=push)
    assert sent == [d.pk]
    # DISPATCHING: the delivery fan-out (on commit) marks it sent.
    assert d.frozen_at is not None and d.audience_size == 3 and d.status == DispatchStatus.DISPATCHING
    assert push.status == PushStatus.SENT and push.audience_size == 3
    assert dispatching.dispatch_due() == []  # idempotent


def test_personal_notice_goes_on_the_personal_queue(org, approve_all, django_capture_on_commit_callbacks) -> None:
    citizen = make_citizen(org.county)
    drafter = org.user("prevention.drafter")
    push = services.do_create_draft(
        drafter,
        org.unit("prevention"),
        **draft_fields(push_type=PushType.NOTICE, target_kind=TargetKind.PERSON, target_person=citizen.phone_e164),
    )
    services.do_submit(drafter, push)
    push = approve_all(push)
    with django_capture_on_commit_callbacks(execute=True):
        services.do_schedule(drafter, push, ScheduleKind.NOW, now=FUTURE_NIGHT.replace(year=2020))
    push.refresh_from_db()
    # Quiet hours did not hold it, and the eager personal task sent it straight away.
    assert push.status == PushStatus.SENT and push.audience_size == 1
