"""Citizens (縣民 and 數位縣民), their consent, profile, and one-time sign-in codes.

The Citizen row holds only what sign-in needs (phone) and the pseudonymous id that survives
deletion; everything else lives in CitizenProfile, which cannot exist before consent is recorded.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _

from civicpush.org.models import County


class Township(models.Model):
    """鄉鎮市. Reference data, loaded by citizens.reference.ensure_reference_data (Taitung: 16)."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="townships")
    code = models.CharField(_("code"), max_length=16, unique=True)  # TOWNCODE, e.g. 10014010
    name = models.CharField(_("name"), max_length=32)
    name_en = models.CharField(_("English name"), max_length=64, blank=True)
    postal_code = models.CharField(_("postal code"), max_length=5, blank=True)
    sort_order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["sort_order", "code"]
        verbose_name = _("township")
        verbose_name_plural = _("townships")

    def __str__(self) -> str:
        return self.name


class Village(models.Model):
    """村里, versioned: villages are merged and redrawn (e.g. the 2021-10-17 Taitung City adjustment)."""

    township = models.ForeignKey(Township, on_delete=models.PROTECT, related_name="villages")
    code = models.CharField(_("code"), max_length=16, blank=True)
    name = models.CharField(_("name"), max_length=32)
    valid_from = models.DateField(_("valid from"))
    valid_to = models.DateField(_("valid to"), null=True, blank=True)  # exclusive; null = still valid

    class Meta:
        ordering = ["township", "name"]
        verbose_name = _("village")
        verbose_name_plural = _("villages")

    def __str__(self) -> str:
        return self.name


class CitizenStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    DELETED = "deleted", _("Deleted")


class Citizen(models.Model):
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="citizens")
    # Stays after deletion; ledgers and audit entries refer to citizens through it.
    pseudonym = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    phone_e164 = models.CharField(_("mobile number"), max_length=16, unique=True, null=True, blank=True)
    status = models.CharField(max_length=16, choices=CitizenStatus.choices, default=CitizenStatus.ACTIVE)
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("citizen")
        verbose_name_plural = _("citizens")

    def __str__(self) -> str:
        return f"citizen {self.pseudonym}"

    @property
    def is_active(self) -> bool:
        return self.status == CitizenStatus.ACTIVE


class ConsentRecord(models.Model):
    """The privacy notice (個資法 §8 告知) a citizen accepted: which version, when, from where."""

    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="consents")
    notice_version = models.CharField(max_length=32)
    accepted_at = models.DateTimeField()
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-accepted_at"]
        constraints = [
            models.UniqueConstraint(fields=["citizen", "notice_version"], name="citizens_consent_once_per_version")
        ]


class Gender(models.TextChoices):
    FEMALE = "female", _("Female")
    MALE = "male", _("Male")
    OTHER = "other", _("Other")
    UNDISCLOSED = "undisclosed", _("Prefer not to say")


class Residency(models.TextChoices):
    RESIDENT = "resident", _("Resident (縣民)")
    DIGITAL = "digital", _("Digital citizen (數位縣民)")


class CitizenProfile(models.Model):
    """Personal data a citizen chose to give. Created only after consent (services enforce it)."""

    citizen = models.OneToOneField(Citizen, primary_key=True, on_delete=models.CASCADE, related_name="profile")
    consent = models.ForeignKey(ConsentRecord, on_delete=models.PROTECT, related_name="+")
    display_name = models.CharField(_("display name"), max_length=50, blank=True)
    township = models.ForeignKey(Township, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    village = models.ForeignKey(Village, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    birth_year = models.PositiveSmallIntegerField(_("birth year"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=16, choices=Gender.choices, default=Gender.UNDISCLOSED)
    topics_mask = models.IntegerField(_("topics"), default=0)
    residency = models.CharField(_("residency"), max_length=16, choices=Residency.choices, default=Residency.RESIDENT)
    # Identity number: a keyed hash to look it up, the ciphertext for the citizen's own export,
    # and a masked form (A12*****89) that is all staff ever see.
    national_id_hmac = models.CharField(max_length=64, unique=True, null=True, blank=True)
    national_id_encrypted = models.TextField(blank=True)
    national_id_masked = models.CharField(max_length=16, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [
            models.Index(fields=["township", "birth_year"]),
            models.Index(fields=["residency"]),
        ]
        verbose_name = _("citizen profile")
        verbose_name_plural = _("citizen profiles")


class OneTimeCode(models.Model):
    """A sign-in code sent by SMS. Only a hash is kept; it expires after OTP_TTL_SECONDS."""

    phone_e164 = models.CharField(max_length=16, db_index=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)
    client_ip = models.GenericIPAddressField(null=True, blank=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]


class PhoneLock(models.Model):
    """Wrong-code count per number; OTP_MAX_WRONG wrong codes lock the number for OTP_LOCK_SECONDS."""

    phone_e164 = models.CharField(max_length=16, unique=True)
    wrong_count = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class DemoSmsMessage(models.Model):
    """What the demo SMS backend 'sent' (shown on the development-only page). Never used in production."""

    to = models.CharField(max_length=16, db_index=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
