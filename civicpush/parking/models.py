"""Parking (seed 001, issue 8 item 3): bound plates, the operator's bills as we last saw them, coin
payments (each with one ledger hold), auto-deduct enrolment, the bounded parking credit (advances),
reconciliation flags and daily runs. Coins themselves live only in the ledger (civicpush.coins).

The simulator's tables (`Sim*`) stand in for the parking operator's own system in the demo and the
tests; production adapters never touch them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicpush.citizens.models import Citizen
from civicpush.org.models import County, Unit

from .plates import VehicleKind


class ParkingSettings(models.Model):
    """Per county: the unit that signs parking notices, the credit bound per citizen, the terms."""

    county = models.OneToOneField(County, primary_key=True, on_delete=models.PROTECT, related_name="+")
    notice_unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    credit_limit_coins = models.PositiveIntegerField(_("parking credit per citizen (coins)"), default=3000)
    terms_version = models.CharField(_("auto-deduct terms version"), max_length=20, default="2026-11")
    updated_at = models.DateTimeField(auto_now=True)


class PlateStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for verification")
    VERIFIED = "verified", _("Verified")
    REMOVED = "removed", _("Removed")


class VerificationMethod(models.TextChoices):
    BILL_CODE = "bill_code", _("Number of a recent parking bill")
    OWNER_MOBILE = "owner_mobile", _("Owner's mobile number on the operator's record")


class PlateBinding(models.Model):
    """A citizen's claim on a plate. Verified bindings are unique per (county, plate): a plate belongs
    to one citizen at a time. Removed rows stay for history (the plate is then free again)."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="parking_plates")
    plate = models.CharField(_("plate"), max_length=10)
    vehicle_kind = models.CharField(_("vehicle"), max_length=12, choices=VehicleKind.choices)
    status = models.CharField(max_length=10, choices=PlateStatus.choices, default=PlateStatus.PENDING)
    verification_method = models.CharField(max_length=16, choices=VerificationMethod.choices, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    wrong_attempts = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    auto_deduct = models.BooleanField(_("auto-deduct"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "plate"], condition=Q(status="verified"), name="parking_plate_one_owner"
            ),
            models.UniqueConstraint(
                fields=["citizen", "plate"],
                condition=Q(status__in=["pending", "verified"]),
                name="parking_plate_once_per_citizen",
            ),
        ]

    def __str__(self) -> str:
        return self.plate


class BillStatus(models.TextChoices):
    UNPAID = "unpaid", _("Unpaid")
    PAID = "paid", _("Paid with coins")
    PAID_ELSEWHERE = "paid_elsewhere", _("Paid elsewhere")
    CANCELLED = "cancelled", _("Cancelled by the operator")


class Bill(models.Model):
    """A parking bill (停車繳費單) as the operator last reported it. Amounts are in NT$; coins = NT$ × 10."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    operator = models.CharField(max_length=40)
    bill_no = models.CharField(_("bill number"), max_length=40)
    plate = models.CharField(_("plate"), max_length=10, db_index=True)
    vehicle_kind = models.CharField(max_length=12, choices=VehicleKind.choices)
    citizen = models.ForeignKey(Citizen, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    location = models.CharField(_("location"), max_length=120, blank=True)
    parked_from = models.DateTimeField(null=True, blank=True)
    parked_until = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField()
    due_date = models.DateField(_("due date"))
    amount_twd = models.PositiveIntegerField(_("amount (NT$)"))
    status = models.CharField(max_length=16, choices=BillStatus.choices, default=BillStatus.UNPAID)
    paid_channel = models.CharField(max_length=40, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    reminded_at = models.DateTimeField(null=True, blank=True)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["county", "operator", "bill_no"], name="parking_bill_unique"),
            models.CheckConstraint(condition=Q(amount_twd__gt=0), name="parking_bill_amount_positive"),
        ]
        indexes = [models.Index(fields=["citizen", "status"])]

    def __str__(self) -> str:
        return self.bill_no

    @property
    def coins(self) -> int:
        return int(self.amount_twd) * 10


class PaymentSource(models.TextChoices):
    WALLET = "wallet", _("My coins")
    ADVANCE = "advance", _("Advanced by the platform")


class PaymentChannel(models.TextChoices):
    MANUAL = "manual", _("Paid in the app")
    AUTO = "auto", _("Auto-deduct")


class PaymentStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the operator")
    UNKNOWN = "unknown", _("Being checked with the operator")
    CONFIRMED = "confirmed", _("Paid")
    FAILED = "failed", _("Not paid")
    REFUNDED = "refunded", _("Refunded")


LIVE_PAYMENT = ["pending", "unknown", "confirmed"]


class Payment(models.Model):
    """One attempt to pay one bill with coins: a ledger hold (wallet or advance pool → parking
    clearing), posted when the operator confirms, voided when it refuses. At most one live
    (pending, unknown or confirmed) payment per bill: the database refuses a second."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="payments")
    citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="parking_payments")
    source = models.CharField(max_length=10, choices=PaymentSource.choices, default=PaymentSource.WALLET)
    channel = models.CharField(max_length=10, choices=PaymentChannel.choices, default=PaymentChannel.MANUAL)
    client_key = models.CharField(max_length=64)
    amount_twd = models.PositiveIntegerField()
    coins = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=PaymentStatus.choices, default=PaymentStatus.PENDING)
    hold_id = models.BigIntegerField(null=True, blank=True)
    transfer_id = models.BigIntegerField(null=True, blank=True)
    refund_transfer_id = models.BigIntegerField(null=True, blank=True)
    operator_receipt = models.CharField(max_length=60, blank=True)
    failure_code = models.CharField(max_length=40, blank=True)
    operator_calls = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["citizen", "client_key"], name="parking_payment_client_key"),
            models.UniqueConstraint(
                fields=["bill"], condition=Q(status__in=LIVE_PAYMENT), name="parking_payment_one_live_per_bill"
            ),
            models.CheckConstraint(condition=Q(coins__gt=0), name="parking_payment_coins_positive"),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def reference(self) -> str:
        """Our payment reference at the operator (their idempotency key for this payment)."""
        return f"CP{self.county_id}-{self.pk:08d}"


