"""The "attended_event" dynamic-group filter: citizens who checked in at any of the given events."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from civicpush.audiences.segments import register_filter
from civicpush.citizens.models import CitizenProfile
from civicpush.core.errors import ValidationFailed

from .models import Registration


def validate_event_ids(value: Any) -> list[int]:
    if (
        not isinstance(value, list)
        or not value
        or len(value) > 50
        or not all(isinstance(v, int) and v > 0 for v in value)
    ):
        message = _("Choose one or more events.")
        raise ValidationFailed(message, field_errors={"attended_event": [message]})
    return sorted(set(value))


def apply_attended_event(qs: QuerySet[CitizenProfile], event_ids: list[int]) -> QuerySet[CitizenProfile]:
    attended = Registration.objects.filter(event_id__in=event_ids, checked_in_at__isnull=False).values("citizen_id")
    return qs.filter(citizen_id__in=attended)


register_filter("attended_event", apply_attended_event, validate_event_ids)
