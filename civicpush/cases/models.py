"""Case progress (申辦進度; seeds 001-003): a case an agency opened for a citizen, its timeline of
events, the standard processing time of its type, the signed status callbacks to the agency, and the
sandbox inbox where cases opened with a test key land instead of reaching a citizen."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicpush.citizens.models import Citizen
from civicpush.org.models import County, StaffUser, Unit, UnitApiKey


class DayBasis(models.TextChoices):
    WORKING = "working", _("Working days")
    CALENDAR = "calendar", _("Calendar days")


class CaseType(models.Model):
    """A kind of application a unit handles, with its standard processing time (處理期限)."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="case_types")
    code = models.SlugField(_("code"), max_length=40)
    name = models.CharField(_("name"), max_length=60)
    standard_days = models.PositiveSmallIntegerField(_("standard processing time (days)"))
    day_basis = models.CharField(_("counted in"), max_length=10, choices=DayBasis.choices, default=DayBasis.WORKING)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["unit__path", "code"]
        constraints = [models.UniqueConstraint(fields=["unit", "code"], name="cases_type_code_unique")]

    def __str__(self) -> str:
        return self.name


class NonWorkingDay(models.Model):
    """A county's calendar exception: a holiday on a weekday (is_workday=False) or a make-up working
    Saturday (補班, is_workday=True). Typhoon days (停班) are added here by the operator."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=60)
    is_workday = models.BooleanField(_("make-up working day"), default=False)

    class Meta:
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["county", "date"], name="cases_nonworking_day_unique")]


class CaseStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    IN_PROGRESS = "in_progress", _("In progress")
    NEEDS_DOCUMENTS = "needs_documents", _("Documents needed")
    OVERDUE = "overdue", _("Delayed")
    DONE = "done", pgettext_lazy("case status", "Done")
    REJECTED = "rejected", _("Not approved")


CLOSED_STATUSES = (CaseStatus.DONE, CaseStatus.REJECTED)


class EventKind(models.TextChoices):
    RECEIVED = "received", _("Application received")
    IN_PROGRESS = "in_progress", _("In progress")
    NEEDS_DOCUMENTS = "needs_documents", _("Documents needed")
    OVERDUE = "overdue", _("Delayed")
    DONE = "done", pgettext_lazy("case status", "Done")
    REJECTED = "rejected", _("Not approved")


class EventSource(models.TextChoices):
    AGENCY = "agency", _("Agency")
    PLATFORM = "platform", _("Platform")


class Case(models.Model):
    """One application. A sandbox case (opened with a test key) has no citizen: its notices go to
    the unit's sandbox inbox only. `due_at` is the end of the last day of the standard time."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="cases")
    case_type = models.ForeignKey(CaseType, on_delete=models.PROTECT, related_name="cases")
    opened_by_key = models.ForeignKey(UnitApiKey, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    opened_by = models.ForeignKey(StaffUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    is_sandbox = models.BooleanField(default=False)
    citizen = models.ForeignKey(Citizen, null=True, blank=True, on_delete=models.CASCADE, related_name="cases")
    recipient_masked = models.CharField(max_length=20, blank=True)  # e.g. 0912-***-678, for the console
    external_ref = models.CharField(_("case number"), max_length=64)
    status = models.CharField(_("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.RECEIVED)
    received_at = models.DateTimeField(_("received at"))
    due_at = models.DateTimeField(_("due"))
    expected_completion = models.DateField(_("expected completion"), null=True, blank=True)
    overdue_reason = models.CharField(_("reason for the delay"), max_length=200, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)  # first overdue notice, by either side
    closed_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-last_event_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["unit", "is_sandbox", "external_ref"], name="cases_case_ref_unique")
        ]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="cases_open_due_idx",
                condition=models.Q(closed_at__isnull=True, overdue_at__isnull=True),
            ),
            models.Index(fields=["citizen", "-last_event_at"], name="cases_citizen_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.case_type.name} {self.external_ref}"

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class CaseEvent(models.Model):
    """One step on a case's timeline. `client_reference` is unique per case: a retried submission
    has one effect. `note` is shown on the timeline in the app (behind sign-in), never in a notice."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events")
    kind = models.CharField(max_length=16, choices=EventKind.choices)
    source = models.CharField(max_length=10, choices=EventSource.choices, default=EventSource.AGENCY)
    client_reference = models.CharField(max_length=100)
    reason = models.CharField(_("reason"), max_length=200, blank=True)
    expected_completion = models.DateField(_("expected completion"), null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    occurred_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    notice = models.ForeignKey("pushes.Push", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["case", "client_reference"], name="cases_event_reference_unique")
        ]


class SandboxNotice(models.Model):
    """What a citizen would have received for a sandbox case: visible to the unit in the console."""

    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="sandbox_notices")
    event = models.OneToOneField(CaseEvent, on_delete=models.CASCADE, related_name="sandbox_notice")
    title = models.CharField(max_length=100)
    body = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]


class CallbackEndpoint(models.Model):
    """Where an API key's status callbacks go, with the secret they are signed with (HMAC-SHA256;
    stored Fernet-encrypted because it must be used, not just compared)."""

    api_key = models.OneToOneField(UnitApiKey, on_delete=models.CASCADE, related_name="case_callback")
    url = models.URLField(max_length=500)
    secret_encrypted = models.TextField()
    secret_hint = models.CharField(max_length=12)  # the first characters, to tell secrets apart
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class CallbackStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")


class CaseCallback(models.Model):
    """One status callback (outbox row): sent after commit, retried with backoff on 5xx, 429 and
    network errors only, until delivered or out of attempts."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="callbacks")
    event = models.ForeignKey(CaseEvent, on_delete=models.CASCADE, related_name="callbacks")
    endpoint = models.ForeignKey(CallbackEndpoint, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    url = models.URLField(max_length=500)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=CallbackStatus.choices, default=CallbackStatus.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField()
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="cases_callback_due_idx")]
