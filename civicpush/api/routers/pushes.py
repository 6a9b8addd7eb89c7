"""Push endpoints: draft, edit, submit, schedule, read status and statistics, list; personal notices.

The rules are the console's, because both call the same services (civicpush.pushes.services):
- Unit kind: staff units (幕僚單位) may not target everyone (400, `errors.target_kind`).
- Isolation: a push of a unit the caller cannot see is 404, as if it did not exist.
- Sign-off: nothing is sent before every step of its chain is signed, never by its drafter.
  API keys cannot sign at all: a key acts as its unit's drafter (see civicpush.api.actors), so its
  audit entries and the push's drafter name the key (`api-key:cpk_live_…`).
- Test keys (`cpk_test_…`): a push they create is marked `is_test`. It can be drafted, edited,
  submitted and signed like any other, but it is never scheduled (409 `test_push`) and never
  dispatched (the dispatcher blocks it), so it never reaches a citizen.
- Personal notices (`POST /notices`) go through the unit's chain for personal pushes like any push:
  the call drafts and submits; the response's `remaining_roles` and `next_action` say what is left.
  A chain always has at least one approver (chains module), so a notice is never sent on submission;
  once approved, `POST /pushes/{id}/schedule` sends it (personal notices skip quiet hours).
"""

from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import Query, Router, Schema
from ninja.responses import Status

from civicpush.core.errors import NotFound, ValidationFailed
from civicpush.org.models import Unit
from civicpush.org.roles import Capability, Role
from civicpush.pushes import services
from civicpush.pushes.models import Push, PushStatus, PushType, TargetKind
from civicpush.pushes.scheduling import TAIPEI
from civicpush.pushes.selectors import chain_progress, pushes_visible_to
from civicpush.pushes.stats import push_stats, reads_per_hour

from ..actors import service_actor
from ..auth import ApiPrincipal, principal_of
from ..problems import problem_responses
from .push_schemas import (
    ChainStepOut,
    DispatchOut,
    NoticeIn,
    PushCreateIn,
    PushListOut,
    PushOut,
    PushStatsOut,
    PushSummaryOut,
    PushUpdateIn,
    ScheduleIn,
    ScheduleOut,
)

router = Router(tags=["pushes"])


# --- helpers ------------------------------------------------------------------------------------


def _drafting_unit(principal: ApiPrincipal, unit_id: int | None) -> Unit:
    """The unit that drafts: `unit_id` when given (404 unless visible), else the key's unit.
    Then DRAFT_PUSH is required on it (403)."""
    if unit_id is not None:
        unit = principal.visible_unit(unit_id)
    elif principal.unit is not None:
        unit = principal.unit
    else:
        message = _("Choose the unit that drafts the push (unit_id).")
        raise ValidationFailed(message, field_errors={"unit_id": [message]})
    principal.require(Capability.DRAFT_PUSH, unit)
    return unit


def _visible_push(principal: ApiPrincipal, push_id: int) -> Push:
    """The push if the caller may see its unit; NotFound otherwise (also when it does not exist)."""
    push = Push.objects.select_related("unit", "created_by", "submitted_by").filter(pk=push_id).first()
    if push is None or not principal.has_capability(Capability.VIEW_UNIT, push.unit):
        raise NotFound()
    return push


def _role_label(role: str) -> str:
    return str(Role(role).label) if role in Role.values else role


def _person_name(user: Any) -> str | None:
    return (getattr(user, "display_name", "") or user.get_username()) if user is not None else None


