"""What the push detail page shows and which actions it offers (the services still decide)."""

from __future__ import annotations

import datetime
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.audiences.models import Group
from civicpush.console.push_forms import SLOT, CancelForm, DecisionForm, ScheduleForm
from civicpush.delivery.selectors import FanoutProgress, format_duration, push_fanout_progress
from civicpush.org.permissions import has_capability
from civicpush.org.roles import Capability, Role
from civicpush.pushes import selectors
from civicpush.pushes.models import (
    CANCELLABLE_STATUSES,
    EDITABLE_STATUSES,
    DispatchStatus,
    Push,
    PushStatus,
    ScheduleKind,
    TargetKind,
)
from civicpush.pushes.scheduling import TAIPEI, effective_send_time, policy_for


def slot_choices(push: Push) -> list[tuple[int, str]]:
    out = []
    for slot, free in selectors.bookable_slots(push.unit.county):
        local = timezone.localtime(slot.starts_at, TAIPEI)
        label = _("%(time)s · %(free)s of %(capacity)s places free") % {
            "time": local.strftime("%Y-%m-%d %H:%M"),
            "free": free,
            "capacity": slot.capacity,
        }
        if slot.note:
            label = f"{label} · {slot.note}"
        out.append((slot.pk, label))
    return out


def can_decide(user: Any, push: Push) -> bool:
    """The user may sign the current step (never true for the drafter or the last editor)."""
    if push.status != PushStatus.SUBMITTED:
        return False
    return any(p.pk == push.pk for p in selectors.approval_queue(user))


def can_schedule(user: Any, push: Push) -> bool:
    if push.status not in (PushStatus.APPROVED, PushStatus.SCHEDULED):
        return False
    if push.dispatches.exclude(status=DispatchStatus.PENDING).exists():
        return False
    return has_capability(user, Capability.DRAFT_PUSH, push.unit) or has_capability(
        user, Capability.APPROVE_PUSH, push.unit
    )


def can_cancel(user: Any, push: Push) -> bool:
    return push.status in CANCELLABLE_STATUSES and any(
        has_capability(user, c, push.unit)
        for c in (Capability.DRAFT_PUSH, Capability.APPROVE_PUSH, Capability.CONFIGURE_COUNTY)
    )


def quiet_hours_text(push: Push) -> str:
    policy = policy_for(push.county_id)
    if policy.quiet_start == policy.quiet_end:
        return _("This county has no quiet hours.")
    return _("Quiet hours: %(start)s–%(end)s (Taiwan time).") % {
        "start": policy.quiet_start.strftime("%H:%M"),
        "end": policy.quiet_end.strftime("%H:%M"),
    }


def now_would_send_at(push: Push) -> datetime.datetime:
    """When "send now" would actually go out, after quiet hours (urgent pushes and personal notices ignore them)."""
    return effective_send_time(
        timezone.now(), ignores_quiet_hours=push.ignores_quiet_hours, policy=policy_for(push.county_id)
    )


def _history(push: Push) -> list[Any]:
    out = list(selectors.approval_history(push))
    for a in out:
        a.role_label = str(Role(a.role).label) if a.role in Role.values else a.role  # type: ignore[attr-defined]
    return out


def detail_context(request: HttpRequest, push: Push, **extra: Any) -> dict[str, Any]:
    from .pushes import audience_estimate

    user = request.user
    group_ids = list(push.target_group_links.values_list("group_id", flat=True))
    groups = list(Group.objects.filter(pk__in=group_ids).select_related("unit").order_by("name"))
    estimate = audience_estimate(push.unit, push.target_kind, group_ids, bool(push.target_citizen_id))
    may_draft = has_capability(user, Capability.DRAFT_PUSH, push.unit)
    schedulable = can_schedule(user, push)
    initial_kind = SLOT if push.is_routine_promotion else ScheduleKind.NOW
    ctx: dict[str, Any] = {
        "push": push,
        "images": list(push.images.all()),
        "groups": groups,
        "estimate": estimate,
        "steps": selectors.chain_progress(push),
        "history": _history(push),
        "dispatches": list(push.dispatches.all()),
        "can_edit": may_draft and push.status in EDITABLE_STATUSES,
        "can_submit": may_draft and push.status in (PushStatus.DRAFT, PushStatus.RETURNED),
        "can_decide": can_decide(user, push),
        "can_schedule": schedulable,
        "can_cancel": can_cancel(user, push),
        "decision_form": DecisionForm(),
        "schedule_form": ScheduleForm(initial={"kind": initial_kind}, slot_choices=slot_choices(push))
        if schedulable
        else None,
        "cancel_form": CancelForm(),
        "quiet_hours": quiet_hours_text(push),
        "now_would_send_at": now_would_send_at(push) if schedulable else None,
        "is_personal": push.target_kind == TargetKind.PERSON,
        "was_sent": push.first_sent_at is not None,
        **progress_context(push, user),
    }
    ctx.update(extra)
    return ctx


PROGRESS_POLL_SECONDS = 2


def progress_context(push: Push, user: Any) -> dict[str, Any]:
    """The delivery progress bar (issue 4): the running fan-out of the push, else the last one. The
    fragment polls itself (htmx, every PROGRESS_POLL_SECONDS) while the fan-out runs or is about to."""
    progress: FanoutProgress | None = push_fanout_progress(push)
    starting = (progress is None or not progress.running) and push.dispatches.filter(
        status=DispatchStatus.DISPATCHING, fanout__isnull=True
    ).exists()
    return {
        "progress": progress,
        "progress_starting": starting,
        "progress_polling": starting or bool(progress and progress.running),
        "progress_can_cancel": can_cancel(user, push),
        "progress_eta": format_duration(progress.eta_seconds) if progress else "",
        "progress_elapsed": format_duration(progress.elapsed_seconds) if progress else "",
        "progress_poll_seconds": PROGRESS_POLL_SECONDS,
        # Grouped by thousands in every language (zh-Hant's number format has no grouping).
        "progress_numbers": {name: f"{getattr(progress, name):,}" for name in ("sent", "failed", "remaining", "total")}
        if progress
        else {},
    }
