"""Event statistics: per event and overall (registered, attended, no-show rate, satisfaction)."""

from __future__ import annotations

import dataclasses
from typing import Any

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from civicpush.org.permissions import units_with
from civicpush.org.roles import Capability

from .models import Event, Registration, RegistrationStatus


@dataclasses.dataclass(frozen=True)
class EventStats:
    registered: int  # confirmed seats (incl. promoted from the waitlist)
    waitlisted: int
    cancelled: int
    attended: int  # checked in
    checked_out: int
    ended: bool

    @property
    def no_shows(self) -> int:
        return max(self.registered - self.attended, 0) if self.ended else 0

    @property
    def no_show_rate(self) -> float | None:
        return (self.no_shows / self.registered) if self.ended and self.registered else None


def stats_for(event: Event) -> EventStats:
    counts = Registration.objects.filter(event=event).aggregate(
        registered=Count("pk", filter=Q(status=RegistrationStatus.CONFIRMED)),
        waitlisted=Count("pk", filter=Q(status=RegistrationStatus.WAITLISTED)),
        cancelled=Count("pk", filter=Q(status=RegistrationStatus.CANCELLED)),
        attended=Count("pk", filter=Q(status=RegistrationStatus.CONFIRMED, checked_in_at__isnull=False)),
        checked_out=Count("pk", filter=Q(status=RegistrationStatus.CONFIRMED, checked_out_at__isnull=False)),
    )
    return EventStats(ended=event.ends_at <= timezone.now(), **counts)


def events_visible_to(user: Any) -> QuerySet[Event]:
    return Event.objects.filter(unit__in=units_with(user, Capability.VIEW_UNIT)).select_related("unit", "push")


def overall(events: QuerySet[Event]) -> dict[str, Any]:
    """Across events (seed 001 reports e.g. "200 events, 6,000 attendees")."""
    regs = Registration.objects.filter(event__in=events)
    ended = regs.filter(event__ends_at__lte=timezone.now(), status=RegistrationStatus.CONFIRMED)
    ended_registered = ended.count()
    ended_attended = ended.filter(checked_in_at__isnull=False).count()
    return {
        "events": events.count(),
        "registered": regs.filter(status=RegistrationStatus.CONFIRMED).count(),
        "attended": regs.filter(status=RegistrationStatus.CONFIRMED, checked_in_at__isnull=False).count(),
        "no_show_rate": ((ended_registered - ended_attended) / ended_registered) if ended_registered else None,
    }


def satisfaction_for(event: Event) -> float | None:
    """Share of 4–5 answers in the satisfaction questionnaire sent to the attendees' group, when the
    questionnaires app is installed and such a questionnaire exists."""
    try:
        from civicpush.surveys import selectors as survey_selectors  # type: ignore[import-not-found]
    except ImportError:
        return None
    finder = getattr(survey_selectors, "satisfaction_rate_for_group", None)
    if finder is None or event.attendees_group_id is None:
        return None
    result = finder(event.attendees_group_id)
    return float(result) if result is not None else None