def _next_action(push: Push, remaining: list[str]) -> str:
    if push.is_test and push.status not in (PushStatus.CANCELLED, PushStatus.REJECTED):
        prefix = _("Test push: it is never sent to citizens.") + " "
    else:
        prefix = ""
    status = push.status
    if status in (PushStatus.DRAFT, PushStatus.RETURNED):
        text = _("Submit it for sign-off.")
    elif status == PushStatus.SUBMITTED:
        text = _("Awaiting sign-off by: %(roles)s.") % {"roles": " → ".join(_role_label(r) for r in remaining)}
    elif status == PushStatus.APPROVED:
        text = "" if push.is_test else _("Approved: schedule it to send it.")
    elif status == PushStatus.SCHEDULED:
        when = push.send_at.astimezone(TAIPEI).strftime("%Y-%m-%d %H:%M") if push.send_at else ""
        text = _("Scheduled to send at %(time)s (Asia/Taipei).") % {"time": when}
    elif status == PushStatus.DISPATCHING:
        text = _("Sending.")
    elif status == PushStatus.SENT:
        text = _("Sent. Nothing remains.")
    elif status == PushStatus.REJECTED:
        text = _("Rejected. Nothing remains.")
    else:
        text = _("Cancelled. Nothing remains.")
    return (prefix + text).strip()


def _push_out(push: Push) -> PushOut:
    steps = chain_progress(push)
    submitted = push.status not in (PushStatus.DRAFT, PushStatus.RETURNED)
    chain: list[ChainStepOut] = []
    for s in steps:
        if s.step == 0:
            chain.append(
                ChainStepOut(
                    step=0,
                    role=s.role,
                    role_label=s.role_label,
                    signed=submitted and push.submitted_at is not None,
                    signed_by=_person_name(push.submitted_by) if submitted else None,
                    signed_at=push.submitted_at if submitted else None,
                )
            )
        else:
            a = s.approval
            chain.append(
                ChainStepOut(
                    step=s.step,
                    role=s.role,
                    role_label=s.role_label,
                    signed=a is not None,
                    signed_by=a.approver_name if a is not None else None,
                    signed_at=a.decided_at if a is not None else None,
                )
            )
    remaining = [c.role for c in chain if not c.signed]
    if push.status in (PushStatus.REJECTED, PushStatus.CANCELLED):
        remaining = []
    schedule = None
    if push.schedule_kind:
        schedule = ScheduleOut(
            kind=push.schedule_kind,
            send_at=push.send_at,
            daily_time=push.daily_time,
            daily_until=push.daily_until,
            dispatches=[
                DispatchOut(
                    scheduled_for=d.scheduled_for, status=d.status, frozen_at=d.frozen_at, audience_size=d.audience_size
                )
                for d in push.dispatches.order_by("scheduled_for", "id")
            ],
        )
    return PushOut(
        id=push.pk,
        unit_id=push.unit_id,
        unit_name=push.unit.name,
        push_type=push.push_type,
        title=push.full_title,
        title_tag=push.title_tag,
        subtitle=push.subtitle,
        body=push.body,
        link=push.link,
        planned_date=push.planned_date,
        topic=push.topic,
        urgency=push.urgency,
        valid_from=push.valid_from,
        valid_to=push.valid_to,
        pinned=push.pinned,
        is_routine_promotion=push.is_routine_promotion,
        contact_name=push.contact_name,
        contact_phone=push.contact_phone,
        contact_email=push.contact_email,
        takes_registrations=push.takes_registrations,
        coin_amount=push.coin_amount,
        target_kind=push.target_kind,
        target_group_ids=sorted(push.target_group_links.values_list("group_id", flat=True)),
        has_target_person=push.target_citizen_id is not None,
        status=push.status,
        status_label=str(PushStatus(push.status).label),
        revision=push.revision,
        is_test=push.is_test,
        drafted_by=_person_name(push.created_by) or "",
        created_at=push.created_at,
        submitted_at=push.submitted_at,
        approved_at=push.approved_at,
        first_sent_at=push.first_sent_at,
        chain=chain,
        next_role=remaining[0] if push.status == PushStatus.SUBMITTED and remaining else None,
        remaining_roles=remaining,
        next_action=_next_action(push, remaining),
        schedule=schedule,
    )


def _reloaded(push: Push) -> Push:
    return Push.objects.select_related("unit", "created_by", "submitted_by").get(pk=push.pk)


