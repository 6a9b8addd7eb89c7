"""Event tasks (beat): reminders every five minutes, closing ended events (attendance coins)."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="civicpush.personal.send_event_reminders", acks_late=True, max_retries=0)
def send_event_reminders() -> int:
    return services.send_reminders()


@shared_task(name="civicpush.bulk.close_ended_events", acks_late=True, max_retries=0)
def close_ended_events() -> int:
    return services.close_ended_events()
