"""Console pages of events: the event form of an event push, the event page (statistics, poster
QR, closing, attendance exports), the check-in scanner and its JSON endpoints, the events list."""

from __future__ import annotations

import csv
import datetime
import io
import json
from typing import Any

import segno
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.console import charts
from civicpush.console.audit_export import safe_cell
from civicpush.console.decorators import staff_required
from civicpush.console.views.common import render_console
from civicpush.core.errors import DomainError, NotFound
from civicpush.org.permissions import has_capability
from civicpush.org.roles import Capability
from civicpush.pushes.models import Push, PushType

from . import selectors, services
from .models import Eligibility, Event, Registration, RegistrationStatus, ScanResult


class EventForm(forms.Form):
    title = forms.CharField(label=_lazy("Event name"), max_length=100)
    starts_at = forms.DateTimeField(
        label=_lazy("Starts at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    ends_at = forms.DateTimeField(label=_lazy("Ends at"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}))
    place = forms.CharField(label=_lazy("Place"), max_length=200)
    map_url = forms.URLField(label=_lazy("Map link"), required=False, max_length=500, assume_scheme="https")
    capacity = forms.IntegerField(label=_lazy("Seats"), min_value=1, max_value=100_000)
    registration_opens_at = forms.DateTimeField(
        label=_lazy("Registration opens"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    registration_closes_at = forms.DateTimeField(
        label=_lazy("Registration closes"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"})
    )
    eligibility = forms.ChoiceField(label=_lazy("Who may register"), choices=Eligibility.choices)
    groups = forms.MultipleChoiceField(label=_lazy("Groups that may register"), required=False, choices=[])
    questions = forms.CharField(
        label=_lazy("Registration questions"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_lazy("One per line. For a choice, write the options after a colon, separated by /, e.g. 用餐:葷/素"),
    )
    attendance_coins = forms.IntegerField(label=_lazy("Attendance coins"), min_value=0, initial=0)
    budget = forms.ChoiceField(label=_lazy("Budget the coins come from"), required=False, choices=[])
    period = forms.ChoiceField(label=_lazy("Expiry period of the coins"), required=False, choices=[])
    organiser_name = forms.CharField(label=_lazy("Organiser"), max_length=50)
    organiser_phone = forms.CharField(label=_lazy("Organiser's phone"), max_length=32)

    def __init__(self, *args: Any, push: Push, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from civicpush.audiences.selectors import groups_usable_by

        groups = [(str(g.pk), g.name) for g in groups_usable_by(push.unit)[:200]]
        self.fields["groups"].choices = groups  # type: ignore[attr-defined]
        budgets = Budget.objects.filter(unit=push.unit, status=BudgetStatus.RESERVED).order_by("-year")
        self.fields["budget"].choices = [("", "—")] + [(str(b.pk), f"{b.year}") for b in budgets]  # type: ignore[attr-defined]
        periods = ExpiryPeriod.objects.filter(county_id=push.county_id, expires_at__gt=timezone.now())
        self.fields["period"].choices = [("", "—")] + [(str(p.pk), str(p)) for p in periods]  # type: ignore[attr-defined]


def _questions_from_text(text: str) -> list[dict[str, Any]]:
    questions = []
    for line in (text or "").splitlines():
        line = line.strip()
        if not line:
            continue
        required = line.endswith("*")
        line = line.rstrip("*").strip()
        if ":" in line or "：" in line:
            label, _sep, options = line.replace("：", ":").partition(":")
            questions.append({"label": label, "kind": "choice", "options": options.split("/"), "required": required})
        else:
            questions.append({"label": line, "kind": "text", "required": required})
    return questions


def _questions_to_text(questions: list[dict[str, Any]]) -> str:
    lines = []
    for q in questions:
        line = q["label"] + (":" + "/".join(q["options"]) if q["kind"] == "choice" else "")
        lines.append(line + ("*" if q.get("required") else ""))
    return "\n".join(lines)


def _push_for(request: HttpRequest, push_id: int) -> Push:
    push = Push.objects.select_related("unit").filter(pk=push_id).first()
    if push is None or not has_capability(request.user, Capability.VIEW_UNIT, push.unit):
        raise NotFound()
    return push


@staff_required
@require_http_methods(["GET", "POST"])
def event_form(request: HttpRequest, push_id: int) -> HttpResponse:
    push = _push_for(request, push_id)
    if push.push_type != PushType.EVENT:
        raise NotFound()
    event = Event.objects.filter(push=push).first()
    if request.method == "POST":
        form = EventForm(request.POST, push=push)
        if form.is_valid():
            data = form.cleaned_data
            fields = {
                k: data[k] for k in services.EVENT_FIELDS if k in data and k not in ("budget", "period", "questions")
            }
            fields["map_url"] = data.get("map_url") or ""
            fields["questions"] = _questions_from_text(data.get("questions", ""))
            fields["budget"] = Budget.objects.filter(pk=data["budget"]).first() if data.get("budget") else None
            fields["period"] = ExpiryPeriod.objects.filter(pk=data["period"]).first() if data.get("period") else None
            try:
                event = services.do_save_event(
                    request.user, push, group_ids=[int(g) for g in data.get("groups") or []], **fields
                )
            except DomainError as exc:
                if isinstance(exc, NotFound):
                    raise
                for field, errors in exc.field_errors.items():
                    for error in errors:
                        form.add_error(field if field in form.fields else None, str(error))
                if not exc.field_errors:
                    form.add_error(None, str(exc.message))
            else:
                messages.success(request, _("The event is saved."))
                return HttpResponseRedirect(reverse("console:event_detail", args=[event.pk]))
    else:
        initial: dict[str, Any] = {"organiser_name": push.contact_name, "organiser_phone": push.contact_phone}
        if event is not None:
            initial = {k: getattr(event, k) for k in services.EVENT_FIELDS}
            for k in ("starts_at", "ends_at", "registration_opens_at", "registration_closes_at"):
                initial[k] = timezone.localtime(initial[k]).strftime("%Y-%m-%dT%H:%M")
            initial["budget"] = str(event.budget_id or "")
            initial["period"] = str(event.period_id or "")
            initial["questions"] = _questions_to_text(event.questions)
            initial["groups"] = [str(g) for g in event.groups.values_list("pk", flat=True)]
        form = EventForm(initial=initial, push=push)
    return render_console(
        request, "events/console_form.html", {"form": form, "push": push, "event": event}, section="pushes"
    )


def _event(request: HttpRequest, event_id: int, capability: Capability = Capability.VIEW_UNIT) -> Event:
    return services.event_for_staff(request.user, event_id, capability)


def _qr_svg(data: str, title: str) -> str:
    buffer = io.BytesIO()
    segno.make(data, error="m").save(buffer, kind="svg", scale=5, border=2, xmldecl=False, title=title)
    return buffer.getvalue().decode()


@staff_required
@require_GET
def event_detail(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(request, event_id)
    stats = selectors.stats_for(event)
    chart = charts.bar_chart(
        [
            (_("Registered"), stats.registered),
            (_("Waitlist"), stats.waitlisted),
            (_("Checked in"), stats.attended),
            (_("Checked out"), stats.checked_out),
            (_("No-shows"), stats.no_shows),
        ],
        title=_("Registration and attendance"),
        desc=_("Registered, waitlisted, checked in, checked out and no-shows for this event."),
        x_label=_("Status"),
        y_label=_("People"),
    )
    context = {
        "event": event,
        "stats": stats,
        "chart": chart,
        "satisfaction": selectors.satisfaction_for(event),
        "poster_svg": mark_safe(_qr_svg(services.poster_code(event), _("Self check-in code"))),  # noqa: S308
        "poster_code": services.poster_code(event),
        "can_scan": has_capability(request.user, Capability.DRAFT_PUSH, event.unit),
    }
    return render_console(request, "events/console_detail.html", context, section="events")


@staff_required
@require_GET
def event_list(request: HttpRequest) -> HttpResponse:
    events = selectors.events_visible_to(request.user)
    rows = [(e, selectors.stats_for(e)) for e in events[:100]]
    return render_console(
        request, "events/console_list.html", {"rows": rows, "overall": selectors.overall(events)}, section="events"
    )


@staff_required
@require_POST
def event_close(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(request, event_id, Capability.DRAFT_PUSH)
    try:
        paid = services.do_close_event(request.user, event)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("Attendance coins paid to %(n)s people.") % {"n": paid})
    return HttpResponseRedirect(reverse("console:event_detail", args=[event.pk]))


@staff_required
@require_GET
def scanner(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(request, event_id, Capability.DRAFT_PUSH)
    return render_console(request, "events/console_scanner.html", {"event": event}, section="events")


def _scan_json(scan: Any) -> dict[str, Any]:
    return {
        "ok": scan.result == ScanResult.OK,
        "result": scan.result,
        "message": str(ScanResult(scan.result).label),
        "kind": scan.kind,
        "nonce": scan.nonce,
    }


def _scan_one(request: HttpRequest, event: Event, item: dict[str, Any], *, offline: bool) -> dict[str, Any]:
    scanned_at = parse_datetime(str(item.get("scanned_at") or "")) if item.get("scanned_at") else None
    if scanned_at is not None and timezone.is_naive(scanned_at):
        scanned_at = timezone.make_aware(scanned_at, datetime.UTC)
    scan = services.do_scan(
        request.user,
        event,
        str(item.get("code", "")),
        str(item.get("kind", "")),
        str(item.get("nonce", "")),
        scanned_at=scanned_at if offline else None,
        offline=offline,
    )
    return _scan_json(scan)


@staff_required
@require_POST
def scan(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(request, event_id, Capability.DRAFT_PUSH)
    try:
        return JsonResponse(_scan_one(request, event, request.POST.dict(), offline=False))
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        message = " ".join(str(m) for ms in exc.field_errors.values() for m in ms) or str(exc.message)
        return JsonResponse({"ok": False, "result": "invalid", "message": message}, status=400)


@staff_required
@require_POST
def scan_batch(request: HttpRequest, event_id: int) -> HttpResponse:
    """Upload of scans made offline (each with its nonce and device time); recorded once each."""
    event = _event(request, event_id, Capability.DRAFT_PUSH)
    try:
        items = json.loads(request.POST.get("scans", "[]"))
    except ValueError:
        items = None
    if not isinstance(items, list) or len(items) > 2000:
        return JsonResponse({"ok": False, "message": _("The upload is not a list of scans.")}, status=400)
    results = []
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            results.append(_scan_one(request, event, item, offline=True))
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            results.append({"ok": False, "result": "invalid", "nonce": item.get("nonce"), "message": str(exc.message)})
    return JsonResponse({"ok": True, "recorded": len(results), "results": results})


@staff_required
@require_GET
def offline_tickets(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(request, event_id, Capability.DRAFT_PUSH)
    response = JsonResponse(services.offline_ticket_list(event))
    response["Cache-Control"] = "no-store"
    return response


def _attendance_rows(event: Event) -> list[list[str]]:
    def fmt(value: datetime.datetime | None) -> str:
        return timezone.localtime(value).strftime("%Y-%m-%d %H:%M") if value else ""

    rows = []
    registrations = (
        Registration.objects.filter(event=event)
        .exclude(status=RegistrationStatus.CANCELLED)
        .select_related("citizen", "citizen__profile")
        .order_by("status", "created_at")
    )
    for reg in registrations:
        profile = getattr(reg.citizen, "profile", None)
        name = profile.display_name if profile else ""
        phone = reg.citizen.phone_e164 or ""
        masked = phone[:-6] + "***" + phone[-3:] if len(phone) > 6 else phone
        rows.append(
            [
                safe_cell(name),
                masked,
                str(reg.get_status_display()),
                fmt(reg.created_at),
                fmt(reg.checked_in_at),
                fmt(reg.checked_out_at),
                "✓" if reg.coins_awarded_at else "",
                *[safe_cell(str(reg.answers.get(q["key"], ""))) for q in event.questions],
            ]
        )
    return rows


def _attendance_header(event: Event) -> list[str]:
    return [
        pgettext("person", "Name"),
        _("Mobile"),
        _("Status"),
        _("Registered at"),
        _("Checked in"),
        _("Checked out"),
        _("Coins paid"),
        *[q["label"] for q in event.questions],
    ]


@staff_required
@require_GET
def attendance_csv(request: HttpRequest, event_id: int) -> HttpResponse:
    event = _event(request, event_id)
    buffer = io.StringIO()
    buffer.write("\ufeff")  # Excel opens UTF-8 CSV correctly with a BOM
    writer = csv.writer(buffer)
    writer.writerow(_attendance_header(event))
    writer.writerows(_attendance_rows(event))
    response = HttpResponse(buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}-attendance.csv"'
    return response


@staff_required
@require_GET
def attendance_xlsx(request: HttpRequest, event_id: int) -> HttpResponse:
    from openpyxl import Workbook

    event = _event(request, event_id)
    book = Workbook()
    sheet = book.active
    sheet.title = _("Attendance")[:31]
    sheet.append([event.title])
    sheet.append(_attendance_header(event))
    for row in _attendance_rows(event):
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    response = HttpResponse(
        out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="event-{event.pk}-attendance.xlsx"'
    return response
