"""Console pages (surface code of the staff console, kept with its domain): the units' cases, the
overdue list (how the platform tells a unit its cases are late), the sandbox inbox of test keys,
and the case types."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from civicpush.console.decorators import staff_required
from civicpush.console.views.common import render_console
from civicpush.core.errors import NotFound

from . import selectors


@require_GET
@staff_required
def case_list(request: HttpRequest) -> HttpResponse:
    view = request.GET.get("view", "overdue")
    if view == "sandbox":
        return render_console(
            request,
            "cases/console/sandbox.html",
            {"view": view, "notices": selectors.sandbox_notices_for(request.user)[:200]},
            section="cases",
        )
    if view == "types":
        return render_console(
            request,
            "cases/console/types.html",
            {"view": view, "types": selectors.case_types_for(request.user)},
            section="cases",
        )
    qs = (
        selectors.overdue_cases_for(request.user)
        if view == "overdue"
        else selectors.cases_visible_to(request.user).filter(is_sandbox=False)
    )
    return render_console(
        request,
        "cases/console/list.html",
        {
            "view": "overdue" if view == "overdue" else "all",
            "cases": qs.order_by("due_at")[:300] if view == "overdue" else qs[:300],
        },
        section="cases",
    )


@require_GET
@staff_required
def case_detail(request: HttpRequest, case_id: int) -> HttpResponse:
    case = selectors.cases_visible_to(request.user).filter(pk=case_id).first()
    if case is None:
        raise NotFound()
    return render_console(
        request,
        "cases/console/detail.html",
        {"case": case, "events": selectors.timeline(case), "callbacks": case.callbacks.all()[:50]},
        section="cases",
    )
