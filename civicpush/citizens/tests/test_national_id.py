import pytest

from civicpush.citizens import national_id
from civicpush.core.errors import ValidationFailed


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        ("A123456789", national_id.IdKind.NATIONAL_ID),
        ("a123456789", national_id.IdKind.NATIONAL_ID),
        (" V223456789 ", national_id.IdKind.NATIONAL_ID),
        ("AA00000009", national_id.IdKind.RESIDENT_OLD),
        ("HD12345678", national_id.IdKind.RESIDENT_OLD),
        ("A800000014", national_id.IdKind.RESIDENT_NEW),
    ],
)
def test_valid_numbers_of_each_format_pass_the_checksum(raw, kind):
    number = national_id.validate(raw)
    assert number == raw.strip().upper()
    assert national_id.classify(number) is kind


@pytest.mark.parametrize(
    "raw",
    [
        "A123456788",  # national ID, wrong check digit
        "AA00000008",  # old resident certificate, wrong check digit
        "HD12345679",
        "A800000015",  # new resident certificate, wrong check digit
        "A323456789",  # second digit 3: no such format
        "AE00000009",  # second letter beyond D
        "1234567890",
        "A12345678",
        "",
    ],
)
def test_invalid_numbers_are_refused_with_a_field_error(raw):
    with pytest.raises(ValidationFailed) as exc:
        national_id.validate(raw)
    assert exc.value.field_errors["national_id"]


def test_masked_form_hides_the_middle():
    assert national_id.mask("A123456789") == "A12*****89"
    assert national_id.mask("AA00000009") == "AA0*****09"


def test_encryption_round_trips_and_ciphertext_hides_the_number():
    token = national_id.encrypt("A123456789")
    assert "A123456789" not in token
    assert national_id.decrypt(token) == "A123456789"


def test_lookup_hash_is_keyed_and_stable(settings):
    first = national_id.lookup_hash("A123456789")
    assert first == national_id.lookup_hash("A123456789")
    assert "A123456789" not in first
    settings.LOOKUP_HMAC_KEY = "another-key"
    assert national_id.lookup_hash("A123456789") != first