class AutoDeductEnrolment(models.Model):
    """Auto-deduct (路邊停車自動扣繳): the terms the citizen accepted, when, and whether it is on."""

    citizen = models.OneToOneField(Citizen, primary_key=True, on_delete=models.CASCADE, related_name="+")
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    active = models.BooleanField(default=True)
    terms_version = models.CharField(max_length=20)
    accepted_at = models.DateTimeField()
    first_run_after = models.DateTimeField()  # the terms promise the first deduction within 48 hours
    switched_off_at = models.DateTimeField(null=True, blank=True)
    switched_off_reason = models.CharField(max_length=40, blank=True)


class CreditLine(models.Model):
    """The citizen's parking receivable: coins the platform advanced and not yet repaid. The row is
    locked for every advance and repayment; the CHECKs keep 0 ≤ outstanding ≤ limit even if two
    runs race (a concurrent advance beyond the bound fails at the database)."""

    citizen = models.OneToOneField(Citizen, primary_key=True, on_delete=models.PROTECT, related_name="+")
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    limit_coins = models.PositiveIntegerField()
    outstanding = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(outstanding__lte=F("limit_coins")), name="parking_credit_within_limit"),
        ]


class AdvanceStatus(models.TextChoices):
    OPEN = "open", _("Owed")
    REPAID = "repaid", _("Repaid")
    CANCELLED = "cancelled", _("Cancelled")


class Advance(models.Model):
    """Coins the platform advanced for one auto-deduct payment; repaid from the citizen's later coins."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="parking_advances")
    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="advance")
    coins = models.PositiveIntegerField()
    repaid = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=AdvanceStatus.choices, default=AdvanceStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [models.CheckConstraint(condition=Q(repaid__lte=F("coins")), name="parking_advance_repaid_le")]

    @property
    def owed(self) -> int:
        return int(self.coins) - int(self.repaid)


class FlagKind(models.TextChoices):
    DOUBLE_PAYMENT = "double_payment", _("Paid twice across channels")
    POSTED_AFTER_EXPIRY = "posted_after_expiry", _("Operator confirmed after the hold expired")
    REFUND_FAILED = "refund_failed", _("Refund could not be made automatically")


class FlagStatus(models.TextChoices):
    OPEN = "open", pgettext_lazy("parking flag", "Open")
    REFUNDED = "refunded", _("Refunded")
    RESOLVED = "resolved", _("Resolved by staff")


class ReconciliationFlag(models.Model):
    """Something the reconciliation found that money-wise needs a refund or a person."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=24, choices=FlagKind.choices)
    status = models.CharField(max_length=10, choices=FlagStatus.choices, default=FlagStatus.OPEN)
    bill = models.ForeignKey(Bill, on_delete=models.PROTECT, related_name="flags")
    payment = models.ForeignKey(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="flags")
    other_channel = models.CharField(max_length=40, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["bill", "kind"], name="parking_flag_once_per_bill")]


class DailyRun(models.Model):
    """A daily job done for one county and Taiwan date (auto-deduct, reconciliation): runs once."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    job = models.CharField(max_length=20)
    day = models.DateField()
    finished_at = models.DateTimeField()
    summary = models.JSONField(default=dict)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["county", "job", "day"], name="parking_daily_run_once")]


# --- the simulator's side (the parking operator's system, for the demo and tests) -------------------


class SimBill(models.Model):
    """A bill in the simulated operator's system."""

    bill_no = models.CharField(max_length=40, unique=True)
    plate = models.CharField(max_length=10, db_index=True)
    vehicle_kind = models.CharField(max_length=12)
    owner_mobile = models.CharField(max_length=16, blank=True)  # the operator's record of the owner
    location = models.CharField(max_length=120)
    parked_from = models.DateTimeField()
    parked_until = models.DateTimeField()
    issued_at = models.DateTimeField()
    due_date = models.DateField()
    amount_twd = models.PositiveIntegerField()
    cancelled = models.BooleanField(default=False)


class SimPayment(models.Model):
    """A payment the simulated operator recorded (ours carry `payment_ref`; other channels do not)."""

    bill = models.ForeignKey(SimBill, on_delete=models.CASCADE, related_name="payments")
    channel = models.CharField(max_length=40)
    payment_ref = models.CharField(max_length=40, null=True, blank=True, unique=True)
    receipt_no = models.CharField(max_length=40, unique=True)
    amount_twd = models.PositiveIntegerField()
    paid_at = models.DateTimeField()
    reported_at = models.DateTimeField()  # convenience stores report days late


class SimFault(models.Model):
    """An injected fault: the next `remaining` calls of `operation` ("*" = any) fail with `mode`."""

    operation = models.CharField(max_length=20)
    mode = models.CharField(max_length=30)
    remaining = models.PositiveIntegerField(default=1)
