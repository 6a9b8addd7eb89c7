"""Registration: capacity, waitlist in arrival order, promotion on cancellation, eligibility."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from civicpush.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from civicpush.delivery.models import SystemNotice
from civicpush.events import services
from civicpush.events.models import Registration, RegistrationStatus
from civicpush.events.tests.helpers import sent_event
from civicpush.pushes.tests.conftest import make_citizen

pytestmark = pytest.mark.django_db


def test_seats_then_waitlist_in_arrival_order_and_promotion_on_cancel(org, approve_all) -> None:
    event = sent_event(org, approve_all, capacity=2)
    people = [make_citizen(org.county) for _ in range(5)]
    regs = [services.do_register(c, event) for c in people]
    assert [r.status for r in regs] == ["confirmed", "confirmed", "waitlisted", "waitlisted", "waitlisted"]
    assert [services.waitlist_place(r) for r in regs[2:]] == [1, 2, 3]
    # a double tap returns the same registration
    assert services.do_register(people[0], event).pk == regs[0].pk
    services.do_cancel_registration(people[1], regs[1])
    regs[2].refresh_from_db()
    assert regs[2].status == RegistrationStatus.CONFIRMED and regs[2].promoted_at is not None
    assert SystemNotice.objects.filter(kind="event_seat", citizen=people[2]).count() == 1
    event.refresh_from_db()
    assert event.confirmed_count == 2
    assert Registration.objects.filter(event=event, status="confirmed").count() == 2
    regs[4].refresh_from_db()
    assert services.waitlist_place(regs[4]) == 2


def test_registration_window_eligibility_and_answers(org, approve_all) -> None:
    event = sent_event(
        org,
        approve_all,
        questions=[{"label": "用餐", "kind": "choice", "options": ["葷", "素"], "required": True}],
    )
    citizen = make_citizen(org.county)
    with pytest.raises(ValidationFailed) as caught:
        services.do_register(citizen, event, {"q1": "魚"})
    assert "q1" in caught.value.field_errors
    assert not Registration.objects.exists()
    reg = services.do_register(citizen, event, {"q1": "素"})
    assert reg.answers == {"q1": "素"}
    later = make_citizen(org.county)
    with pytest.raises(Conflict):
        services.do_register(
            later, event, {"q1": "葷"}, now=event.registration_closes_at + datetime.timedelta(minutes=1)
        )


def test_a_group_event_is_closed_to_others(org, approve_all) -> None:
    from civicpush.events.models import Eligibility
    from civicpush.pushes.tests.conftest import make_group

    member, outsider = make_citizen(org.county), make_citizen(org.county)
    group = make_group(org.unit("prevention"), [member])
    event = sent_event(org, approve_all, eligibility=Eligibility.GROUPS, group_ids=[group.pk])
    assert services.do_register(member, event).status == "confirmed"
    with pytest.raises(PermissionDenied):
        services.do_register(outsider, event)


def test_event_fields_are_validated_and_nothing_is_written(org) -> None:
    from civicpush.events.models import Event
    from civicpush.pushes import services as push_services
    from civicpush.pushes.models import PushType
    from civicpush.pushes.tests.conftest import draft_fields

    drafter = org.user("prevention.drafter")
    push = push_services.do_create_draft(drafter, org.unit("prevention"), **draft_fields(push_type=PushType.EVENT))
    now = timezone.now()
    with pytest.raises(ValidationFailed) as caught:
        services.do_save_event(
            drafter,
            push,
            title="x",
            starts_at=now,
            ends_at=now - datetime.timedelta(hours=1),
            place="",
            capacity=0,
            registration_opens_at=now,
            registration_closes_at=now,
            organiser_name="王",
            organiser_phone="089",
        )
    assert {"ends_at", "place", "capacity"} <= set(caught.value.field_errors)
    assert not Event.objects.exists()
    other = org.user("rescue.drafter")
    with pytest.raises((PermissionDenied, NotFound)):
        services.do_save_event(other, push, title="x")


def test_reminders_go_once_the_day_before_and_the_hour_before(org, approve_all) -> None:
    event = sent_event(org, approve_all, starts_in=datetime.timedelta(hours=20))
    people = [make_citizen(org.county) for _ in range(3)]
    for c in people:
        services.do_register(c, event)
    assert services.send_reminders() == 3
    assert services.send_reminders() == 0
    assert services.send_reminders(now=event.starts_at - datetime.timedelta(minutes=50)) == 3
    assert services.send_reminders(now=event.starts_at - datetime.timedelta(minutes=40)) == 0
    assert SystemNotice.objects.filter(kind="event_reminder").count() == 6
