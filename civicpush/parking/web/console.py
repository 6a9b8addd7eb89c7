"""Console parking pages for the county operator (view and act) and accounting (view, export):
bills, payments, reconciliation flags (resolve, retry refund), plates (release), CSV/XLSX exports.
Every change is audited; every page checks the role county-wide."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_POST

from civicpush.console.audit_export import safe_cell
from civicpush.console.decorators import staff_required
from civicpush.console.views.common import render_console
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, DomainError, NotFound, PermissionDenied

from .. import runs, selectors, services
from ..models import BillStatus, FlagStatus, PaymentStatus, PlateBinding, ReconciliationFlag
from ..plates import masked_plate

PER_PAGE = 50


def _counties(request: HttpRequest, *, manage: bool = False) -> list[int]:
    counties = selectors.console_counties(request.user, manage=manage)
    if not counties:
        raise PermissionDenied()
    return counties


def _page(request: HttpRequest, qs: Any) -> Any:
    return Paginator(qs, PER_PAGE).get_page(request.GET.get("page"))


def _ctx(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    return {"can_manage": bool(selectors.console_counties(request.user, manage=True)), **extra}


@require_GET
@staff_required
def parking_home(request: HttpRequest) -> HttpResponse:
    counties = _counties(request)
    flags = selectors.console_flags(counties, FlagStatus.OPEN)
    payments = selectors.console_payments(counties)
    return render_console(
        request,
        "parking/console/home.html",
        _ctx(
            request,
            open_flags=flags.count(),
            unknown=payments.filter(status=PaymentStatus.UNKNOWN).count(),
            confirmed=payments.filter(status=PaymentStatus.CONFIRMED).count(),
            unpaid=selectors.console_bills(counties, status=BillStatus.UNPAID).count(),
        ),
        section="parking",
    )


@require_GET
@staff_required
def bill_list(request: HttpRequest) -> HttpResponse:
    counties = _counties(request)
    q, status = request.GET.get("q", "").strip()[:40], request.GET.get("status", "")
    page = _page(request, selectors.console_bills(counties, q, status))
    return render_console(
        request,
        "parking/console/bills.html",
        _ctx(request, page=page, q=q, status=status, statuses=BillStatus.choices),
        section="parking",
    )


@require_GET
@staff_required
def payment_list(request: HttpRequest) -> HttpResponse:
    counties = _counties(request)
    status = request.GET.get("status", "")
    page = _page(request, selectors.console_payments(counties, status))
    return render_console(
        request,
        "parking/console/payments.html",
        _ctx(request, page=page, status=status, statuses=PaymentStatus.choices),
        section="parking",
    )


@require_GET
@staff_required
def flag_list(request: HttpRequest) -> HttpResponse:
    counties = _counties(request)
    status = request.GET.get("status", "")
    page = _page(request, selectors.console_flags(counties, status))
    return render_console(
        request,
        "parking/console/flags.html",
        _ctx(request, page=page, status=status, statuses=FlagStatus.choices),
        section="parking",
    )


def _flag(request: HttpRequest, flag_id: int) -> ReconciliationFlag:
    flag = (
        ReconciliationFlag.objects.select_related("payment", "bill")
        .filter(pk=flag_id, county_id__in=_counties(request, manage=True))
        .first()
    )
    if flag is None:
        raise NotFound()
    return flag


@require_POST
@staff_required
def flag_resolve(request: HttpRequest, flag_id: int) -> HttpResponse:
    flag = _flag(request, flag_id)
    note = request.POST.get("note", "").strip()[:300]
    if not note:
        messages.error(request, _("Write what was done."))
    else:
        with transaction.atomic():
            changed = ReconciliationFlag.objects.filter(pk=flag.pk, status=FlagStatus.OPEN).update(
                status=FlagStatus.RESOLVED, resolved_at=timezone.now(), resolved_by=request.user, note=note
            )
            if changed:
                log_action(
                    "parking.flag.resolved",
                    actor=request.user,
                    obj=flag,
                    county_id=flag.county_id,
                    data={"note": note, "kind": flag.kind, "bill": flag.bill.bill_no},
                )
        messages.success(request, _("The flag was marked resolved.") if changed else _("The flag was already closed."))
    return HttpResponseRedirect(reverse("console:parking_flags"))


@require_POST
@staff_required
def flag_refund(request: HttpRequest, flag_id: int) -> HttpResponse:
    flag = _flag(request, flag_id)
    if flag.payment is None or flag.status != FlagStatus.OPEN:
        messages.error(request, _("There is nothing to refund for this flag."))
    else:
        with transaction.atomic():
            ok = runs.refund_payment(flag.payment, flag, actor=request.user)
            log_action(
                "parking.flag.refund_retried",
                actor=request.user,
                obj=flag,
                county_id=flag.county_id,
                data={"refunded": ok, "payment": flag.payment_id},
            )
        if ok:
            messages.success(request, _("The coins were refunded."))
        else:
            messages.error(request, _("The refund was refused; see the flag's detail."))
    return HttpResponseRedirect(reverse("console:parking_flags"))


@require_GET
@staff_required
def plate_list(request: HttpRequest) -> HttpResponse:
    counties = _counties(request)
    q = request.GET.get("q", "").strip()[:16]
    page = _page(request, selectors.console_plates(counties, q))
    return render_console(request, "parking/console/plates.html", _ctx(request, page=page, q=q), section="parking")


@require_POST
@staff_required
def plate_release(request: HttpRequest, binding_id: int) -> HttpResponse:
    binding = PlateBinding.objects.filter(pk=binding_id, county_id__in=_counties(request, manage=True)).first()
    if binding is None:
        raise NotFound()
    try:
        services.do_release_plate(request.user, binding, request.POST.get("reason", ""))
    except (Conflict, DomainError) as exc:
        parts = [str(m) for msgs in exc.field_errors.values() for m in msgs]
        messages.error(request, " ".join(parts) or str(exc.message))
    else:
        messages.success(request, _("Plate %(plate)s was released.") % {"plate": binding.plate})
    return HttpResponseRedirect(reverse("console:parking_plates"))


# --- exports ---------------------------------------------------------------------------------------


def _local(dt: Any) -> str:
    return timezone.localtime(dt).strftime("%Y-%m-%d %H:%M:%S") if dt else ""


def _table(table: str, counties: list[int]) -> tuple[list[str], Iterator[list[Any]]]:
    if table == "bills":
        head = [
            _("Bill number"),
            _("Plate"),
            _("Vehicle"),
            _("Issued at"),
            pgettext("parking bill", "Due"),
            _("Amount (NT$)"),
            _("Status"),
            _("Paid through"),
            _("Paid at"),
        ]
        rows = (
            [
                b.bill_no,
                masked_plate(b.plate),
                b.get_vehicle_kind_display(),
                _local(b.issued_at),
                b.due_date.isoformat(),
                b.amount_twd,
                b.get_status_display(),
                b.paid_channel,
                _local(b.paid_at),
            ]
            for b in selectors.console_bills(counties).iterator(chunk_size=2000)
        )
    elif table == "payments":
        head = [
            pgettext("payment reference", "Payment"),
            _("Bill number"),
            _("Source"),
            _("Channel"),
            _("Coins"),
            _("Amount (NT$)"),
            _("Status"),
            _("Operator receipt"),
            _("Failure"),
            _("Created"),
            _("Confirmed at"),
        ]
        rows = (
            [
                p.reference,
                p.bill.bill_no,
                p.get_source_display(),
                p.get_channel_display(),
                p.coins,
                p.amount_twd,
                p.get_status_display(),
                p.operator_receipt,
                p.failure_code,
                _local(p.created_at),
                _local(p.confirmed_at),
            ]
            for p in selectors.console_payments(counties).iterator(chunk_size=2000)
        )
    elif table == "flags":
        head = [
            _("Found"),
            _("Kind"),
            _("Status"),
            _("Bill number"),
            pgettext("payment reference", "Payment"),
            _("Other channel"),
            _("Detail"),
            _("Note"),
        ]
        rows = (
            [
                _local(f.created_at),
                f.get_kind_display(),
                f.get_status_display(),
                f.bill.bill_no,
                f.payment.reference if f.payment else "",
                f.other_channel,
                f.detail,
                f.note,
            ]
            for f in selectors.console_flags(counties).iterator(chunk_size=2000)
        )
    else:
        raise NotFound()
    return head, rows


@require_GET
@staff_required
def export(request: HttpRequest, table: str, fmt: str) -> HttpResponse:
    counties = _counties(request)
    if fmt not in ("csv", "xlsx"):
        raise NotFound()
    head, rows = _table(table, counties)
    log_action("parking.export", actor=request.user, data={"table": table, "format": fmt})
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        out = io.StringIO()
        out.write("\ufeff")
        writer = csv.writer(out)
        writer.writerow(head)
        for row in rows:
            writer.writerow([safe_cell(c) if isinstance(c, str) else c for c in row])
        response = HttpResponse(out.getvalue().encode(), content_type="text/csv; charset=utf-8")
    else:
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(title=table)
        ws.append(head)
        for row in rows:
            ws.append([safe_cell(c) if isinstance(c, str) else c for c in row])
        buf = io.BytesIO()
        wb.save(buf)
        response = HttpResponse(
            buf.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    response["Content-Disposition"] = f'attachment; filename="parking-{table}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
