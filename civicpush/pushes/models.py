"""Pushes (推播訊息): content, targeting, the sign-off chain (推播審核表), schedules, dispatches,
county slots for routine promotion, and what citizens did with them (reads, clicks).

Inbox visibility is resolved at read time from Dispatch.frozen_at (see `inbox.py`): there is no
row per citizen per broadcast.
"""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicpush.audiences.models import Group
from civicpush.citizens.models import Citizen
from civicpush.citizens.topics import Topic
from civicpush.org.models import Agency, County, Unit


class PushType(models.TextChoices):
    QUESTIONNAIRE = "questionnaire", _("Questionnaire (問卷)")
    PROMOTION = "promotion", _("Promotion (宣導)")
    EVENT = "event", _("Event (活動)")
    NOTICE = "notice", _("Notice (通知)")


# Types counted by the per-citizen daily cap on promotional pushes (notices never are).
PROMOTIONAL_TYPES = frozenset({PushType.QUESTIONNAIRE, PushType.PROMOTION, PushType.EVENT})


class Urgency(models.TextChoices):
    NORMAL = "normal", _("Normal")
    URGENT = "urgent", _("Urgent (disaster and safety)")


class TargetKind(models.TextChoices):
    PERSON = "person", _("One person")
    GROUPS = "groups", _("Groups")
    EVERYONE = "everyone", _("Everyone")


class ScheduleKind(models.TextChoices):
    NOW = "now", _("As soon as possible")
    AT = "at", _("At a set time")
    DAILY = "daily", _("Daily")


class PushStatus(models.TextChoices):
    DRAFT = "draft", _("Draft")
    SUBMITTED = "submitted", _("Awaiting approval")
    RETURNED = "returned", _("Returned to the drafter")
    REJECTED = "rejected", _("Rejected")
    APPROVED = "approved", _("Approved")
    SCHEDULED = "scheduled", _("Scheduled")
    DISPATCHING = "dispatching", _("Sending")
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")


# A content edit in these states bumps the revision and sends the push back to draft.
EDITABLE_STATUSES = frozenset(
    {
        PushStatus.DRAFT,
        PushStatus.SUBMITTED,
        PushStatus.RETURNED,
        PushStatus.APPROVED,
        PushStatus.SCHEDULED,
    }
)
CANCELLABLE_STATUSES = EDITABLE_STATUSES | {PushStatus.DISPATCHING}


class Push(models.Model):
    """One push message and its life: draft → submitted → approved → scheduled → sent.

    `revision` increases with every content edit; approvals belong to one revision.
    """

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="pushes")
    push_type = models.CharField(_("type"), max_length=16, choices=PushType.choices)
    # Seed 000's title form is "[tag]title"; the tag is kept apart so lists can filter and style it.
    title_tag = models.CharField(_("title tag"), max_length=20, blank=True)
    title = models.CharField(_("title"), max_length=100)
    subtitle = models.CharField(_("subtitle"), max_length=100, blank=True)
    body = models.TextField(_("message"))  # plain text, never HTML; at most 120 full-width units
    link = models.URLField(_("link"), max_length=500, blank=True)
    planned_date = models.DateField(_("planned date"), null=True, blank=True)
    topic = models.PositiveSmallIntegerField(_("topic"), choices=Topic.choices, null=True, blank=True)
    contact_name = models.CharField(_("contact person"), max_length=50, blank=True)
    contact_phone = models.CharField(_("office phone"), max_length=32, blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    takes_registrations = models.BooleanField(_("takes registrations or applications"), default=False)
    urgency = models.CharField(_("urgency"), max_length=8, choices=Urgency.choices, default=Urgency.NORMAL)
    valid_from = models.DateTimeField(_("valid from"), null=True, blank=True)
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    is_routine_promotion = models.BooleanField(_("routine promotion (例行性宣導)"), default=False)
    pinned = models.BooleanField(_("pinned"), default=False)
    # Review-form fields that are not yet their own domain (surveys and coins come later).
    questionnaire_text = models.TextField(_("questionnaire"), blank=True)
    coin_amount = models.PositiveIntegerField(_("coins awarded"), null=True, blank=True)
    coin_method = models.CharField(_("how coins are awarded"), max_length=200, blank=True)
    remarks = models.TextField(_("remarks"), blank=True)

    target_kind = models.CharField(_("audience"), max_length=16, choices=TargetKind.choices, default=TargetKind.GROUPS)
    target_citizen = models.ForeignKey(
        Citizen, null=True, blank=True, on_delete=models.SET_NULL, related_name="personal_pushes"
    )
    target_groups = models.ManyToManyField(Group, through="PushTargetGroup", related_name="+", blank=True)

    schedule_kind = models.CharField(_("schedule"), max_length=8, choices=ScheduleKind.choices, blank=True)
    send_at = models.DateTimeField(_("send at"), null=True, blank=True)  # effective (after quiet hours)
    daily_time = models.TimeField(_("daily at"), null=True, blank=True)  # Asia/Taipei wall time
    daily_until = models.DateField(_("daily until"), null=True, blank=True)  # inclusive
    slot = models.ForeignKey("CountySlot", null=True, blank=True, on_delete=models.PROTECT, related_name="pushes")

    status = models.CharField(_("status"), max_length=16, choices=PushStatus.choices, default=PushStatus.DRAFT)
    # Made with a test API key: it may be drafted, submitted and signed, but is never scheduled or
    # dispatched (services.do_schedule refuses it; dispatching blocks it), so it never reaches citizens.
    is_test = models.BooleanField(_("test push (never sent)"), default=False)
    # A transactional notice the platform itself sends to one citizen because of something they did
    # or something that happened to their case (a receipt, a reminder, a waitlist seat): fixed
    # wording from code, no sign-off chain, sent at once (delivery.notices.send_system_notice).
    is_system_notice = models.BooleanField(_("system notice"), default=False)
    revision = models.PositiveIntegerField(default=1)
    # The chain of roles this revision must pass, snapshotted at submission (the first is the drafter).
    chain_roles = models.JSONField(default=list, blank=True)

    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    # Whoever made the latest content edit: like the drafter, they may not approve this revision.
    edited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)
    first_sent_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    # Audience of the latest dispatch; the delivery issue fills the counters.
    audience_size = models.PositiveIntegerField(null=True, blank=True)
    delivered_count = models.PositiveIntegerField(default=0)
    failed_count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["unit", "status"], name="pushes_push_unit_status_idx"),
            models.Index(fields=["county", "status"], name="pushes_push_county_status_idx"),
        ]
        verbose_name = _("push")
        verbose_name_plural = _("pushes")

    def __str__(self) -> str:
        return self.full_title

    @property
    def full_title(self) -> str:
        return f"[{self.title_tag}]{self.title}" if self.title_tag else self.title

    @property
    def is_promotional(self) -> bool:
        """Counted by the per-citizen daily cap: promotional types, not urgent, not personal."""
        return (
            self.push_type in PROMOTIONAL_TYPES
            and self.urgency != Urgency.URGENT
            and self.target_kind != TargetKind.PERSON
        )

    @property
    def ignores_quiet_hours(self) -> bool:
        """Urgent pushes and personal notices go out at once, even at night."""
        return self.urgency == Urgency.URGENT or (
            self.target_kind == TargetKind.PERSON and self.push_type == PushType.NOTICE
        )


