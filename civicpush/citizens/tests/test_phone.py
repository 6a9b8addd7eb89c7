import pytest

from civicpush.citizens.phone import display_mobile, mask_mobile, normalise_mobile
from civicpush.core.errors import ValidationFailed


@pytest.mark.parametrize(
    "raw",
    ["0912345678", "0912-345-678", "0912 345 678", "+886912345678", "886912345678", "+886 912 345 678", "(0912)345678"],
)
def test_taiwan_mobile_numbers_are_normalised_to_e164(raw):
    assert normalise_mobile(raw) == "+886912345678"


@pytest.mark.parametrize(
    "raw",
    [
        "0223456789",
        "089322112",
        "02-2345-6789",
        "091234567",
        "09123456789",
        "+81 90 1234 5678",
        "abc",
        "",
        "0912-34S-678",
    ],
)
def test_landlines_foreign_and_malformed_numbers_are_refused_with_a_field_error(raw):
    with pytest.raises(ValidationFailed) as exc:
        normalise_mobile(raw)
    assert exc.value.field_errors["phone"]


def test_numbers_display_with_dashes_and_mask_the_middle():
    assert display_mobile("+886912345678") == "0912-345-678"
    assert mask_mobile("+886912345678") == "0912-***-678"
