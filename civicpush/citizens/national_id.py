"""National ID (身分證字號) and resident certificate (統一證號) numbers: checksum, mask, keyed hash, encryption.

Rules from taiwan-context.md §4.2. The number is never a key: lookups use an HMAC with
LOOKUP_HMAC_KEY, the citizen's own export decrypts a Fernet ciphertext (FIELD_ENCRYPTION_KEY),
and staff only ever see the masked form (A12*****89).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re

from cryptography.fernet import Fernet
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from civicpush.core.errors import ValidationFailed

# First letter → two-digit code. Not alphabetical: W=32 after X, Y; I and O last.
LETTER_CODES: dict[str, int] = {
    "A": 10, "B": 11, "C": 12, "D": 13, "E": 14, "F": 15, "G": 16, "H": 17, "J": 18, "K": 19,
    "L": 20, "M": 21, "N": 22, "P": 23, "Q": 24, "R": 25, "S": 26, "T": 27, "U": 28, "V": 29,
    "X": 30, "Y": 31, "W": 32, "Z": 33, "I": 34, "O": 35,
}  # fmt: skip
WEIGHTS = (1, 9, 8, 7, 6, 5, 4, 3, 2, 1, 1)


class IdKind(enum.StrEnum):
    NATIONAL_ID = "national_id"
    RESIDENT_OLD = "resident_old"  # 2 letters + 8 digits; valid until 2031-01-01
    RESIDENT_NEW = "resident_new"  # letter + 8/9 + 8 digits, since 2021-01-02


def normalise(raw: str) -> str:
    return re.sub(r"\s", "", raw or "").upper()


def classify(number: str) -> IdKind | None:
    if re.fullmatch(r"[A-Z][12]\d{8}", number):
        return IdKind.NATIONAL_ID
    if re.fullmatch(r"[A-Z][89]\d{8}", number):
        return IdKind.RESIDENT_NEW
    if re.fullmatch(r"[A-Z][A-D]\d{8}", number):
        return IdKind.RESIDENT_OLD
    return None


def has_valid_checksum(number: str) -> bool:
    kind = classify(number)
    if kind is None:
        return False
    letter_code = LETTER_CODES[number[0]]
    second = LETTER_CODES[number[1]] % 10 if kind is IdKind.RESIDENT_OLD else int(number[1])
    digits = [letter_code // 10, letter_code % 10, second, *(int(c) for c in number[2:])]
    return sum(d * w for d, w in zip(digits, WEIGHTS, strict=True)) % 10 == 0


def validate(raw: str) -> str:
    """Return the normalised number, or raise ValidationFailed (field "national_id")."""
    number = normalise(raw)
    if classify(number) is None:
        message = _("Enter an ID number as one letter and nine digits (A123456789) or a resident certificate number.")
        raise ValidationFailed(message, field_errors={"national_id": [message]})
    if not has_valid_checksum(number):
        message = _("This ID number is not valid. Please check it for typing mistakes.")
        raise ValidationFailed(message, field_errors={"national_id": [message]})
    return number


def mask(number: str) -> str:
    """A123456789 → A12*****89: all that staff ever see."""
    return f"{number[:3]}{'*' * (len(number) - 5)}{number[-2:]}"


def lookup_hash(number: str) -> str:
    return hmac.new(settings.LOOKUP_HMAC_KEY.encode(), f"national_id:{number}".encode(), hashlib.sha256).hexdigest()


def _fernet() -> Fernet:
    return Fernet(settings.FIELD_ENCRYPTION_KEY.encode())


def encrypt(number: str) -> str:
    return _fernet().encrypt(number.encode()).decode()


def decrypt(token: str) -> str:
    return _fernet().decrypt(token.encode()).decode()
