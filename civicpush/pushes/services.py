"""Every write to pushes: drafting, the sign-off chain, scheduling, cancelling, county slots and
policy, dispatching (freezing the audience), and citizens' reads and clicks.

Staff services check permissions first, validate everything before writing (a ValidationFailed
changes nothing), and append an audit entry in the same transaction.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable, Iterable
from typing import IO, Any

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from civicpush.citizens.models import Citizen
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from civicpush.org.models import Agency, County, RoleAssignment, Unit, UnitKind
from civicpush.org.permissions import has_capability, require, roles_on
from civicpush.org.roles import ROLE_CAPABILITIES, Capability, Role

from . import images, text, timeline
from .chains import approver_roles, assert_chain_complete, next_step, resolve_chain
from .models import (
    CANCELLABLE_STATUSES,
    EDITABLE_STATUSES,
    ApprovalChain,
    ChainScope,
    CountyPushPolicy,
    CountySlot,
    Decision,
    Dispatch,
    DispatchStatus,
    Push,
    PushApproval,
    PushClick,
    PushImage,
    PushRead,
    PushStatus,
    PushTargetGroup,
    ScheduleKind,
    SlotBooking,
    SlotStatus,
    TargetKind,
    Urgency,
)
from .scheduling import TAIPEI, effective_send_time, policy_for
from .validation import CONTENT_FIELDS, FieldErrors, clean_push_fields

MAX_IMAGES = 5
MAX_DAILY_DAYS = 92

# Other domains take part in a push's life without pushes importing them (surveys registers from its
# AppConfig.ready()). Hooks run inside the service's transaction after its own checks: "submit"
# gets (push, actor, errors) and adds field errors; "approved" (the final sign-off) and "cancelled"
# get (push, actor) and may raise a DomainError, which refuses the whole action.
PushHook = Callable[..., None]
_HOOKS: dict[str, list[PushHook]] = {"submit": [], "approved": [], "cancelled": []}


def register_hook(event: str, hook: PushHook) -> None:
    """Register `hook` for "submit", "approved" or "cancelled" (once; registering again is a no-op)."""
    if hook not in _HOOKS[event]:
        _HOOKS[event].append(hook)


def _run_hooks(event: str, *args: Any) -> None:
    for hook in _HOOKS[event]:
        hook(*args)


def _now(now: datetime.datetime | None) -> datetime.datetime:
    return now or timezone.now()


def _require_any(actor: Any, unit: Unit, *capabilities: Capability) -> None:
    if any(has_capability(actor, c, unit) for c in capabilities):
        return
    require(actor, capabilities[0], unit)  # raises NotFound or PermissionDenied


def _require_county(actor: Any, county: County, capability: Capability = Capability.CONFIGURE_COUNTY) -> None:
    roles = [r for r, caps in ROLE_CAPABILITIES.items() if capability in caps]
    held = RoleAssignment.objects.filter(
        user_id=getattr(actor, "pk", None), county=county, unit__isnull=True, agency__isnull=True, role__in=roles
    ).exists()
    if not (getattr(actor, "is_authenticated", False) and actor.is_active and held):
        raise PermissionDenied()


def _lock(push: Push) -> Push:
    return Push.objects.select_for_update().select_related("unit").get(pk=push.pk)


# --- drafting ------------------------------------------------------------------------------------


def _current_state(push: Push | None) -> dict[str, Any]:
    if push is None:
        return {"urgency": Urgency.NORMAL, "target_kind": TargetKind.GROUPS, "_group_ids": [], "_target_citizen": None}
    state = {f: getattr(push, f) for f in CONTENT_FIELDS}
    state["_group_ids"] = sorted(push.target_group_links.values_list("group_id", flat=True))
    state["_target_citizen"] = push.target_citizen
    return state


def _set_groups(push: Push, group_ids: list[int]) -> None:
    PushTargetGroup.objects.filter(push=push).exclude(group_id__in=group_ids).delete()
    existing = set(PushTargetGroup.objects.filter(push=push).values_list("group_id", flat=True))
    PushTargetGroup.objects.bulk_create(
        [PushTargetGroup(push=push, group_id=g) for g in group_ids if g not in existing]
    )


def _back_to_start(push: Push, actor: Any, now: datetime.datetime) -> dict[str, Any]:
    """A content edit: new revision, earlier approvals no longer count, schedule dropped, status draft."""
    previous = {"status": push.status, "revision": push.revision}
    timeline.bump_if_sent(push)  # a daily push already sent: its inbox entries show the edit
    PushApproval.objects.filter(push=push, is_current=True).update(is_current=False)
    Dispatch.objects.filter(push=push, status=DispatchStatus.PENDING).delete()
    SlotBooking.objects.filter(push=push, released_at__isnull=True).update(released_at=now)
    push.revision += 1
    push.status = PushStatus.DRAFT
    push.edited_by = actor
    push.chain_roles = []
    push.submitted_at = None
    push.submitted_by = None
    push.approved_at = None
    push.schedule_kind = ""
    push.send_at = None
    push.daily_time = None
    push.daily_until = None
    push.slot = None
    return previous


@transaction.atomic
def do_create_draft(actor: Any, unit: Unit, *, is_test: bool = False, **fields: Any) -> Push:
    """Create a draft push for `unit` (needs DRAFT_PUSH there). Fields as in CONTENT_FIELDS, plus
    `target_person` (mobile or national ID) and `target_group_ids`. `is_test` (pushes made with a
    test API key) marks a push that is never scheduled or sent."""
    require(actor, Capability.DRAFT_PUSH, unit)
    values, citizen, group_ids = clean_push_fields(unit, _current_state(None), fields)
    push = Push.objects.create(
        county_id=unit.county_id,
        unit=unit,
        created_by=actor,
        edited_by=actor,
        target_citizen=citizen,
        is_test=is_test,
        **values,
    )
    if group_ids:
        _set_groups(push, group_ids)
    log_action(
        "pushes.push.created",
        actor=actor,
        obj=push,
        unit_id=push.unit_id,
        after={**values, "target_group_ids": group_ids or []},
        data={"is_test": True} if is_test else None,
    )
    return push


@transaction.atomic
def do_update_draft(actor: Any, push: Push, **fields: Any) -> Push:
    """Edit a push's content. In any state before sending, an actual change bumps the revision,
    discards approvals (kept on record for the old revision) and sends it back to draft."""
    require(actor, Capability.DRAFT_PUSH, push.unit)
    push = _lock(push)
    if push.status not in EDITABLE_STATUSES:
        raise Conflict(_("This push can no longer be edited."), code="not_editable")
    before = _current_state(push)
    values, citizen, group_ids = clean_push_fields(push.unit, before, fields)
    changed = {k: val for k, val in values.items() if before.get(k) != val}
    groups_changed = group_ids is not None and group_ids != before["_group_ids"]
    citizen_changed = (citizen.pk if citizen else None) != push.target_citizen_id
    if not (changed or groups_changed or citizen_changed):
        return push
    now = timezone.now()
    previous = _back_to_start(push, actor, now)
    for k, val in values.items():
        setattr(push, k, val)
    push.target_citizen = citizen
    push.save()
    if group_ids is not None:
        _set_groups(push, group_ids)
    log_action(
        "pushes.push.edited",
        actor=actor,
        obj=push,
        unit_id=push.unit_id,
        before={k: before.get(k) for k in changed} | previous,
        after=changed | {"status": push.status, "revision": push.revision},
        data={"target_group_ids": group_ids} if groups_changed else None,
    )
    return push


@transaction.atomic
def do_add_image(actor: Any, push: Push, upload: IO[bytes] | bytes, *, alt_text: str = "") -> PushImage:
    """Attach an image (checked by content, re-encoded, thumbnailed). A content edit: see do_update_draft."""
    require(actor, Capability.DRAFT_PUSH, push.unit)
    push = _lock(push)
    if push.status not in EDITABLE_STATUSES:
        raise Conflict(_("This push can no longer be edited."), code="not_editable")
    if push.images.count() >= MAX_IMAGES:
        raise ValidationFailed(field_errors={"image": [_("A push has at most 5 images.")]})
    processed = images.process_image(upload)  # ValidationFailed before anything is written
    now = timezone.now()
    _back_to_start(push, actor, now)
    push.save()
    image = PushImage(
        push=push,
        content_type=processed.content_type,
        width=processed.width,
        height=processed.height,
        size_bytes=len(processed.content),
        order=push.images.count(),
        alt_text=text.normalise_text(alt_text)[:200],
    )
    image.image.save(images.new_name(processed.extension), ContentFile(processed.content), save=False)
    image.thumbnail.save(images.new_name(processed.extension, "-thumb"), ContentFile(processed.thumbnail), save=False)
    image.save()
    log_action(
        "pushes.push.image_added",
        actor=actor,
        obj=push,
        unit_id=push.unit_id,
        data={"image": image.pk, "revision": push.revision, "content_type": image.content_type},
    )
    return image


@transaction.atomic
def do_remove_image(actor: Any, image: PushImage) -> None:
    push = image.push
    require(actor, Capability.DRAFT_PUSH, push.unit)
    push = _lock(push)
    if push.status not in EDITABLE_STATUSES:
        raise Conflict(_("This push can no longer be edited."), code="not_editable")
    _back_to_start(push, actor, timezone.now())
    push.save()
    image_id = image.pk
    image.delete()
    log_action("pushes.push.image_removed", actor=actor, obj=push, unit_id=push.unit_id, data={"image": image_id})


# --- the sign-off chain --------------------------------------------------------------------------


@transaction.atomic
def do_submit(actor: Any, push: Push) -> Push:
    """Send a draft (or returned) push for approval; snapshots the chain its unit requires now."""
    require(actor, Capability.DRAFT_PUSH, push.unit)
    push = _lock(push)
    if push.status not in (PushStatus.DRAFT, PushStatus.RETURNED):
        raise Conflict(_("Only a draft can be submitted."), code="not_draft")
    errors = FieldErrors()
    if push.planned_date is None:
        errors.add("planned_date", _("Enter the planned date."))
    if push.target_kind == TargetKind.GROUPS and not push.target_group_links.exists():
        errors.add("target_group_ids", _("Choose at least one group."))
    if push.target_kind == TargetKind.PERSON and push.target_citizen_id is None:
        errors.add("target_person", _("Enter the citizen's mobile or ID number."))
    if push.target_kind == TargetKind.EVERYONE and push.unit.kind != UnitKind.BUSINESS:
        errors.add("target_kind", _("Staff units (幕僚單位) may push to groups only, not to everyone."))
    _run_hooks("submit", push, actor, errors)
    errors.raise_if_any()
    chain = resolve_chain(push.unit, push.target_kind)
    if len(chain) < 2:
        raise Conflict(_("No approval chain is configured for this push."), code="no_chain")
    # Any decision left from an earlier round of this revision no longer counts.
    PushApproval.objects.filter(push=push, is_current=True).update(is_current=False)
    now = timezone.now()
    push.chain_roles = chain
    push.status = PushStatus.SUBMITTED
    push.submitted_at = now
    push.submitted_by = actor
    push.save()
    log_action(
        "pushes.push.submitted",
        actor=actor,
        obj=push,
        unit_id=push.unit_id,
        data={"revision": push.revision, "chain": chain},
    )
    return push


@transaction.atomic
def do_decide(actor: Any, push: Push, decision: str, comment: str = "") -> PushApproval:
    """Record the current step's decision. The actor must hold that step's role on the push's unit
    and must not be its drafter (nor the last editor), even when holding the role."""
    require(actor, Capability.APPROVE_PUSH, push.unit)
    push = _lock(push)
    if decision not in Decision.values:
        raise ValidationFailed(field_errors={"decision": [_("Choose approve, return or reject.")]})
    comment = text.normalise_text(comment)
    if decision != Decision.APPROVED and not comment:
        raise ValidationFailed(field_errors={"comment": [_("Say why the push is returned or rejected.")]})
    if push.status != PushStatus.SUBMITTED:
        raise Conflict(_("This push is not awaiting approval."), code="not_submitted")
    if actor.pk in (push.created_by_id, push.edited_by_id):
        raise PermissionDenied(_("You cannot approve a push you drafted or edited."), code="own_push")
    step = next_step(push)
    if step is None:  # cannot happen for a submitted push; fail closed
        raise Conflict(_("This push is not awaiting approval."), code="not_submitted")
    role = push.chain_roles[step]
    if role not in roles_on(actor, push.unit):
        raise PermissionDenied(
            _("This step must be signed by: %(role)s.") % {"role": Role(role).label}, code="wrong_role"
        )
    if PushApproval.objects.filter(
        push=push, revision=push.revision, is_current=True, approver=actor, decision=Decision.APPROVED
    ).exists():
        raise PermissionDenied(_("You have already signed this push."), code="already_signed")
    now = timezone.now()
    try:
        with transaction.atomic():
            approval = PushApproval.objects.create(
                push=push,
                revision=push.revision,
                step=step,
                role=role,
                approver=actor,
                approver_name=str(actor)[:100],
                decision=decision,
                comment=comment,
                decided_at=now,
            )
    except IntegrityError as exc:
        raise Conflict(_("Someone else has just signed this step."), code="step_taken") from exc
    action = "pushes.push.step_approved"
    if decision == Decision.APPROVED and step == len(push.chain_roles) - 1:
        push.status = PushStatus.APPROVED
        push.approved_at = now
        action = "pushes.push.approved"
        _run_hooks("approved", push, actor)
    elif decision == Decision.RETURNED:
        push.status = PushStatus.RETURNED
        PushApproval.objects.filter(push=push, is_current=True).update(is_current=False)
        action = "pushes.push.returned"
    elif decision == Decision.REJECTED:
        push.status = PushStatus.REJECTED
        action = "pushes.push.rejected"
    push.save()
    log_action(
        action,
        actor=actor,
        obj=push,
        unit_id=push.unit_id,
        data={"revision": push.revision, "step": step, "role": role, "decision": decision, "comment": comment},
    )
    return approval


# --- scheduling and cancelling -------------------------------------------------------------------


def _dispatch_times(
    push: Push,
    kind: str,
    *,
    send_at: datetime.datetime | None,
    daily_time: datetime.time | None,
    daily_until: datetime.date | None,
    slot: CountySlot | None,
    now: datetime.datetime,
    policy: CountyPushPolicy,
) -> list[datetime.datetime]:
    errors = FieldErrors()
    wanted: list[datetime.datetime] = []
    if push.is_routine_promotion:
        # Seed 000 §6(1): routine promotion goes out in the county's unified schedule.
        if slot is None:
            errors.add("slot", _("Routine promotion must be booked into an approved county slot."))
        elif slot.county_id != push.county_id or slot.status != SlotStatus.APPROVED:
            errors.add("slot", _("This county slot is not approved."))
        elif slot.starts_at <= now:
            errors.add("slot", _("This county slot has already started."))
        else:
            wanted = [slot.starts_at]
        errors.raise_if_any()
        return wanted
    if slot is not None:
        errors.add("slot", _("Only routine promotion uses county slots."))
    if kind == ScheduleKind.NOW:
        wanted = [now]
    elif kind == ScheduleKind.AT:
        if send_at is None:
            errors.add("send_at", _("Enter when to send."))
        elif timezone.is_naive(send_at):
            errors.add("send_at", _("Enter a date and time."))
        elif send_at < now - datetime.timedelta(minutes=1):
            errors.add("send_at", _("The sending time has passed."))
        else:
            wanted = [max(send_at, now)]
    elif kind == ScheduleKind.DAILY:
        today = now.astimezone(TAIPEI).date()
        if daily_time is None:
            errors.add("daily_time", _("Enter the time of day."))
        if daily_until is None or daily_until < today:
            errors.add("daily_until", _("Enter the last day, today or later."))
        elif daily_until > today + datetime.timedelta(days=MAX_DAILY_DAYS):
            errors.add("daily_until", _("A daily push runs for at most 92 days."))
        if daily_time is not None and daily_until is not None and not errors.by_field:
            day = today
            while day <= daily_until:
                moment = datetime.datetime.combine(day, daily_time, tzinfo=TAIPEI)
                if moment >= now:
                    wanted.append(moment)
                day += datetime.timedelta(days=1)
            if not wanted:
                errors.add("daily_until", _("No sending time is left in this period."))
    else:
        errors.add("kind", _("Choose when to send."))
    errors.raise_if_any()
    times = sorted(
        {effective_send_time(w, ignores_quiet_hours=push.ignores_quiet_hours, policy=policy) for w in wanted}
    )
    if push.valid_to and times and times[-1] >= push.valid_to:
        raise ValidationFailed(field_errors={"send_at": [_("The push would go out after it stops being valid.")]})
    return times


@transaction.atomic
def do_schedule(
    actor: Any,
    push: Push,
    kind: str,
    send_at: datetime.datetime | None = None,
    daily_time: datetime.time | None = None,
    daily_until: datetime.date | None = None,
    slot: CountySlot | None = None,
    *,
    now: datetime.datetime | None = None,
) -> Push:
    """Schedule an approved push (or reschedule a scheduled one): now, at a time, daily, or in a
    county slot for routine promotion. Non-urgent pushes are held to the end of quiet hours."""
    _require_any(actor, push.unit, Capability.DRAFT_PUSH, Capability.APPROVE_PUSH)
    now = _now(now)
    push = _lock(push)
    if push.is_test:
        raise Conflict(_("This is a test push (made with a test API key): it is never sent to citizens."),
                       code="test_push")  # fmt: skip
    if push.status not in (PushStatus.APPROVED, PushStatus.SCHEDULED):
        raise Conflict(_("Only an approved push can be scheduled."), code="not_approved")
    assert_chain_complete(push)
    if push.status == PushStatus.SCHEDULED and push.dispatches.exclude(status=DispatchStatus.PENDING).exists():
        raise Conflict(_("This push has started sending; cancel it instead."), code="already_sending")
    if slot is not None:
        slot = CountySlot.objects.select_for_update().get(pk=slot.pk)
    policy = policy_for(push.county_id)
    if kind == ScheduleKind.DAILY and push.is_routine_promotion:
        raise ValidationFailed(field_errors={"kind": [_("Routine promotion goes out once, in a county slot.")]})
    times = _dispatch_times(
        push,
        kind if not push.is_routine_promotion else ScheduleKind.AT,
        send_at=send_at,
        daily_time=daily_time,
        daily_until=daily_until,
        slot=slot,
        now=now,
        policy=policy,
    )
    Dispatch.objects.filter(push=push, status=DispatchStatus.PENDING).delete()
    SlotBooking.objects.filter(push=push, released_at__isnull=True).exclude(slot=slot).update(released_at=now)
    if slot is not None and not SlotBooking.objects.filter(push=push, slot=slot, released_at__isnull=True).exists():
        taken = SlotBooking.objects.filter(slot=slot, released_at__isnull=True).count()
        if taken >= slot.capacity:
            raise ValidationFailed(field_errors={"slot": [_("This county slot is full.")]})
        SlotBooking.objects.create(slot=slot, push=push, booked_by=actor)
    Dispatch.objects.bulk_create(
        [Dispatch(push=push, county_id=push.county_id, target_kind=push.target_kind, scheduled_for=t) for t in times]
    )
    wanted_first = send_at if kind == ScheduleKind.AT else (slot.starts_at if slot else None)
    push.schedule_kind = kind if not push.is_routine_promotion else ScheduleKind.AT
    push.send_at = times[0]
    push.daily_time = daily_time if kind == ScheduleKind.DAILY else None
    push.daily_until = daily_until if kind == ScheduleKind.DAILY else None
    push.slot = slot
    push.status = PushStatus.SCHEDULED
    push.save()
    log_action(
        "pushes.push.scheduled",
        actor=actor,
        obj=push,
        unit_id=push.unit_id,
        data={
            "kind": push.schedule_kind,
            "send_at": times[0],
            "dispatches": len(times),
            "slot": slot.pk if slot else None,
            "held_for_quiet_hours": bool(wanted_first and times[0] != wanted_first)
            or (kind == ScheduleKind.NOW and times[0] != now),
        },
    )
    if times[0] <= now:
        push_id = push.pk
        if push.target_kind == TargetKind.PERSON:
            transaction.on_commit(lambda: _enqueue_personal(push_id))
        else:
            transaction.on_commit(_enqueue_bulk)
    return push


def _enqueue_personal(push_id: int) -> None:
    from .tasks import dispatch_push

    dispatch_push.delay(push_id)


def _enqueue_bulk() -> None:
    from .tasks import dispatch_due_pushes

    dispatch_due_pushes.delay()


@transaction.atomic
def do_cancel(actor: Any, push: Push, reason: str = "", *, now: datetime.datetime | None = None) -> Push:
    """Cancel a push before or while it is sent. Unfrozen dispatches are cancelled; a dispatch that
    is sending gets `cancel_requested_at` and stops at the next batch boundary (delivery checks
    `dispatching.should_stop`)."""
    _require_any(actor, push.unit, Capability.DRAFT_PUSH, Capability.APPROVE_PUSH, Capability.CONFIGURE_COUNTY)
    now = _now(now)
    push = _lock(push)
    if push.status not in CANCELLABLE_STATUSES:
        raise Conflict(_("This push can no longer be cancelled."), code="not_cancellable")
    cancelled = Dispatch.objects.filter(push=push, status=DispatchStatus.PENDING, frozen_at__isnull=True).update(
        status=DispatchStatus.CANCELLED, finished_at=now, note="cancelled"
    )
    stopping = Dispatch.objects.filter(push=push, status=DispatchStatus.DISPATCHING).update(cancel_requested_at=now)
    timeline.bump_if_sent(push)
    SlotBooking.objects.filter(push=push, released_at__isnull=True).update(released_at=now)
    previous = push.status
    _run_hooks("cancelled", push, actor)
    push.status = PushStatus.CANCELLED
    push.cancelled_at = now
    push.cancelled_by = actor
    push.save()
    log_action(
        "pushes.push.cancelled",
        actor=actor,
        obj=push,
        unit_id=push.unit_id,
        before={"status": previous},
        after={"status": push.status},
        data={
            "reason": text.normalise_text(reason),
            "dispatches_cancelled": cancelled,
            "dispatches_stopping": stopping,
        },
    )
    return push


# --- county slots, chains, policy ----------------------------------------------------------------


@transaction.atomic
def do_open_slot(actor: Any, county: County, starts_at: datetime.datetime, capacity: int, note: str = "") -> CountySlot:
    """The operator opens a county-wide slot for routine promotion (approved separately)."""
    _require_county(actor, county)
    errors = FieldErrors()
    if timezone.is_naive(starts_at) or starts_at <= timezone.now():
        errors.add("starts_at", _("Choose a time in the future."))
    if not isinstance(capacity, int) or capacity < 1 or capacity > 100:
        errors.add("capacity", _("Capacity is a number from 1 to 100."))
    errors.raise_if_any()
    slot = CountySlot.objects.create(
        county=county, starts_at=starts_at, capacity=capacity, note=text.normalise_text(note)[:200], opened_by=actor
    )
    log_action(
        "pushes.slot.opened",
        actor=actor,
        obj=slot,
        county_id=county.pk,
        after={"starts_at": starts_at, "capacity": capacity},
    )
    return slot


@transaction.atomic
def do_approve_slot(actor: Any, slot: CountySlot) -> CountySlot:
    _require_county(actor, slot.county)
    slot = CountySlot.objects.select_for_update().get(pk=slot.pk)
    if slot.status != SlotStatus.OPEN:
        raise Conflict(_("Only an open slot can be approved."), code="slot_not_open")
    slot.status = SlotStatus.APPROVED
    slot.approved_by = actor
    slot.approved_at = timezone.now()
    slot.save()
    log_action("pushes.slot.approved", actor=actor, obj=slot, county_id=slot.county_id)
    return slot


@transaction.atomic
def do_close_slot(actor: Any, slot: CountySlot) -> CountySlot:
    """No more bookings; pushes already booked keep their place."""
    _require_county(actor, slot.county)
    slot = CountySlot.objects.select_for_update().get(pk=slot.pk)
    slot.status = SlotStatus.CLOSED
    slot.save()
    log_action("pushes.slot.closed", actor=actor, obj=slot, county_id=slot.county_id)
    return slot


@transaction.atomic
def do_set_chain(
    actor: Any,
    county: County,
    *,
    applies_to: str,
    roles: Iterable[str],
    agency: Agency | None = None,
    unit: Unit | None = None,
) -> ApprovalChain:
    """Set the chain for the county default, an agency, or one unit (CONFIGURE_COUNTY).
    `roles` starts with "drafter"; every later role must be able to approve; no repeats."""
    _require_county(actor, county)
    roles = [str(r) for r in roles]
    errors = FieldErrors()
    if applies_to not in ChainScope.values:
        errors.add("applies_to", _("Choose which pushes this chain is for."))
    if not roles or roles[0] != Role.DRAFTER:
        errors.add("roles", _("A chain starts with the drafter."))
    allowed = set(approver_roles())
    if len(roles) < 2 or any(r not in allowed for r in roles[1:]):
        errors.add("roles", _("After the drafter, list at least one approving role, using approving roles only."))
    if len(set(roles)) != len(roles):
        errors.add("roles", _("A role may appear only once in a chain."))
    if unit is not None and unit.county_id != county.pk:
        raise NotFound()
    if agency is not None and agency.county_id != county.pk:
        raise NotFound()
    errors.raise_if_any()
    if unit is not None:
        agency = None
    chain = ApprovalChain.objects.filter(county=county, agency=agency, unit=unit, applies_to=applies_to).first()
    before = list(chain.roles) if chain else None
    if chain is None:
        chain = ApprovalChain(county=county, agency=agency, unit=unit, applies_to=applies_to)
    chain.roles = roles
    chain.updated_by = actor
    chain.save()
    log_action(
        "pushes.chain.set",
        actor=actor,
        obj=chain,
        unit_id=unit.pk if unit else None,
        county_id=county.pk,
        before={"roles": before} if before is not None else None,
        after={"roles": roles, "applies_to": applies_to, "agency": agency.pk if agency else None},
    )
    return chain


@transaction.atomic
def do_delete_chain(actor: Any, chain: ApprovalChain) -> None:
    """Remove a configured chain: resolution falls back to the next level."""
    _require_county(actor, chain.county)
    log_action(
        "pushes.chain.deleted", actor=actor, obj=chain, unit_id=chain.unit_id, county_id=chain.county_id,
        before={"roles": chain.roles, "applies_to": chain.applies_to},
    )  # fmt: skip
    chain.delete()


@transaction.atomic
def do_set_policy(
    actor: Any,
    county: County,
    *,
    quiet_start: datetime.time | None = None,
    quiet_end: datetime.time | None = None,
    daily_promotion_cap: int | None = None,
) -> CountyPushPolicy:
    """Change the county's quiet hours or the daily cap on promotional pushes (CONFIGURE_COUNTY)."""
    _require_county(actor, county)
    policy, _created = CountyPushPolicy.objects.select_for_update().get_or_create(county=county)
    before = {"quiet_start": policy.quiet_start, "quiet_end": policy.quiet_end, "cap": policy.daily_promotion_cap}
    if daily_promotion_cap is not None:
        if not isinstance(daily_promotion_cap, int) or not 0 <= daily_promotion_cap <= 50:
            raise ValidationFailed(field_errors={"daily_promotion_cap": [_("Enter a number from 0 to 50.")]})
        policy.daily_promotion_cap = daily_promotion_cap
    if quiet_start is not None:
        policy.quiet_start = quiet_start
    if quiet_end is not None:
        policy.quiet_end = quiet_end
    policy.updated_by = actor
    policy.save()
    after = {"quiet_start": policy.quiet_start, "quiet_end": policy.quiet_end, "cap": policy.daily_promotion_cap}
    log_action("pushes.policy.updated", actor=actor, obj=policy, county_id=county.pk, before=before, after=after)
    return policy


# --- citizens: reads and clicks ------------------------------------------------------------------


def do_record_read(citizen: Citizen, push: Push, *, now: datetime.datetime | None = None) -> bool:
    """Record the citizen's first open of a push they can see; True only for the call that created
    the row. Concurrent opens race on the UNIQUE (push, citizen) index: exactly one row results."""
    from .inbox import is_visible_to

    if not is_visible_to(citizen, push):
        raise NotFound()
    try:
        with transaction.atomic():
            PushRead.objects.create(push=push, citizen=citizen, read_at=_now(now))
    except IntegrityError:
        return False
    return True


def do_record_click(citizen: Citizen, push: Push, *, now: datetime.datetime | None = None) -> PushClick:
    """Record a click on the push's link (each click); a click also counts as a read."""
    from .inbox import is_visible_to

    if not is_visible_to(citizen, push):
        raise NotFound()
    now = _now(now)
    do_record_read(citizen, push, now=now)
    return PushClick.objects.create(push=push, citizen=citizen, clicked_at=now)
