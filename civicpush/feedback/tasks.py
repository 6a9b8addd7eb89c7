"""Feedback tasks: thin wrappers."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="civicpush.default.flag_late_feedback", acks_late=True, max_retries=0)
def flag_late_feedback() -> int:
    """Flag feedback not acknowledged within its deadline (beat: hourly; once per feedback)."""
    return services.flag_late_acknowledgements()
