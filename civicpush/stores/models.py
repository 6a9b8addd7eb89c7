"""Partner stores (特約商店) and charities (公益團體), their staff, offers (好禮兌換), payments with
coins, and monthly settlement statements (seed 001: stores confirm, accounting approves, the county pays).

Coins never live here: every movement is a `civicpush.coins.ledger` transfer (citizen wallet →
the store's `store_payable` account; refunds are reversals; a paid statement clears the payable).
These rows hold what the ledger does not know: who, which store, which attempt, which statement.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from civicpush.citizens.models import Citizen, Township
from civicpush.org.models import County, Unit


class StoreKind(models.TextChoices):
    PARTNER = "partner", _("Partner store (特約商店)")
    CHARITY = "charity", _("Charity (公益團體)")


class StoreCategory(models.TextChoices):
    FOOD = "food", _("Food and drink")
    SHOPPING = "shopping", _("Shopping")
    LODGING = "lodging", _("Lodging")
    LEISURE = "leisure", _("Leisure and tours")
    PRODUCE = "produce", _("Local produce")
    SERVICES = "services", _("Everyday services")
    CHARITY = "charity", _("Charity and public good")


class Store(models.Model):
    """A store onboarded by the county operator. The payout bank account is personal/financial data:
    only a Fernet ciphertext and a masked form are stored (see identifiers.py)."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=100)
    ubn = models.CharField(_("統一編號"), max_length=8)
    kind = models.CharField(_("type"), max_length=16, choices=StoreKind.choices, default=StoreKind.PARTNER)
    category = models.CharField(_("category"), max_length=16, choices=StoreCategory.choices)
    township = models.ForeignKey(Township, on_delete=models.PROTECT, related_name="+")
    address = models.CharField(_("address"), max_length=200)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=100, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    opening_hours = models.CharField(_("opening hours"), max_length=200, blank=True)
    description = models.TextField(_("description"), max_length=1000, blank=True)
    bank_account_encrypted = models.TextField(blank=True)
    bank_account_masked = models.CharField(max_length=32, blank=True)
    photo = models.BinaryField(null=True, blank=True, editable=False)
    photo_content_type = models.CharField(max_length=32, blank=True)
    pay_token = models.CharField(max_length=40, unique=True)  # the store's QR for citizens to scan
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["township__sort_order", "name"]
        constraints = [models.UniqueConstraint(fields=["county", "ubn"], name="stores_store_ubn_unique")]
        verbose_name = _("store")
        verbose_name_plural = _("stores")

    def __str__(self) -> str:
        return self.name

    @property
    def payable_ref(self) -> str:
        return f"store:{self.pk}"


class StoreRole(models.TextChoices):
    MANAGER = "manager", _("Store manager")
    CASHIER = "cashier", _("Cashier")


