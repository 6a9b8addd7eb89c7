"""Periodic wallet and budget jobs (thin: they call the services). Schedules: see the report/README
(settings.CELERY_BEAT_SCHEDULE is not this app's file)."""

from __future__ import annotations

import datetime

from celery import shared_task


@shared_task(name="civicpush.default.release_unreconciled_budgets", acks_late=True, max_retries=0)
def release_unreconciled_budgets(today: str | None = None) -> int:
    """Release (解除控留) every reserved budget whose last issue day has passed. Idempotent."""
    from .budgets import release_unreconciled_budgets as release

    return release(datetime.date.fromisoformat(today) if today else None)


@shared_task(name="civicpush.default.notify_upcoming_expiry", acks_late=True, max_retries=0)
def notify_upcoming_expiry(today: str | None = None) -> int:
    """Record a wallet notice for each citizen holding coins that expire within 30 days. Idempotent."""
    from .services import notify_upcoming_expiry as notify

    return notify(datetime.date.fromisoformat(today) if today else None)
