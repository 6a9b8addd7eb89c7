"""Parking writes that are not money: plates (bind, verify, remove, staff release), auto-deduct
enrolment, county settings. Money moves in `payments.py`, `advances.py`, `reconciliation.py`.

Plate verification (ADR 0011): a plate is bound only after the citizen proves access to the vehicle
with either the number printed on one of its parking bills from the last 90 days (every roadside
slip carries it; the operator checks it belongs to that plate), or — where the operator keeps the
owner's mobile from the vehicle registry — the citizen's own verified sign-in mobile matching it.
A verified plate belongs to one citizen at a time (a conditional unique index); a second claimant is
refused and told to ask the service desk, where staff can release the old binding (audited).
"""

from __future__ import annotations

import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, NotFound, PermissionDenied, RateLimited, ValidationFailed
from civicpush.org.models import County, Unit, UnitKind

from .models import AutoDeductEnrolment, ParkingSettings, PlateBinding, PlateStatus, VerificationMethod
from .operators import get_operator
from .plates import check_plate

MAX_PLATES = 5
VERIFY_MAX_WRONG = 5
VERIFY_LOCK_SECONDS = 15 * 60
DEFAULT_CREDIT_COINS = 3000  # NT$300


def settings_for(county: County | int) -> ParkingSettings:
    """The county's parking settings; created on first use with its first business unit as sender."""
    county_id = county if isinstance(county, int) else county.pk
    found = ParkingSettings.objects.select_related("notice_unit").filter(county_id=county_id).first()
    if found is not None:
        return found
    unit = (
        Unit.objects.filter(county_id=county_id, kind=UnitKind.BUSINESS, is_active=True).order_by("path").first()
        or Unit.objects.filter(county_id=county_id).order_by("path").first()
    )
    if unit is None:
        raise ValidationFailed(_("Set up the county's units before using parking."), code="no_unit")
    obj, _created = ParkingSettings.objects.get_or_create(
        county_id=county_id, defaults={"notice_unit": unit, "credit_limit_coins": DEFAULT_CREDIT_COINS}
    )
    return obj


def configure(county: County, *, notice_unit: Unit, credit_limit_coins: int, actor: object = None) -> ParkingSettings:
    """Set the sender unit and the credit bound (staff; audited)."""
    if notice_unit.county_id != county.pk:
        raise ValidationFailed(code="cross_county")
    with transaction.atomic():
        obj, _created = ParkingSettings.objects.update_or_create(
            county=county, defaults={"notice_unit": notice_unit, "credit_limit_coins": credit_limit_coins}
        )
        log_action(
            "parking.settings.changed",
            actor=actor,
            county_id=county.pk,
            data={"notice_unit": notice_unit.pk, "credit_limit_coins": credit_limit_coins},
        )
    return obj


def _active(citizen: Citizen | None) -> Citizen:
    if citizen is None or not citizen.is_active:
        raise PermissionDenied()
    return citizen


def binding_of(citizen: Citizen, binding_id: int) -> PlateBinding:
    binding = PlateBinding.objects.filter(
        pk=binding_id, citizen=citizen, status__in=[PlateStatus.PENDING, PlateStatus.VERIFIED]
    ).first()
    if binding is None:
        raise NotFound()
    return binding


def _owned_elsewhere(citizen: Citizen, plate: str) -> bool:
    return (
        PlateBinding.objects.filter(county_id=citizen.county_id, plate=plate, status=PlateStatus.VERIFIED)
        .exclude(citizen=citizen)
        .exists()
    )


def _taken_message() -> str:
    return _(
        "This plate is bound to another member. If the vehicle is now yours, please contact the county "
        "service desk with its registration."
    )


def do_add_plate(citizen: Citizen, plate_raw: str, vehicle_kind: str) -> PlateBinding:
    """Add a plate (format-checked, normalised), waiting for verification."""
    _active(citizen)
    plate = check_plate(plate_raw, vehicle_kind)
    with transaction.atomic():
        Citizen.objects.select_for_update().filter(pk=citizen.pk).first()  # one add at a time per citizen
        mine = PlateBinding.objects.filter(citizen=citizen, status__in=[PlateStatus.PENDING, PlateStatus.VERIFIED])
        if mine.filter(plate=plate).exists():
            message = _("You have already added this plate.")
            raise Conflict(message, code="plate_added", field_errors={"plate": [message]})
        if mine.count() >= MAX_PLATES:
            message = _("You can bind at most %(n)s plates.") % {"n": MAX_PLATES}
            raise ValidationFailed(message, code="too_many_plates", field_errors={"plate": [message]})
        if _owned_elsewhere(citizen, plate):
            raise Conflict(_taken_message(), code="plate_taken", field_errors={"plate": [_taken_message()]})
        return PlateBinding.objects.create(
            county_id=citizen.county_id, citizen=citizen, plate=plate, vehicle_kind=vehicle_kind
        )


def _count_wrong(binding: PlateBinding, now: datetime.datetime) -> Exception:
    """Record a wrong verification in its own committed transaction (it must survive the error)."""
    with transaction.atomic():
        row = PlateBinding.objects.select_for_update().get(pk=binding.pk)
        row.wrong_attempts += 1
        if row.wrong_attempts >= VERIFY_MAX_WRONG:
            row.wrong_attempts = 0
            row.locked_until = now + datetime.timedelta(seconds=VERIFY_LOCK_SECONDS)
        row.save(update_fields=["wrong_attempts", "locked_until"])
    if row.locked_until and row.locked_until > now:
        return RateLimited(
            _("Too many wrong attempts. Please try again in 15 minutes."),
            retry_after=VERIFY_LOCK_SECONDS,
            code="verify_locked",
        )
    message = _("This does not match the operator's record for the plate.")
    return ValidationFailed(message, code="verify_mismatch", field_errors={"code": [message]})


