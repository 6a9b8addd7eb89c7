"""Audit browser: filter, page, read one entry, export CSV/XLSX."""

from __future__ import annotations

import json
from typing import Any

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone
from django.views.decorators.http import require_GET

from civicpush.console import audit_export
from civicpush.console.audit_selectors import (
    audit_entries_visible_to,
    audit_units_for,
    can_view_audit,
    unit_names,
)
from civicpush.console.decorators import staff_required
from civicpush.console.forms import AuditFilterForm
from civicpush.core.audit import log_action
from civicpush.core.errors import NotFound, PermissionDenied
from civicpush.core.models import AuditEntry

from .common import render_console

PER_PAGE = 50


def _require_audit(request: HttpRequest) -> None:
    if not can_view_audit(request.user):
        raise PermissionDenied()


def _filtered(request: HttpRequest) -> tuple[AuditFilterForm, Any]:
    form = AuditFilterForm(request.GET or None, units=list(audit_units_for(request.user)))
    if not request.GET:
        return form, audit_entries_visible_to(request.user)
    if not form.is_valid():
        return form, AuditEntry.objects.none()
    return form, audit_entries_visible_to(request.user, form.filters())


@require_GET
@staff_required
def audit_list(request: HttpRequest) -> HttpResponse:
    _require_audit(request)
    form, entries = _filtered(request)
    page = Paginator(entries, PER_PAGE).get_page(request.GET.get("page"))
    names = unit_names({e.unit_id for e in page.object_list if e.unit_id is not None})
    rows = [(e, names.get(e.unit_id, "") if e.unit_id is not None else "") for e in page.object_list]
    status = 400 if form.is_bound and not form.is_valid() else 200
    return render_console(
        request, "console/audit_list.html", {"form": form, "page": page, "rows": rows}, section="audit", status=status
    )


@require_GET
@staff_required
def audit_detail(request: HttpRequest, entry_id: int) -> HttpResponse:
    _require_audit(request)
    entry = audit_entries_visible_to(request.user).filter(pk=entry_id).first()
    if entry is None:
        raise NotFound()
    unit_name = unit_names({entry.unit_id}).get(entry.unit_id, "") if entry.unit_id is not None else ""

    def pretty(value: Any) -> str:
        return "" if value is None else json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True)

    return render_console(
        request,
        "console/audit_detail.html",
        {
            "entry": entry,
            "unit_name": unit_name,
            "before": pretty(entry.before),
            "after": pretty(entry.after),
            "data": pretty(entry.data),
        },
        section="audit",
    )


def _log_export(request: HttpRequest, form: AuditFilterForm, fmt: str) -> None:
    # Reading the log is not a change of state, but a bulk copy leaving the building is worth a line.
    filters = {k: v for k, v in request.GET.items() if k != "page" and v}
    log_action("console.audit.exported", actor=request.user, data={"format": fmt, "filters": filters})


def _filename(ext: str) -> str:
    return f"audit-{timezone.localtime(timezone.now(), audit_export.TAIPEI):%Y%m%d-%H%M}.{ext}"


@require_GET
@staff_required
def audit_export_csv(request: HttpRequest) -> StreamingHttpResponse:
    _require_audit(request)
    form, entries = _filtered(request)
    _log_export(request, form, "csv")
    response = StreamingHttpResponse(audit_export.csv_chunks(entries), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_filename("csv")}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@staff_required
def audit_export_xlsx(request: HttpRequest) -> HttpResponse:
    _require_audit(request)
    form, entries = _filtered(request)
    _log_export(request, form, "xlsx")
    response = HttpResponse(
        audit_export.xlsx_bytes(entries),
        content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
    response["Content-Disposition"] = f'attachment; filename="{_filename("xlsx")}"'
    response["Cache-Control"] = "no-store"
    return response
