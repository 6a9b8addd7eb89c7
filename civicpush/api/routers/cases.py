"""Case progress endpoints (申辦進度) for agency systems: case types, cases, events, callbacks.

- Authorisation: a unit API key writes the cases of its unit and sub-units (it acts as the unit's
  drafter); a case of another unit is 404, as if it did not exist. Staff sessions need DRAFT_PUSH
  on the unit to write and VIEW_UNIT to read.
- Test keys (`cpk_test_…`) open *sandbox* cases: no citizen is looked up or notified; each notice
  goes to the unit's sandbox inbox (console → Cases → Sandbox). A test key sees only sandbox cases
  and a live key only live ones. Callbacks are sent for both, so an integration can be tested end
  to end.
- Idempotency: `POST /cases` with a case number already opened returns that case (200, not 201);
  `POST /cases/{id}/events` with a `client_reference` already used returns the first event (200).
- Each event notifies the citizen (push to their devices, SMS when they have none). Notices carry
  no personal data: only the case type and dates. `note` and `reason` are shown on the case's
  timeline in the app, behind sign-in.
- When a case passes its standard processing time without being done, the platform itself
  posts an `overdue` event (source `platform`), notifies the citizen and calls back.
- Callbacks: `PUT /case-callback` sets the key's URL and returns the signing secret once. Each
  callback is a signed POST (headers `X-CivicPush-Timestamp`, `X-CivicPush-Signature:
  sha256=HMAC-SHA256(secret, timestamp + "." + body)`, `X-CivicPush-Delivery`, `X-CivicPush-Event`),
  retried on 5xx, 429 and network errors only (1 m, 5 m, 30 m, 2 h, 6 h), never on other 4xx.
"""

from __future__ import annotations

import datetime
from typing import Literal

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.responses import Status

from civicpush.cases import services
from civicpush.cases.models import CallbackEndpoint, Case, CaseEvent, CaseStatus, CaseType
from civicpush.core.errors import NotFound, PermissionDenied, ValidationFailed
from civicpush.org.models import Unit
from civicpush.org.roles import Capability

from ..actors import service_actor
from ..auth import ApiPrincipal, principal_of
from ..problems import problem_responses

router = Router(tags=["cases"])

EventKindIn = Literal["in_progress", "needs_documents", "overdue", "done", "rejected"]


class CaseTypeIn(Schema):
    name: str = Field(..., max_length=60, description="Shown to citizens, e.g. 消防安全設備圖說審查.")
    standard_days: int = Field(..., ge=1, le=365, description="Standard processing time.")
    day_basis: Literal["working", "calendar"] = Field("working", description="How the days are counted.")
    unit_id: int | None = Field(None, description="Staff sessions: required. Keys: default the key's unit.")


class CaseTypeOut(Schema):
    code: str
    name: str
    standard_days: int
    day_basis: str
    unit_id: int


class CaseOpenIn(Schema):
    case_type: str = Field(..., description="Code of a case type of the unit (PUT /case-types/{code}).")
    external_ref: str = Field(..., max_length=64, description="Your case number; opening it again is idempotent.")
    citizen: str = Field(..., max_length=20, description="The applicant's mobile (0912-345-678) or national ID number.")
    received_at: datetime.datetime | None = Field(None, description="Default: now.")
    note: str = Field("", max_length=300, description="Shown on the timeline in the app (not in the notice).")
    unit_id: int | None = None


class EventIn(Schema):
    kind: EventKindIn
    client_reference: str = Field(..., max_length=100, description="Your id for this event: a retry has one effect.")
    reason: str = Field("", max_length=200, description="Required for `overdue`; shown in the app.")
    expected_completion: datetime.date | None = Field(None, description="Required for `overdue`.")
    note: str = Field("", max_length=300, description="Shown on the timeline in the app (not in the notice).")
    occurred_at: datetime.datetime | None = None


class EventOut(Schema):
    id: int
    kind: str
    source: str
    client_reference: str
    reason: str
    expected_completion: datetime.date | None
    note: str
    occurred_at: datetime.datetime
    notified: bool


class CaseOut(Schema):
    id: int
    external_ref: str
    case_type: str
    unit_id: int
    status: str
    sandbox: bool
    recipient: str = Field(..., description="The applicant's number, masked.")
    received_at: datetime.datetime
    due_at: datetime.datetime
    expected_completion: datetime.date | None
    overdue: bool
    closed_at: datetime.datetime | None
    events: list[EventOut]


