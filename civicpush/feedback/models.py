"""The feedback mailbox (意見箱): a citizen's suggestion or complaint, routed to a unit by the
county's category rules, acknowledged within a deadline, answered, replied to and rated; and the
units' FAQ pages."""

from __future__ import annotations

import uuid

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicpush.citizens.models import Citizen, Township
from civicpush.org.models import County, StaffUser, Unit


class FeedbackCategory(models.Model):
    """A category the county offers, and its routing rule: feedback in it goes to `unit`, which must
    acknowledge it within `ack_days` working days."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(_("name"), max_length=40)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+", verbose_name=_("routed to"))
    ack_days = models.PositiveSmallIntegerField(_("acknowledge within (working days)"), default=2)
    sort_order = models.PositiveSmallIntegerField(default=0)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["sort_order", "id"]

    def __str__(self) -> str:
        return self.name


class FeedbackKind(models.TextChoices):
    SUGGESTION = "suggestion", _("Suggestion")
    COMPLAINT = "complaint", _("Complaint")


class FeedbackStatus(models.TextChoices):
    RECEIVED = "received", _("Received")
    ACKNOWLEDGED = "acknowledged", _("Being handled")
    ANSWERED = "answered", _("Answered")


class Feedback(models.Model):
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="feedback")
    category = models.ForeignKey(FeedbackCategory, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="feedback")
    kind = models.CharField(_("kind"), max_length=12, choices=FeedbackKind.choices)
    text = models.TextField(_("what happened or what you suggest"))
    township = models.ForeignKey(Township, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    latitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(max_digits=9, decimal_places=6, null=True, blank=True)
    status = models.CharField(max_length=14, choices=FeedbackStatus.choices, default=FeedbackStatus.RECEIVED)
    created_at = models.DateTimeField()
    ack_due_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    ack_late_flagged_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)  # when last answered (辦結)
    rating = models.PositiveSmallIntegerField(null=True, blank=True)  # 1..5; 4 and 5 count as satisfied
    rated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["unit", "created_at"], name="feedback_unit_created_idx")]


def _photo_path(instance: FeedbackPhoto, filename: str) -> str:
    return f"feedback/{uuid.uuid4().hex}{filename[filename.rfind('.') :]}"


class FeedbackPhoto(models.Model):
    """A photo, checked by its content and re-encoded without metadata (pushes.images)."""

    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(upload_to=_photo_path, max_length=200)
    thumbnail = models.FileField(upload_to=_photo_path, max_length=200)
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()


class Author(models.TextChoices):
    CITIZEN = "citizen", _("You")
    STAFF = "staff", _("Unit")


class FeedbackMessage(models.Model):
    feedback = models.ForeignKey(Feedback, on_delete=models.CASCADE, related_name="messages")
    author = models.CharField(max_length=8, choices=Author.choices)
    staff_user = models.ForeignKey(StaffUser, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    is_answer = models.BooleanField(default=False)
    text = models.TextField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["created_at", "id"]


class FaqEntry(models.Model):
    """A question and answer a unit publishes; citizens search them in the app."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="faq_entries")
    question = models.CharField(pgettext_lazy("faq", "question"), max_length=200)
    answer = models.TextField(_("answer"))
    is_published = models.BooleanField(_("published"), default=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["unit__path", "question"]
