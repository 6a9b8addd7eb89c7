"""Console pages (surface code of the staff console, kept with its domain): the feedback routed to
the staff member's units, acknowledging and answering, monthly statistics with a chart and
CSV/XLSX export, and each unit's FAQ."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from civicpush.console import charts
from civicpush.console.decorators import staff_required
from civicpush.console.views.common import render_console
from civicpush.core.errors import DomainError, NotFound, PermissionDenied
from civicpush.org.permissions import units_with, visible_unit
from civicpush.org.roles import Capability

from . import selectors, services
from .models import FaqEntry


@require_GET
@staff_required
def feedback_list(request: HttpRequest) -> HttpResponse:
    qs = selectors.feedback_visible_to(request.user)
    view = request.GET.get("view", "open")
    if view == "open":
        qs = qs.filter(closed_at__isnull=True)
    return render_console(
        request,
        "feedback/console/list.html",
        {"items": qs[:300], "view": view, "now": timezone.now()},
        section="feedback",
    )


@require_http_methods(["GET", "POST"])
@staff_required
def feedback_detail(request: HttpRequest, feedback_id: int) -> HttpResponse:
    feedback = selectors.feedback_visible_to(request.user).filter(pk=feedback_id).first()
    if feedback is None:
        raise NotFound()
    if request.method == "POST":
        try:
            if request.POST.get("action") == "acknowledge":
                services.do_acknowledge(request.user, feedback, request.POST.get("text", ""))
            else:
                services.do_answer(request.user, feedback, request.POST.get("text", ""))
        except (NotFound, PermissionDenied):
            raise
        except DomainError as exc:
            messages.error(
                request, " ".join(str(m) for ms in exc.field_errors.values() for m in ms) or str(exc.message)
            )
        else:
            messages.success(request, _("Saved. The citizen has been notified."))
        return HttpResponseRedirect(request.path)
    return render_console(
        request, "feedback/console/detail.html",
        {"feedback": feedback, "thread": feedback.messages.select_related("staff_user"), "photos": feedback.photos.all()},
        section="feedback",
    )  # fmt: skip


def _month(request: HttpRequest) -> tuple[int, int]:
    today = timezone.localdate()
    try:
        year, month = (int(x) for x in request.GET.get("month", "").split("-"))
        if 2000 <= year <= today.year + 1 and 1 <= month <= 12:
            return year, month
    except ValueError:
        pass
    return today.year, today.month


HEADERS = ["unit", "received", "closed", "average_days_to_close", "satisfaction_percent"]


@require_GET
@staff_required
def feedback_stats(request: HttpRequest, fmt: str = "") -> HttpResponse:
    year, month = _month(request)
    rows = selectors.monthly_stats(request.user, year, month)
    table = [[r.unit.name, r.received, r.closed, r.average_days_to_close, r.satisfaction] for r in rows]
    if fmt == "csv":
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(HEADERS)
        writer.writerows([["" if v is None else v for v in row] for row in table])
        response = HttpResponse("\ufeff" + out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="feedback-{year}-{month:02d}.csv"'
        return response
    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook()
        ws = wb.active
        ws.append(HEADERS)
        for row in table:
            ws.append([float(r) if isinstance(r, Decimal) else r for r in row])
        buffer = io.BytesIO()
        wb.save(buffer)
        response = HttpResponse(
            buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
        response["Content-Disposition"] = f'attachment; filename="feedback-{year}-{month:02d}.xlsx"'
        return response
    chart = charts.bar_chart(
        [(r.unit.name, r.received) for r in rows], title=_("Feedback received by unit"),
        desc=_("Feedback received in the month, per unit."), x_label=_("Unit"), y_label=_("Received"),
    )  # fmt: skip
    return render_console(
        request, "feedback/console/stats.html",
        {"rows": rows, "chart": chart, "month": f"{year}-{month:02d}", "totals": {
            "received": sum(r.received for r in rows), "closed": sum(r.closed for r in rows)}},
        section="feedback",
    )  # fmt: skip


@require_http_methods(["GET", "POST"])
@staff_required
def faq_list(request: HttpRequest) -> HttpResponse:
    units = units_with(request.user, Capability.DRAFT_PUSH).order_by("path")
    entries = FaqEntry.objects.filter(unit__in=units_with(request.user, Capability.VIEW_UNIT)).select_related("unit")
    if request.method == "POST":
        unit = visible_unit(request.user, int(request.POST.get("unit") or 0))
        entry = entries.filter(pk=request.POST.get("entry") or 0, unit=unit).first()
        try:
            services.do_save_faq(
                request.user, unit, question=request.POST.get("question", ""), answer=request.POST.get("answer", ""),
                is_published=bool(request.POST.get("is_published")), entry=entry,
            )  # fmt: skip
        except (NotFound, PermissionDenied):
            raise
        except DomainError as exc:
            messages.error(
                request, " ".join(str(m) for ms in exc.field_errors.values() for m in ms) or str(exc.message)
            )
        else:
            messages.success(request, _("Saved."))
        return HttpResponseRedirect(reverse("console:faq"))
    return render_console(
        request, "feedback/console/faq.html", {"entries": entries, "units": units}, section="feedback"
    )
