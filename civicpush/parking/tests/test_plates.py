"""Plates: the format check and normalisation, verification with the operator, one owner at a time."""

from __future__ import annotations

import pytest

from civicpush.core.errors import Conflict, RateLimited, ValidationFailed
from civicpush.parking import services
from civicpush.parking.models import PlateBinding, PlateStatus, VerificationMethod
from civicpush.parking.operators import simulator
from civicpush.parking.plates import check_plate, masked_plate, normalise_plate

from .world import bind, make_citizen


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        ("abc-1234", "car", "ABC-1234"),
        (" abc 1234 ", "car", "ABC-1234"),
        ("ＡＢＣ－１２３５", "car", "ABC-1235"),
        ("abc1234", "motorcycle", "ABC-1234"),
        ("AB-1234", "car", "AB-1234"),
        ("1234ab", "car", "1234-AB"),
        ("ABC 789", "motorcycle", "ABC-789"),
        ("123-abc", "motorcycle", "123-ABC"),
        ("AB12345", "motorcycle", "AB-12345"),
    ],
)
def test_taiwan_plates_are_normalised_and_accepted(raw: str, kind: str, expected: str) -> None:
    assert check_plate(raw, kind) == expected


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("", "car"),
        ("ABCD-1234", "car"),
        ("ABC-789", "car"),  # a legacy motorcycle shape, not a car plate
        ("AB-12345", "car"),  # micro electric two-wheelers only
        ("1234-AB", "motorcycle"),  # a legacy car shape
        ("AIO-1234", "car"),  # current plates never use I or O
        ("ABC-12<3", "car"),
        ("ABC-1234", "bus"),
    ],
)
def test_bad_plates_are_refused_with_a_field_error(raw: str, kind: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        check_plate(raw, kind)
    assert caught.value.field_errors


def test_normalise_and_mask() -> None:
    assert normalise_plate("abc—1234") == "ABC-1234"
    assert masked_plate("ABC-1234") == "ABC-**34"


@pytest.mark.django_db
def test_a_plate_is_verified_with_a_recent_bill_number(world) -> None:
    citizen = make_citizen(world)
    binding = services.do_add_plate(citizen, "abc 1234", "car")
    assert binding.status == PlateStatus.PENDING and binding.plate == "ABC-1234"
    slip = simulator.issue_bill("ABC-1234", "car", 30)
    with pytest.raises(ValidationFailed):
        services.do_verify_plate(citizen, binding.pk, VerificationMethod.BILL_CODE, "TT000000000000")
    verified = services.do_verify_plate(citizen, binding.pk, VerificationMethod.BILL_CODE, slip.bill_no.lower())
    assert verified.status == PlateStatus.VERIFIED and verified.verification_method == "bill_code"


@pytest.mark.django_db
def test_a_plate_is_verified_by_the_owner_mobile_on_record(world) -> None:
    citizen = make_citizen(world)
    other = make_citizen(world)
    simulator.issue_bill("XYZ-5678", "car", 30, owner_mobile=citizen.phone_e164)
    theirs = services.do_add_plate(other, "XYZ-5678", "car")
    with pytest.raises(ValidationFailed):
        services.do_verify_plate(other, theirs.pk, VerificationMethod.OWNER_MOBILE)
    mine = services.do_add_plate(citizen, "XYZ-5678", "car")
    assert services.do_verify_plate(citizen, mine.pk, VerificationMethod.OWNER_MOBILE).status == PlateStatus.VERIFIED


@pytest.mark.django_db
def test_a_plate_belongs_to_one_citizen_at_a_time(world) -> None:
    owner = make_citizen(world)
    bind(owner, "ABC-1234")
    claimant = make_citizen(world)
    with pytest.raises(Conflict) as caught:
        services.do_add_plate(claimant, "abc-1234", "car")
    assert caught.value.code == "plate_taken"
    # Two pending claims may exist; only one can be verified (the database enforces it too).
    slip = simulator.issue_bill("DEF-5678", "car", 30)
    first = services.do_add_plate(owner, "DEF-5678", "car")
    second = services.do_add_plate(claimant, "DEF-5678", "car")
    services.do_verify_plate(owner, first.pk, VerificationMethod.BILL_CODE, slip.bill_no)
    with pytest.raises(Conflict):
        services.do_verify_plate(claimant, second.pk, VerificationMethod.BILL_CODE, slip.bill_no)
    assert PlateBinding.objects.filter(plate="DEF-5678", status=PlateStatus.VERIFIED).get().citizen == owner
    # Once the owner removes it, the plate is free.
    services.do_remove_plate(owner, first.pk)
    assert services.do_verify_plate(claimant, second.pk, VerificationMethod.BILL_CODE, slip.bill_no).citizen == claimant


@pytest.mark.django_db
def test_five_wrong_verifications_lock_the_plate_for_a_while(world) -> None:
    citizen = make_citizen(world)
    binding = services.do_add_plate(citizen, "ABC-1234", "car")
    for _ in range(4):
        with pytest.raises(ValidationFailed):
            services.do_verify_plate(citizen, binding.pk, VerificationMethod.BILL_CODE, "WRONG")
    with pytest.raises(RateLimited):
        services.do_verify_plate(citizen, binding.pk, VerificationMethod.BILL_CODE, "WRONG")
    slip = simulator.issue_bill("ABC-1234", "car", 30)
    with pytest.raises(RateLimited):  # even the right code waits out the lock
        services.do_verify_plate(citizen, binding.pk, VerificationMethod.BILL_CODE, slip.bill_no)


@pytest.mark.django_db
def test_staff_release_is_audited(world) -> None:
    from civicpush.core.models import AuditEntry

    binding = bind(make_citizen(world))
    operator = world.org.user("county.operator")
    services.do_release_plate(operator, binding, "車輛已過戶")
    binding.refresh_from_db()
    assert binding.status == PlateStatus.REMOVED
    assert AuditEntry.objects.filter(action="parking.plate.released", actor=operator).count() == 1
