"""The coin ledger's tables (issue 5). Writes go through `civicpush.coins.ledger` only.

Design (TigerBeetle's transfer rules on a relational database):

* Coins are whole integers in *lots*: a `Balance` row per (account, expiry period, budget). Every
  coin therefore always names the period it expires in and the unit budget it was issued from, all
  the way to the store that is paid with it (accounting settles per unit budget).
* A balance row carries `may_go_negative` copied from its account (only the county's issuing
  account) and the database checks `may_go_negative OR balance >= 0` and
  `may_go_negative OR held <= balance`: even raw SQL cannot overdraw an account or its holds.
* `Transfer` and `TransferLeg` rows are append-only (the ORM refuses update/delete; on PostgreSQL a
  trigger refuses UPDATE/DELETE; on SQLite a trigger refuses UPDATE). Corrections are reversals.
* `LedgerKey` is the idempotency table: one row per key for every operation (transfer, issue, hold,
  post, void, reverse) with a fingerprint of the request body.
* The issuing account's balance rows go negative: minus the coins in circulation. Summed over all
  accounts every (period, budget) lot totals zero.
"""

from __future__ import annotations

import datetime
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from civicpush.org.models import County, Unit


class AppendOnlyQuerySet(models.QuerySet[Any]):
    def delete(self):  # type: ignore[no-untyped-def]
        raise PermissionError("Ledger rows are append-only; correct them with a reversing transfer.")

    def update(self, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("Ledger rows are append-only; correct them with a reversing transfer.")


class AppendOnlyModel(models.Model):
    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if not self._state.adding:
            raise PermissionError("Ledger rows are append-only; correct them with a reversing transfer.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise PermissionError("Ledger rows are append-only; correct them with a reversing transfer.")


class AccountKind(models.TextChoices):
    ISSUING = "issuing", _("County issuing account")
    COUNTY_POOL = "county_pool", _("County pool")
    UNIT_BUDGET = "unit_budget", _("Unit budget")
    REWARD_POOL = "reward_pool", _("Reward pool")
    WALLET = "wallet", _("Citizen wallet")
    STORE_PAYABLE = "store_payable", _("Store payable")
    PARKING_CLEARING = "parking_clearing", _("Parking clearing")
    EXPIRED = "expired", _("Expired coins")


class ExpiryPeriod(models.Model):
    """Coins are issued into a period and expire together at `expires_at` (e.g. each 30 September)."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100, blank=True)
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["expires_at", "id"]
        constraints = [models.UniqueConstraint(fields=["county", "code"], name="coins_period_code_unique")]
        verbose_name = _("expiry period")
        verbose_name_plural = _("expiry periods")

    def __str__(self) -> str:
        return self.name or self.code


class BudgetStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    RESERVED = "reserved", _("Reserved (控留)")
    RELEASED = "released", _("Released")
    CLOSED = "closed", _("Closed")


def _default_deadline(year: int) -> datetime.date:
    return datetime.date(year, 11, 30)


class Budget(models.Model):
    """A unit's coin budget for one year (seed 000 §7). The budget workflow (request → reserve →
    release, extensions) lives in `coins/budgets.py`; the ledger only reads `status`,
    `reserved_amount`, the deadlines, and keeps `issued_amount` (net of reversed issues).

    The database refuses `issued_amount > reserved_amount`, so a release that lowers the reserved
    amount can never go below what was already issued.
    """

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="coin_budgets")
    year = models.PositiveIntegerField(_("year"))
    requested_amount = models.PositiveBigIntegerField(_("requested coins"), default=0)
    reserved_amount = models.PositiveBigIntegerField(_("reserved coins"), default=0)
    issued_amount = models.PositiveBigIntegerField(_("issued coins"), default=0)
    status = models.CharField(max_length=16, choices=BudgetStatus.choices, default=BudgetStatus.REQUESTED)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(null=True, blank=True)
    reserved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reserved_at = models.DateTimeField(null=True, blank=True)
    released_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    released_at = models.DateTimeField(null=True, blank=True)
    issue_deadline = models.DateField(_("issue deadline"), null=True, blank=True)
    extension_until = models.DateField(_("extension approved until"), null=True, blank=True)
    note = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year", "unit_id"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "year"], name="coins_budget_unit_year_unique"),
            models.CheckConstraint(
                condition=Q(issued_amount__lte=models.F("reserved_amount")), name="coins_budget_issued_le_reserved"
            ),
        ]
        verbose_name = _("coin budget")
        verbose_name_plural = _("coin budgets")

    def __str__(self) -> str:
        return f"{self.unit} {self.year}"

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.issue_deadline is None and self.year:
            self.issue_deadline = _default_deadline(int(self.year))
        super().save(*args, **kwargs)

    @property
    def remaining(self) -> int:
        return int(self.reserved_amount) - int(self.issued_amount)

    @property
    def effective_deadline(self) -> datetime.date:
        base = self.issue_deadline or _default_deadline(int(self.year))
        return max(base, self.extension_until) if self.extension_until else base


class Account(models.Model):
    """One ledger account. `ref` tells accounts of the same kind apart ("" for the county's
    singletons; "budget:<id>", "citizen:<id>", or the caller's ref for pools and stores)."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=20, choices=AccountKind.choices)
    ref = models.CharField(max_length=120, blank=True)
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    budget = models.OneToOneField(Budget, null=True, blank=True, on_delete=models.PROTECT, related_name="account")
    citizen = models.OneToOneField(
        "citizens.Citizen", null=True, blank=True, on_delete=models.PROTECT, related_name="coin_wallet"
    )
    may_go_negative = models.BooleanField(default=False, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["county", "kind", "ref"], name="coins_account_unique_ref"),
            models.CheckConstraint(
                condition=Q(may_go_negative=False) | Q(kind="issuing"), name="coins_account_only_issuing_negative"
            ),
        ]
        verbose_name = _("coin account")
        verbose_name_plural = _("coin accounts")

    def __str__(self) -> str:
        return f"{self.kind}:{self.ref}" if self.ref else self.kind


class Balance(models.Model):
    """Coins of one account in one lot (expiry period × budget). Changed only by the ledger, with
    `UPDATE … SET balance = balance ± n`; the CHECKs are the database's own no-overdraft rule."""

    # No index of its own: the (account, period, budget) unique index leads with it.
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="balances", db_index=False)
    period = models.ForeignKey(ExpiryPeriod, on_delete=models.PROTECT, related_name="+")
    budget = models.ForeignKey(Budget, on_delete=models.PROTECT, related_name="+")
    expires_at = models.DateTimeField()  # copied from the period: spend earliest-expiring first
    may_go_negative = models.BooleanField(default=False)  # copied from the account
    balance = models.BigIntegerField(default=0)
    held = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["account", "period", "budget"], name="coins_balance_lot_unique"),
            models.CheckConstraint(
                condition=Q(may_go_negative=True) | Q(balance__gte=0), name="coins_balance_not_negative"
            ),
            models.CheckConstraint(condition=Q(held__gte=0), name="coins_balance_held_not_negative"),
            models.CheckConstraint(
                condition=Q(may_go_negative=True) | Q(held__lte=models.F("balance")), name="coins_balance_held_covered"
            ),
        ]
        indexes = [models.Index(fields=["expires_at"], name="coins_balance_expiry")]


