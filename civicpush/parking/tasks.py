"""Periodic parking work (thin: ids in, calls `runs`). Each task runs hourly; the daily jobs inside
record their (county, day) and happen once a day, after the operator's maintenance window."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from civicpush.org.models import County

from . import payments, runs


@shared_task(name="civicpush.default.parking_sync_bills", acks_late=True, max_retries=0)
def parking_sync_bills() -> dict[int, Any]:
    """Fetch the bills of every verified plate and remind owners of new unpaid bills."""
    return {c.pk: runs.sync_and_remind(c) for c in County.objects.order_by("pk")}


@shared_task(name="civicpush.default.parking_settle_unknown", acks_late=True, max_retries=0)
def parking_settle_unknown() -> dict[str, int]:
    """Ask the operator about payments whose answer was lost (timeouts); post or void their holds."""
    return payments.settle_unknown_payments()


@shared_task(name="civicpush.default.parking_daily", acks_late=True, max_retries=0)
def parking_daily() -> dict[int, Any]:
    """The daily auto-deduct run and the double-payment reconciliation (once per county and day)."""
    out: dict[int, Any] = {}
    for county in County.objects.order_by("pk"):
        out[county.pk] = {
            "reconcile": runs.run_reconciliation(county),
            "auto_deduct": runs.run_auto_deduct(county),
        }
    return out
