"""Periodic ledger work: the nightly expiry sweep and the expiry of open holds. Thin: calls ledger."""

from __future__ import annotations

from celery import shared_task

from . import ledger


@shared_task(name="civicpush.default.expire_period_coins", acks_late=True, max_retries=0)
def expire_period_coins() -> int:
    """Move the coins of periods whose expiry has passed to each county's expired account."""
    return ledger.expire_period_coins()


@shared_task(name="civicpush.default.expire_holds", acks_late=True, max_retries=0)
def expire_holds() -> int:
    """Void holds whose expiry time has passed, releasing the reserved coins."""
    return ledger.expire_holds()
