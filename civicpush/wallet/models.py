"""The wallet app's own rows. Balances never live here: the ledger (civicpush.coins) holds every coin;
these rows hold what the ledger does not know: PINs, pay codes, campaigns, proposals, limits, notices.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from civicpush.citizens.models import Citizen
from civicpush.org.models import County, Unit


class TransactionPin(models.Model):
    """A citizen's 6-digit transfer PIN (Django password hash). PIN_MAX_WRONG wrong PINs lock transfers."""

    citizen = models.OneToOneField(Citizen, primary_key=True, on_delete=models.CASCADE, related_name="wallet_pin")
    pin_hash = models.CharField(max_length=128)
    wrong_count = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class PeerTransfer(models.Model):
    """A citizen-to-citizen gift (轉贈). (sender, client_key) is unique: a double-tap transfers once."""

    sender = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="wallet_sent")
    recipient = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="wallet_received")
    amount = models.PositiveIntegerField()
    client_key = models.CharField(max_length=64)
    ledger_transfer_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["sender", "client_key"], name="wallet_peer_transfer_once"),
            models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_peer_transfer_positive"),
            models.CheckConstraint(condition=~Q(sender=F("recipient")), name="wallet_peer_transfer_not_self"),
        ]
        indexes = [models.Index(fields=["sender", "created_at"])]


class PayCode(models.Model):
    """A short-lived, single-use code a store scans to charge the citizen. Only a hash is stored."""

    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="wallet_pay_codes")
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)


class ReferralCode(models.Model):
    """The code a citizen shares; whoever signs up with it and the referrer each get coins once."""

    citizen = models.OneToOneField(Citizen, primary_key=True, on_delete=models.CASCADE, related_name="referral_code")
    code = models.CharField(max_length=16, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)


class Referral(models.Model):
    """Who referred whom. A citizen is referred at most once (OneToOne)."""

    referred = models.OneToOneField(Citizen, primary_key=True, on_delete=models.CASCADE, related_name="referred_by")
    referrer = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="referrals")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=~Q(referrer=F("referred")), name="wallet_referral_not_self")]


class EarningKind(models.TextChoices):
    SIGN_UP = "signup", _("Sign-up bonus")
    PROFILE = "profile", _("Profile-completion bonus")
    REFERRAL = "referral", _("Referral bonus")


class EarningRule(models.Model):
    """How many coins a county gives for sign-up, a completed profile or a referral, and from which
    budget and period. No active rule: no bonus (the bonus hooks then do nothing)."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(_("kind"), max_length=16, choices=EarningKind.choices)
    amount = models.PositiveIntegerField(_("coins"))
    budget = models.ForeignKey("coins.Budget", on_delete=models.PROTECT, related_name="+")
    period = models.ForeignKey("coins.ExpiryPeriod", on_delete=models.PROTECT, related_name="+")
    is_active = models.BooleanField(default=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["county", "kind"], name="wallet_earning_rule_unique")]


class RedEnvelope(models.Model):
    """A red-envelope campaign (紅包): a group (or everyone) claims first come, from one unit budget.

    claims_count and claimed_coins are kept on the row and updated under its row lock, so that
    concurrent claims never pass max_claims or total_coins (the check constraints back this up).
    """

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="red_envelopes")
    budget = models.ForeignKey("coins.Budget", on_delete=models.PROTECT, related_name="+")
    period = models.ForeignKey("coins.ExpiryPeriod", on_delete=models.PROTECT, related_name="+")
    group = models.ForeignKey("audiences.Group", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    title = models.CharField(_("title"), max_length=100)
    greeting = models.CharField(_("greeting"), max_length=200, blank=True)
    total_coins = models.PositiveIntegerField(_("total coins"))
    fixed_amount = models.PositiveIntegerField(_("coins per claim"), null=True, blank=True)
    min_amount = models.PositiveIntegerField(null=True, blank=True)
    max_amount = models.PositiveIntegerField(null=True, blank=True)
    max_claims = models.PositiveIntegerField(_("maximum claims"))
    opens_at = models.DateTimeField(_("opens at"))
    closes_at = models.DateTimeField(_("closes at"))
    claims_count = models.PositiveIntegerField(default=0)
    claimed_coins = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(claims_count__lte=F("max_claims")), name="wallet_envelope_max_claims"),
            models.CheckConstraint(condition=Q(claimed_coins__lte=F("total_coins")), name="wallet_envelope_total"),
            models.CheckConstraint(condition=Q(closes_at__gt=F("opens_at")), name="wallet_envelope_window"),
        ]

    def __str__(self) -> str:
        return self.title


class RedEnvelopeClaim(models.Model):
    envelope = models.ForeignKey(RedEnvelope, on_delete=models.PROTECT, related_name="claims")
    citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="red_envelope_claims")
    amount = models.PositiveIntegerField()
    ledger_transfer_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["envelope", "citizen"], name="wallet_envelope_claim_once")]


class GrantStatus(models.TextChoices):
    PROPOSED = "proposed", _("Waiting for approval")
    ISSUED = "issued", _("Approved and issued")
    REJECTED = "rejected", _("Rejected")


class ManualGrant(models.Model):
    """A drafter's proposal to give coins to one citizen; the unit head (never the proposer) approves."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="manual_grants")
    budget = models.ForeignKey("coins.Budget", on_delete=models.PROTECT, related_name="+")
    period = models.ForeignKey("coins.ExpiryPeriod", on_delete=models.PROTECT, related_name="+")
    citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="manual_grants")
    amount = models.PositiveIntegerField(_("coins"))
    reason = models.CharField(_("reason"), max_length=200)
    status = models.CharField(max_length=16, choices=GrantStatus.choices, default=GrantStatus.PROPOSED)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    ledger_transfer_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="wallet_grant_positive")]


class ExtensionStatus(models.TextChoices):
    REQUESTED = "requested", _("Requested")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class BudgetExtension(models.Model):
    """A unit's request to issue coins in December (seed 000 §7(3)); accounting approves it."""

    budget = models.ForeignKey("coins.Budget", on_delete=models.PROTECT, related_name="+")
    until = models.DateField(_("issue until"))
    reason = models.CharField(_("reason"), max_length=300)
    status = models.CharField(max_length=16, choices=ExtensionStatus.choices, default=ExtensionStatus.REQUESTED)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    requested_at = models.DateTimeField()
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)


class BudgetRelease(models.Model):
    """How many coins a release (解除控留) gave back: the ledger's Budget row keeps only the lowered
    reservation, the console shows what was released."""

    budget = models.OneToOneField("coins.Budget", primary_key=True, on_delete=models.CASCADE, related_name="+")
    released_amount = models.PositiveBigIntegerField(default=0)


class WalletNotice(models.Model):
    """An in-app notice shown on the wallet page (e.g. coins expiring within 30 days). `key` makes the
    nightly job idempotent: one notice per citizen, period and day."""

    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="wallet_notices")
    key = models.CharField(max_length=100, unique=True)
    amount = models.PositiveIntegerField()
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField()
    dismissed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["citizen", "created_at"])]
