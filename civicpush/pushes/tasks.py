"""Push tasks: thin wrappers over services. Broadcasts go on the bulk queue; personal notices on the
personal queue so they never wait behind a broadcast (CELERY_TASK_ROUTES by name prefix)."""

from __future__ import annotations

from celery import shared_task

from . import dispatching


@shared_task(name="civicpush.bulk.dispatch_due_pushes", acks_late=True, max_retries=0)
def dispatch_due_pushes() -> int:
    """Freeze every due dispatch (beat runs this every 30 s). Idempotent: a dispatch is taken under
    a row lock and only while pending. A failure leaves the rest pending for the next run."""
    return len(dispatching.dispatch_due())


@shared_task(
    name="civicpush.personal.dispatch_push",
    acks_late=True,
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    max_retries=5,
)
def dispatch_push(push_id: int) -> int:
    """Freeze the due dispatches of one push at once (personal notices)."""
    return len(dispatching.dispatch_push_now(push_id))
