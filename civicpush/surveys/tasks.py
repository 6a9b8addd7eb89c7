"""Questionnaire jobs (thin: they call the services)."""

from __future__ import annotations

import datetime

from celery import shared_task


@shared_task(name="civicpush.default.close_due_surveys", acks_late=True, max_retries=0)
def close_due_surveys(now: str | None = None) -> int:
    """Close questionnaires past their closing time and return their unused coins. Idempotent."""
    from .services import close_due_surveys as close

    return close(datetime.datetime.fromisoformat(now) if now else None)


@shared_task(name="civicpush.personal.survey_reward_notice", acks_late=True, max_retries=3, default_retry_delay=30)
def send_reward_notice(participation_id: int) -> None:
    """The inbox notice "you received N coins" (idempotent per questionnaire and citizen)."""
    from .services import send_reward_notice as send

    send(participation_id)
