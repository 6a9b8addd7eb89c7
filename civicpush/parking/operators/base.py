"""The parking-operator adapter: the one door between CivicPush and whoever runs roadside parking.

A county changes operators when the contract changes (Taitung: 城市車旅 from 2026-01-01), so every
call goes through this interface and the adapter is chosen in settings (PARKING_OPERATOR).

Error contract (each adapter maps its operator's answers onto these):

* `OperatorMaintenance` — the operator's daily maintenance window (e.g. 02:00–04:00 Asia/Taipei):
  the request was refused before anything happened. Retry after the window.
* `OperatorUnavailable` — an error (HTTP 5xx) for which the operator guarantees nothing was recorded.
* `OperatorTimeout` — no answer: the outcome is UNKNOWN. A payment may or may not have been taken;
  the caller must ask `payment_status(payment_ref)` later, never pay again with a new reference.
* `BillAlreadyPaid` — the bill is already paid through another channel (`channel`, e.g. a convenience
  store); `UnknownBill` — no such bill (or not for that plate); `AmountMismatch` — the amount differs
  from the operator's real-time amount.

`pay` is idempotent on `payment_ref`: the same reference paid twice returns the first receipt.
"""

from __future__ import annotations

import datetime
from abc import ABC, abstractmethod
from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

from civicpush.core.errors import DomainError


class OperatorError(DomainError):
    status = 502
    code = "operator_error"
    default_message = _("The parking operator could not be reached. Please try again later.")


class OperatorMaintenance(OperatorError):
    status = 503
    code = "operator_maintenance"
    default_message = _(
        "The parking operator's system is under daily maintenance (02:00–04:00). Please try again after 04:00."
    )


class OperatorUnavailable(OperatorError):
    status = 503
    code = "operator_unavailable"
    default_message = _("The parking operator's system has a problem. Nothing was paid. Please try again later.")


class OperatorTimeout(OperatorError):
    status = 504
    code = "operator_timeout"
    default_message = _(
        "The parking operator did not answer in time. Your coins are held until the operator confirms; "
        "you will be told the result."
    )


class BillAlreadyPaid(OperatorError):
    status = 409
    code = "bill_already_paid"
    default_message = _("This bill was already paid through another channel. No coins were taken.")

    def __init__(self, message: object = None, *, channel: str = "", **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.channel = channel


class UnknownBill(OperatorError):
    status = 404
    code = "unknown_bill"
    default_message = _("The parking operator does not know this bill.")


class AmountMismatch(OperatorError):
    status = 409
    code = "amount_mismatch"
    default_message = _("The amount of this bill has changed. Please look at the bill again.")


@dataclass(frozen=True)
class OperatorBill:
    bill_no: str
    plate: str
    vehicle_kind: str
    location: str
    parked_from: datetime.datetime
    parked_until: datetime.datetime
    issued_at: datetime.datetime
    due_date: datetime.date
    amount_twd: int
    paid: bool = False
    paid_channel: str = ""
    paid_at: datetime.datetime | None = None
    cancelled: bool = False


@dataclass(frozen=True)
class OperatorReceipt:
    bill_no: str
    payment_ref: str
    receipt_no: str
    amount_twd: int
    paid_at: datetime.datetime


@dataclass(frozen=True)
class OperatorPayment:
    """One entry of the operator's payment feed (every channel), for the daily reconciliation."""

    bill_no: str
    channel: str
    receipt_no: str
    amount_twd: int
    paid_at: datetime.datetime
    payment_ref: str = ""  # ours, when the payment came from CivicPush


class ParkingOperator(ABC):
    """What CivicPush needs from a parking operator. `code` names it on stored bills."""

    code: str = "operator"
    channel_name: str = "civicpush"  # how the operator labels payments made through us

    @abstractmethod
    def unpaid_bills(self, plate: str, vehicle_kind: str) -> list[OperatorBill]:
        """Unpaid, not overdue bills for a plate, with their real-time amounts."""

    @abstractmethod
    def get_bill(self, bill_no: str) -> OperatorBill:
        """One bill by number (paid or not); UnknownBill if there is none."""

    @abstractmethod
    def verify_bill_code(self, plate: str, vehicle_kind: str, bill_no: str) -> bool:
        """True when `bill_no` is a bill for this plate issued in the last 90 days (proof of access)."""

    @abstractmethod
    def owner_mobile_matches(self, plate: str, vehicle_kind: str, mobile_e164: str) -> bool:
        """True when the operator's owner record for the plate has this mobile number."""

    @abstractmethod
    def pay(self, bill_no: str, amount_twd: int, payment_ref: str) -> OperatorReceipt:
        """Pay a bill (idempotent on payment_ref)."""

    @abstractmethod
    def payment_status(self, payment_ref: str) -> OperatorReceipt | None:
        """The receipt of our payment `payment_ref`, or None when the operator never recorded it."""

    @abstractmethod
    def payments_between(self, start: datetime.datetime, end: datetime.datetime) -> list[OperatorPayment]:
        """Every payment (all channels) the operator learned of in [start, end)."""