def _fields(payload: Schema, *, drop: tuple[str, ...] = ("unit_id",)) -> dict[str, Any]:
    """The fields the client sent (not defaults), for the services."""
    return {k: v for k, v in payload.model_dump(exclude_unset=True).items() if k not in drop}


# --- endpoints ----------------------------------------------------------------------------------


@router.post(
    "/pushes",
    response={201: PushOut, **problem_responses(400, 401, 403, 404)},
    summary="Create a draft push",
)
def create_push(request: HttpRequest, payload: PushCreateIn) -> Status[PushOut]:
    """Draft a push for the key's unit (or `unit_id`). Needs DRAFT_PUSH there. Validation is the
    console's: e.g. a staff unit (幕僚單位) targeting everyone gets 400 with `errors.target_kind`.
    A push made with a test key (`cpk_test_…`) is marked `is_test` and is never sent to citizens."""
    principal = principal_of(request)
    unit = _drafting_unit(principal, payload.unit_id)
    fields = _fields(payload)
    fields.setdefault("push_type", payload.push_type)
    fields.setdefault("target_kind", payload.target_kind)
    push = services.do_create_draft(service_actor(principal), unit, is_test=principal.is_test, **fields)
    return Status(201, _push_out(_reloaded(push)))


@router.get(
    "/pushes",
    response={200: PushListOut, **problem_responses(400, 401, 404)},
    summary="List pushes",
)
def list_pushes(
    request: HttpRequest,
    status: PushStatus | None = None,
    push_type: PushType | None = None,
    target_kind: TargetKind | None = None,
    unit_id: int | None = None,
    is_test: bool | None = None,
    q: str | None = Query(None, max_length=100, description="Text in the title or tag."),  # type: ignore[type-arg]
    limit: int = Query(20, ge=1, le=100),  # type: ignore[type-arg]
    offset: int = Query(0, ge=0),  # type: ignore[type-arg]
) -> PushListOut:
    """Pushes of the units the caller may see (a key: its unit and sub-units), newest first."""
    principal = principal_of(request)
    qs: QuerySet[Push]
    if principal.staff_user is not None:
        qs = pushes_visible_to(principal.staff_user)
    else:
        qs = Push.objects.filter(unit__in=principal.units_with(Capability.VIEW_UNIT))
    if unit_id is not None:
        qs = qs.filter(unit=principal.visible_unit(unit_id))
    if status:
        qs = qs.filter(status=status)
    if push_type:
        qs = qs.filter(push_type=push_type)
    if target_kind:
        qs = qs.filter(target_kind=target_kind)
    if is_test is not None:
        qs = qs.filter(is_test=is_test)
    if q and q.strip():
        qs = qs.filter(Q(title__icontains=q.strip()) | Q(title_tag__icontains=q.strip()))
    qs = qs.order_by("-created_at", "-id")
    items = [
        PushSummaryOut(
            id=p.pk,
            unit_id=p.unit_id,
            push_type=p.push_type,
            title=p.full_title,
            status=p.status,
            status_label=str(PushStatus(p.status).label),
            target_kind=p.target_kind,
            is_test=p.is_test,
            created_at=p.created_at,
            submitted_at=p.submitted_at,
            first_sent_at=p.first_sent_at,
        )
        for p in qs[offset : offset + limit]
    ]
    return PushListOut(count=qs.count(), items=items)


@router.get(
    "/pushes/{push_id}",
    response={200: PushOut, **problem_responses(400, 401, 404)},
    summary="A push: status, sign-off progress, schedule",
)
def get_push(request: HttpRequest, push_id: int) -> PushOut:
    """The push with its chain (who signed which step), what remains, and its dispatches."""
    return _push_out(_visible_push(principal_of(request), push_id))


