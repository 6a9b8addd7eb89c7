"""Event services: set up the event of an event push, register / cancel (capacity and waitlist),
tickets and scans (簽到退), reminders, and closing (attendance coins).

Every registration change takes the event row lock (SELECT … FOR UPDATE), so seats are counted one
at a time; the database CHECK on `confirmed_count` is the second guard. Notices to citizens are
system notices (delivery.notices), idempotent on their reference.
"""

from __future__ import annotations

import datetime
import hashlib
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.audiences import services as audience_services
from civicpush.audiences.models import GroupKind, GroupMembership
from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from civicpush.delivery.notices import send_system_notice
from civicpush.org.permissions import has_capability, require
from civicpush.org.roles import Capability
from civicpush.pushes.models import Push, PushStatus, PushType
from civicpush.wallet import earning

from .models import (
    Eligibility,
    Event,
    Registration,
    RegistrationStatus,
    Scan,
    ScanKind,
    ScanResult,
)

TICKET_PREFIX = "CPT1"  # CPT1.<event id>.<ticket token>
POSTER_PREFIX = "CPE1"  # CPE1.<event id>.<poster secret>
EDITABLE_PUSH_STATUSES = (PushStatus.DRAFT, PushStatus.RETURNED)
EVENT_FIELDS = (
    "title",
    "starts_at",
    "ends_at",
    "place",
    "map_url",
    "capacity",
    "registration_opens_at",
    "registration_closes_at",
    "eligibility",
    "questions",
    "attendance_coins",
    "budget",
    "period",
    "organiser_name",
    "organiser_phone",
    "checkin_opens_minutes",
    "checkout_closes_minutes",
)


def _now(now: datetime.datetime | None) -> datetime.datetime:
    return now or timezone.now()


def _fail(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, field_errors={field: [message]})


# --- setting up ------------------------------------------------------------------------------------


def _clean_questions(raw: Any) -> list[dict[str, Any]]:
    if raw in (None, ""):
        return []
    if not isinstance(raw, list) or len(raw) > 10:
        raise _fail("questions", _("Registration questions must be a list of at most 10."))
    cleaned = []
    for i, q in enumerate(raw, start=1):
        if not isinstance(q, dict) or not str(q.get("label", "")).strip():
            raise _fail("questions", _("Every registration question needs a label."))
        kind = q.get("kind", "text")
        if kind not in ("text", "choice"):
            raise _fail("questions", _("A registration question is either text or a choice."))
        options = [str(o).strip()[:50] for o in q.get("options", []) if str(o).strip()]
        if kind == "choice" and len(options) < 2:
            raise _fail("questions", _("A choice question needs at least two options."))
        cleaned.append(
            {
                "key": f"q{i}",
                "label": str(q["label"]).strip()[:100],
                "kind": kind,
                "options": options,
                "required": bool(q.get("required", False)),
            }
        )
    return cleaned


