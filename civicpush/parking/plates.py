"""Taiwan licence plates: normalise what a citizen types and check it against the shapes in use.

Current plates (cars and motorcycles alike) are three letters and four digits (ABC-1234), without the
letters I and O. Older shapes stay valid for years, so legacy forms are accepted per vehicle kind
(shared/reference/taiwan-context.md §4.5). L = letter, D = digit.
"""

from __future__ import annotations

import re

from django.db import models
from django.utils.translation import gettext_lazy as _

from civicpush.core.errors import ValidationFailed


class VehicleKind(models.TextChoices):
    CAR = "car", _("Car")
    MOTORCYCLE = "motorcycle", _("Motorcycle")


BOTH = ("LLL-DDDD", "LL-DDD", "DDD-LL", "LLD-DDD")
SHAPES: dict[str, frozenset[str]] = {
    VehicleKind.CAR: frozenset((*BOTH, "LL-DDDD", "DDDD-LL", "LD-DDDD", "DL-DDDD")),
    # LL-DDDDD: micro electric two-wheelers; LLL-DDD / DDD-LLL: older motorcycles.
    VehicleKind.MOTORCYCLE: frozenset((*BOTH, "LLL-DDD", "DDD-LLL", "LL-DDDDD")),
}
_DASHES = str.maketrans({"－": "-", "—": "-", "–": "-", "‐": "-", "‑": "-", "ー": "-", "　": " "})
_FULL_WIDTH = {chr(c): chr(c - 0xFEE0) for c in range(0xFF10, 0xFF5B)}  # ０-９, Ａ-Ｚ, ａ-ｚ
_SPLIT = re.compile(r"^([A-Z]+)(\d+)$|^(\d+)([A-Z]+)$")


def _shape(text: str) -> str:
    return "".join("L" if ch.isalpha() else "D" if ch.isdigit() else ch for ch in text)


def normalise_plate(raw: str) -> str:
    """Upper-case, ASCII, one hyphen: ' abc 1234 ' → 'ABC-1234'. Does not validate."""
    text = (raw or "").translate(_DASHES)
    text = "".join(_FULL_WIDTH.get(ch, ch) for ch in text).strip().upper()
    text = re.sub(r"\s+", "", text) if "-" in text else re.sub(r"\s+", "-", text)
    if "-" not in text:
        m = _SPLIT.match(text)
        if m:
            text = f"{m.group(1)}-{m.group(2)}" if m.group(1) else f"{m.group(3)}-{m.group(4)}"
    return text


def check_plate(raw: str, vehicle_kind: str) -> str:
    """The normalised plate, or ValidationFailed (field `plate`) with a message in the user's language."""
    plate = normalise_plate(raw)
    if vehicle_kind not in SHAPES:
        message = _("Choose car or motorcycle.")
        raise ValidationFailed(message, field_errors={"vehicle_kind": [message]})
    if not plate or not re.fullmatch(r"[A-Z0-9]+-[A-Z0-9]+", plate) or len(plate) > 9:
        message = _("Enter the plate with letters, digits and a hyphen, for example ABC-1234.")
        raise ValidationFailed(message, code="bad_plate", field_errors={"plate": [message]})
    shape = _shape(plate)
    if shape not in SHAPES[vehicle_kind]:
        message = (
            _("This is not a car plate number in use in Taiwan, for example ABC-1234 or AB-1234.")
            if vehicle_kind == VehicleKind.CAR
            else _("This is not a motorcycle plate number in use in Taiwan, for example ABC-1234 or ABC-123.")
        )
        raise ValidationFailed(message, code="bad_plate", field_errors={"plate": [message]})
    if shape == "LLL-DDDD" and ("I" in plate[:3] or "O" in plate[:3]):
        # Current plates never use I or O; the citizen almost surely meant 1 or 0.
        message = _("Current plates do not use the letters I or O. Did you mean the digits 1 or 0?")
        raise ValidationFailed(message, code="bad_plate", field_errors={"plate": [message]})
    return plate


def masked_plate(plate: str) -> str:
    """A plate shown where others may look (lists, console): 'ABC-1234' → 'ABC-**34'."""
    if "-" not in plate:
        return plate
    left, right = plate.split("-", 1)
    return f"{left}-{'*' * max(0, len(right) - 2)}{right[-2:]}"
