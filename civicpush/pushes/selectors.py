"""Staff reads of pushes, permission-aware: a push of a unit the user cannot see is NotFound."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch, QuerySet

from civicpush.core.errors import NotFound
from civicpush.org.models import County, Unit
from civicpush.org.permissions import has_capability, roles_on, units_with
from civicpush.org.roles import Capability, Role

from .chains import next_step, resolve_chain
from .models import ApprovalChain, CountySlot, Push, PushApproval, PushStatus, SlotBooking, SlotStatus


def pushes_visible_to(user: Any) -> QuerySet[Push]:
    """Pushes of every unit where `user` holds VIEW_UNIT."""
    return Push.objects.filter(unit__in=units_with(user, Capability.VIEW_UNIT)).select_related("unit", "created_by")


def get_push(user: Any, push_id: int) -> Push:
    """The push if `user` may see its unit; NotFound otherwise (also when it does not exist)."""
    push = Push.objects.select_related("unit", "unit__agency", "created_by").filter(pk=push_id).first()
    if push is None or not has_capability(user, Capability.VIEW_UNIT, push.unit):
        raise NotFound()
    return push


def pushes_of_unit(user: Any, unit: Unit, *, status: str | None = None) -> QuerySet[Push]:
    if not has_capability(user, Capability.VIEW_UNIT, unit):
        raise NotFound()
    qs = Push.objects.filter(unit=unit).select_related("created_by")
    return qs.filter(status=status) if status else qs


@dataclass(frozen=True)
class ChainStep:
    step: int
    role: str
    role_label: str
    approval: PushApproval | None  # the current approval of this step, if signed


def chain_progress(push: Push) -> list[ChainStep]:
    """The push's chain with who signed each step for the current revision (step 0 = the drafter).
    Before submission the chain shown is the one the push would get now."""
    roles = push.chain_roles or resolve_chain(push.unit, push.target_kind)
    current = {
        a.step: a
        for a in PushApproval.objects.filter(push=push, revision=push.revision, is_current=True, decision="approved")
    }
    return [
        ChainStep(step=i, role=r, role_label=str(Role(r).label) if r in Role.values else r, approval=current.get(i))
        for i, r in enumerate(roles)
    ]


def approval_history(push: Push) -> QuerySet[PushApproval]:
    """Every decision on every revision, oldest first (returned and superseded ones too)."""
    return PushApproval.objects.filter(push=push).select_related("approver").order_by("decided_at", "id")


def approval_queue(user: Any) -> list[Push]:
    """Submitted pushes whose current step's role `user` holds on the push's unit, except pushes
    they drafted or last edited (they may not approve those)."""
    units = units_with(user, Capability.APPROVE_PUSH)
    candidates = (
        Push.objects.filter(status=PushStatus.SUBMITTED, unit__in=units)
        .exclude(created_by=user)
        .exclude(edited_by=user)
        .select_related("unit", "created_by")
        .prefetch_related(
            Prefetch("approvals", queryset=PushApproval.objects.filter(is_current=True), to_attr="_current")
        )
        .order_by("submitted_at", "id")
    )
    out: list[Push] = []
    for push in candidates:
        approvals = [a for a in push._current if a.revision == push.revision]  # type: ignore[attr-defined]
        step = next_step(push, approvals)
        if step is None:
            continue
        if any(a.approver_id == user.pk and a.decision == "approved" for a in approvals):
            continue
        if push.chain_roles[step] in roles_on(user, push.unit):
            out.append(push)
    return out


def chains_of_county(county: County) -> QuerySet[ApprovalChain]:
    return (
        ApprovalChain.objects.filter(county=county)
        .select_related("agency", "unit")
        .order_by("agency_id", "unit_id", "applies_to")
    )


def bookable_slots(county: County) -> list[tuple[CountySlot, int]]:
    """Approved future slots with their free places (for the schedule form)."""
    from django.utils import timezone

    slots = CountySlot.objects.filter(county=county, status=SlotStatus.APPROVED, starts_at__gt=timezone.now())
    out = []
    for slot in slots:
        taken = SlotBooking.objects.filter(slot=slot, released_at__isnull=True).count()
        out.append((slot, max(0, slot.capacity - taken)))
    return out
