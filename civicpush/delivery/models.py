"""Delivery: citizens' devices, their channel preferences, and one outcome row per (dispatch, device)
or (dispatch, citizen, SMS/e-mail channel) — the database-unique record that makes each delivery
happen at most once and lets an interrupted fan-out resume (see docs/adr/0008-delivery.md).
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from civicpush.citizens.models import Citizen
from civicpush.pushes.models import Dispatch


class DeviceKind(models.TextChoices):
    WEB_PUSH = "webpush", _("Web browser (Web Push)")
    FCM = "fcm", _("Android app (FCM)")
    APNS = "apns", _("iPhone app (APNs)")


class Device(models.Model):
    """One place a citizen receives notifications. An endpoint or token belongs to one citizen:
    the latest to register it (`address_hash` is unique; re-registering moves it)."""

    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="devices")
    kind = models.CharField(max_length=8, choices=DeviceKind.choices)
    # Web Push: the push-service endpoint URL; FCM: the registration token; APNs: the device token (hex).
    address = models.TextField()
    # sha256 hex of "kind:address" — unique, so an endpoint or token has exactly one owner.
    address_hash = models.CharField(max_length=64, unique=True)
    # Web Push subscription keys (base64url, as the browser's PushSubscription.toJSON() gives them).
    p256dh = models.CharField(max_length=100, blank=True)
    auth = models.CharField(max_length=40, blank=True)
    label = models.CharField(_("device"), max_length=120, blank=True)  # e.g. from the User-Agent
    created_at = models.DateTimeField(auto_now_add=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)  # null = active
    removed_reason = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["citizen", "removed_at"], name="delivery_device_citizen_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} device {self.pk} of citizen {self.citizen_id}"

    @property
    def is_active(self) -> bool:
        return self.removed_at is None


class ChannelPreference(models.Model):
    """What a citizen chose for personal and case notices. Without an active device, SMS (and
    e-mail where given) carry them; a citizen may also ask for SMS or e-mail in addition."""

    citizen = models.OneToOneField(Citizen, primary_key=True, on_delete=models.CASCADE, related_name="channels")
    app_enabled = models.BooleanField(_("app notifications"), default=True)
    sms_enabled = models.BooleanField(_("SMS for personal notices"), default=True)
    email_enabled = models.BooleanField(_("e-mail for personal notices"), default=False)
    email = models.EmailField(_("e-mail address"), blank=True)
    updated_at = models.DateTimeField(auto_now=True)


class Channel(models.TextChoices):
    WEB_PUSH = "webpush", _("Web Push")
    FCM = "fcm", _("FCM")
    APNS = "apns", _("APNs")
    SMS = "sms", _("SMS")
    EMAIL = "email", _("E-mail")


class OutcomeStatus(models.TextChoices):
    CLAIMED = "claimed", _("Sending")  # inserted before the provider call; resumable
    DELIVERED = "delivered", _("Delivered")  # the provider accepted it
    FAILED = "failed", _("Failed")  # terminal: retries exhausted or the provider refused
    GONE = "gone", _("Device removed")  # 404/410/unregistered: the device was removed
    SKIPPED = "skipped", _("Skipped")  # e.g. cancelled, or the daily promotion cap


class DeliveryOutcome(models.Model):
    """One row per (dispatch, device) — or (dispatch, citizen, channel) for SMS and e-mail. The
    unique constraints are what make a delivery happen at most once across workers and restarts."""

    # The outcome belongs to its dispatch (a database foreign key: deleting or truncating dispatches
    # takes their outcomes along). The citizen and device are kept by Django only (db_constraint=False):
    # rows are written only by the fan-out's claim, an INSERT … SELECT from the very citizen and device
    # rows they name, so those two per-row RI checks (~11 µs of PostgreSQL per delivery) checked
    # nothing new; Django still applies on_delete (CASCADE / SET_NULL) when those rows are deleted
    # through the ORM. ADR 0008, "fan-out round 3".
    dispatch = models.ForeignKey(
        Dispatch, on_delete=models.CASCADE, related_name="outcomes", db_index=False
    )  # indexed by delivery_once_per_dispatch_device, which leads with it
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="+", db_constraint=False)
    device = models.ForeignKey(
        Device, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_constraint=False
    )
    channel = models.CharField(max_length=8, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=OutcomeStatus.choices, default=OutcomeStatus.CLAIMED)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=200, blank=True)
    claimed_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # Not partial: rows without a device never collide (NULLs are distinct), and a full index
            # also serves every per-dispatch query, so no separate dispatch_id index is written.
            models.UniqueConstraint(fields=["dispatch", "device"], name="delivery_once_per_dispatch_device"),
            models.UniqueConstraint(
                fields=["dispatch", "citizen", "channel"],
                condition=models.Q(device__isnull=True),
                name="delivery_once_per_citizen_channel",
            ),
        ]
        # No index on status: recording a result changes only unindexed columns, so on PostgreSQL
        # (table fillfactor 50, migration 0004) the UPDATE is a HOT update that writes no index entry.
        # Per-dispatch counts use the dispatch_id index.


class FanoutStatus(models.TextChoices):
    RUNNING = "running", _("Sending")
    DONE = "done", _("Done")
    STOPPED = "stopped", _("Stopped")


class Fanout(models.Model):
    """Progress of one dispatch's fan-out, for the console's progress bar and for resuming."""

    dispatch = models.OneToOneField(Dispatch, primary_key=True, on_delete=models.CASCADE, related_name="fanout")
    status = models.CharField(max_length=10, choices=FanoutStatus.choices, default=FanoutStatus.RUNNING)
    total = models.PositiveIntegerField(default=0)  # devices + SMS/e-mail recipients to reach
    sent = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    batches_total = models.PositiveIntegerField(default=0)
    batches_done = models.PositiveIntegerField(default=0)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)

    @property
    def remaining(self) -> int:
        return max(self.total - self.sent - self.failed, 0)


class BatchStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    DONE = "done", _("Done")
    STOPPED = "stopped", _("Stopped")


class FanoutBatch(models.Model):
    """One slice of a fan-out: the audience's devices with ids in [first_device_id, last_device_id].
    A worker leases a batch (lease_token, lease_until) before claiming its outcome rows; a batch whose
    lease ran out while pending belonged to a worker that died, and the resume sweep hands it out
    again. Batch 0 of a personal push also carries the SMS/e-mail recipients."""

    dispatch = models.ForeignKey(Dispatch, on_delete=models.CASCADE, related_name="+")
    number = models.PositiveIntegerField()
    first_device_id = models.BigIntegerField()
    last_device_id = models.BigIntegerField()
    size = models.PositiveIntegerField(default=0)  # devices in the slice when it was planned
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.PENDING)
    lease_token = models.CharField(max_length=32, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)  # leases taken (>1: resumed after a crash)
    # Before each chunk goes out: the highest outcome id in it. After a crash, CLAIMED outcomes up to
    # here are in doubt (the push service may have them); those above were never sent.
    sending_upto = models.BigIntegerField(default=0)
    resent = models.PositiveIntegerField(default=0)  # in-doubt outcomes sent again after a crash
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["dispatch", "number"], name="delivery_batch_once")]
        indexes = [models.Index(fields=["status", "lease_until"], name="delivery_batch_lease_idx")]


class SystemNotice(models.Model):
    """The idempotency record of a system notice: one push per `reference` (e.g. "parking-bill:123:
    reminder-1"), so a retried caller never notifies a citizen twice."""

    reference = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=40)  # e.g. "payment_receipt", "parking_reminder", "case_event"
    push = models.OneToOneField("pushes.Push", on_delete=models.CASCADE, related_name="system_notice")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField()