class CaseListOut(Schema):
    count: int
    items: list[CaseOut]


class CallbackIn(Schema):
    url: str = Field(..., max_length=500)
    rotate_secret: bool = False


class CallbackOut(Schema):
    url: str
    secret: str | None = Field(None, description="Only when just created or rotated: store it now.")
    secret_hint: str
    signature_header: str = "X-CivicPush-Signature"
    timestamp_header: str = "X-CivicPush-Timestamp"


# --- helpers ------------------------------------------------------------------------------------


def _unit(principal: ApiPrincipal, unit_id: int | None, capability: Capability) -> Unit:
    if unit_id is not None:
        unit = principal.visible_unit(unit_id)
    elif principal.unit is not None:
        unit = principal.unit
    else:
        message = _("Choose the unit (unit_id).")
        raise ValidationFailed(message, field_errors={"unit_id": [message]})
    principal.require(capability, unit)
    return unit


def _cases_of(principal: ApiPrincipal) -> QuerySet[Case]:
    units = principal.units_with(Capability.VIEW_UNIT)
    qs = Case.objects.filter(unit__in=units).select_related("case_type")
    if principal.api_key is not None:
        qs = qs.filter(is_sandbox=principal.is_test)
    return qs


def _case(principal: ApiPrincipal, case_id: int) -> Case:
    case = _cases_of(principal).filter(pk=case_id).select_related("unit").first()
    if case is None:
        raise NotFound()
    return case


def _event_out(e: CaseEvent) -> EventOut:
    return EventOut(
        id=e.pk,
        kind=e.kind,
        source=e.source,
        client_reference=e.client_reference,
        reason=e.reason,
        expected_completion=e.expected_completion,
        note=e.note,
        occurred_at=e.occurred_at,
        notified=e.notice_id is not None or hasattr(e, "sandbox_notice"),
    )


def _case_out(case: Case) -> CaseOut:
    return CaseOut(
        id=case.pk,
        external_ref=case.external_ref,
        case_type=case.case_type.code,
        unit_id=case.unit_id,
        status=case.status,
        sandbox=case.is_sandbox,
        recipient=case.recipient_masked,
        received_at=case.received_at,
        due_at=case.due_at,
        expected_completion=case.expected_completion,
        overdue=case.overdue_at is not None,
        closed_at=case.closed_at,
        events=[_event_out(e) for e in case.events.select_related("sandbox_notice").all()],
    )


# --- endpoints ----------------------------------------------------------------------------------


@router.put(
    "/case-types/{code}",
    response={200: CaseTypeOut, 201: CaseTypeOut, **problem_responses(400, 401, 403, 404)},
    summary="Create or update a case type",
)
def put_case_type(request: HttpRequest, code: str, payload: CaseTypeIn) -> Status[CaseTypeOut]:
    principal = principal_of(request)
    if not code or len(code) > 40 or not code.replace("-", "").replace("_", "").isalnum() or not code.isascii():
        message = _("A code is at most 40 letters, digits, - and _.")
        raise ValidationFailed(message, field_errors={"code": [message]})
    unit = _unit(principal, payload.unit_id, Capability.DRAFT_PUSH)
    case_type, created = services.do_save_case_type(
        service_actor(principal), unit, code=code, name=payload.name,
        standard_days=payload.standard_days, day_basis=payload.day_basis,
    )  # fmt: skip
    out = CaseTypeOut(
        code=case_type.code, name=case_type.name, standard_days=case_type.standard_days,
        day_basis=case_type.day_basis, unit_id=case_type.unit_id,
    )  # fmt: skip
    return Status(201 if created else 200, out)


@router.get("/case-types", response={200: list[CaseTypeOut], **problem_responses(401)}, summary="List case types")
def list_case_types(request: HttpRequest) -> list[CaseTypeOut]:
    principal = principal_of(request)
    qs = CaseType.objects.filter(unit__in=principal.units_with(Capability.VIEW_UNIT), is_active=True)
    return [
        CaseTypeOut(code=t.code, name=t.name, standard_days=t.standard_days, day_basis=t.day_basis, unit_id=t.unit_id)
        for t in qs
    ]


