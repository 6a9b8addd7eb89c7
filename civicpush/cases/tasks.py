"""Case tasks: thin wrappers (ids in, services called)."""

from __future__ import annotations

from celery import shared_task

from . import callbacks, services


@shared_task(name="civicpush.default.declare_overdue_cases", acks_late=True, max_retries=0)
def declare_overdue_cases() -> int:
    """Send the platform's overdue notice for every open case past its standard time (beat: every
    10 minutes). Idempotent per case."""
    return services.run_overdue_sweep()


@shared_task(name="civicpush.default.send_case_callback", acks_late=True, max_retries=0)
def send_case_callback(callback_id: int) -> str:
    """One delivery attempt of a status callback; retries are scheduled in the row, not by Celery,
    so a worker restart loses nothing (retry_case_callbacks picks them up)."""
    return callbacks.attempt(callback_id)


@shared_task(name="civicpush.default.retry_case_callbacks", acks_late=True, max_retries=0)
def retry_case_callbacks() -> int:
    """Attempt every pending callback whose next attempt is due (beat: every minute)."""
    ids = callbacks.due_callbacks()
    for callback_id in ids:
        callbacks.attempt(callback_id)
    return len(ids)
