"""The dispatch pipeline (system writes): freeze due dispatches, re-checking invariant 1 first.

Run by the `civicpush.bulk.dispatch_due_pushes` beat task and, for personal notices, by
`civicpush.personal.dispatch_push`. The delivery fan-out connects to `dispatch_frozen`.
"""

from __future__ import annotations

import datetime

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from civicpush.audiences import selectors as audience_selectors
from civicpush.audiences import services as audience_services
from civicpush.audiences.models import Group
from civicpush.citizens.models import Citizen, CitizenStatus
from civicpush.core.audit import log_action

from . import timeline
from .chains import ChainIncomplete, assert_chain_complete
from .models import (
    Dispatch,
    DispatchStatus,
    Push,
    PushStatus,
    TargetKind,
)

# Sent (on commit) after a dispatch froze its audience: the delivery app connects its device
# fan-out here. Arguments: dispatch_id, push_id.
dispatch_frozen = Signal()


def should_stop(dispatch_id: int) -> bool:
    """For the delivery fan-out, between batches: has a cancel been requested for this dispatch?"""
    return Dispatch.objects.filter(pk=dispatch_id, cancel_requested_at__isnull=False).exists()


@transaction.atomic
def mark_dispatch_stopped(dispatch_id: int, *, now: datetime.datetime | None = None) -> None:
    """Called by the delivery fan-out when it honours a cancel at a batch boundary."""
    stopped = Dispatch.objects.filter(pk=dispatch_id, status=DispatchStatus.DISPATCHING)
    county_id = stopped.values_list("county_id", flat=True).first()
    if (
        stopped.update(
            status=DispatchStatus.STOPPED, finished_at=(now or timezone.now()), note="stopped at a batch boundary"
        )
        and county_id is not None
    ):
        timeline.bump(county_id)  # it leaves the inbox


def _audience_size(push: Push, frozen_at: datetime.datetime) -> int:
    if push.target_kind == TargetKind.PERSON:
        if push.target_citizen_id is None:
            return 0
        return int(Citizen.objects.filter(pk=push.target_citizen_id, status=CitizenStatus.ACTIVE).exists())
    if push.target_kind == TargetKind.EVERYONE:
        return Citizen.objects.filter(
            county_id=push.county_id, status=CitizenStatus.ACTIVE, created_at__lte=frozen_at
        ).count()
    group_ids = sorted(push.target_group_links.values_list("group_id", flat=True))
    for group in Group.objects.filter(pk__in=group_ids).order_by("pk"):  # lock order: group id
        audience_services.freeze_group_membership(group, frozen_at)
    return audience_selectors.members_at(group_ids, frozen_at).count()


def dispatch_one(dispatch_id: int, *, now: datetime.datetime | None = None) -> str:
    """Freeze one due dispatch. Re-checks invariant 1 (status and complete chain) at this moment;
    a dispatch that fails it is marked blocked and nothing goes out. Returns the dispatch status
    (DISPATCHING once frozen: the delivery fan-out takes it from there)."""
    now = now or timezone.now()
    with transaction.atomic():
        d = Dispatch.objects.select_for_update().filter(pk=dispatch_id).first()
        if d is None or d.status != DispatchStatus.PENDING:
            return d.status if d else "missing"
        push = Push.objects.select_for_update().select_related("unit").get(pk=d.push_id)
        refusal = None
        try:
            if push.status not in (PushStatus.APPROVED, PushStatus.SCHEDULED, PushStatus.DISPATCHING):
                raise ChainIncomplete()
            assert_chain_complete(push)
        except ChainIncomplete:
            refusal = f"refused: push status {push.status}, approvals incomplete or not current"
        if push.is_test:  # made with a test API key: never reaches citizens, whatever its approvals
            refusal = "refused: a test push (test API key) is never sent"
        if refusal is not None:
            d.status = DispatchStatus.BLOCKED
            d.finished_at = now
            d.note = refusal
            d.save()
            log_action(
                "pushes.dispatch.blocked",
                actor="system",
                obj=push,
                unit_id=push.unit_id,
                data={"dispatch": d.pk, "status": push.status, "revision": push.revision, "is_test": push.is_test},
            )
            return d.status
        d.frozen_at = now
        d.audience_size = _audience_size(push, now)
        # The inbox shows it from here on; the delivery fan-out (connected to `dispatch_frozen`, on
        # commit) moves devices and marks it SENT when done (STOPPED when cancelled mid-send).
        d.status = DispatchStatus.DISPATCHING
        d.finished_at = None
        d.save()
        timeline.bump(d.county_id)  # every web process picks the new dispatch up on its next read
        push.audience_size = d.audience_size
        push.first_sent_at = push.first_sent_at or now
        more = Dispatch.objects.filter(push=push, status=DispatchStatus.PENDING).exists()
        push.status = PushStatus.SCHEDULED if more else PushStatus.SENT
        push.save()
        log_action(
            "pushes.push.dispatched",
            actor="system",
            obj=push,
            unit_id=push.unit_id,
            data={"dispatch": d.pk, "frozen_at": now, "audience_size": d.audience_size},
        )
        push_id = push.pk
        transaction.on_commit(lambda: dispatch_frozen.send(sender=Dispatch, dispatch_id=dispatch_id, push_id=push_id))
    return DispatchStatus.DISPATCHING


FROZEN = (DispatchStatus.DISPATCHING, DispatchStatus.SENT)


def dispatch_due(now: datetime.datetime | None = None, *, limit: int = 500) -> list[int]:
    """Freeze every dispatch whose time has come (oldest first); returns the ids that were sent."""
    now = now or timezone.now()
    due = list(
        Dispatch.objects.filter(status=DispatchStatus.PENDING, scheduled_for__lte=now)
        .order_by("scheduled_for", "id")
        .values_list("pk", flat=True)[:limit]
    )
    return [d for d in due if dispatch_one(d, now=now) in FROZEN]


def dispatch_push_now(push_id: int, *, now: datetime.datetime | None = None) -> list[int]:
    """Freeze a push's due dispatches (the personal queue's path, so notices never wait)."""
    now = now or timezone.now()
    due = list(
        Dispatch.objects.filter(push_id=push_id, status=DispatchStatus.PENDING, scheduled_for__lte=now).values_list(
            "pk", flat=True
        )
    )
    return [d for d in due if dispatch_one(d, now=now) in FROZEN]
