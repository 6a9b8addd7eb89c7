"""Bonus hooks: the citizens app does not know about coins, so the wallet listens for its rows.

The bonuses are issued after the sign-up or profile transaction commits, so that a refused issue
(budget used up, past its deadline) never undoes a sign-up; they are idempotent by key.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from civicpush.citizens.models import Citizen, CitizenProfile
from civicpush.core.errors import DomainError

logger = logging.getLogger(__name__)


def _safely(grant: Any, citizen_id: int) -> None:
    citizen = Citizen.objects.filter(pk=citizen_id).first()
    if citizen is None:
        return
    try:
        grant(citizen)
    except DomainError as exc:
        logger.warning("wallet bonus %s for citizen %s not issued: %s", grant.__name__, citizen_id, exc.code)


@receiver(post_save, sender=Citizen, dispatch_uid="wallet.sign_up_bonus")
def sign_up_bonus(sender: Any, instance: Citizen, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if not created or raw:
        return
    from .earning import grant_sign_up_bonus

    transaction.on_commit(lambda: _safely(grant_sign_up_bonus, instance.pk))


@receiver(post_save, sender=CitizenProfile, dispatch_uid="wallet.profile_bonus")
def profile_bonus(sender: Any, instance: CitizenProfile, raw: bool = False, **kwargs: Any) -> None:
    if raw:
        return
    from .earning import grant_profile_completion_bonus, profile_is_complete

    if profile_is_complete(instance):
        transaction.on_commit(lambda: _safely(grant_profile_completion_bonus, instance.citizen_id))