@router.post(
    "/cases",
    response={200: CaseOut, 201: CaseOut, **problem_responses(400, 401, 403, 404, 409)},
    summary="Open a case (收件確認)",
)
def open_case(request: HttpRequest, payload: CaseOpenIn) -> Status[CaseOut]:
    """Opens the case and records its receipt, which notifies the applicant. 404 `citizen_not_found`
    when no member has the number (tell them by your usual channel); 409 `case_exists` when the case
    number is already used for another case type."""
    principal = principal_of(request)
    unit = _unit(principal, payload.unit_id, Capability.DRAFT_PUSH)
    case_type = CaseType.objects.filter(unit=unit, code=payload.case_type).select_related("unit").first()
    if case_type is None:
        message = _("No case type with this code in the unit.")
        raise ValidationFailed(message, field_errors={"case_type": [message]})
    case, created = services.do_open_case(
        service_actor(principal), case_type, external_ref=payload.external_ref, citizen_number=payload.citizen,
        api_key=principal.api_key, is_sandbox=principal.is_test, received_at=payload.received_at, note=payload.note,
    )  # fmt: skip
    return Status(201 if created else 200, _case_out(case))


@router.get("/cases", response={200: CaseListOut, **problem_responses(400, 401)}, summary="List cases")
def list_cases(
    request: HttpRequest,
    status: CaseStatus | None = None,
    overdue: bool | None = None,
    external_ref: str | None = Query(None, max_length=64),  # type: ignore[type-arg]
    limit: int = Query(20, ge=1, le=100),  # type: ignore[type-arg]
    offset: int = Query(0, ge=0),  # type: ignore[type-arg]
) -> CaseListOut:
    """Cases of the units the caller may see (a test key: its sandbox cases only), latest first."""
    qs = _cases_of(principal_of(request))
    if status is not None:
        qs = qs.filter(status=status)
    if overdue is not None:
        qs = qs.filter(overdue_at__isnull=not overdue)
    if external_ref:
        qs = qs.filter(external_ref=external_ref)
    return CaseListOut(count=qs.count(), items=[_case_out(c) for c in qs[offset : offset + limit]])


@router.get(
    "/cases/{case_id}", response={200: CaseOut, **problem_responses(401, 404)}, summary="A case and its timeline"
)
def get_case(request: HttpRequest, case_id: int) -> CaseOut:
    return _case_out(_case(principal_of(request), case_id))


@router.post(
    "/cases/{case_id}/events",
    response={200: EventOut, 201: EventOut, **problem_responses(400, 401, 403, 404, 409)},
    summary="Post a case event",
)
def post_event(request: HttpRequest, case_id: int, payload: EventIn) -> Status[EventOut]:
    """`overdue` needs `reason` and `expected_completion`. A closed case (done, rejected) takes no
    more events (409 `case_closed`). The same `client_reference` again: 200 with the first event."""
    principal = principal_of(request)
    case = _case(principal, case_id)
    principal.require(Capability.DRAFT_PUSH, case.unit)
    event, created = services.do_record_event(
        service_actor(principal), case, kind=payload.kind, client_reference=payload.client_reference,
        reason=payload.reason, expected_completion=payload.expected_completion, note=payload.note,
        occurred_at=payload.occurred_at,
    )  # fmt: skip
    event = CaseEvent.objects.select_related("sandbox_notice").get(pk=event.pk)
    return Status(201 if created else 200, _event_out(event))


def _key_of(principal: ApiPrincipal):  # type: ignore[no-untyped-def]
    if principal.api_key is None:
        raise PermissionDenied(_("Callbacks belong to an API key; call this with the key."))
    return principal.api_key


@router.put(
    "/case-callback", response={200: CallbackOut, **problem_responses(400, 401, 403)}, summary="Set the callback URL"
)
def put_callback(request: HttpRequest, payload: CallbackIn) -> CallbackOut:
    """Sets where this key's status callbacks go. The signing secret is returned when first set and
    when `rotate_secret` is true — only then; keep it with the receiver."""
    principal = principal_of(request)
    key = _key_of(principal)
    endpoint, secret = services.do_set_callback(
        service_actor(principal), key, payload.url, rotate_secret=payload.rotate_secret
    )
    return CallbackOut(url=endpoint.url, secret=secret, secret_hint=endpoint.secret_hint)


@router.get(
    "/case-callback", response={200: CallbackOut, **problem_responses(401, 403, 404)}, summary="The callback URL"
)
def get_callback(request: HttpRequest) -> CallbackOut:
    key = _key_of(principal_of(request))
    endpoint = CallbackEndpoint.objects.filter(api_key=key).first()
    if endpoint is None:
        raise NotFound(_("No callback URL is set for this key."))
    return CallbackOut(url=endpoint.url, secret=None, secret_hint=endpoint.secret_hint)
