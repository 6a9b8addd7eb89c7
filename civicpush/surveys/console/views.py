"""Console pages of a questionnaire push: the builder, closing and running it again, the results
with charts, and CSV/XLSX exports. Views parse and render; services decide."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from civicpush.console import charts
from civicpush.console.decorators import staff_required
from civicpush.console.views.common import render_console
from civicpush.core.audit import log_action
from civicpush.core.errors import DomainError, NotFound
from civicpush.core.forms import apply_domain_error
from civicpush.org.permissions import has_capability
from civicpush.org.roles import Capability
from civicpush.pushes import exports
from civicpush.pushes.models import Push, PushType
from civicpush.pushes.scheduling import TAIPEI
from civicpush.pushes.selectors import get_push

from .. import selectors, services
from ..models import Question, QuestionKind, Survey
from .forms import QuestionForm, SettingsForm


def _push(request: HttpRequest, push_id: int) -> Push:
    push = get_push(request.user, push_id)
    if push.push_type != PushType.QUESTIONNAIRE:
        raise Http404
    return push


def _builder_url(push: Push) -> str:
    return reverse("console:survey_builder", args=[push.pk])


def _settings_initial(survey: Survey | None) -> dict[str, Any]:
    if survey is None:
        return {"allow_retry": True}
    local = {
        k: timezone.localtime(getattr(survey, k), TAIPEI).replace(tzinfo=None) if getattr(survey, k) else None
        for k in ("opens_at", "closes_at")
    }
    return {
        **local,
        "quota": survey.quota,
        "allow_retry": survey.allow_retry,
        "anonymous": survey.anonymous,
        "budget_id": str(survey.budget_id or ""),
        "period_id": str(survey.period_id or ""),
    }


def _question_initial(q: Question) -> dict[str, Any]:
    choices = list(q.choices.all())
    return {
        "kind": q.kind,
        "text": q.text,
        "options": "\n".join(c.text for c in choices),
        "correct": "、".join(str(i) for i, c in enumerate(choices, start=1) if c.is_correct),
        "coins": q.coins,
        "required": q.required,
        "scale_labels": "\n".join(q.scale_labels or []),
        "rating_max": q.rating_max,
    }


def _builder_context(
    request: HttpRequest,
    push: Push,
    *,
    settings_form: SettingsForm | None = None,
    question_form: QuestionForm | None = None,
) -> dict[str, Any]:
    survey = services.survey_of(push)
    budgets, periods = services.reserved_budgets(push), services.usable_periods(push)
    can_edit = (
        has_capability(request.user, Capability.DRAFT_PUSH, push.unit)
        and push.status in services.BUILDER_STATUSES
        and (survey is None or (survey.closed_at is None and not survey.participations.exists()))
    )
    problems: list[Any] = []
    if survey is not None:
        problems = [m for ms in services.survey_problems(survey, push).values() for m in ms]
    return {
        "push": push,
        "survey": survey,
        "questions": services.questions_of(survey) if survey else [],
        "can_edit": can_edit,
        "can_manage": has_capability(request.user, Capability.DRAFT_PUSH, push.unit)
        or has_capability(request.user, Capability.APPROVE_PUSH, push.unit),
        "settings_form": settings_form
        or SettingsForm(initial=_settings_initial(survey), budgets=budgets, periods=periods),
        "question_form": question_form or QuestionForm(),
        "problems": problems,
        "state": services.answering_state(survey) if survey else "",
    }


@require_http_methods(["GET", "POST"])
@staff_required
def builder(request: HttpRequest, push_id: int) -> HttpResponse:
    """The questionnaire of a questionnaire push: settings (POST here) and its questions."""
    push = _push(request, push_id)
    if request.method == "POST":
        form = SettingsForm(
            request.POST, budgets=services.reserved_budgets(push), periods=services.usable_periods(push)
        )
        if form.is_valid():
            try:
                services.do_configure_survey(request.user, push, **form.cleaned_data)
            except DomainError as exc:
                if isinstance(exc, NotFound):
                    raise
                apply_domain_error(form, exc)
            else:
                messages.success(request, _("The questionnaire settings are saved."))
                return HttpResponseRedirect(_builder_url(push))
        ctx = _builder_context(request, push, settings_form=form)
        return render_console(request, "surveys/console/builder.html", ctx, section="pushes", status=400)
    return render_console(request, "surveys/console/builder.html", _builder_context(request, push), section="pushes")


def _survey_or_404(push: Push) -> Survey:
    survey = services.survey_of(push)
    if survey is None:
        raise Http404
    return survey


@require_POST
@staff_required
def question_add(request: HttpRequest, push_id: int) -> HttpResponse:
    push = _push(request, push_id)
    survey = _survey_or_404(push)
    form = QuestionForm(request.POST)
    if form.is_valid():
        try:
            services.do_add_question(request.user, survey, form.service_data())
        except DomainError as exc:
            if isinstance(exc, NotFound):
                raise
            apply_domain_error(form, exc)
        else:
            messages.success(request, _("The question is added."))
            return HttpResponseRedirect(_builder_url(push) + "#questions")
    ctx = _builder_context(request, push, question_form=form)
    return render_console(request, "surveys/console/builder.html", ctx, section="pushes", status=400)


def _question(push: Push, question_id: int) -> Question:
    question = Question.objects.filter(pk=question_id, survey__push=push).select_related("survey").first()
    if question is None:
        raise Http404
    return question


@require_http_methods(["GET", "POST"])
@staff_required
def question_edit(request: HttpRequest, push_id: int, question_id: int) -> HttpResponse:
    push = _push(request, push_id)
    question = _question(push, question_id)
    form = QuestionForm(request.POST) if request.method == "POST" else QuestionForm(initial=_question_initial(question))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.do_update_question(request.user, question, form.service_data())
            except DomainError as exc:
                if isinstance(exc, NotFound):
                    raise
                apply_domain_error(form, exc)
            else:
                messages.success(request, _("The question is saved."))
                return HttpResponseRedirect(_builder_url(push) + "#questions")
        status = 400
    ctx = {"push": push, "question": question, "form": form}
    return render_console(request, "surveys/console/question_edit.html", ctx, section="pushes", status=status)


@require_POST
@staff_required
def question_action(request: HttpRequest, push_id: int, question_id: int, action: str) -> HttpResponse:
    push = _push(request, push_id)
    question = _question(push, question_id)
    if action not in ("delete", "up", "down"):
        raise Http404
    try:
        if action == "delete":
            services.do_delete_question(request.user, question)
            messages.success(request, _("The question is deleted."))
        else:
            services.do_move_question(request.user, question, -1 if action == "up" else 1)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, str(exc.message))
    return HttpResponseRedirect(_builder_url(push) + "#questions")


@require_POST
@staff_required
def survey_close(request: HttpRequest, push_id: int) -> HttpResponse:
    push = _push(request, push_id)
    survey = _survey_or_404(push)
    try:
        returned = services.do_close_survey(request.user, survey)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        messages.error(request, str(exc.message))
    else:
        messages.success(
            request,
            _("The questionnaire is closed; %(coins)s coins went back to the budget.") % {"coins": f"{returned:,}"},
        )
    return HttpResponseRedirect(reverse("console:survey_results", args=[push.pk]))


@require_POST
@staff_required
def survey_run_again(request: HttpRequest, push_id: int) -> HttpResponse:
    push = _push(request, push_id)
    survey = _survey_or_404(push)
    copy = services.do_run_again(request.user, survey)
    messages.success(
        request, _("A new draft with the same questions is ready: set its times and send it for sign-off.")
    )
    return HttpResponseRedirect(_builder_url(copy.push))


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f}%"


def _charts(res: selectors.SurveyResults) -> list[dict[str, Any]]:
    out = []
    for i, qr in enumerate(res.questions, start=1):
        chart = None
        if qr.rows:
            chart = charts.bar_chart(
                [(row.label, row.count) for row in qr.rows],
                title=_("Question %(n)s: answers") % {"n": i},
                desc=_("How many respondents chose each answer to: %(q)s") % {"q": qr.question.text},
                x_label=_("Answer"),
                y_label=_("Respondents"),
            )
        out.append(
            {
                "n": i,
                "result": qr,
                "chart": chart,
                "rows": [{"row": r, "share": _pct(r.share)} for r in qr.rows],
                "correct_rate": _pct(qr.correct_rate),
                "satisfaction_rate": _pct(qr.satisfaction_rate),
                "mean": f"{qr.mean:.2f}" if qr.mean is not None else "—",
            }
        )
    return out


def _trend_chart(res: selectors.SurveyResults) -> Any:
    if len(res.trend) < 2:
        return None
    use_correct = any(r.correct_rate is not None for r in res.trend)
    return charts.line_chart(
        [
            (_("Run %(n)s") % {"n": r.run_number}, (r.correct_rate if use_correct else r.satisfaction_rate) or 0)
            for r in res.trend
        ],
        title=_("Correct rate over runs") if use_correct else _("Satisfaction rate over runs"),
        desc=_("The rate of each run of this questionnaire, in order."),
        x_label=_("Run"),
        y_label=_("Rate"),
        fmt=charts.percent,
        y_max=1.0,
    )


@require_GET
@staff_required
def results(request: HttpRequest, push_id: int) -> HttpResponse:
    push = _push(request, push_id)
    survey = selectors.survey_for_staff(request.user, push)
    if survey is None:
        return HttpResponseRedirect(_builder_url(push))
    res = selectors.results(survey)
    crosstabs = [
        (title, [{"row": r, "correct": _pct(r.correct_rate), "satisfied": _pct(r.satisfaction_rate)} for r in rows])
        for title, rows in (
            (_("By township"), res.crosstabs.get("township", [])),
            (_("By age band"), res.crosstabs.get("age_band", [])),
            (_("By gender"), res.crosstabs.get("gender", [])),
        )
    ]
    ctx = {
        "push": push,
        "survey": survey,
        "res": res,
        "questions": _charts(res),
        "correct_rate": _pct(res.correct_rate),
        "satisfaction_rate": _pct(res.satisfaction_rate),
        "crosstabs": crosstabs,
        "has_scale": any(q.question.kind == QuestionKind.SCALE for q in res.questions),
        "is_quiz": any(q.graded for q in res.questions),
        "trend": [
            {"row": r, "correct": _pct(r.correct_rate), "satisfied": _pct(r.satisfaction_rate)} for r in res.trend
        ],
        "trend_chart": _trend_chart(res),
        "can_manage": has_capability(request.user, Capability.DRAFT_PUSH, push.unit)
        or has_capability(request.user, Capability.APPROVE_PUSH, push.unit),
        "can_run_again": has_capability(request.user, Capability.DRAFT_PUSH, push.unit),
    }
    return render_console(request, "surveys/console/results.html", ctx, section="pushes")


@require_GET
@staff_required
def results_export(request: HttpRequest, push_id: int, fmt: str) -> HttpResponse:
    """?table=responses (default: one row per response) or ?table=summary (distribution)."""
    push = _push(request, push_id)
    survey = selectors.survey_for_staff(request.user, push)
    if survey is None or fmt not in ("csv", "xlsx"):
        raise Http404
    table = request.GET.get("table", "responses")
    if table == "summary":
        header, rows = selectors.summary_table(selectors.results(survey))
    else:
        table = "responses"
        header, rows = selectors.export_table(survey)
    log_action(
        "surveys.results.exported",
        actor=request.user,
        obj=survey,
        unit_id=push.unit_id,
        data={"format": fmt, "table": table, "push": push.pk},
    )
    stamp = timezone.localtime(timezone.now(), TAIPEI).strftime("%Y%m%d-%H%M")
    if fmt == "csv":
        response = HttpResponse(exports.write_csv(header, rows), content_type="text/csv; charset=utf-8")
    else:
        response = HttpResponse(
            exports.write_xlsx(header, rows, title=table),
            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    response["Content-Disposition"] = f'attachment; filename="survey-{push.pk}-{table}-{stamp}.{fmt}"'
    response["Cache-Control"] = "no-store"
    return response
