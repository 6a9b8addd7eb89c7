"""Events (活動) carried by an event push: registration with capacity and a waitlist, QR tickets,
check-in and check-out scans (簽到退), attendance coins.

Capacity is guarded twice: registrations take the event row lock and `confirmed_count` carries a
database CHECK (confirmed_count <= capacity). A scan carries a client nonce that is unique, so a
retried scan is recorded once.
"""

from __future__ import annotations

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicpush.audiences.models import Group
from civicpush.citizens.models import Citizen
from civicpush.coins.models import Budget, ExpiryPeriod
from civicpush.org.models import County, Unit
from civicpush.pushes.models import Push


def new_secret() -> str:
    return secrets.token_urlsafe(24)  # 192 bits: unguessable


class Eligibility(models.TextChoices):
    EVERYONE = "everyone", _("Everyone in the county")
    GROUPS = "groups", _("Members of chosen groups")


class Event(models.Model):
    push = models.OneToOneField(Push, on_delete=models.CASCADE, related_name="event")
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="events")
    title = models.CharField(_("event name"), max_length=100)
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    place = models.CharField(_("place"), max_length=200)
    map_url = models.URLField(_("map link"), max_length=500, blank=True)
    capacity = models.PositiveIntegerField(_("seats"))
    registration_opens_at = models.DateTimeField(_("registration opens"))
    registration_closes_at = models.DateTimeField(_("registration closes"))
    eligibility = models.CharField(
        _("who may register"), max_length=10, choices=Eligibility.choices, default=Eligibility.EVERYONE
    )
    groups = models.ManyToManyField(Group, blank=True, related_name="+")
    # [{"key": "q1", "label": "...", "kind": "text"|"choice", "options": [...], "required": bool}]
    questions = models.JSONField(default=list, blank=True)
    attendance_coins = models.PositiveIntegerField(_("attendance coins"), default=0)
    budget = models.ForeignKey(Budget, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    period = models.ForeignKey(ExpiryPeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    organiser_name = models.CharField(_("organiser"), max_length=50)
    organiser_phone = models.CharField(_("organiser's phone"), max_length=32)
    checkin_opens_minutes = models.PositiveIntegerField(_("check-in opens (minutes before the start)"), default=60)
    checkout_closes_minutes = models.PositiveIntegerField(_("check-out closes (minutes after the end)"), default=60)
    poster_secret = models.CharField(max_length=40, default=new_secret, unique=True)  # self check-in QR
    attendees_group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    confirmed_count = models.PositiveIntegerField(default=0)
    waitlist_seq = models.PositiveIntegerField(default=0)
    day_reminder_at = models.DateTimeField(null=True, blank=True)
    hour_reminder_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)  # attendance coins handed out
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-starts_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(confirmed_count__lte=models.F("capacity")), name="events_capacity_never_exceeded"
            ),
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="events_ends_after_start"
            ),
        ]
        verbose_name = _("event")
        verbose_name_plural = _("events")

    def __str__(self) -> str:
        return self.title


class RegistrationStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("Confirmed")
    WAITLISTED = "waitlisted", _("On the waitlist")
    CANCELLED = "cancelled", _("Cancelled")


class Registration(models.Model):
    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="registrations")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="event_registrations")
    status = models.CharField(max_length=10, choices=RegistrationStatus.choices)
    waitlist_position = models.PositiveIntegerField(null=True, blank=True)  # arrival order on the waitlist
    answers = models.JSONField(default=dict, blank=True)
    ticket_token = models.CharField(max_length=40, default=new_secret, unique=True)
    created_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    promoted_at = models.DateTimeField(null=True, blank=True)  # confirmed from the waitlist
    cancelled_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_out_at = models.DateTimeField(null=True, blank=True)
    coins_awarded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "citizen"],
                condition=~models.Q(status="cancelled"),
                name="events_one_live_registration",
            ),
        ]
        indexes = [models.Index(fields=["event", "status", "waitlist_position"], name="events_reg_queue_idx")]


class ScanKind(models.TextChoices):
    CHECK_IN = "in", _("Check-in")
    CHECK_OUT = "out", _("Check-out")


class ScanResult(models.TextChoices):
    OK = "ok", _("OK")
    ALREADY = "already", _("Already recorded")
    NOT_CHECKED_IN = "not_checked_in", _("Not checked in yet")
    NOT_REGISTERED = "not_registered", _("Not registered")
    WRONG_EVENT = "wrong_event", _("Ticket for another event")
    OUTSIDE_WINDOW = "outside_window", _("Outside the check-in time")


class Scan(models.Model):
    """Every scan, as recorded (also refused ones). `nonce` is made by the scanning device for each
    scan; a retry (a re-upload after being offline, a double tap) carries the same nonce."""

    event = models.ForeignKey(Event, on_delete=models.CASCADE, related_name="scans")
    registration = models.ForeignKey(Registration, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=4, choices=ScanKind.choices)
    nonce = models.CharField(max_length=64, unique=True)
    result = models.CharField(max_length=16, choices=ScanResult.choices)
    scanned_at = models.DateTimeField()  # when it happened (the device's time for offline scans)
    recorded_at = models.DateTimeField()
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    self_service = models.BooleanField(default=False)  # the citizen scanned the event's poster
    offline = models.BooleanField(default=False)
