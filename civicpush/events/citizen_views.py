"""Citizen pages of events: the event (register, status, ticket, cancel, calendar file), my events,
and self check-in by scanning the event's poster."""

from __future__ import annotations

import io
from typing import Any

import segno
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.citizen_web.views import citizen_required
from civicpush.citizens.models import Citizen
from civicpush.core.errors import DomainError, NotFound
from civicpush.pushes.inbox import is_visible_to

from . import services
from .ics import event_ics
from .models import Event, Registration, RegistrationStatus, ScanResult


def _event_for(citizen: Citizen, event_id: int) -> tuple[Event, Registration | None]:
    """The event (404 unless its push reached the citizen or they registered) and their live registration."""
    event = Event.objects.select_related("push", "unit", "unit__agency").filter(pk=event_id).first()
    if event is None or event.county_id != citizen.county_id:
        raise Http404
    registration = services.live_registration(event, citizen)
    if registration is None and not is_visible_to(citizen, event.push):
        raise Http404
    return event, registration


def _qr_svg(data: str, *, title: str) -> str:
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="svg", scale=6, border=2, xmldecl=False, svgns=True, title=title)
    return buffer.getvalue().decode()


def _errors(exc: DomainError) -> str:
    parts = [str(m) for msgs in exc.field_errors.values() for m in msgs]
    return " ".join(parts) if parts else str(exc.message)


@citizen_required
@require_GET
def event_page(request: HttpRequest, event_id: int) -> HttpResponse:
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    event, registration = _event_for(citizen, event_id)
    context: dict[str, Any] = {
        "event": event,
        "registration": registration,
        "open_to_me": services.is_open_to(event, citizen),
        "seats_left": max(event.capacity - event.confirmed_count, 0),
        "place_in_line": services.waitlist_place(registration) if registration else None,
        "active_nav": "inbox",
    }
    if registration is not None and registration.status == RegistrationStatus.CONFIRMED:
        context["ticket_svg"] = mark_safe(_qr_svg(services.ticket_code(registration), title=_("Ticket")))  # noqa: S308  (segno's SVG of our own code)
        context["ticket_code"] = services.ticket_code(registration)
    return render(request, "events/event.html", context)


@citizen_required
@require_POST
def register(request: HttpRequest, event_id: int) -> HttpResponse:
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    event, _registration = _event_for(citizen, event_id)
    answers = {q["key"]: request.POST.get(q["key"], "") for q in event.questions}
    try:
        registration = services.do_register(citizen, event, answers)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise Http404 from None
        messages.error(request, _errors(exc))
        return redirect("events:event", event_id=event.pk)
    if registration.status == RegistrationStatus.CONFIRMED:
        messages.success(request, _("You are registered. Your ticket is below."))
    else:
        messages.info(request, _("The event is full: you are on the waitlist. We will tell you if a seat frees up."))
    return redirect("events:event", event_id=event.pk)


@citizen_required
@require_POST
def cancel(request: HttpRequest, event_id: int) -> HttpResponse:
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    event, registration = _event_for(citizen, event_id)
    if registration is None:
        return redirect("events:event", event_id=event.pk)
    try:
        services.do_cancel_registration(citizen, registration)
    except DomainError as exc:
        messages.error(request, _errors(exc))
    else:
        messages.success(request, _("Your registration is cancelled."))
    return redirect("events:event", event_id=event.pk)


@citizen_required
@require_GET
def ticket_png(request: HttpRequest, event_id: int) -> HttpResponse:
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    _event, registration = _event_for(citizen, event_id)
    if registration is None or registration.status != RegistrationStatus.CONFIRMED:
        raise Http404
    buffer = io.BytesIO()
    segno.make(services.ticket_code(registration), error="m").save(buffer, kind="png", scale=8, border=4)
    response = HttpResponse(buffer.getvalue(), content_type="image/png")
    response["Cache-Control"] = "private, no-store"
    return response


@citizen_required
@require_GET
def calendar_file(request: HttpRequest, event_id: int) -> HttpResponse:
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    event, _registration = _event_for(citizen, event_id)
    response = HttpResponse(event_ics(event, host=request.get_host()), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}.ics"'
    return response


@citizen_required
@require_GET
def my_events(request: HttpRequest) -> HttpResponse:
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    registrations = (
        Registration.objects.filter(citizen=citizen)
        .exclude(status=RegistrationStatus.CANCELLED)
        .select_related("event")
        .order_by("-event__starts_at")[:50]
    )
    return render(request, "events/my_events.html", {"registrations": registrations, "active_nav": "me"})


@citizen_required
@require_http_methods(["GET", "POST"])
def self_check_in(request: HttpRequest) -> HttpResponse:
    """Scan the event's poster QR (camera, or type the code under it)."""
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    if request.method == "GET":
        return render(request, "events/self_check_in.html", {"active_nav": "me"})
    try:
        scan = services.do_self_check_in(citizen, request.POST.get("code", ""), request.POST.get("nonce", ""))
    except DomainError as exc:
        return JsonResponse({"ok": False, "result": "invalid", "message": _errors(exc)}, status=400)
    return JsonResponse(
        {
            "ok": scan.result == ScanResult.OK,
            "result": scan.result,
            "message": str(ScanResult(scan.result).label),
            "event": scan.event.title,
        }
    )