def _validate(fields: dict[str, Any]) -> None:
    errors: dict[str, list[Any]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    for required in ("title", "place", "organiser_name", "organiser_phone"):
        if not str(fields.get(required) or "").strip():
            add(required, _("This field is required."))
    starts, ends = fields.get("starts_at"), fields.get("ends_at")
    opens, closes = fields.get("registration_opens_at"), fields.get("registration_closes_at")
    for name, value in (
        ("starts_at", starts),
        ("ends_at", ends),
        ("registration_opens_at", opens),
        ("registration_closes_at", closes),
    ):
        if not isinstance(value, datetime.datetime):
            add(name, _("Enter a date and time."))
    if (
        isinstance(starts, datetime.datetime)
        and isinstance(ends, datetime.datetime)
        and isinstance(opens, datetime.datetime)
        and isinstance(closes, datetime.datetime)
    ):
        if ends <= starts:
            add("ends_at", _("The event must end after it starts."))
        if closes <= opens:
            add("registration_closes_at", _("Registration must close after it opens."))
        if closes > ends:
            add("registration_closes_at", _("Registration must close before the event ends."))
    capacity = fields.get("capacity")
    if not isinstance(capacity, int) or capacity < 1 or capacity > 100_000:
        add("capacity", _("Seats must be a whole number from 1 to 100,000."))
    coins = fields.get("attendance_coins", 0)
    if not isinstance(coins, int) or coins < 0 or coins > 100_000:
        add("attendance_coins", _("Attendance coins must be a whole number of at least 0."))
    elif coins > 0 and (fields.get("budget") is None or fields.get("period") is None):
        add("budget", _("Choose the budget and expiry period the attendance coins come from."))
    map_url = str(fields.get("map_url") or "")
    if map_url and not map_url.startswith(("https://", "http://")):
        add("map_url", _("A link must start with http:// or https://."))
    if fields.get("eligibility") not in Eligibility.values:
        add("eligibility", _("Choose who may register."))
    if errors:
        raise ValidationFailed(field_errors=errors)


def _check_budget(push: Push, budget: Budget | None, period: ExpiryPeriod | None) -> None:
    if budget is not None and (budget.unit_id != push.unit_id or budget.status != BudgetStatus.RESERVED):
        raise _fail("budget", _("Choose a reserved budget of this unit."))
    if period is not None and period.county_id != push.county_id:
        raise _fail("period", _("Choose an expiry period of this county."))


@transaction.atomic
def do_save_event(actor: Any, push: Push, *, group_ids: list[int] | None = None, **fields: Any) -> Event:
    """Create or update the event of an event push (while the push is a draft or returned)."""
    push = Push.objects.select_for_update().get(pk=push.pk)
    require(actor, Capability.DRAFT_PUSH, push.unit)
    if push.push_type != PushType.EVENT:
        raise Conflict(_("Only an event push carries an event."), code="not_event_push")
    if push.status not in EDITABLE_PUSH_STATUSES:
        raise Conflict(_("The event can only be changed while its push is a draft or returned."), code="not_editable")
    unknown = set(fields) - set(EVENT_FIELDS)
    if unknown:
        raise ValueError(f"unknown event fields: {sorted(unknown)}")
    existing = Event.objects.filter(push=push).first()
    merged = {name: getattr(existing, name) for name in EVENT_FIELDS} if existing else {}
    merged.setdefault("eligibility", Eligibility.EVERYONE)
    merged.setdefault("attendance_coins", 0)
    merged.update(fields)
    merged["questions"] = _clean_questions(merged.get("questions"))
    for text_field in ("title", "place", "organiser_name", "organiser_phone", "map_url"):
        merged[text_field] = str(merged.get(text_field) or "").strip()
    _validate(merged)
    _check_budget(push, merged.get("budget"), merged.get("period"))
    before = {k: str(getattr(existing, k)) for k in EVENT_FIELDS} if existing else None
    if existing is None:
        event = Event(push=push, county_id=push.county_id, unit_id=push.unit_id, created_by=actor, **merged)
    else:
        event = existing
        for name, value in merged.items():
            setattr(event, name, value)
    if event.confirmed_count > event.capacity:
        raise _fail("capacity", _("Seats cannot be fewer than the registrations already confirmed."))
    event.save()
    if group_ids is not None:
        from civicpush.audiences.selectors import groups_usable_by

        groups = list(groups_usable_by(push.unit).filter(pk__in=group_ids))
        if len(groups) != len(set(group_ids)):
            raise _fail("groups", _("Choose groups your unit may use."))
        event.groups.set(groups)
    if event.eligibility == Eligibility.GROUPS and not event.groups.exists():
        raise _fail("groups", _("Choose at least one group that may register."))
    if event.attendees_group_id is None:
        # A static group the platform fills as people check in (added_at = check-in time), so a
        # questionnaire frozen after the event reaches exactly those who came.
        event.attendees_group = audience_services.do_create_group(
            actor,
            push.unit,
            name=f"{event.title[:40]} 出席者 {event.pk}",
            kind=GroupKind.STATIC,
            description=_("Everyone who checked in at this event: target the satisfaction questionnaire here."),
        )
        event.save(update_fields=["attendees_group"])
    # The push's contact fields must carry the organiser (seed 000: anything taking registrations).
    Push.objects.filter(pk=push.pk).update(
        takes_registrations=True,
        contact_name=push.contact_name or event.organiser_name,
        contact_phone=push.contact_phone or event.organiser_phone,
    )
    log_action(
        "events.event.saved",
        actor=actor,
        obj=event,
        unit_id=push.unit_id,
        before=before,
        after={k: str(getattr(event, k)) for k in EVENT_FIELDS},
    )
    return event


def event_for_staff(user: Any, event_id: int, capability: Capability = Capability.VIEW_UNIT) -> Event:
    event = Event.objects.select_related("push", "unit").filter(pk=event_id).first()
    if event is None or not has_capability(user, capability, event.unit):
        raise NotFound()
    return event


# --- registration ---------------------------------------------------------------------------------


def is_open_to(event: Event, citizen: Citizen) -> bool:
    """May this citizen register (county, status of the push, eligibility)?"""
    if citizen.status != CitizenStatus.ACTIVE or citizen.county_id != event.county_id:
        return False
    if event.push.status not in (PushStatus.SENT, PushStatus.SCHEDULED, PushStatus.DISPATCHING):
        return False
    if event.push.first_sent_at is None:
        return False
    if event.eligibility == Eligibility.EVERYONE:
        return True
    group_ids = list(event.groups.values_list("pk", flat=True))
    if not group_ids:
        return False
    memberships = GroupMembership.objects.filter(group_id__in=group_ids, citizen_id=citizen.pk, removed_at__isnull=True)
    if memberships.exists():
        return True
    # Dynamic groups have no membership rows until frozen: evaluate their filters now.
    from civicpush.audiences.models import Group
    from civicpush.audiences.segments import citizens_matching

    for group in Group.objects.filter(pk__in=group_ids, kind=GroupKind.DYNAMIC):
        if citizens_matching(group.filters).filter(citizen_id=citizen.pk).exists():
            return True
    return False


def _clean_answers(event: Event, answers: dict[str, Any] | None) -> dict[str, str]:
    answers = answers or {}
    cleaned: dict[str, str] = {}
    errors: dict[str, list[Any]] = {}
    for q in event.questions:
        value = str(answers.get(q["key"], "") or "").strip()[:500]
        if q["kind"] == "choice" and value and value not in q["options"]:
            errors[q["key"]] = [_("Choose one of the options.")]
        elif q.get("required") and not value:
            errors[q["key"]] = [_("This field is required.")]
        cleaned[q["key"]] = value
    if errors:
        raise ValidationFailed(field_errors=errors)
    return cleaned


def do_register(
    citizen: Citizen, event: Event, answers: dict[str, Any] | None = None, *, now: datetime.datetime | None = None
) -> Registration:
    """Register: a seat if one is free, else the waitlist (in arrival order). Registering again
    while registered returns the live registration (a double tap changes nothing)."""
    clock_given = now is not None
    now = _now(now)
    if not is_open_to(event, citizen):
        raise PermissionDenied(_("This event is not open to you."), code="not_eligible")
    if not (event.registration_opens_at <= now < event.registration_closes_at):
        raise Conflict(_("Registration for this event is closed."), code="registration_closed")
    cleaned = _clean_answers(event, answers)
    with transaction.atomic():
        locked = Event.objects.select_for_update().get(pk=event.pk)
        live = (
            Registration.objects.filter(event=locked, citizen=citizen)
            .exclude(status=RegistrationStatus.CANCELLED)
            .first()
        )
        if live is not None:
            return live
        # Arrival order is the order in which registrations take the event lock.
        arrived = now if clock_given else timezone.now()
        registration = Registration(event=locked, citizen=citizen, answers=cleaned, created_at=arrived)
        if locked.confirmed_count < locked.capacity:
            registration.status = RegistrationStatus.CONFIRMED
            registration.confirmed_at = now
            locked.confirmed_count += 1
            locked.save(update_fields=["confirmed_count", "updated_at"])
        else:
            locked.waitlist_seq += 1
            registration.status = RegistrationStatus.WAITLISTED
            registration.waitlist_position = locked.waitlist_seq
            locked.save(update_fields=["waitlist_seq", "updated_at"])
        registration.save()
    event.confirmed_count, event.waitlist_seq = locked.confirmed_count, locked.waitlist_seq
    return registration


def _promote_next(event: Event, now: datetime.datetime) -> Registration | None:
    """Inside the event lock: give a freed seat to the first on the waitlist and tell them."""
    nxt = (
        Registration.objects.filter(event=event, status=RegistrationStatus.WAITLISTED)
        .order_by("waitlist_position", "id")
        .select_related("citizen")
        .first()
    )
    if nxt is None or event.confirmed_count >= event.capacity:
        return None
    nxt.status = RegistrationStatus.CONFIRMED
    nxt.confirmed_at = nxt.promoted_at = now
    nxt.waitlist_position = None
    nxt.save(update_fields=["status", "confirmed_at", "promoted_at", "waitlist_position"])
    event.confirmed_count += 1
    event.save(update_fields=["confirmed_count", "updated_at"])
    send_system_notice(
        nxt.citizen,
        unit=event.unit,
        kind="event_seat",
        reference=f"event:{event.pk}:promoted:{nxt.pk}",
        title=_("You have a seat"),
        body=_(
            "A seat freed up for an event you wait-listed for: your registration is confirmed. Open it to see your ticket."
        ),
        link=f"/events/{event.pk}/",
        now=now,
    )
    return nxt


def do_cancel_registration(
    citizen: Citizen, registration: Registration, *, now: datetime.datetime | None = None
) -> Registration:
    now = _now(now)
    if registration.citizen_id != citizen.pk:
        raise NotFound()
    with transaction.atomic():
        event = Event.objects.select_for_update().select_related("unit").get(pk=registration.event_id)
        reg = Registration.objects.select_for_update().get(pk=registration.pk)
        if reg.status == RegistrationStatus.CANCELLED:
            return reg
        if reg.checked_in_at is not None:
            raise Conflict(_("You have already checked in at this event."), code="checked_in")
        was_confirmed = reg.status == RegistrationStatus.CONFIRMED
        reg.status = RegistrationStatus.CANCELLED
        reg.cancelled_at = now
        reg.waitlist_position = None
        reg.save(update_fields=["status", "cancelled_at", "waitlist_position"])
        if was_confirmed:
            event.confirmed_count -= 1
            event.save(update_fields=["confirmed_count", "updated_at"])
            if now < event.ends_at:
                _promote_next(event, now)
    return reg


def live_registration(event: Event, citizen: Citizen) -> Registration | None:
    return (
        Registration.objects.filter(event=event, citizen=citizen).exclude(status=RegistrationStatus.CANCELLED).first()
    )


def waitlist_place(registration: Registration) -> int | None:
    """1-based place in the waitlist now (not the arrival number, which cancellations leave gaps in)."""
    if registration.status != RegistrationStatus.WAITLISTED or registration.waitlist_position is None:
        return None
    ahead = Registration.objects.filter(
        event_id=registration.event_id,
        status=RegistrationStatus.WAITLISTED,
        waitlist_position__lt=registration.waitlist_position,
    ).count()
    return ahead + 1


# --- tickets and scans ----------------------------------------------------------------------------


def ticket_code(registration: Registration) -> str:
    return f"{TICKET_PREFIX}.{registration.event_id}.{registration.ticket_token}"


def poster_code(event: Event) -> str:
    return f"{POSTER_PREFIX}.{event.pk}.{event.poster_secret}"


def ticket_hash(token: str) -> str:
    """What the offline scanner keeps: a hash of each ticket token, never the token or a name."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_code(code: str, prefix: str) -> tuple[int, str] | None:
    parts = (code or "").strip().split(".")
    if len(parts) != 3 or parts[0] != prefix or not parts[1].isdigit() or not (20 <= len(parts[2]) <= 40):
        return None
    return int(parts[1]), parts[2]


def _window_ok(event: Event, kind: str, when: datetime.datetime) -> bool:
    opens = event.starts_at - datetime.timedelta(minutes=event.checkin_opens_minutes)
    closes = event.ends_at + datetime.timedelta(minutes=event.checkout_closes_minutes)
    if kind == ScanKind.CHECK_IN:
        return opens <= when <= event.ends_at
    return event.starts_at - datetime.timedelta(minutes=event.checkin_opens_minutes) <= when <= closes


def _clean_nonce(nonce: str) -> str:
    nonce = (nonce or "").strip()
    if not (8 <= len(nonce) <= 64) or not all(c.isalnum() or c in "-_" for c in nonce):
        raise _fail("nonce", _("The scan carries no valid scan number. Reload the scanner page."))
    return nonce


def _record_scan(
    event: Event,
    *,
    registration: Registration | None,
    kind: str,
    nonce: str,
    result: str,
    when: datetime.datetime,
    now: datetime.datetime,
    actor: Any,
    self_service: bool,
    offline: bool,
) -> Scan:
    return Scan.objects.create(
        event=event,
        registration=registration,
        kind=kind,
        nonce=nonce,
        result=result,
        scanned_at=when,
        recorded_at=now,
        scanned_by=actor if getattr(actor, "pk", None) else None,
        self_service=self_service,
        offline=offline,
    )


def _apply_scan(
    event: Event,
    registration: Registration | None,
    kind: str,
    when: datetime.datetime,
) -> str:
    if registration is None or registration.status != RegistrationStatus.CONFIRMED:
        return ScanResult.NOT_REGISTERED
    if not _window_ok(event, kind, when):
        return ScanResult.OUTSIDE_WINDOW
    if kind == ScanKind.CHECK_IN:
        if registration.checked_in_at is not None:
            return ScanResult.ALREADY
        registration.checked_in_at = when
        registration.save(update_fields=["checked_in_at"])
        if event.attendees_group_id is not None:
            from civicpush.audiences.models import Group

            audience_services.add_members_for_the_platform(
                Group.objects.get(pk=event.attendees_group_id),
                [registration.citizen_id],
                reason=f"checked in at event {event.pk}",
            )
        return ScanResult.OK
    if registration.checked_in_at is None:
        return ScanResult.NOT_CHECKED_IN
    if registration.checked_out_at is not None:
        return ScanResult.ALREADY
    registration.checked_out_at = when
    registration.save(update_fields=["checked_out_at"])
    return ScanResult.OK


def do_scan(
    actor: Any,
    event: Event,
    code: str,
    kind: str,
    nonce: str,
    *,
    scanned_at: datetime.datetime | None = None,
    offline: bool = False,
    now: datetime.datetime | None = None,
) -> Scan:
    """Record one staff scan of a ticket. The same nonce again returns the first record (a retried
    or re-uploaded scan is recorded once). Offline scans carry the device's time (never later than
    now); the first scan by that time wins, a later one from another device reads "already"."""
    now = _now(now)
    require(actor, Capability.VIEW_UNIT, event.unit)
    if not has_capability(actor, Capability.DRAFT_PUSH, event.unit):
        raise PermissionDenied(_("Only the organising unit's staff may scan tickets."))
    if kind not in ScanKind.values:
        raise _fail("kind", _("Choose check-in or check-out."))
    nonce = _clean_nonce(nonce)
    when = min(scanned_at or now, now)
    existing = Scan.objects.filter(nonce=nonce).first()
    if existing is not None:
        if existing.event_id != event.pk:
            raise Conflict(_("This scan number was used for another event."), code="nonce_reused")
        return existing
    parsed = parse_code(code, TICKET_PREFIX)
    try:
        with transaction.atomic():
            result: str
            if parsed is None:
                result, registration = ScanResult.NOT_REGISTERED, None
            elif parsed[0] != event.pk:
                result, registration = ScanResult.WRONG_EVENT, None
            else:
                registration = (
                    Registration.objects.select_for_update().filter(event=event, ticket_token=parsed[1]).first()
                )
                result = _apply_scan(event, registration, kind, when)
            scan = _record_scan(
                event,
                registration=registration,
                kind=kind,
                nonce=nonce,
                result=result,
                when=when,
                now=now,
                actor=actor,
                self_service=False,
                offline=offline,
            )
            if result == ScanResult.OK:
                log_action(
                    f"events.scan.{'check_in' if kind == ScanKind.CHECK_IN else 'check_out'}",
                    actor=actor,
                    obj=event,
                    unit_id=event.unit_id,
                    data={"registration": registration.pk if registration else None, "offline": offline},
                )
    except IntegrityError:  # the same nonce raced in from a second request
        return Scan.objects.get(nonce=nonce)
    return scan


def do_self_check_in(citizen: Citizen, code: str, nonce: str, *, now: datetime.datetime | None = None) -> Scan:
    """The citizen scans the event's poster QR at the venue, within the check-in window."""
    now = _now(now)
    nonce = _clean_nonce(nonce)
    parsed = parse_code(code, POSTER_PREFIX)
    event = (
        Event.objects.select_related("unit").filter(pk=parsed[0], poster_secret=parsed[1]).first() if parsed else None
    )
    if event is None:
        raise _fail("code", _("This is not an event poster code."))
    existing = Scan.objects.filter(nonce=nonce).first()
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            registration = (
                Registration.objects.select_for_update()
                .filter(event=event, citizen=citizen)
                .exclude(status=RegistrationStatus.CANCELLED)
                .first()
            )
            result = _apply_scan(event, registration, ScanKind.CHECK_IN, now)
            return _record_scan(
                event,
                registration=registration,
                kind=ScanKind.CHECK_IN,
                nonce=nonce,
                result=result,
                when=now,
                now=now,
                actor=None,
                self_service=True,
                offline=False,
            )
    except IntegrityError:
        return Scan.objects.get(nonce=nonce)


