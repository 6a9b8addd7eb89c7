"""Checks for store identifiers: 統一編號 (UBN) with the current MOF checksum, and payout bank
accounts (kept encrypted at rest like national IDs: Fernet with FIELD_ENCRYPTION_KEY)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.utils.translation import gettext as _

from civicpush.core.errors import ValidationFailed

UBN_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)


def _digit_sum(n: int) -> int:
    return sum(int(c) for c in str(n))


def is_valid_ubn(value: str) -> bool:
    """統一編號: 8 digits; weights 1,2,1,2,1,2,4,1; digit sums added; the total divisible by 5 (MOF rule
    since 2023-04-01, which every number valid under the old divisible-by-10 rule also passes). When the
    7th digit is 7 its product 28 reduces to 10, which counts as 1 or 0."""
    digits = re.sub(r"[\s-]", "", value or "")
    if not re.fullmatch(r"\d{8}", digits):
        return False
    total = sum(_digit_sum(int(d) * w) for d, w in zip(digits, UBN_WEIGHTS, strict=True))
    if total % 5 == 0:
        return True
    # 7th digit 7: 7 × 4 = 28 → 2 + 8 = 10, which counts as 1 (total − 9) or 0 (total − 10).
    return digits[6] == "7" and ((total - 9) % 5 == 0 or (total - 10) % 5 == 0)


def normalise_ubn(value: str) -> str:
    digits = re.sub(r"[\s-]", "", value or "")
    if not is_valid_ubn(digits):
        message = _("Enter a valid 8-digit 統一編號 (the check digit does not match).")
        raise ValidationFailed(message, field_errors={"ubn": [message]})
    return digits


@dataclass(frozen=True)
class BankAccount:
    bank_code: str  # 3-digit bank code (e.g. 004 臺灣銀行)
    branch_code: str  # 4-digit branch code (optional)
    account_number: str  # 10–16 digits
    holder: str  # 戶名

    @property
    def masked(self) -> str:
        return f"{self.bank_code}-…{self.account_number[-4:]}"


def clean_bank_account(bank_code: str, branch_code: str, account_number: str, holder: str) -> BankAccount:
    errors: dict[str, list[object]] = {}
    bank_code = re.sub(r"\s", "", bank_code or "")
    branch_code = re.sub(r"\s", "", branch_code or "")
    account_number = re.sub(r"[\s-]", "", account_number or "")
    holder = (holder or "").strip()
    if not re.fullmatch(r"\d{3}", bank_code):
        errors["bank_code"] = [_("Enter the 3-digit bank code, e.g. 004.")]
    if branch_code and not re.fullmatch(r"\d{4}", branch_code):
        errors["branch_code"] = [_("Enter the 4-digit branch code, or leave it empty.")]
    if not re.fullmatch(r"\d{10,16}", account_number):
        errors["account_number"] = [_("Enter an account number of 10 to 16 digits.")]
    if not holder or len(holder) > 100:
        errors["account_holder"] = [_("Enter the account holder's name (at most 100 characters).")]
    if errors:
        raise ValidationFailed(field_errors=errors)
    return BankAccount(bank_code, branch_code, account_number, holder)


def _fernet() -> Fernet:
    return Fernet(settings.FIELD_ENCRYPTION_KEY.encode())


def encrypt_bank_account(account: BankAccount) -> str:
    body = json.dumps(account.__dict__, ensure_ascii=False, sort_keys=True)
    return _fernet().encrypt(body.encode()).decode()


def decrypt_bank_account(token: str) -> BankAccount | None:
    if not token:
        return None
    try:
        return BankAccount(**json.loads(_fernet().decrypt(token.encode()).decode()))
    except (InvalidToken, ValueError, TypeError):
        return None