@router.patch(
    "/pushes/{push_id}",
    response={200: PushOut, **problem_responses(400, 401, 403, 404, 409)},
    summary="Edit a push",
)
def update_push(request: HttpRequest, push_id: int, payload: PushUpdateIn) -> PushOut:
    """Change the fields sent. Editing a submitted or approved push sends it back to draft (a new
    revision; earlier signatures no longer count). 409 once it has been sent or cancelled."""
    principal = principal_of(request)
    push = _visible_push(principal, push_id)
    principal.require(Capability.DRAFT_PUSH, push.unit)
    push = services.do_update_draft(service_actor(principal), push, **_fields(payload))
    return _push_out(_reloaded(push))


@router.post(
    "/pushes/{push_id}/submit",
    response={200: PushOut, **problem_responses(400, 401, 403, 404, 409)},
    summary="Submit a push for sign-off",
)
def submit_push(request: HttpRequest, push_id: int) -> PushOut:
    """Send a draft (or returned) push to its unit's sign-off chain (推播審核表)."""
    principal = principal_of(request)
    push = _visible_push(principal, push_id)
    principal.require(Capability.DRAFT_PUSH, push.unit)
    push = services.do_submit(service_actor(principal), push)
    return _push_out(_reloaded(push))


@router.post(
    "/pushes/{push_id}/schedule",
    response={200: PushOut, **problem_responses(400, 401, 403, 404, 409)},
    summary="Schedule an approved push",
)
def schedule_push(request: HttpRequest, push_id: int, payload: ScheduleIn) -> PushOut:
    """Send an approved push now or at a time (non-urgent pushes wait for the end of quiet hours).
    409 `not_approved` before its chain is complete; 409 `test_push` for a test key's push."""
    principal = principal_of(request)
    push = _visible_push(principal, push_id)
    principal.require(Capability.DRAFT_PUSH, push.unit)
    push = services.do_schedule(service_actor(principal), push, payload.kind, send_at=payload.send_at)
    return _push_out(_reloaded(push))


@router.get(
    "/pushes/{push_id}/stats",
    response={200: PushStatsOut, **problem_responses(400, 401, 404)},
    summary="Statistics of a push",
)
def push_statistics(
    request: HttpRequest,
    push_id: int,
    hours: int = Query(24, ge=0, le=168, description="How many hours of reads per hour."),  # type: ignore[type-arg]
) -> PushStatsOut:
    """Audience, deliveries, reads (each citizen once), read rate, clicks, and reads per hour."""
    principal = principal_of(request)
    push = _visible_push(principal, push_id)
    actor = service_actor(principal)
    stats = push_stats(actor, push)
    per_hour = [n for _hour, n in reads_per_hour(actor, push, hours=hours)] if hours else []
    return PushStatsOut(
        push_id=stats.push_id,
        audience=stats.audience,
        delivered=stats.delivered,
        failed=stats.failed,
        reads=stats.reads,
        read_rate=stats.read_rate,
        clicks=stats.clicks,
        first_sent_at=stats.first_sent_at,
        reads_per_hour=per_hour,
    )


@router.post(
    "/notices",
    response={201: PushOut, **problem_responses(400, 401, 403, 404, 409)},
    summary="Send a personal notice to one citizen",
)
def create_notice(request: HttpRequest, payload: NoticeIn) -> Status[PushOut]:
    """Draft a notice to the citizen with this mobile or ID number and submit it to the unit's chain
    for personal pushes, in one step (all or nothing). The response says what remains: the roles
    still to sign (`remaining_roles`); once approved, schedule it with `POST /pushes/{id}/schedule`."""
    principal = principal_of(request)
    unit = _drafting_unit(principal, payload.unit_id)
    fields = _fields(payload)
    fields.setdefault("planned_date", timezone.now().astimezone(TAIPEI).date())
    actor = service_actor(principal)
    with transaction.atomic():
        push = services.do_create_draft(
            actor,
            unit,
            is_test=principal.is_test,
            push_type=PushType.NOTICE,
            target_kind=TargetKind.PERSON,
            **fields,
        )
        push = services.do_submit(actor, push)
    return Status(201, _push_out(_reloaded(push)))
