"""Coin budgets (金幣預算): the table per unit (and the county total), issued per month, the request /
reserve / release / extension actions each role may take, manual grants, and CSV/XLSX exports."""

from __future__ import annotations

import csv
import datetime
import io
from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET, require_POST

from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.console import charts
from civicpush.console.audit_export import safe_cell
from civicpush.console.decorators import staff_required
from civicpush.core.audit import log_action
from civicpush.core.errors import DomainError, NotFound, PermissionDenied
from civicpush.org.models import StaffUser
from civicpush.org.permissions import has_capability, roles_on, units_with, visible_unit
from civicpush.org.roles import Capability, Role
from civicpush.wallet import budgets as budget_services
from civicpush.wallet import earning
from civicpush.wallet.models import BudgetExtension, GrantStatus, ManualGrant
from civicpush.wallet.selectors import (
    BudgetRow,
    budget_rows,
    budget_units,
    can_see_county_totals,
    issued_per_month,
    ntd_text,
    totals,
)

from .common import render_console


def _year(request: HttpRequest) -> int:
    this_year = timezone.localdate().year
    try:
        year = int(request.GET.get("year") or request.POST.get("year") or this_year)
    except ValueError:
        return this_year
    return year if 2000 <= year <= this_year + 1 else this_year


def _back(request: HttpRequest, year: int | None = None) -> HttpResponseRedirect:
    url = reverse("console:budgets")
    return HttpResponseRedirect(f"{url}?year={year or _year(request)}")


def _error_text(exc: DomainError) -> str:
    parts = [str(m) for msgs in exc.field_errors.values() for m in msgs]
    return " ".join(parts) if parts else str(exc.message)


def _run(request: HttpRequest, action: Any, success: str) -> None:
    """Call one service; show its result or its (translated) error as a message on the page."""
    try:
        action()
    except (NotFound, PermissionDenied):
        raise
    except DomainError as exc:
        messages.error(request, _error_text(exc))
    else:
        messages.success(request, success)


def _budget_for(request: HttpRequest, budget_id: int) -> Budget:
    budget = Budget.objects.select_related("unit").filter(pk=budget_id).first()
    if budget is None or not has_capability(request.user, Capability.VIEW_UNIT, budget.unit):
        raise NotFound()
    return budget


def _scope(request: HttpRequest) -> tuple[Any, list[int] | None]:
    raw = request.GET.get("unit")
    if not raw:
        return None, None
    try:
        unit = visible_unit(request.user, int(raw))
    except ValueError as exc:
        raise NotFound() from exc
    return unit, list(unit.subtree().values_list("pk", flat=True))


@require_GET
@staff_required
def budget_list(request: HttpRequest) -> HttpResponse:
    year = _year(request)
    unit, unit_ids = _scope(request)
    rows = budget_rows(request.user, year, unit_ids)
    show_totals = can_see_county_totals(request.user) or len(rows) > 1
    monthly = issued_per_month([r.budget.pk for r in rows], year)
    chart = charts.bar_chart(
        monthly,
        title=_("Coins issued per month, %(year)s") % {"year": year},
        desc=_("Coins issued from the budgets in this table in each month (Taiwan time)."),
        x_label=_("Month"),
        y_label=_("Coins"),
    )
    manage_units = list(units_with(request.user, Capability.MANAGE_BUDGET).order_by("path"))
    today = timezone.localdate()
    next_year = today.year + 1
    user = request.user
    pending_grants = [
        g
        for g in ManualGrant.objects.filter(status=GrantStatus.PROPOSED, unit__in=budget_units(user))
        .select_related("unit", "citizen", "proposed_by")
        .order_by("proposed_at")
        if Role.UNIT_HEAD in roles_on(user, g.unit) and g.proposed_by_id != user.pk
    ]
    reserved_budgets = [r for r in rows if r.budget.status == BudgetStatus.RESERVED and r.unit in manage_units]
    periods = list(ExpiryPeriod.objects.filter(expires_at__gt=timezone.now()).order_by("expires_at"))
    years = sorted({today.year, next_year, year, *Budget.objects.values_list("year", flat=True).distinct()})
    return render_console(
        request,
        "console/coins/budgets.html",
        {
            "year": year,
            "years": years,
            "unit": unit,
            "units": list(budget_units(user)),
            "rows": rows,
            "totals": totals(rows) if show_totals else None,
            "chart": chart,
            "manage_units": manage_units,
            "next_year": next_year,
            "request_open": today <= budget_services.request_deadline(next_year),
            "request_deadline": budget_services.request_deadline(next_year),
            "pending_grants": pending_grants,
            "grant_budgets": reserved_budgets,
            "periods": periods,
            "december": [datetime.date(year, 12, 1), datetime.date(year, 12, 31)],
        },
        section="budgets",
    )


@require_POST
@staff_required
def budget_request(request: HttpRequest) -> HttpResponse:
    try:
        unit = visible_unit(request.user, int(request.POST.get("unit") or 0))
        year = int(request.POST.get("year") or 0)
    except ValueError as exc:
        raise NotFound() from exc
    _run(
        request,
        lambda: budget_services.do_request_budget(
            request.user, unit, year, request.POST.get("amount", ""), request.POST.get("note", "")
        ),
        _("The budget request for %(year)s was recorded.") % {"year": year},
    )
    return _back(request, year)


