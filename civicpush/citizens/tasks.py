"""Citizen tasks. SMS goes on the personal queue (the `civicpush.personal.` prefix routes it there)."""

from __future__ import annotations

import logging

from celery import shared_task

from .sms import get_sms_backend

logger = logging.getLogger(__name__)


@shared_task(
    name="civicpush.personal.send_sms",
    autoretry_for=(ConnectionError, TimeoutError),
    retry_backoff=True,
    retry_jitter=True,
    max_retries=5,
)
def send_sms(to: str, body: str) -> None:
    """Send one SMS through the configured backend; network errors retry, then the task fails for good."""
    get_sms_backend().send(to, body)