def do_verify_plate(citizen: Citizen, binding_id: int, method: str, code: str = "") -> PlateBinding:
    """Verify a pending plate with the operator (bill number, or the owner's mobile on record)."""
    _active(citizen)
    binding = binding_of(citizen, binding_id)
    if binding.status == PlateStatus.VERIFIED:
        return binding
    now = timezone.now()
    if binding.locked_until and binding.locked_until > now:
        raise RateLimited(
            _("Too many wrong attempts. Please try again in 15 minutes."),
            retry_after=max(1, int((binding.locked_until - now).total_seconds())),
            code="verify_locked",
        )
    operator = get_operator()
    if method == VerificationMethod.BILL_CODE:
        code = (code or "").strip().upper()
        if not code or len(code) > 40:
            message = _("Enter the bill number printed on the parking slip.")
            raise ValidationFailed(message, field_errors={"code": [message]})
        ok = operator.verify_bill_code(binding.plate, binding.vehicle_kind, code)
    elif method == VerificationMethod.OWNER_MOBILE:
        ok = bool(citizen.phone_e164) and operator.owner_mobile_matches(
            binding.plate, binding.vehicle_kind, citizen.phone_e164 or ""
        )
    else:
        raise ValidationFailed(field_errors={"method": [_("Choose how to verify the plate.")]})
    if not ok:
        raise _count_wrong(binding, now)
    try:
        with transaction.atomic():
            updated = PlateBinding.objects.filter(pk=binding.pk, status=PlateStatus.PENDING).update(
                status=PlateStatus.VERIFIED,
                verification_method=method,
                verified_at=now,
                wrong_attempts=0,
                locked_until=None,
            )
    except IntegrityError as exc:  # someone else verified the plate first
        raise Conflict(_taken_message(), code="plate_taken", field_errors={"plate": [_taken_message()]}) from exc
    binding.refresh_from_db()
    if not updated and binding.status != PlateStatus.VERIFIED:
        raise NotFound()
    return binding


def do_remove_plate(citizen: Citizen, binding_id: int) -> None:
    """The citizen unbinds a plate (it is free for another verified owner at once)."""
    binding = binding_of(_active(citizen), binding_id)
    PlateBinding.objects.filter(pk=binding.pk).update(
        status=PlateStatus.REMOVED, removed_at=timezone.now(), removed_by="citizen", auto_deduct=False
    )


def do_release_plate(actor: object, binding: PlateBinding, reason: str) -> None:
    """Staff release a verified plate from its owner (e.g. the car was sold); audited."""
    reason = (reason or "").strip()
    if not reason:
        raise ValidationFailed(field_errors={"reason": [_("Give a reason.")]})
    with transaction.atomic():
        changed = PlateBinding.objects.filter(
            pk=binding.pk, status__in=[PlateStatus.PENDING, PlateStatus.VERIFIED]
        ).update(
            status=PlateStatus.REMOVED,
            removed_at=timezone.now(),
            removed_by=str(getattr(actor, "username", actor))[:200],
            auto_deduct=False,
        )
        if not changed:
            raise Conflict(_("This plate is no longer bound."))
        log_action(
            "parking.plate.released",
            actor=actor,
            county_id=binding.county_id,
            obj=binding,
            data={"reason": reason[:300], "citizen": binding.citizen_id},
        )


def do_set_plate_auto_deduct(citizen: Citizen, binding_id: int, on: bool) -> PlateBinding:
    """Switch auto-deduct for one verified plate; switching on needs the accepted terms first."""
    binding = binding_of(_active(citizen), binding_id)
    if on:
        if binding.status != PlateStatus.VERIFIED:
            raise ValidationFailed(_("Verify the plate first."), code="not_verified")
        if not AutoDeductEnrolment.objects.filter(citizen=citizen, active=True).exists():
            raise ValidationFailed(_("Accept the auto-deduct terms first."), code="no_terms")
    PlateBinding.objects.filter(pk=binding.pk).update(auto_deduct=on)
    binding.auto_deduct = on
    return binding


def do_enrol_auto_deduct(citizen: Citizen, *, accepted: bool, terms_version: str) -> AutoDeductEnrolment:
    """Accept the auto-deduct terms (their version and the time are recorded) and switch it on."""
    _active(citizen)
    current = settings_for(citizen.county_id).terms_version
    if not accepted:
        message = _("Please read and accept the terms.")
        raise ValidationFailed(message, field_errors={"accept": [message]})
    if terms_version != current:
        raise Conflict(_("The terms have changed. Please read them again."), code="terms_changed")
    now = timezone.now()
    with transaction.atomic():
        enrolment, _created = AutoDeductEnrolment.objects.update_or_create(
            citizen=citizen,
            defaults={
                "county_id": citizen.county_id,
                "active": True,
                "terms_version": current,
                "accepted_at": now,
                "first_run_after": now,  # the terms promise a first deduction within 48 hours
                "switched_off_at": None,
                "switched_off_reason": "",
            },
        )
        PlateBinding.objects.filter(citizen=citizen, status=PlateStatus.VERIFIED).update(auto_deduct=True)
    return enrolment


def do_stop_auto_deduct(citizen: Citizen, reason: str = "citizen") -> None:
    with transaction.atomic():
        AutoDeductEnrolment.objects.filter(citizen=citizen, active=True).update(
            active=False, switched_off_at=timezone.now(), switched_off_reason=reason[:40]
        )
        PlateBinding.objects.filter(citizen=citizen).update(auto_deduct=False)
