"""The county dashboard page and its XLSX export (surface code of the staff console). For staff who
may see the whole county (county-wide roles)."""

from __future__ import annotations

import io

from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext
from django.views.decorators.http import require_GET
from openpyxl import Workbook

from civicpush.console import charts
from civicpush.console.decorators import staff_required
from civicpush.console.views.common import render_console
from civicpush.core.errors import PermissionDenied
from civicpush.org.models import County

from . import dashboard


def _county(request: HttpRequest) -> County:
    ids = dashboard.can_see_dashboard(request.user)
    if not ids:
        raise PermissionDenied(_("The county dashboard is for county-wide roles."))
    return County.objects.get(pk=ids[0])


@require_GET
@staff_required
def county_dashboard(request: HttpRequest) -> HttpResponse:
    county = _county(request)
    f = dashboard.county_figures(county)
    township_chart = charts.bar_chart(
        f.by_township, title=_("Members by township"), desc=_("Members with a profile, per township."),
        x_label=_("Township"), y_label=pgettext("registered citizens", "Members"),
    )  # fmt: skip
    push_chart = charts.bar_chart(
        f.pushes_per_month, title=_("Pushes per month"), desc=_("Staff pushes sent per month, last 12 months."),
        x_label=_("Month"), y_label=_("Pushes"),
    )  # fmt: skip
    return render_console(
        request, "adoption/console/dashboard.html",
        {"county": county, "f": f, "benefits": dashboard.cost_benefit(f), "township_chart": township_chart, "push_chart": push_chart},
        section="county_dashboard",
    )  # fmt: skip


@require_GET
@staff_required
def county_dashboard_xlsx(request: HttpRequest) -> HttpResponse:
    county = _county(request)
    f = dashboard.county_figures(county)
    wb = Workbook()
    ws = wb.active
    ws.title = "figures"
    rows = [
        ("members", f.members), ("residents", f.residents), ("digital_citizens", f.digital), ("devices", f.devices),
        ("pushes", f.pushes), ("system_notices", f.system_notices), ("audience", f.audience), ("reads", f.reads),
        ("read_rate_percent", f.read_rate), ("events", f.events), ("attendees", f.attendees),
        ("coins_issued", f.coins_issued), ("coins_in_wallets", f.coins_in_wallets), ("coins_redeemed", f.coins_redeemed),
        ("stores", f.stores), ("feedback_received", f.feedback_received), ("feedback_closed", f.feedback_closed),
        ("satisfaction_percent", f.satisfaction), ("case_notices", f.case_notices),
    ]  # fmt: skip
    ws.append(["figure", "value"])
    for name, value in rows:
        ws.append([name, value])
    towns = wb.create_sheet("members_by_township")
    towns.append(["township", "members"])
    for name, n in f.by_township:
        towns.append([name, n])
    benefit = wb.create_sheet("cost_benefit")
    benefit.append(["項目", "運用前的做法", "運用後的做法", "節省時間（分鐘）", "節省經費（元）", "假設"])
    for b in dashboard.cost_benefit(f):
        benefit.append([b.item, b.before, b.after, b.minutes_saved, b.ntd_saved, b.assumption])
    out = io.BytesIO()
    wb.save(out)
    response = HttpResponse(
        out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = 'attachment; filename="county-dashboard.xlsx"'
    return response