class StoreStaff(models.Model):
    """A staff account (org.StaffUser: same password rules, 5-failure lock-out, idle timeout) that works
    for one store. Store accounts hold no RoleAssignment, so the console grants them nothing."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="store_staff")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="staff")
    role = models.CharField(_("role"), max_length=16, choices=StoreRole.choices, default=StoreRole.CASHIER)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.user} @ {self.store}"


class Offer(models.Model):
    """Goods or a discount for coins (好禮兌換). `stock` never goes below zero: it is taken with a
    conditional UPDATE and backed by a CHECK."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="offers")
    title = models.CharField(_("title"), max_length=50)
    description = models.TextField(_("description"), max_length=1000, blank=True)
    coin_price = models.PositiveIntegerField(_("price in coins"))
    stock = models.PositiveIntegerField(_("stock"))
    is_active = models.BooleanField(_("on offer"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["store_id", "coin_price", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(stock__gte=0), name="stores_offer_stock_not_negative"),
            models.CheckConstraint(condition=Q(coin_price__gt=0), name="stores_offer_price_positive"),
        ]

    def __str__(self) -> str:
        return self.title


class PaymentChannel(models.TextChoices):
    STORE_SCAN = "store_scan", _("Store scanned the citizen's pay code")
    CITIZEN_SCAN = "citizen_scan", _("Citizen scanned the store's code")
    APP_REDEMPTION = "app_redemption", _("Redeemed in the app")
    COUNTER_REDEMPTION = "counter_redemption", _("Redeemed at the counter")


class Payment(models.Model):
    """One payment of coins to a store: a ledger transfer wallet → store payable. `client_key` is
    generated by the paying device per attempt: (store, client_key) is unique, so a retry from the
    store's phone returns the first payment instead of charging again."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="payments")
    citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="store_payments")
    amount = models.PositiveIntegerField()
    channel = models.CharField(max_length=24, choices=PaymentChannel.choices)
    client_key = models.CharField(max_length=64)
    offer = models.ForeignKey(Offer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    ledger_transfer_id = models.BigIntegerField(null=True, blank=True, unique=True)
    created_at = models.DateTimeField(db_index=True)
    refund_transfer_id = models.BigIntegerField(null=True, blank=True, unique=True)
    refunded_at = models.DateTimeField(null=True, blank=True)
    refunded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    refund_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["store", "client_key"], name="stores_payment_attempt_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="stores_payment_positive"),
        ]
        indexes = [models.Index(fields=["store", "created_at"])]

    @property
    def is_refunded(self) -> bool:
        return self.refund_transfer_id is not None


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Waiting for the store")
    CONFIRMED = "confirmed", _("Paid")
    DECLINED = "declined", _("Declined by the store")
    EXPIRED = "expired", _("Expired")


class PaymentRequest(models.Model):
    """The citizen scanned the store's QR and entered an amount; the store confirms (then coins move)."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="payment_requests")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="store_payment_requests")
    amount = models.PositiveIntegerField()
    client_key = models.CharField(max_length=64)
    status = models.CharField(max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING)
    payment = models.OneToOneField(Payment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["citizen", "client_key"], name="stores_request_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="stores_request_positive"),
        ]
        indexes = [models.Index(fields=["store", "status", "created_at"])]


class Voucher(models.Model):
    """An offer bought in the app: the citizen shows `code` at the counter, the store marks it used."""

    payment = models.OneToOneField(Payment, on_delete=models.PROTECT, related_name="voucher")
    offer = models.ForeignKey(Offer, on_delete=models.PROTECT, related_name="vouchers")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="store_vouchers")
    code = models.CharField(max_length=12, unique=True)
    used_at = models.DateTimeField(null=True, blank=True)
    used_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )


class StoreSettings(models.Model):
    """Per county: which unit signs payment receipts (system notices need a unit)."""

    county = models.OneToOneField(County, primary_key=True, on_delete=models.CASCADE, related_name="+")
    receipt_unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")


# --- settlement --------------------------------------------------------------------------------------


class StatementStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    ISSUED = "issued", _("Issued to the store")
    CONFIRMED = "confirmed", _("Confirmed by the store")
    DISPUTED = "disputed", _("Disputed by the store")
    APPROVED = "approved", _("Approved by accounting")
    PAID = "paid", _("Paid")


# The columns frozen when a statement is issued (the snapshot and what it totals). The database refuses
# to change them afterwards (trigger, see migration 0002) and so does Statement.save().
FROZEN_COLUMNS = (
    "county_id",
    "store_id",
    "year",
    "month",
    "payments_count",
    "gross_coins",
    "refund_coins",
    "ledger_net_coins",
    "adjustment_coins",
    "due_coins",
    "snapshot",
    "snapshot_hash",
    "issued_at",
)
ALLOWED_TRANSITIONS: dict[str, set[str]] = {
    StatementStatus.DRAFT: {StatementStatus.DRAFT, StatementStatus.ISSUED},
    StatementStatus.ISSUED: {StatementStatus.CONFIRMED, StatementStatus.DISPUTED},
    # The operator resolves a dispute with an adjustment carried into the next period; accounting then
    # approves the statement as issued.
    StatementStatus.DISPUTED: {StatementStatus.APPROVED},
    StatementStatus.CONFIRMED: {StatementStatus.APPROVED},
    StatementStatus.APPROVED: {StatementStatus.PAID},
    StatementStatus.PAID: set(),
}


