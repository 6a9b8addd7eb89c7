"""Citizen pages of a questionnaire: answer it from the push's message page, see the result and the
coins at once. Parse, check, call one service, render (the rules live in surveys.services)."""

from __future__ import annotations

import uuid
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods

from civicpush.citizen_web.views import citizen_required
from civicpush.citizens.models import Citizen
from civicpush.core.errors import Conflict, NotFound, PermissionDenied, ValidationFailed
from civicpush.pushes.inbox import is_visible_to
from civicpush.wallet.selectors import wallet_balance

from .. import selectors, services
from ..models import Survey


def _survey(citizen: Citizen, push_id: int) -> Survey:
    """The questionnaire of a push the citizen received; 404 otherwise (ids leak nothing)."""
    survey = (
        Survey.objects.select_related("push", "push__unit", "push__unit__agency", "unit")
        .filter(push_id=push_id, county_id=citizen.county_id)
        .first()
    )
    if survey is None or not is_visible_to(citizen, survey.push):
        raise Http404
    return survey


def _form_context(
    survey: Survey,
    view: selectors.CitizenView,
    *,
    errors: dict[str, list[Any]] | None = None,
    chosen: dict[str, list[str]] | None = None,
    error: Any = None,
) -> dict[str, Any]:
    questions = services.questions_of(survey)
    for q in questions:  # what the template needs per question, without template arithmetic
        key = f"q{q.pk}"
        q.field_key = key  # type: ignore[attr-defined]
        q.field_errors = (errors or {}).get(key, [])  # type: ignore[attr-defined]
        q.chosen = set((chosen or {}).get(key, []))  # type: ignore[attr-defined]
    return {
        "survey": survey,
        "push": survey.push,
        "view": view,
        "questions": questions,
        "errors": errors or {},
        "error": error,
        "token": uuid.uuid4().hex,
        "active_nav": "inbox",
    }


@citizen_required
@require_http_methods(["GET", "POST"])
def answer(request: HttpRequest, push_id: int) -> HttpResponse:
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    result_url = reverse("citizen_web:survey_result", args=[push_id])
    if request.method == "POST":
        # The service checks that the push reached the citizen (NotFound → 404): not twice here.
        survey = (
            Survey.objects.select_related("push", "unit").filter(push_id=push_id, county_id=citizen.county_id).first()
        )
        if survey is None:
            raise Http404
        raw = {key: request.POST.getlist(key) for key in request.POST if key.startswith("q")}
        try:
            services.do_answer(citizen, survey, raw, request.POST.get("token", ""))
        except ValidationFailed as exc:
            view = selectors.citizen_view(citizen, survey)
            context = _form_context(
                survey, view, errors=exc.field_errors, chosen=raw, error=None if exc.field_errors else exc.message
            )
            return render(request, "surveys/citizen/answer.html", context, status=400)
        except (NotFound, PermissionDenied):
            raise Http404 from None
        except Conflict as exc:
            view = selectors.citizen_view(citizen, survey)
            return render(
                request, "surveys/citizen/answer.html", _form_context(survey, view, error=exc.message), status=409
            )
        return HttpResponseRedirect(result_url, status=303)
    survey = _survey(citizen, push_id)
    view = selectors.citizen_view(citizen, survey)
    if view.participation is not None and view.participation.completed:
        return HttpResponseRedirect(result_url)
    return render(request, "surveys/citizen/answer.html", _form_context(survey, view))


@citizen_required
@require_GET
def result(request: HttpRequest, push_id: int) -> HttpResponse:
    """What the citizen's answer earned: right or wrong per question (correct answers once no retry
    is left), the coins, and the wallet's balance."""
    citizen: Citizen = request.citizen  # type: ignore[attr-defined]
    survey = _survey(citizen, push_id)
    view = selectors.citizen_view(citizen, survey)
    part = view.participation
    if part is None or part.attempts == 0:
        return HttpResponseRedirect(reverse("citizen_web:survey_answer", args=[push_id]))
    rows = []
    response = None if survey.anonymous else selectors.last_response(citizen, survey)
    if response is not None:
        answers = {a.question_id: a for a in response.answers.all()}
        for q in services.questions_of(survey):
            a = answers.get(q.pk)
            choices = list(q.choices.all())
            rows.append(
                {
                    "question": q,
                    "mine": [c.text for c in choices if a is not None and c.pk in (a.choices or [])],
                    "number": a.number if a is not None else None,
                    "text": a.text if a is not None else "",
                    "is_correct": a.is_correct if a is not None else None,
                    "correct": [c.text for c in choices if c.is_correct] if part.completed else [],
                }
            )
    context = {
        "survey": survey,
        "push": survey.push,
        "view": view,
        "part": part,
        "rows": rows,
        "wrong": sum(1 for r in rows if r["is_correct"] is False),
        "balance": wallet_balance(citizen) if part.rewarded else None,
        "active_nav": "inbox",
    }
    return render(request, "surveys/citizen/result.html", context)
