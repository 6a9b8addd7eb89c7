"""The citizen's audience data for export and erasure (個資法): tags and group memberships."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from .models import CitizenTag, Group, GroupMembership


def export_audience_data(citizen: Any) -> dict[str, Any]:
    memberships = GroupMembership.objects.filter(citizen_id=citizen.pk).select_related("group").order_by("added_at")
    return {
        "tags": sorted(CitizenTag.objects.filter(citizen_id=citizen.pk).values_list("tag", flat=True)),
        "groups": [
            {
                "group": m.group.name,
                "added_at": m.added_at.isoformat(),
                "removed_at": m.removed_at.isoformat() if m.removed_at else None,
            }
            for m in memberships
        ],
    }


def erase_audience_data(citizen: Any) -> None:
    """Delete tags; close open memberships (closed rows stay: they record who a past push reached)."""
    CitizenTag.objects.filter(citizen_id=citizen.pk).delete()
    open_rows = GroupMembership.objects.filter(citizen_id=citizen.pk, removed_at__isnull=True)
    group_ids = list(open_rows.values_list("group_id", flat=True))
    open_rows.update(removed_at=timezone.now())
    for group_id in group_ids:  # keep the cached counts in step
        count = GroupMembership.objects.filter(group_id=group_id, removed_at__isnull=True).count()
        Group.objects.filter(pk=group_id).update(member_count=count)
