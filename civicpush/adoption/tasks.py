"""Adoption tasks: thin wrappers."""

from __future__ import annotations

from celery import shared_task

from . import staff_groups


@shared_task(name="civicpush.default.refresh_staff_groups", acks_late=True, max_retries=0)
def refresh_staff_groups() -> int:
    """Make this month's version of each shared all-staff group (beat: daily; a month's version is
    made once, so daily runs only catch the first day of a new month)."""
    return staff_groups.refresh_all()