class Statement(models.Model):
    """A store's monthly statement (請款明細). Coins are the unit; NT$ = coins / 10 (seed 001).

    gross = store payments credited to the store's payable in the month; refunds = reversals of them
    debited in the month; ledger_net = gross − refunds (what the ledger moved); adjustments = corrections
    carried from disputed earlier statements; due = ledger_net + adjustments.
    """

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="statements")
    year = models.PositiveSmallIntegerField()
    month = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=16, choices=StatementStatus.choices, default=StatementStatus.DRAFT)
    payments_count = models.PositiveIntegerField(default=0)
    gross_coins = models.BigIntegerField(default=0)
    refund_coins = models.BigIntegerField(default=0)
    ledger_net_coins = models.BigIntegerField(default=0)
    adjustment_coins = models.BigIntegerField(default=0)
    due_coins = models.BigIntegerField(default=0)
    snapshot = models.JSONField(default=dict, blank=True)
    snapshot_hash = models.CharField(max_length=64, blank=True)
    computed_at = models.DateTimeField(null=True, blank=True)
    issued_at = models.DateTimeField(null=True, blank=True)
    issued_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    confirmed_at = models.DateTimeField(null=True, blank=True)
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    disputed_at = models.DateTimeField(null=True, blank=True)
    disputed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    dispute_reason = models.CharField(max_length=500, blank=True)
    resolution = models.CharField(max_length=500, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    paid_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    bank_reference = models.CharField(max_length=64, blank=True)
    payout_transfer_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-year", "-month", "store_id"]
        constraints = [
            models.UniqueConstraint(fields=["store", "year", "month"], name="stores_statement_once_per_month"),
            models.CheckConstraint(condition=Q(month__gte=1) & Q(month__lte=12), name="stores_statement_month"),
            models.CheckConstraint(
                condition=Q(due_coins=F("ledger_net_coins") + F("adjustment_coins")), name="stores_statement_due_sum"
            ),
            models.CheckConstraint(
                condition=Q(ledger_net_coins=F("gross_coins") - F("refund_coins")), name="stores_statement_net_sum"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.store} {self.year}-{self.month:02d}"

    @property
    def period_label(self) -> str:
        return f"{self.year}-{self.month:02d}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding and self.pk:
            old = Statement.objects.filter(pk=self.pk).values(*FROZEN_COLUMNS, "status").first()
            if old is not None:
                if old["status"] != StatementStatus.DRAFT:
                    changed = [c for c in FROZEN_COLUMNS if old[c] != getattr(self, c)]
                    if changed:
                        raise PermissionError(f"An issued statement cannot change ({', '.join(changed)}).")
                if self.status not in ALLOWED_TRANSITIONS.get(old["status"], set()) and self.status != old["status"]:
                    raise PermissionError(f"A statement cannot go from {old['status']} to {self.status}.")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        if self.status != StatementStatus.DRAFT:
            raise PermissionError("An issued statement cannot be deleted.")
        return super().delete(*args, **kwargs)


class Adjustment(models.Model):
    """A correction agreed after a dispute (signed coins), carried into the store's next statement."""

    store = models.ForeignKey(Store, on_delete=models.PROTECT, related_name="adjustments")
    source_statement = models.ForeignKey(Statement, on_delete=models.PROTECT, related_name="adjustments_made")
    applied_statement = models.ForeignKey(
        Statement, null=True, blank=True, on_delete=models.PROTECT, related_name="adjustments_applied"
    )
    coins = models.BigIntegerField()
    reason = models.CharField(max_length=300)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(coins=0), name="stores_adjustment_not_zero")]