class PushTargetGroup(models.Model):
    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="target_group_links")
    group = models.ForeignKey(Group, on_delete=models.PROTECT, related_name="push_links")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["push", "group"], name="pushes_target_group_unique")]


def _image_path(instance: PushImage, filename: str) -> str:
    return f"pushes/images/{filename}"


class PushImage(models.Model):
    """An image, verified by content (Pillow), re-encoded without metadata, with a 320 px thumbnail."""

    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="images")
    image = models.FileField(upload_to=_image_path, max_length=200)
    thumbnail = models.FileField(upload_to=_image_path, max_length=200)
    content_type = models.CharField(max_length=32)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveIntegerField()
    order = models.PositiveSmallIntegerField(default=0)
    alt_text = models.CharField(_("image description"), max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["order", "id"]


class ChainScope(models.TextChoices):
    EVERYONE = "everyone", _("Pushes to everyone")
    GROUPS_OR_PERSON = "groups_or_person", _("Pushes to groups or one person")


class ApprovalChain(models.Model):
    """The ordered roles a push must pass. The first role is the drafter (signed by submitting).

    Resolution: the unit's own (or nearest ancestor's) chain > the agency's > the county default >
    the built-in default (`chains.BUILTIN_CHAINS`).
    """

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    agency = models.ForeignKey(Agency, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    applies_to = models.CharField(max_length=20, choices=ChainScope.choices)
    roles = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["unit", "applies_to"], condition=models.Q(unit__isnull=False), name="pushes_chain_unit_unique"
            ),
            models.UniqueConstraint(
                fields=["agency", "applies_to"],
                condition=models.Q(unit__isnull=True, agency__isnull=False),
                name="pushes_chain_agency_unique",
            ),
            models.UniqueConstraint(
                fields=["county", "applies_to"],
                condition=models.Q(unit__isnull=True, agency__isnull=True),
                name="pushes_chain_county_unique",
            ),
        ]


class Decision(models.TextChoices):
    APPROVED = "approved", _("Approved")
    RETURNED = "returned", _("Returned")
    REJECTED = "rejected", _("Rejected")


class PushApproval(models.Model):
    """One decision on one step of one revision. Never deleted: an edit marks them not current."""

    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="approvals")
    revision = models.PositiveIntegerField()
    step = models.PositiveSmallIntegerField()  # index into push.chain_roles (1 = first approver)
    role = models.CharField(max_length=32)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approver_name = models.CharField(max_length=100)  # as shown on the signed form at the time
    decision = models.CharField(max_length=16, choices=Decision.choices)
    comment = models.TextField(blank=True)
    decided_at = models.DateTimeField()
    is_current = models.BooleanField(default=True)

    class Meta:
        ordering = ["decided_at", "id"]
        constraints = [
            # Two approvers racing on the same step: only one approval can stand.
            models.UniqueConstraint(
                fields=["push", "revision", "step"],
                condition=models.Q(is_current=True, decision="approved"),
                name="pushes_one_current_approval_per_step",
            )
        ]


class DispatchStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DISPATCHING = "dispatching", _("Sending")  # frozen; device fan-out (delivery issue) in progress
    SENT = "sent", _("Sent")
    CANCELLED = "cancelled", _("Cancelled")  # cancelled before freezing
    STOPPED = "stopped", _("Stopped")  # cancelled while sending; stops at the next batch boundary
    BLOCKED = "blocked", _("Blocked")  # refused at dispatch time: approvals incomplete


class Dispatch(models.Model):
    """One send of a push (several for daily pushes). Freezing sets `frozen_at`: the audience is
    whoever matched at that instant, which the inbox re-derives at read time."""

    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="dispatches")
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    target_kind = models.CharField(max_length=16, choices=TargetKind.choices)  # copied from the push
    scheduled_for = models.DateTimeField()
    frozen_at = models.DateTimeField(null=True, blank=True)
    audience_size = models.PositiveIntegerField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=DispatchStatus.choices, default=DispatchStatus.PENDING)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["scheduled_for", "id"]
        constraints = [models.UniqueConstraint(fields=["push", "scheduled_for"], name="pushes_dispatch_once_per_time")]
        indexes = [
            models.Index(fields=["status", "scheduled_for"], name="pushes_dispatch_due_idx"),
            # Inbox: "everyone" pushes newest first; groups/person pushes by push id.
            models.Index(fields=["county", "target_kind", "frozen_at"], name="pushes_dispatch_inbox_idx"),
            models.Index(fields=["push", "frozen_at"], name="pushes_dispatch_push_idx"),
        ]


class SlotStatus(models.TextChoices):
    OPEN = "open", _("Open (awaiting approval)")
    APPROVED = "approved", _("Approved")
    CLOSED = "closed", _("Closed")


class CountySlot(models.Model):
    """A county-wide time for routine promotion (例行性宣導), opened and approved by the operator."""

    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    starts_at = models.DateTimeField(_("starts at"))
    capacity = models.PositiveSmallIntegerField(_("capacity"))
    note = models.CharField(_("note"), max_length=200, blank=True)
    status = models.CharField(max_length=16, choices=SlotStatus.choices, default=SlotStatus.OPEN)
    opened_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(auto_now_add=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    approved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at"]
        indexes = [models.Index(fields=["county", "starts_at"], name="pushes_slot_county_idx")]

    def __str__(self) -> str:
        return f"{self.starts_at:%Y-%m-%d %H:%M} ({self.capacity})"


class SlotBooking(models.Model):
    """A push's place in a county slot; released (not deleted) when the push is cancelled or edited."""

    slot = models.ForeignKey(CountySlot, on_delete=models.PROTECT, related_name="bookings")
    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="slot_bookings")
    booked_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    booked_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["push"], condition=models.Q(released_at__isnull=True), name="pushes_one_live_booking"
            )
        ]


class CountyPushPolicy(models.Model):
    """County-wide sending rules: quiet hours (Asia/Taipei) and the daily cap on promotional pushes."""

    county = models.OneToOneField(County, on_delete=models.CASCADE, related_name="push_policy")
    quiet_start = models.TimeField(_("quiet hours start"), default=datetime.time(22, 0))
    quiet_end = models.TimeField(_("quiet hours end"), default=datetime.time(7, 0))
    daily_promotion_cap = models.PositiveSmallIntegerField(_("promotional pushes a citizen sees a day"), default=3)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )


class PushRead(models.Model):
    """The first time a citizen opened a push. Exactly one per (push, citizen)."""

    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="reads")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="+")
    read_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["push", "citizen"], name="pushes_read_once")]
        indexes = [models.Index(fields=["citizen", "push"], name="pushes_read_citizen_idx")]


class PushClick(models.Model):
    """A click on a push's link (one row per click)."""

    push = models.ForeignKey(Push, on_delete=models.CASCADE, related_name="clicks")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="+")
    clicked_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["push", "clicked_at"], name="pushes_click_push_idx")]


class InboxTimelineVersion(models.Model):
    """The version of a county's broadcast timelines (see `timeline.py`): every write that changes
    which frozen dispatches citizens can see, or how they look (freeze, stop, cancel, content or
    image edits of a push already sent), sets `version` to a new random value in the same
    transaction. Web processes keep the timelines in memory and rebuild them when it changes.
    Random rather than +1 so that a rolled-back or restored value can never be mistaken for a newer
    timeline."""

    county = models.OneToOneField(County, on_delete=models.CASCADE, related_name="+")
    version = models.BigIntegerField(default=0)