def offline_ticket_list(event: Event) -> dict[str, Any]:
    """What the scanner page caches to work offline: hashes of confirmed tickets and whether each
    has checked in/out. No names, no mobile numbers."""
    rows = Registration.objects.filter(event=event, status=RegistrationStatus.CONFIRMED).values_list(
        "ticket_token", "checked_in_at", "checked_out_at"
    )
    return {
        "event": event.pk,
        "generated_at": timezone.now().isoformat(),
        "tickets": {ticket_hash(t): [bool(i), bool(o)] for t, i, o in rows},
    }


# --- reminders and closing ------------------------------------------------------------------------


def _remind(event: Event, which: str, now: datetime.datetime) -> int:
    sent = 0
    start_local = timezone.localtime(event.starts_at)
    when = start_local.strftime("%m/%d %H:%M")
    for reg in Registration.objects.filter(event=event, status=RegistrationStatus.CONFIRMED).select_related("citizen"):
        if which == "day":
            title, body = (
                _("Event tomorrow"),
                _("Reminder: your event starts at %(when)s. Open it for the place and your ticket.") % {"when": when},
            )
        else:
            title, body = (
                _("Event in an hour"),
                _("Reminder: your event starts at %(when)s. Have your ticket ready.") % {"when": when},
            )
        send_system_notice(
            reg.citizen,
            unit=event.unit,
            kind="event_reminder",
            reference=f"event:{event.pk}:remind-{which}:{reg.pk}",
            title=title,
            body=body,
            link=f"/events/{event.pk}/",
            now=now,
        )
        sent += 1
    return sent