class Transfer(AppendOnlyModel):
    """One immutable movement of `amount` whole coins from `debit` to `credit`, split into legs by lot.

    `chain_seq`/`prev_hash`/`hash`: the county's hash chain (sha256 over the previous hash and the
    canonical body, see `coins/chain.py`); empty when the chain is switched off.
    """

    # county, debit and credit: covered by the (county, chain_seq) and (account, created_at) indexes
    # that lead with them; fewer indexes per inserted transfer (the hot path, issue 5 benchmark).
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+", db_index=False)
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40)
    debit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="debits", db_index=False)
    credit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="credits", db_index=False)
    amount = models.BigIntegerField()
    budget = models.ForeignKey(Budget, null=True, blank=True, on_delete=models.PROTECT, related_name="issues")
    hold = models.ForeignKey("Hold", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reverses = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversed_by")
    memo = models.CharField(max_length=300, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    chain_seq = models.BigIntegerField(null=True, blank=True)
    prev_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="coins_transfer_amount_positive"),
            models.CheckConstraint(
                condition=~Q(debit_account=models.F("credit_account")), name="coins_transfer_distinct_accounts"
            ),
            models.UniqueConstraint(fields=["county", "chain_seq"], name="coins_transfer_chain_seq_unique"),
        ]
        indexes = [
            models.Index(fields=["debit_account", "created_at"]),
            models.Index(fields=["credit_account", "created_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.key}: {self.debit_account_id}→{self.credit_account_id} {self.amount}"


class TransferLeg(AppendOnlyModel):
    """The part of a transfer taken from one lot (debit and credit keep the lot)."""

    transfer = models.ForeignKey(Transfer, on_delete=models.PROTECT, related_name="legs")
    period = models.ForeignKey(ExpiryPeriod, on_delete=models.PROTECT, related_name="+")
    budget = models.ForeignKey(Budget, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="coins_leg_amount_positive")]


class HoldStatus(models.TextChoices):
    OPEN = "open", _("Open")
    POSTED = "posted", _("Posted")
    VOIDED = "voided", _("Voided")
    EXPIRED = "expired", _("Expired")


class Hold(models.Model):
    """A pending transfer: `amount` reserved on the debit account's lots (their `held`), until it is
    posted (fully or partly), voided, or expires. Only `status`, `posted_amount`, `closed_at` and
    `post_transfer` ever change, and only from `open`."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=40)
    debit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    credit_account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()
    expires_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=HoldStatus.choices, default=HoldStatus.OPEN)
    posted_amount = models.BigIntegerField(default=0)
    post_transfer = models.OneToOneField(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="posted_hold"
    )
    memo = models.CharField(max_length=300, blank=True)
    metadata = models.JSONField(default=dict, blank=True)
    actor_label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="coins_hold_amount_positive"),
            models.CheckConstraint(
                condition=Q(posted_amount__gte=0) & Q(posted_amount__lte=models.F("amount")),
                name="coins_hold_posted_within_amount",
            ),
        ]
        indexes = [models.Index(fields=["status", "expires_at"], name="coins_hold_open_expiry")]


class HoldLeg(AppendOnlyModel):
    """The part of a hold reserved on one lot of the debit account."""

    hold = models.ForeignKey(Hold, on_delete=models.PROTECT, related_name="legs")
    period = models.ForeignKey(ExpiryPeriod, on_delete=models.PROTECT, related_name="+")
    budget = models.ForeignKey(Budget, on_delete=models.PROTECT, related_name="+")
    amount = models.BigIntegerField()


class LedgerKey(AppendOnlyModel):
    """Idempotency: one row per key for every ledger operation, with a sha256 of the request body.
    A retry with the same body returns the recorded result; a different body is refused."""

    key = models.CharField(max_length=200, primary_key=True)
    fingerprint = models.CharField(max_length=64)
    operation = models.CharField(max_length=16)
    # Never looked up by these (replays find the transfer or hold by its own unique key): no indexes.
    transfer = models.ForeignKey(
        Transfer, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False
    )
    hold = models.ForeignKey(Hold, null=True, blank=True, on_delete=models.PROTECT, related_name="+", db_index=False)
    created_at = models.DateTimeField()


class ChainHead(models.Model):
    """The tip of a county's transfer hash chain; locked (FOR UPDATE) by the transaction that appends."""

    county = models.OneToOneField(County, on_delete=models.PROTECT, primary_key=True, related_name="+")
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
