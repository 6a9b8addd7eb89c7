"""Fan-out tasks. Broadcasts run as `civicpush.bulk.*` (the bulk queue), person-targeted pushes as
`civicpush.personal.*` (the personal queue), so a notice never waits behind a broadcast's batches
(CELERY_TASK_ROUTES routes by name prefix). Every task is idempotent: batches are leased, outcomes
claimed under a unique constraint (see fanout.py), so a redelivered or duplicated message is harmless.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from . import fanout


def _enqueue_batches(batch_ids: list[int], kind: str) -> None:
    task = run_personal_batch if kind == "personal" else run_bulk_batch
    for batch_id in batch_ids:
        task.delay(batch_id)


def _plan(dispatch_id: int, kind: str) -> int:
    batch_ids = fanout.plan_fanout(dispatch_id)
    if kind == "personal" and len(batch_ids) == 1:
        fanout.run_batch(batch_ids[0])  # one citizen: no second hop through the broker
    else:
        _enqueue_batches(batch_ids, kind)
    return len(batch_ids)


@shared_task(name="civicpush.bulk.plan_fanout", acks_late=True, max_retries=0)
def plan_bulk_fanout(dispatch_id: int) -> int:
    return _plan(dispatch_id, "bulk")


@shared_task(name="civicpush.personal.plan_fanout", acks_late=True, max_retries=0)
def plan_personal_fanout(dispatch_id: int) -> int:
    return _plan(dispatch_id, "personal")


@shared_task(name="civicpush.bulk.run_batch", acks_late=True, max_retries=0)
def run_bulk_batch(batch_id: int) -> int:
    return fanout.run_batch(batch_id).delivered


@shared_task(name="civicpush.personal.run_batch", acks_late=True, max_retries=0)
def run_personal_batch(batch_id: int) -> int:
    return fanout.run_batch(batch_id).delivered


@shared_task(name="civicpush.bulk.resume_fanouts", acks_late=True, max_retries=0)
def resume_fanouts() -> int:
    """Hand out again the batches of workers that died (beat, and once when a worker starts)."""
    stalled = fanout.stalled_batches()
    for batch_id, kind in stalled:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            fanout.run_batch(batch_id)
        else:
            _enqueue_batches([batch_id], kind)
    return len(stalled)


def start_fanout(dispatch_id: int, personal: bool) -> None:
    (plan_personal_fanout if personal else plan_bulk_fanout).delay(dispatch_id)