def send_reminders(now: datetime.datetime | None = None) -> int:
    """The day before and an hour before: remind confirmed registrants (each notice once)."""
    now = _now(now)
    sent = 0
    day_due = Event.objects.filter(
        day_reminder_at__isnull=True, starts_at__gt=now, starts_at__lte=now + datetime.timedelta(hours=24)
    ).select_related("unit")
    for event in day_due:
        if event.starts_at > now + datetime.timedelta(hours=1):
            sent += _remind(event, "day", now)
        Event.objects.filter(pk=event.pk).update(day_reminder_at=now)
    hour_due = Event.objects.filter(
        hour_reminder_at__isnull=True, starts_at__gt=now, starts_at__lte=now + datetime.timedelta(hours=1)
    ).select_related("unit")
    for event in hour_due:
        sent += _remind(event, "hour", now)
        Event.objects.filter(pk=event.pk).update(hour_reminder_at=now)
    return sent


def award_attendance(event: Event, *, actor: Any = None, now: datetime.datetime | None = None) -> int:
    """Attendance coins to everyone who checked in, once each (ledger key per citizen), from the
    event's budget. Returns how many were paid now."""
    now = _now(now)
    if event.attendance_coins <= 0 or event.budget_id is None or event.period_id is None:
        return 0
    budget, period = event.budget, event.period
    assert budget is not None and period is not None  # checked above
    paid = 0
    pending = Registration.objects.filter(
        event=event, status=RegistrationStatus.CONFIRMED, checked_in_at__isnull=False, coins_awarded_at__isnull=True
    ).select_related("citizen")
    for reg in pending:
        with transaction.atomic():
            earning.award(
                key=f"event:{event.pk}:attendance:{reg.citizen_id}",
                budget=budget,
                citizen=reg.citizen,
                amount=event.attendance_coins,
                period=period,
                reason="event",
                actor=actor,
                metadata={"event": event.pk},
            )
            Registration.objects.filter(pk=reg.pk).update(coins_awarded_at=now)
        paid += 1
    return paid