@require_POST
@staff_required
def budget_reserve(request: HttpRequest, budget_id: int) -> HttpResponse:
    budget = _budget_for(request, budget_id)
    _run(
        request,
        lambda: budget_services.do_reserve_budget(request.user, budget, request.POST.get("amount", "")),
        _("The budget of %(unit)s was reserved.") % {"unit": budget.unit.name},
    )
    return _back(request, budget.year)


@require_POST
@staff_required
def budget_release(request: HttpRequest, budget_id: int) -> HttpResponse:
    budget = _budget_for(request, budget_id)
    _run(
        request,
        lambda: budget_services.do_release_budget(request.user, budget),
        _("The unissued coins of %(unit)s were released.") % {"unit": budget.unit.name},
    )
    return _back(request, budget.year)


@require_POST
@staff_required
def budget_extension(request: HttpRequest, budget_id: int) -> HttpResponse:
    budget = _budget_for(request, budget_id)
    try:
        until: datetime.date | None = datetime.date.fromisoformat(request.POST.get("until", ""))
    except ValueError:
        until = None
    _run(
        request,
        lambda: budget_services.do_request_extension(request.user, budget, until, request.POST.get("reason", "")),
        _("The extension request was sent to accounting."),
    )
    return _back(request, budget.year)


@require_POST
@staff_required
def extension_decide(request: HttpRequest, extension_id: int, decision: str) -> HttpResponse:
    extension = BudgetExtension.objects.select_related("budget", "budget__unit").filter(pk=extension_id).first()
    if extension is None or not has_capability(request.user, Capability.VIEW_UNIT, extension.budget.unit):
        raise NotFound()
    if decision == "approve":
        _run(
            request,
            lambda: budget_services.do_approve_extension(request.user, extension),
            _("The extension was approved."),
        )
    else:
        _run(
            request,
            lambda: budget_services.do_reject_extension(request.user, extension),
            _("The extension was rejected."),
        )
    return _back(request, extension.budget.year)


@require_POST
@staff_required
def grant_propose(request: HttpRequest) -> HttpResponse:
    try:
        budget = _budget_for(request, int(request.POST.get("budget") or 0))
        period = ExpiryPeriod.objects.get(pk=int(request.POST.get("period") or 0), county_id=budget.county_id)
    except (ValueError, ExpiryPeriod.DoesNotExist) as exc:
        raise NotFound() from exc
    _run(
        request,
        lambda: earning.do_propose_grant(
            request.user,
            budget.unit,
            budget,
            period,
            request.POST.get("phone", ""),
            request.POST.get("amount", ""),
            request.POST.get("reason", ""),
        ),
        _("The grant was proposed; the unit head must approve it."),
    )
    return _back(request, budget.year)


@require_POST
@staff_required
def grant_decide(request: HttpRequest, grant_id: int, decision: str) -> HttpResponse:
    grant = ManualGrant.objects.select_related("unit").filter(pk=grant_id).first()
    if grant is None or not has_capability(request.user, Capability.VIEW_UNIT, grant.unit):
        raise NotFound()
    staff = cast(StaffUser, request.user)  # staff_required guarantees a signed-in staff user
    if decision == "approve":
        _run(request, lambda: earning.do_approve_grant(staff, grant), _("The grant was approved and issued."))
    else:
        _run(request, lambda: earning.do_reject_grant(staff, grant), _("The grant was rejected."))
    return _back(request)


# --- exports --------------------------------------------------------------------------------------


def _headers() -> list[str]:
    return [
        _("Year"),
        _("Agency"),
        _("Unit"),
        _("Status"),
        pgettext("budget amount", "Requested"),
        _("Reserved"),
        _("Issued"),
        _("Redeemed"),
        _("Released"),
        _("Remaining"),
        _("Remaining (NT$)"),
        _("Issue until"),
    ]


def _cells(r: BudgetRow) -> list[Any]:
    b = r.budget
    return [
        b.year,
        safe_cell(r.unit.agency.name),
        safe_cell(r.unit.name),
        str(b.get_status_display()),
        r.requested,
        r.reserved,
        r.issued,
        r.redeemed,
        r.released,
        r.remaining,
        ntd_text(r.remaining),
        b.effective_deadline.isoformat(),
    ]


def _export_rows(request: HttpRequest, fmt: str) -> tuple[int, list[BudgetRow]]:
    year = _year(request)
    _unit, unit_ids = _scope(request)
    rows = budget_rows(request.user, year, unit_ids)
    log_action("console.budgets.exported", actor=request.user, data={"format": fmt, "year": year, "rows": len(rows)})
    return year, rows


@require_GET
@staff_required
def budget_export_csv(request: HttpRequest) -> HttpResponse:
    year, rows = _export_rows(request, "csv")
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(_headers())
    for r in rows:
        writer.writerow(_cells(r))
    response = HttpResponse(out.getvalue().encode(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="coin-budgets-{year}.csv"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@staff_required
def budget_export_xlsx(request: HttpRequest) -> HttpResponse:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    year, rows = _export_rows(request, "xlsx")
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = _("Coin budgets")[:31]
    ws.append(_headers())
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for r in rows:
        ws.append(_cells(r))
    ws.freeze_panes = "A2"
    out = io.BytesIO()
    wb.save(out)
    response = HttpResponse(
        out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = f'attachment; filename="coin-budgets-{year}.xlsx"'
    response["Cache-Control"] = "no-store"
    return response
