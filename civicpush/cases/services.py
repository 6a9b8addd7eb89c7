"""Case writes: case types, opening a case, recording events, the platform's own overdue sweep,
callback endpoints. Every write is atomic and audited; notices and callbacks go out on commit.

Authorisation: writing cases needs DRAFT_PUSH on the case's unit (case notices are the unit's
notices); an API key acts as its unit's drafter (civicpush.api.actors), so a key can write the
cases of its unit and sub-units only.
"""

from __future__ import annotations

import datetime
import math
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens import national_id
from civicpush.citizens.phone import mask_mobile, normalise_mobile
from civicpush.citizens.selectors import active_citizen_by_number
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, NotFound, ValidationFailed
from civicpush.delivery.notices import send_system_notice
from civicpush.org.models import Unit, UnitApiKey
from civicpush.org.permissions import require
from civicpush.org.roles import Capability

from . import callbacks, workdays
from .models import (
    CLOSED_STATUSES,
    CallbackEndpoint,
    Case,
    CaseCallback,
    CaseEvent,
    CaseStatus,
    CaseType,
    DayBasis,
    EventKind,
    EventSource,
    SandboxNotice,
)
from .notice_texts import TITLE_TAG, notice_text

PLATFORM_OVERDUE_REFERENCE = "platform:overdue"


def _field_error(field: str, message: Any) -> ValidationFailed:
    return ValidationFailed(message, field_errors={field: [message]})


# --- case types ---------------------------------------------------------------------------------


@transaction.atomic
def do_save_case_type(
    actor: Any, unit: Unit, *, code: str, name: str, standard_days: int, day_basis: str = DayBasis.WORKING
) -> tuple[CaseType, bool]:
    """Create or update the unit's case type `code`; returns (case type, created). Cases already
    open keep the due date they were given."""
    require(actor, Capability.DRAFT_PUSH, unit)
    name = (name or "").strip()
    if not name or len(name) > 60:
        raise _field_error("name", _("Give the case type a name of at most 60 characters."))
    if not 1 <= int(standard_days) <= 365:
        raise _field_error("standard_days", _("The standard processing time is between 1 and 365 days."))
    if day_basis not in DayBasis.values:
        raise _field_error("day_basis", _("Choose working days or calendar days."))
    case_type, created = CaseType.objects.select_for_update().get_or_create(
        unit=unit,
        code=code,
        defaults={"county_id": unit.county_id, "name": name, "standard_days": standard_days, "day_basis": day_basis},
    )
    before = {"name": case_type.name, "standard_days": case_type.standard_days, "day_basis": case_type.day_basis}
    after = {"name": name, "standard_days": int(standard_days), "day_basis": day_basis}
    if created or before != after:
        CaseType.objects.filter(pk=case_type.pk).update(is_active=True, **after)
        case_type.refresh_from_db()
        log_action(
            "cases.case_type.created" if created else "cases.case_type.updated",
            actor=actor,
            obj=case_type,
            unit_id=unit.pk,
            before=None if created else before,
            after=after,
        )
    return case_type, created


# --- opening a case -----------------------------------------------------------------------------


def _masked_number(raw: str) -> str:
    value = (raw or "").strip()
    if value[:1].isalpha():
        return national_id.mask(national_id.validate(value))
    return mask_mobile(normalise_mobile(value))


def do_open_case(
    actor: Any,
    case_type: CaseType,
    *,
    external_ref: str,
    citizen_number: str,
    api_key: UnitApiKey | None = None,
    is_sandbox: bool = False,
    received_at: datetime.datetime | None = None,
    note: str = "",
    now: datetime.datetime | None = None,
) -> tuple[Case, bool]:
    """Open a case for the citizen with this mobile or ID number and record its receipt (收件確認),
    which notifies them. Idempotent on the case number: the same number again returns the case
    (created False); with another case type it is a conflict. A sandbox case (test key) looks up
    no citizen and notifies none: its notices go to the unit's sandbox inbox."""
    unit = case_type.unit
    require(actor, Capability.DRAFT_PUSH, unit)
    now = now or timezone.now()
    external_ref = (external_ref or "").strip()
    if not external_ref or len(external_ref) > 64:
        raise _field_error("external_ref", _("Give the case number (at most 64 characters)."))
    if not case_type.is_active:
        raise _field_error("case_type", _("This case type is no longer in use."))
    received_at = received_at or now
    if received_at > now + datetime.timedelta(minutes=5):
        raise _field_error("received_at", _("The time of receipt cannot be in the future."))
    existing = Case.objects.filter(unit=unit, is_sandbox=is_sandbox, external_ref=external_ref).first()
    if existing is not None:
        return _same_case(existing, case_type)
    masked = _masked_number(citizen_number)  # ValidationFailed on a malformed number
    citizen = None
    if not is_sandbox:
        citizen = active_citizen_by_number(citizen_number, county_id=unit.county_id)
        if citizen is None:
            raise NotFound(
                _("No CivicPush member has this mobile or ID number. Tell the applicant by your usual channel."),
                code="citizen_not_found",
            )
    due = workdays.due_at(unit.county_id, received_at, case_type.standard_days, case_type.day_basis)
    try:
        with transaction.atomic():
            case = Case.objects.create(
                county_id=unit.county_id,
                unit=unit,
                case_type=case_type,
                opened_by_key=api_key,
                opened_by=actor if api_key is None else None,
                is_sandbox=is_sandbox,
                citizen=citizen,
                recipient_masked=masked,
                external_ref=external_ref,
                status=CaseStatus.RECEIVED,
                received_at=received_at,
                due_at=due,
                last_event_at=received_at,
            )
            event = CaseEvent.objects.create(
                case=case,
                kind=EventKind.RECEIVED,
                client_reference="received",
                note=(note or "").strip()[:300],
                occurred_at=received_at,
            )
            log_action(
                "cases.case.opened",
                actor=actor,
                obj=case,
                unit_id=unit.pk,
                data={"case_type": case_type.code, "sandbox": is_sandbox, "due_at": due},
            )
            _after_event(case, event)
    except IntegrityError:  # a concurrent call with the same case number won
        return _same_case(Case.objects.get(unit=unit, is_sandbox=is_sandbox, external_ref=external_ref), case_type)
    return case, True


