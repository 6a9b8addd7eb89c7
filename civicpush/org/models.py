"""Organisation: county → agency (局處) → unit tree (科/室/中心/大隊/分隊); staff and their roles."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .roles import Role


class County(models.Model):
    """One deployment serves one county; the tenant id on top-level rows lets several share one later."""

    code = models.CharField(_("code"), max_length=16, unique=True)  # household-registration code, e.g. 10014
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("county")
        verbose_name_plural = _("counties")

    def __str__(self) -> str:
        return self.name


class Agency(models.Model):
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="agencies")
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["county", "code"], name="org_agency_code_unique")]
        verbose_name = _("agency")
        verbose_name_plural = _("agencies")

    def __str__(self) -> str:
        return self.name


class UnitKind(models.TextChoices):
    # Staff units push to groups only; business units push to groups and to everyone (seed 000 §3).
    STAFF = "staff", _("Staff unit (幕僚單位)")
    BUSINESS = "business", _("Business unit (業務單位)")


class Unit(models.Model):
    """A unit in an agency's tree. `path` is a materialised path ("000012.000034.") for subtree queries."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="units")
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="units")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    code = models.CharField(_("code"), max_length=32)
    name = models.CharField(_("name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=UnitKind.choices)
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["path"]
        constraints = [models.UniqueConstraint(fields=["agency", "code"], name="org_unit_code_unique")]
        verbose_name = _("unit")
        verbose_name_plural = _("units")

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return self.path.count(".") - 1 if self.path else 0

    def save(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        super().save(*args, **kwargs)
        expected = (self.parent.path if self.parent else "") + f"{self.pk:06d}."
        if self.path != expected:
            self.path = expected
            Unit.objects.filter(pk=self.pk).update(path=expected)

    def subtree(self) -> models.QuerySet[Unit]:
        return Unit.objects.filter(path__startswith=self.path)


class StaffUser(AbstractUser):
    """A staff account (console). Citizens are not staff users: see citizens.Citizen."""

    county = models.ForeignKey(County, null=True, blank=True, on_delete=models.PROTECT, related_name="staff")
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    office_phone = models.CharField(_("office phone"), max_length=32, blank=True)
    mobile = models.CharField(_("mobile"), max_length=20, blank=True)  # +886..., used by the adoption roster
    failed_login_count = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("staff user")
        verbose_name_plural = _("staff users")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def is_locked(self) -> bool:
        return self.locked_until is not None and self.locked_until > timezone.now()


class RoleAssignment(models.Model):
    """A role held over a scope: `unit` (that unit and its sub-units), else `agency`, else the county."""

    user = models.ForeignKey(StaffUser, on_delete=models.CASCADE, related_name="role_assignments")
    role = models.CharField(_("role"), max_length=32, choices=Role.choices)
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="role_assignments")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(StaffUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "role", "unit"],
                condition=models.Q(unit__isnull=False),
                name="org_role_unit_unique",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "agency"],
                condition=models.Q(unit__isnull=True, agency__isnull=False),
                name="org_role_agency_unique",
            ),
            models.UniqueConstraint(
                fields=["user", "role", "county"],
                condition=models.Q(unit__isnull=True, agency__isnull=True),
                name="org_role_county_unique",
            ),
        ]
        verbose_name = _("role assignment")
        verbose_name_plural = _("role assignments")

    def __str__(self) -> str:
        scope = self.unit or self.agency or self.county
        return f"{self.user} · {self.get_role_display()} · {scope}"


class ApiKeyKind(models.TextChoices):
    TEST = "test", _("Test")
    LIVE = "live", _("Live")


class UnitApiKey(models.Model):
    """An API key for another system acting for one unit. Only a SHA-256 hash of the secret is stored
    (the key has 256 bits of entropy, so a slow hash adds nothing); `prefix` identifies it in lists."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=8, choices=ApiKeyKind.choices)
    prefix = models.CharField(max_length=24, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(StaffUser, null=True, on_delete=models.SET_NULL, related_name="+")
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(StaffUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def county_id(self) -> int:  # for audit entries
        return self.unit.county_id
