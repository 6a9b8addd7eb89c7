"""Scheduling and cancelling a push, and the month calendar of dispatches and county slots."""

from __future__ import annotations

import calendar
import datetime
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from civicpush.console.decorators import staff_required
from civicpush.console.push_forms import SLOT, CancelForm, ScheduleForm
from civicpush.core.errors import DomainError, ValidationFailed
from civicpush.org.selectors import visible_units
from civicpush.pushes import selectors, services
from civicpush.pushes.models import CountySlot, Dispatch, DispatchStatus, ScheduleKind, SlotStatus
from civicpush.pushes.scheduling import TAIPEI

from .approvals import action_failed
from .common import render_console
from .push_detail import slot_choices


@require_POST
@staff_required
def push_schedule(request: HttpRequest, push_id: int) -> HttpResponse:
    push = selectors.get_push(request.user, push_id)
    form = ScheduleForm(request.POST, slot_choices=slot_choices(push))
    try:
        if not form.is_valid():
            raise ValidationFailed(field_errors={k: list(v) for k, v in form.errors.items()})
        d = form.cleaned_data
        kind = d["kind"]
        slot = None
        if kind == SLOT or push.is_routine_promotion:
            slot_id = d.get("slot")
            slot = CountySlot.objects.filter(pk=slot_id, county_id=push.county_id).first() if slot_id else None
            if slot is None:
                raise ValidationFailed(field_errors={"slot": [_("Choose an approved county slot.")]})
            kind = ScheduleKind.AT
        push = services.do_schedule(
            request.user,
            push,
            kind,
            send_at=d.get("send_at"),
            daily_time=d.get("daily_time"),
            daily_until=d.get("daily_until"),
            slot=slot,
        )
    except DomainError as exc:
        return action_failed(request, push, exc, schedule_form=form)
    when = timezone.localtime(push.send_at, TAIPEI).strftime("%Y-%m-%d %H:%M") if push.send_at else ""
    messages.success(request, _("The push is scheduled; it goes out at %(time)s (Taiwan time).") % {"time": when})
    return HttpResponseRedirect(reverse("console:push_detail", args=[push.pk]))


@require_POST
@staff_required
def push_cancel(request: HttpRequest, push_id: int) -> HttpResponse:
    push = selectors.get_push(request.user, push_id)
    form = CancelForm(request.POST)
    reason = form.cleaned_data.get("reason", "") if form.is_valid() else ""
    try:
        services.do_cancel(request.user, push, reason)
    except DomainError as exc:
        return action_failed(request, push, exc)
    messages.success(request, _("The push is cancelled."))
    return HttpResponseRedirect(reverse("console:push_detail", args=[push.pk]))


# --- calendar -------------------------------------------------------------------------------------

CALENDAR_STATUSES = (DispatchStatus.PENDING, DispatchStatus.DISPATCHING, DispatchStatus.SENT)


def _month(raw: str | None) -> datetime.date:
    today = timezone.localtime(timezone.now(), TAIPEI).date()
    try:
        year, month = (int(p) for p in (raw or "").split("-"))
        return datetime.date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


@require_GET
@staff_required
def push_calendar(request: HttpRequest) -> HttpResponse:
    first = _month(request.GET.get("month"))
    start = datetime.datetime.combine(first, datetime.time(0), tzinfo=TAIPEI)
    next_first = (first + datetime.timedelta(days=32)).replace(day=1)
    end = datetime.datetime.combine(next_first, datetime.time(0), tzinfo=TAIPEI)
    prev_first = (first - datetime.timedelta(days=1)).replace(day=1)

    by_day: dict[datetime.date, list[dict[str, Any]]] = {}
    dispatches = (
        Dispatch.objects.filter(
            push__in=selectors.pushes_visible_to(request.user),
            scheduled_for__gte=start,
            scheduled_for__lt=end,
            status__in=CALENDAR_STATUSES,
        )
        .select_related("push", "push__unit")
        .order_by("scheduled_for")
    )
    for d in dispatches:
        local = timezone.localtime(d.scheduled_for, TAIPEI)
        by_day.setdefault(local.date(), []).append(
            {"kind": "dispatch", "time": local.strftime("%H:%M"), "dispatch": d, "push": d.push}
        )
    county_ids = set(visible_units(request.user).values_list("county_id", flat=True))
    slots = CountySlot.objects.filter(
        county_id__in=county_ids,
        starts_at__gte=start,
        starts_at__lt=end,
        status__in=[SlotStatus.OPEN, SlotStatus.APPROVED],
    )
    for slot in slots:
        local = timezone.localtime(slot.starts_at, TAIPEI)
        by_day.setdefault(local.date(), []).append({"kind": "slot", "time": local.strftime("%H:%M"), "slot": slot})
    for entries in by_day.values():
        entries.sort(key=lambda e: e["time"])

    today = timezone.localtime(timezone.now(), TAIPEI).date()
    weeks = [
        [
            {
                "date": day,
                "in_month": day.month == first.month,
                "is_today": day == today,
                "entries": by_day.get(day, []),
            }
            for day in week
        ]
        for week in calendar.Calendar(firstweekday=6).monthdatescalendar(first.year, first.month)
    ]
    weekdays = [_("Sun"), _("Mon"), _("Tue"), _("Wed"), _("Thu"), _("Fri"), _("Sat")]
    return render_console(
        request,
        "console/pushes/calendar.html",
        {
            "month": first,
            "roc_year": first.year - 1911,
            "weeks": weeks,
            "weekdays": weekdays,
            "prev_month": prev_first.strftime("%Y-%m"),
            "next_month": next_first.strftime("%Y-%m"),
            "this_month": today.strftime("%Y-%m"),
        },
        section="calendar",
    )