def _same_case(case: Case, case_type: CaseType) -> tuple[Case, bool]:
    if case.case_type_id != case_type.pk:
        raise Conflict(_("This case number is already used for another case type."), code="case_exists")
    return case, False


# --- events -------------------------------------------------------------------------------------


def do_record_event(
    actor: Any,
    case: Case,
    *,
    kind: str,
    client_reference: str,
    reason: str = "",
    expected_completion: datetime.date | None = None,
    note: str = "",
    occurred_at: datetime.datetime | None = None,
    now: datetime.datetime | None = None,
) -> tuple[CaseEvent, bool]:
    """Add an event to the case's timeline and notify the citizen; returns (event, created).
    The same `client_reference` again returns the first event and changes nothing (one effect)."""
    require(actor, Capability.DRAFT_PUSH, case.unit)
    now = now or timezone.now()
    client_reference = (client_reference or "").strip()
    if not client_reference or len(client_reference) > 100 or client_reference.startswith("platform:"):
        raise _field_error("client_reference", _("Give a reference of at most 100 characters for this event."))
    existing = CaseEvent.objects.filter(case=case, client_reference=client_reference).first()
    if existing is not None:
        return existing, False
    if kind not in EventKind.values:
        raise _field_error("kind", _("Unknown event kind."))
    if kind == EventKind.RECEIVED:
        raise _field_error("kind", _("A case is received once, when it is opened."))
    reason = (reason or "").strip()
    if kind == EventKind.OVERDUE:
        errors: dict[str, list[Any]] = {}
        if not reason:
            errors["reason"] = [_("Say why the case is delayed.")]
        if expected_completion is None:
            errors["expected_completion"] = [_("Say when the case is expected to be done.")]
        if errors:
            raise ValidationFailed(field_errors=errors)
    if len(reason) > 200:
        raise _field_error("reason", _("Ensure this value has at most %(limit)s characters.") % {"limit": 200})
    occurred_at = occurred_at or now
    try:
        with transaction.atomic():
            locked = Case.objects.select_for_update().get(pk=case.pk)
            if locked.closed_at is not None:
                raise Conflict(_("This case is closed; no more events can be added."), code="case_closed")
            event = CaseEvent.objects.create(
                case=locked,
                kind=kind,
                client_reference=client_reference,
                reason=reason,
                expected_completion=expected_completion,
                note=(note or "").strip()[:300],
                occurred_at=occurred_at,
            )
            _apply(locked, event, now)
            log_action(
                "cases.case.event_recorded",
                actor=actor,
                obj=locked,
                unit_id=locked.unit_id,
                data={"kind": kind, "event": event.pk, "client_reference": client_reference},
            )
            _after_event(locked, event)
    except IntegrityError:  # the same reference, submitted concurrently
        return CaseEvent.objects.get(case=case, client_reference=client_reference), False
    case.refresh_from_db()
    return event, True


def _apply(case: Case, event: CaseEvent, now: datetime.datetime) -> None:
    """Move the case to the event's state. Case must be locked."""
    case.status = event.kind
    case.last_event_at = max(case.last_event_at, event.occurred_at)
    fields = ["status", "last_event_at"]
    if event.kind in CLOSED_STATUSES:
        case.closed_at = event.occurred_at
        fields.append("closed_at")
    if event.kind == EventKind.OVERDUE:
        if case.overdue_at is None:
            case.overdue_at = now
        case.overdue_reason = event.reason
        fields += ["overdue_at", "overdue_reason"]
    if event.expected_completion is not None:
        case.expected_completion = event.expected_completion
        fields.append("expected_completion")
    case.save(update_fields=fields)


