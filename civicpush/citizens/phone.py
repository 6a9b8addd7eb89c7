"""Taiwan mobile numbers: normalise to E.164 (+886 9xx xxx xxx) and display as 0912-345-678.

Only mobiles (09 + 8 digits) can receive a sign-in code; landlines and other countries are refused.
"""

from __future__ import annotations

import re

import phonenumbers
from django.utils.translation import gettext_lazy as _

from civicpush.core.errors import ValidationFailed

_SEPARATORS = re.compile(r"[\s\-().]")


def _invalid(message: object) -> ValidationFailed:
    return ValidationFailed(message, field_errors={"phone": [message]})


def normalise_mobile(raw: str) -> str:
    """Return the number as +8869XXXXXXXX, or raise ValidationFailed (field "phone")."""
    text = _SEPARATORS.sub("", (raw or "").strip())
    if not text:
        raise _invalid(_("Enter your mobile number, for example 0912-345-678."))
    if text.startswith("00886"):
        text = "+" + text[2:]
    elif text.startswith("886"):
        text = "+" + text
    if not re.fullmatch(r"\+?\d{8,15}", text):
        raise _invalid(_("Enter a Taiwan mobile number using digits only, for example 0912-345-678."))
    try:
        number = phonenumbers.parse(text, "TW")
    except phonenumbers.NumberParseException as exc:
        raise _invalid(_("This is not a valid Taiwan mobile number.")) from exc
    if number.country_code != 886 or not phonenumbers.is_valid_number(number):
        raise _invalid(_("This is not a valid Taiwan mobile number."))
    if phonenumbers.number_type(number) != phonenumbers.PhoneNumberType.MOBILE:
        raise _invalid(_("This is not a mobile number. Codes can only be sent to a mobile (09xx-xxx-xxx)."))
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # The quick rule from taiwan-context.md §4.4 as a second check: +886 9 and 8 more digits.
    if not re.fullmatch(r"\+8869\d{8}", e164):
        raise _invalid(_("This is not a mobile number. Codes can only be sent to a mobile (09xx-xxx-xxx)."))
    return e164


def display_mobile(e164: str) -> str:
    """+886912345678 → 0912-345-678."""
    local = "0" + e164.removeprefix("+886")
    return f"{local[:4]}-{local[4:7]}-{local[7:]}"


def mask_mobile(e164: str) -> str:
    """+886912345678 → 0912-***-678 (where a code was sent, without showing the whole number)."""
    local = "0" + e164.removeprefix("+886")
    return f"{local[:4]}-***-{local[7:]}"
