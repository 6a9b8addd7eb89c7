"""Citizen pages (surface code of the citizen app, kept with its domain): my cases and a case's
timeline. Phone-first; a citizen sees only their own cases."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from civicpush.citizen_web.views import citizen_required
from civicpush.core.errors import NotFound

from . import selectors
from .models import EventKind


@require_GET
@citizen_required
def my_cases(request: HttpRequest) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    cases = list(selectors.cases_of_citizen(citizen)[:100])
    return render(
        request,
        "cases/citizen/my_cases.html",
        {
            "open_cases": [c for c in cases if c.closed_at is None],
            "closed_cases": [c for c in cases if c.closed_at is not None],
            "active_nav": "me",
        },
    )


@require_GET
@citizen_required
def case_timeline(request: HttpRequest, case_id: int) -> HttpResponse:
    citizen = request.citizen  # type: ignore[attr-defined]
    try:
        case = selectors.case_of_citizen(citizen, case_id)
    except NotFound as exc:
        raise Http404() from exc
    events = list(selectors.timeline(case))
    return render(
        request,
        "cases/citizen/case.html",
        {"case": case, "events": events, "event_kinds": EventKind, "active_nav": "me"},
    )