def _after_event(case: Case, event: CaseEvent) -> None:
    """Notify (or put in the sandbox inbox) and queue the callback. Inside the event's transaction."""
    title, body = notice_text(case, event)
    if case.is_sandbox:
        SandboxNotice.objects.create(
            unit_id=case.unit_id,
            case=case,
            event=event,
            title=f"[{TITLE_TAG}]{title}",
            body=body,
            created_at=timezone.now(),
        )
        notice_status = "sandbox"
    elif case.citizen is not None:
        push = send_system_notice(
            case.citizen,
            unit=case.unit,
            kind="case_event",
            reference=f"case-event:{event.pk}",
            title=title,
            body=body,
            title_tag=TITLE_TAG,
            link=f"/cases/{case.pk}/",
        )
        CaseEvent.objects.filter(pk=event.pk).update(notice=push)
        notice_status = "sent"
    else:  # the citizen deleted their account
        notice_status = "no_citizen"
    endpoint = (
        CallbackEndpoint.objects.filter(api_key_id=case.opened_by_key_id).first() if case.opened_by_key_id else None
    )
    if endpoint is not None:
        callback = CaseCallback.objects.create(
            case=case,
            event=event,
            endpoint=endpoint,
            url=endpoint.url,
            payload=callbacks.payload_for(case, event, notice_status),
            created_at=timezone.now(),
            next_attempt_at=timezone.now(),
        )
        callback_id = callback.pk

        def _send() -> None:
            from .tasks import send_case_callback

            send_case_callback.delay(callback_id)

        transaction.on_commit(_send)


# --- the platform's overdue sweep ---------------------------------------------------------------


def run_overdue_sweep(now: datetime.datetime | None = None) -> int:
    """Declare overdue every open case past its due time that nobody has declared overdue yet: an
    overdue event from the platform (reason unknown yet, an expected date), a notice to the citizen,
    a callback, and an audit entry under the unit (its console lists it). Runs from the clock; a
    case is taken once (row lock + `overdue_at`), so running it again sends nothing twice."""
    now = now or timezone.now()
    ids = list(
        Case.objects.filter(closed_at__isnull=True, overdue_at__isnull=True, due_at__lt=now).values_list(
            "pk", flat=True
        )
    )
    done = 0
    for case_id in ids:
        with transaction.atomic():
            case = (
                Case.objects.select_for_update(of=("self",))
                .select_related("case_type", "unit", "citizen")
                .filter(pk=case_id, closed_at__isnull=True, overdue_at__isnull=True, due_at__lt=now)
                .first()
            )
            if case is None:
                continue
            expected = case.expected_completion or _estimate(case)
            event, created = CaseEvent.objects.get_or_create(
                case=case,
                client_reference=PLATFORM_OVERDUE_REFERENCE,
                defaults={
                    "kind": EventKind.OVERDUE,
                    "source": EventSource.PLATFORM,
                    "expected_completion": expected,
                    "occurred_at": now,
                },
            )
            if not created:
                continue
            _apply(case, event, now)
            log_action(
                "cases.case.overdue",
                actor="system",
                obj=case,
                unit_id=case.unit_id,
                data={"due_at": case.due_at, "expected_completion": expected, "event": event.pk},
            )
            _after_event(case, event)
            done += 1
    return done


def _estimate(case: Case) -> datetime.date:
    """When the unit has not said when it will be done: the due date plus half the standard time
    (at least 3 days), counted the same way. The unit is expected to post its own overdue event."""
    extra = max(3, math.ceil(case.case_type.standard_days / 2))
    calendar = workdays.WorkingCalendar(case.county_id)
    return calendar.add_days(workdays.local_date(case.due_at), extra, case.case_type.day_basis)


# --- callback endpoints -------------------------------------------------------------------------


@transaction.atomic
def do_set_callback(
    actor: Any, api_key: UnitApiKey, url: str, *, rotate_secret: bool = False
) -> tuple[CallbackEndpoint, str | None]:
    """Set where the key's callbacks go. Returns (endpoint, new secret or None): a secret is made
    when the endpoint is first set or on rotation, and shown only in this answer."""
    require(actor, Capability.DRAFT_PUSH, api_key.unit)
    url = (url or "").strip()
    if not url.startswith(("https://", "http://")) or len(url) > 500:
        raise _field_error("url", _("Give an http:// or https:// URL of at most 500 characters."))
    endpoint = CallbackEndpoint.objects.select_for_update().filter(api_key=api_key).first()
    secret: str | None = None
    if endpoint is None or rotate_secret:
        secret = callbacks.new_secret()
    if endpoint is None:
        assert secret is not None
        endpoint = CallbackEndpoint.objects.create(
            api_key=api_key, url=url, secret_encrypted=callbacks.encrypt_secret(secret), secret_hint=secret[:12]
        )
    else:
        endpoint.url = url
        if secret is not None:
            endpoint.secret_encrypted = callbacks.encrypt_secret(secret)
            endpoint.secret_hint = secret[:12]
        endpoint.save()
    log_action(
        "cases.callback.set",
        actor=actor,
        obj=api_key,
        unit_id=api_key.unit_id,
        data={"url": url, "secret_rotated": secret is not None},
        object_repr=str(api_key),
    )
    return endpoint, secret
