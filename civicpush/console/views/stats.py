"""Statistics: one push (with reads over time), the unit and county dashboards, CSV/XLSX exports."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from civicpush.console import charts
from civicpush.console.decorators import staff_required
from civicpush.core.audit import log_action
from civicpush.core.errors import NotFound
from civicpush.org.models import County, Unit
from civicpush.org.permissions import has_county_capability, visible_unit
from civicpush.org.roles import Capability
from civicpush.org.selectors import visible_units
from civicpush.pushes import exports, selectors
from civicpush.pushes import stats as push_stats
from civicpush.pushes.scheduling import TAIPEI

from .common import render_console


def _pct(rate: float | None) -> str:
    return "—" if rate is None else charts.percent(rate)


@require_GET
@staff_required
def push_stats_page(request: HttpRequest, push_id: int) -> HttpResponse:
    push = selectors.get_push(request.user, push_id)
    numbers = push_stats.push_stats(request.user, push)
    hourly = push_stats.reads_per_hour(request.user, push, hours=72)
    # Trim trailing empty hours so that a young push's chart is not mostly flat line (at least a day).
    last = max((i for i, n in hourly if n), default=-1)
    hourly = hourly[: max(24, last + 2)] if hourly else []
    chart = (
        charts.line_chart(
            [(f"+{i}h", n) for i, n in hourly],
            title=_("Reads per hour after sending"),
            desc=_("Reads of %(title)s in each hour since the first dispatch: %(total)s in all.")
            % {"title": push.full_title, "total": numbers.reads},
            x_label=_("Hours since sending"),
            y_label=_("Reads"),
        )
        if hourly
        else None
    )
    return render_console(
        request,
        "console/pushes/stats.html",
        {"push": push, "stats": numbers, "read_rate": _pct(numbers.read_rate), "chart": chart},
        section="pushes",
    )


def _user_county(user: Any) -> County | None:
    """The county of a user holding a county-wide role (they see the county dashboard)."""
    if not has_county_capability(user, Capability.VIEW_UNIT):
        return None
    return user.county or County.objects.filter(pk__in=visible_units(user).values("county_id")).first()


def _monthly_charts(by_month: list[dict[str, Any]], scope_name: str) -> list[Any]:
    if not by_month:
        return []
    return [
        charts.bar_chart(
            [(m["month"], m["pushes"]) for m in by_month],
            title=_("Pushes sent per month: %(scope)s") % {"scope": scope_name},
            desc=_("Number of pushes first sent in each month (Taiwan time)."),
            x_label=_("Month"),
            y_label=_("Pushes"),
        ),
        charts.bar_chart(
            [(m["month"], m["read_rate"] or 0) for m in by_month],
            title=_("Read rate per month: %(scope)s") % {"scope": scope_name},
            desc=_("Readers divided by the audience of the pushes sent in each month."),
            x_label=_("Month"),
            y_label=_("Read rate"),
            fmt=charts.percent,
            y_max=1.0,
        ),
    ]


def _top_rows(top: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**row, "read_rate_text": _pct(row["read_rate"])} for row in top]


def _chosen_unit(request: HttpRequest, units: list[Unit]) -> Unit | None:
    raw = request.GET.get("unit")
    if raw:
        try:
            return visible_unit(request.user, int(raw))
        except ValueError as exc:
            raise NotFound() from exc
    # Default: the top of the user's visible tree that is most specific to them.
    return units[0] if units else None


@require_GET
@staff_required
def dashboard(request: HttpRequest) -> HttpResponse:
    units = list(visible_units(request.user))
    county = _user_county(request.user)
    unit = _chosen_unit(request, units) if (request.GET.get("unit") or not county) else None
    ctx: dict[str, Any] = {"units": units, "unit": unit, "county": county}
    if unit is not None:
        data = push_stats.unit_stats(request.user, unit)
        ctx["unit_months"] = [{**m, "read_rate_text": _pct(m["read_rate"])} for m in data["by_month"]]
        ctx["unit_charts"] = _monthly_charts(data["by_month"], unit.name)
        ctx["unit_top"] = _top_rows(data["top"])
    if county is not None and unit is None:
        data = push_stats.county_stats(request.user, county)
        ctx["headline"] = data["headline"]
        ctx["county_charts"] = _monthly_charts(data["by_month"], county.name)
        ctx["county_top"] = _top_rows(data["top"])
    return render_console(request, "console/pushes/dashboard.html", ctx, section="stats")


def _export_rows(request: HttpRequest) -> tuple[str, list[str], list[list[Any]]]:
    if request.GET.get("scope") == "county":
        county = _user_county(request.user)
        if county is None:
            raise NotFound()
        header, rows = push_stats.push_stats_rows(request.user, county=county)
        return f"county-{county.code}", header, rows
    units = list(visible_units(request.user))
    unit = _chosen_unit(request, units)
    if unit is None:
        raise NotFound()
    header, rows = push_stats.push_stats_rows(request.user, unit=unit)
    return f"unit-{unit.code}", header, rows


def _download(request: HttpRequest, fmt: str) -> HttpResponse:
    scope, header, rows = _export_rows(request)
    log_action("console.push_stats.exported", actor=request.user, data={"format": fmt, "scope": scope})
    stamp = timezone.localtime(timezone.now(), TAIPEI).strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        response = HttpResponse(exports.write_csv(header, rows), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            exports.write_xlsx(header, rows),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="push-stats-{scope}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@staff_required
def stats_export_csv(request: HttpRequest) -> HttpResponse:
    return _download(request, "csv")


@require_GET
@staff_required
def stats_export_xlsx(request: HttpRequest) -> HttpResponse:
    return _download(request, "xlsx")