def do_close_event(actor: Any, event: Event, *, now: datetime.datetime | None = None) -> int:
    """Staff close an event after it ended: attendance coins go out now (the nightly task does the
    same for events nobody closed)."""
    now = _now(now)
    require(actor, Capability.DRAFT_PUSH, event.unit)
    if now < event.starts_at - datetime.timedelta(minutes=event.checkin_opens_minutes):
        raise Conflict(_("An event can be closed once check-in has opened."), code="not_started")
    paid = award_attendance(event, actor=actor, now=now)
    Event.objects.filter(pk=event.pk, closed_at__isnull=True).update(closed_at=now)
    surveys = send_attendee_questionnaires(actor, event, now=now)
    log_action(
        "events.event.closed",
        actor=actor,
        obj=event,
        unit_id=event.unit_id,
        data={"coins_paid": paid, "questionnaires_sent": surveys},
    )
    return paid


def send_attendee_questionnaires(actor: Any, event: Event, *, now: datetime.datetime | None = None) -> list[int]:
    """Closing an event sends, now, every approved questionnaire push of the unit aimed at the
    event's attendees' group that is not scheduled yet (signed off as any push; the group is dynamic
    and frozen at dispatch, so only those who checked in receive it)."""
    from civicpush.pushes import services as push_services
    from civicpush.pushes.models import ScheduleKind, TargetKind

    if event.attendees_group_id is None:
        return []
    ready = Push.objects.filter(
        unit_id=event.unit_id,
        push_type=PushType.QUESTIONNAIRE,
        status=PushStatus.APPROVED,
        target_kind=TargetKind.GROUPS,
        target_group_links__group_id=event.attendees_group_id,
    ).distinct()
    sent = []
    for push in ready:
        # The nightly run (no staff member) sends it as its drafter, who prepared it for this group.
        push_services.do_schedule(
            actor if getattr(actor, "pk", None) else push.created_by, push, ScheduleKind.NOW, now=now
        )
        sent.append(push.pk)
    return sent


def close_ended_events(now: datetime.datetime | None = None) -> int:
    """Periodic: events that ended (in the last three days) pay attendance coins to everyone who
    checked in and has not been paid yet — also late check-ins after staff closed the event."""
    now = _now(now)
    total = 0
    ended = Event.objects.filter(
        ends_at__lte=now - datetime.timedelta(hours=1), ends_at__gt=now - datetime.timedelta(days=3)
    ).select_related("budget", "period")
    for event in ended:
        total += award_attendance(event, actor="system", now=now)
        if Event.objects.filter(pk=event.pk, closed_at__isnull=True).update(closed_at=now):
            send_attendee_questionnaires("system", event, now=now)
    return total
