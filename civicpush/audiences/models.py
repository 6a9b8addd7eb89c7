"""Groups (群組): a unit's audiences. Static groups list members; dynamic groups are segments
(filters over citizen profiles) whose membership is materialised when a push freezes its audience.

Membership is temporal (added_at/removed_at), so "who was in the group when push P froze" is a
query, not a copy: pushes never write one row per citizen per broadcast.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from civicpush.citizens.models import Citizen
from civicpush.org.models import County, Unit


class GroupKind(models.TextChoices):
    STATIC = "static", _("Static (member list)")
    DYNAMIC = "dynamic", _("Dynamic (filters)")


class Group(models.Model):
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="groups")
    name = models.CharField(_("name"), max_length=100)
    description = models.CharField(_("description"), max_length=300, blank=True)
    kind = models.CharField(_("kind"), max_length=16, choices=GroupKind.choices)
    # Dynamic groups: {"townships": [ids], "villages": [ids], "age_min": int, "age_max": int,
    # "genders": [...], "topics": [ints], "residency": [...], "tags": [...], "has_app": bool, ...}
    filters = models.JSONField(_("filters"), default=dict, blank=True)
    shared_with_agency = models.BooleanField(_("shared with the whole agency"), default=False)
    shared_units = models.ManyToManyField(Unit, through="GroupShare", related_name="groups_shared_with", blank=True)
    # A new version of a group retires the old one (seed 000 §4: 消防局局本部0820 replaces 0720).
    replaces = models.OneToOneField("self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by")
    retired_at = models.DateTimeField(null=True, blank=True)
    member_count = models.PositiveIntegerField(default=0)  # cached; exact for static, last refresh for dynamic
    members_refreshed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["unit", "retired_at"])]
        verbose_name = _("group")
        verbose_name_plural = _("groups")

    def __str__(self) -> str:
        return self.name

    @property
    def is_active(self) -> bool:
        return self.retired_at is None


class GroupShare(models.Model):
    """Read-only sharing of a group with another unit."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="shares")
    unit = models.ForeignKey(Unit, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["group", "unit"], name="audiences_share_unique")]


class GroupMembership(models.Model):
    """A citizen's membership of a group over time. At most one open row (removed_at IS NULL) per pair.

    Member at time T  ⇔  added_at <= T AND (removed_at IS NULL OR removed_at > T).
    """

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="group_memberships")
    added_at = models.DateTimeField()
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["group", "citizen"],
                condition=models.Q(removed_at__isnull=True),
                name="audiences_one_open_membership",
            )
        ]
        indexes = [
            models.Index(fields=["citizen", "group"], name="audiences_member_citizen_idx"),
            models.Index(fields=["group", "removed_at"], name="audiences_member_group_idx"),
        ]


class CitizenTag(models.Model):
    """A free tag on a citizen (e.g. a tribe 部落, 義消), set by staff or imports; used by dynamic groups."""

    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="tags")
    tag = models.CharField(max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["citizen", "tag"], name="audiences_tag_unique")]
        indexes = [models.Index(fields=["tag"])]
