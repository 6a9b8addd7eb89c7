"""Questionnaire reads: the staff's questionnaire of a push, results (distribution, correct rate,
satisfaction rate, cross-tabs by township, age band and gender, trend over runs, free text), export
rows, and what a citizen sees of a questionnaire.

Results count each respondent's first attempt (a retried quiz would otherwise count the same
person again and flatter the correct rate); retries are reported apart.
"""

from __future__ import annotations

import datetime
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen, Gender, Township
from civicpush.core.errors import NotFound
from civicpush.org.permissions import has_capability
from civicpush.org.roles import Capability
from civicpush.pushes.models import Push
from civicpush.pushes.scheduling import TAIPEI

from .models import CHOICE_KINDS, NUMBER_KINDS, AgeBand, Answer, Participation, Question, QuestionKind, Response, Survey

TEXT_ANSWERS_SHOWN = 500


def survey_for_staff(user: Any, push: Push) -> Survey | None:
    """The push's questionnaire for someone who may see the push's unit (NotFound otherwise)."""
    if not has_capability(user, Capability.VIEW_UNIT, push.unit):
        raise NotFound()
    return Survey.objects.filter(push=push).select_related("push", "unit", "budget", "period").first()


def rate(part: int, whole: int) -> float | None:
    return None if not whole else part / whole


@dataclass
class ChoiceRow:
    label: str
    count: int
    share: float | None
    is_correct: bool = False


@dataclass
class QuestionResult:
    question: Question
    answered: int
    rows: list[ChoiceRow] = field(default_factory=list)
    correct_rate: float | None = None  # graded choice questions
    satisfaction_rate: float | None = None  # scale: share of 4–5
    mean: float | None = None  # scale and rating
    texts: list[str] = field(default_factory=list)
    text_count: int = 0
    graded: bool = False  # a quiz question (has correct answers)


@dataclass
class GroupRow:
    label: str
    respondents: int
    correct_rate: float | None
    satisfaction_rate: float | None


@dataclass
class RunRow:
    survey_id: int
    push_id: int
    run_number: int
    title: str
    opened: datetime.date | None
    respondents: int
    correct_rate: float | None
    satisfaction_rate: float | None
    is_current: bool


@dataclass
class SurveyResults:
    survey: Survey
    respondents: int
    retries: int
    passed: int
    rewarded: int
    coins_paid: int
    quota_left: int | None
    correct_rate: float | None
    satisfaction_rate: float | None
    questions: list[QuestionResult]
    crosstabs: dict[str, list[GroupRow]]
    trend: list[RunRow]


def _first_attempts(survey: Survey) -> Any:
    return Response.objects.filter(survey=survey, attempt=1)


def _rates_by(rows: Iterable[dict[str, Any]], key: str) -> dict[Any, tuple[int, int, int, int, int]]:
    """Per value of `key`: (responses, graded responses, all correct, scale answers, scale 4–5)."""
    out: dict[Any, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    for r in rows:
        acc = out[r[key]]
        acc[0] += 1
        if r["all_correct"] is not None:
            acc[1] += 1
            acc[2] += 1 if r["all_correct"] else 0
        acc[3] += r["scale_n"]
        acc[4] += r["scale_hi"]
    return {k: (v[0], v[1], v[2], v[3], v[4]) for k, v in out.items()}


def results(survey: Survey) -> SurveyResults:
    """Everything the results page, the API and the exports show."""
    questions = list(survey.questions.prefetch_related("choices").order_by("order", "id"))
    by_q: dict[int, list[dict[str, Any]]] = defaultdict(list)
    answers = Answer.objects.filter(response__survey=survey, response__attempt=1).values(
        "response_id", "question_id", "choices", "number", "text", "is_correct"
    )
    scale_ids = {q.pk for q in questions if q.kind == QuestionKind.SCALE}
    scale_per_response: dict[Any, list[int]] = defaultdict(lambda: [0, 0])
    for a in answers:
        by_q[a["question_id"]].append(dict(a))
        if a["question_id"] in scale_ids and a["number"]:
            acc = scale_per_response[a["response_id"]]
            acc[0] += 1
            acc[1] += 1 if a["number"] >= 4 else 0
    question_results = [_question_result(q, by_q.get(q.pk, [])) for q in questions]

    responses = list(_first_attempts(survey).values("id", "all_correct", "township_id", "age_band", "gender"))
    for r in responses:
        r["scale_n"], r["scale_hi"] = scale_per_response.get(r["id"], (0, 0))
    graded = [r for r in responses if r["all_correct"] is not None]
    scale_total = sum(r["scale_n"] for r in responses)
    scale_hi = sum(r["scale_hi"] for r in responses)
    parts = Participation.objects.filter(survey=survey).aggregate(
        n=Count("pk"), passed=Count("pk", filter=Q(passed=True)), rewarded=Count("pk", filter=Q(rewarded=True))
    )
    retries = Response.objects.filter(survey=survey, attempt__gt=1).count()
    quota_left = None
    if survey.gives_coins:
        quota_left = max(0, int(survey.quota or 0) - survey.rewarded_count)
    return SurveyResults(
        survey=survey,
        respondents=parts["n"],
        retries=retries,
        passed=parts["passed"],
        rewarded=parts["rewarded"],
        coins_paid=parts["rewarded"] * survey.reward_amount,
        quota_left=quota_left,
        correct_rate=rate(sum(1 for r in graded if r["all_correct"]), len(graded)) if graded else None,
        satisfaction_rate=rate(scale_hi, scale_total),
        questions=question_results,
        crosstabs={} if survey.anonymous else _crosstabs(responses),
        trend=trend(survey),
    )


def _question_result(q: Question, answers: list[dict[str, Any]]) -> QuestionResult:
    result = QuestionResult(question=q, answered=0)
    if q.kind in CHOICE_KINDS:
        choices = list(q.choices.all())
        counts: Counter[int] = Counter()
        for a in answers:
            if a["choices"]:
                result.answered += 1
                counts.update(a["choices"])
        result.rows = [
            ChoiceRow(c.text, counts[c.pk], rate(counts[c.pk], result.answered), c.is_correct) for c in choices
        ]
        if any(c.is_correct for c in choices):
            result.graded = True
            graded = [a for a in answers if a["is_correct"] is not None]
            result.correct_rate = rate(sum(1 for a in graded if a["is_correct"]), len(graded))
    elif q.kind in NUMBER_KINDS:
        numbers = [a["number"] for a in answers if a["number"]]
        result.answered = len(numbers)
        counts_n = Counter(numbers)
        labels = q.scale_labels if q.kind == QuestionKind.SCALE else []
        for point in q.points:
            if len(labels) >= point:
                label = f"{point} {labels[point - 1]}"
            else:
                label = f"{point} ★" if q.kind == QuestionKind.RATING else str(point)
            result.rows.append(ChoiceRow(label, counts_n[point], rate(counts_n[point], result.answered)))
        if numbers:
            result.mean = sum(numbers) / len(numbers)
        if q.kind == QuestionKind.SCALE:
            result.satisfaction_rate = rate(sum(1 for n in numbers if n >= 4), len(numbers))
    else:
        texts = [a["text"] for a in answers if a["text"]]
        result.answered = result.text_count = len(texts)
        result.texts = texts[:TEXT_ANSWERS_SHOWN]
    return result


def _crosstabs(responses: list[dict[str, Any]]) -> dict[str, list[GroupRow]]:
    townships = dict(Township.objects.values_list("pk", "name"))
    genders = dict(Gender.choices)
    bands = dict(AgeBand.choices)
    out: dict[str, list[GroupRow]] = {}
    for key, names, order in (
        ("township_id", townships, list(townships)),
        ("age_band", bands, [b for b in AgeBand.values if b] + [""]),
        ("gender", genders, [*list(genders), ""]),
    ):
        stats = _rates_by(responses, key)
        rows = []
        for value in order + [v for v in stats if v not in order]:
            if value not in stats:
                continue
            n, graded, correct, scale_n, scale_hi = stats[value]
            label = str(names.get(value) or "") if value not in (None, "") else _("not given")
            rows.append(
                GroupRow(
                    label=label or _("not given"),
                    respondents=n,
                    correct_rate=rate(correct, graded) if graded else None,
                    satisfaction_rate=rate(scale_hi, scale_n),
                )
            )
        out[key] = rows
    return {"township": out["township_id"], "age_band": out["age_band"], "gender": out["gender"]}


def trend(survey: Survey) -> list[RunRow]:
    """Every run of the same questionnaire (series), in order, with its headline rates."""
    runs = list(Survey.objects.filter(series=survey.series).select_related("push").order_by("run_number", "pk"))
    rows = []
    for run in runs:
        responses = _first_attempts(run)
        graded = responses.exclude(all_correct__isnull=True)
        n_graded = graded.count()
        scale = Answer.objects.filter(
            response__survey=run, response__attempt=1, question__kind=QuestionKind.SCALE, number__isnull=False
        )
        n_scale = scale.count()
        rows.append(
            RunRow(
                survey_id=run.pk,
                push_id=run.push_id,
                run_number=run.run_number,
                title=run.push.full_title,
                opened=timezone.localtime(run.opens_at, TAIPEI).date() if run.opens_at else None,
                respondents=Participation.objects.filter(survey=run).count(),
                correct_rate=rate(graded.filter(all_correct=True).count(), n_graded) if n_graded else None,
                satisfaction_rate=rate(scale.filter(number__gte=4).count(), n_scale) if n_scale else None,
                is_current=run.pk == survey.pk,
            )
        )
    return rows


# --- exports --------------------------------------------------------------------------------------


def export_table(survey: Survey) -> tuple[list[str], list[list[Any]]]:
    """One row per response (all attempts), one column per question; no names or numbers of people."""
    questions = list(survey.questions.prefetch_related("choices").order_by("order", "id"))
    names = {c.pk: c.text for q in questions for c in q.choices.all()}
    header = [_("Response"), _("Attempt"), _("Date")]
    if not survey.anonymous:
        header += [_("Township"), _("Age band"), _("Gender"), _("All correct")]
    header += [f"{i}. {q.text}" for i, q in enumerate(questions, start=1)]
    townships = dict(Township.objects.values_list("pk", "name"))
    genders = dict(Gender.choices)
    bands = dict(AgeBand.choices)
    responses = list(Response.objects.filter(survey=survey).order_by("submitted_on", "attempt", "id"))
    answers: dict[Any, dict[int, Answer]] = defaultdict(dict)
    for a in Answer.objects.filter(response__survey=survey):
        answers[a.response_id][a.question_id] = a
    rows = []
    for r in responses:
        row: list[Any] = [str(r.pk)[:8], r.attempt, r.submitted_on.isoformat()]
        if not survey.anonymous:
            row += [
                townships.get(r.township_id, "") if r.township_id else "",
                str(bands.get(r.age_band, "")) if r.age_band else "",
                str(genders.get(r.gender, "")) if r.gender else "",
                "" if r.all_correct is None else (_("yes") if r.all_correct else _("no")),
            ]
        for q in questions:
            found = answers[r.pk].get(q.pk)
            if found is None:
                row.append("")
            elif q.kind in CHOICE_KINDS:
                row.append("、".join(names.get(c, "") for c in found.choices))
            elif q.kind in NUMBER_KINDS:
                row.append(found.number)
            else:
                row.append(found.text)
        rows.append(row)
    return header, rows


def summary_table(res: SurveyResults) -> tuple[list[str], list[list[Any]]]:
    """The distribution per question as rows (question, option, count, share, correct)."""
    header = [_("Question"), _("Option"), _("Count"), _("Share"), _("Correct answer")]
    rows: list[list[Any]] = []
    for i, qr in enumerate(res.questions, start=1):
        for row in qr.rows:
            share = None if row.share is None else round(row.share, 4)
            rows.append([f"{i}. {qr.question.text}", row.label, row.count, share, _("yes") if row.is_correct else ""])
        if qr.question.kind == QuestionKind.TEXT:
            rows.append([f"{i}. {qr.question.text}", _("Free-text answers"), qr.text_count, None, ""])
    return header, rows


# --- citizens -------------------------------------------------------------------------------------


@dataclass
class CitizenView:
    survey: Survey
    state: str  # open / not_open / closed
    participation: Participation | None
    coins_left: bool  # some of the first N rewards are still to be given
    is_quiz: bool

    @property
    def answered(self) -> bool:
        return self.participation is not None and self.participation.attempts > 0

    @property
    def can_answer(self) -> bool:
        if self.state != "open":
            return False
        return self.participation is None or not self.participation.completed


def citizen_view(citizen: Citizen, survey: Survey, now: datetime.datetime | None = None) -> CitizenView:
    from .services import answering_state

    part = Participation.objects.filter(survey=survey, citizen=citizen).first()
    is_quiz = Question.objects.filter(survey=survey, choices__is_correct=True).exists()
    return CitizenView(
        survey=survey,
        state=answering_state(survey, now),
        participation=part,
        coins_left=survey.gives_coins and survey.rewarded_count < int(survey.quota or 0) and survey.closed_at is None,
        is_quiz=is_quiz,
    )


def last_response(citizen: Citizen, survey: Survey) -> Response | None:
    """The citizen's latest attempt (None in an anonymous survey: nothing links it to them)."""
    return (
        Response.objects.filter(survey=survey, citizen=citizen).prefetch_related("answers").order_by("-attempt").first()
    )


def satisfaction_rate_for_group(group_id: int) -> float | None:
    """Share of 4–5 answers on the 1–5 scales of the questionnaires pushed to a group (e.g. an
    event's attendees), first attempts only; None when there are none (used by events)."""
    from civicpush.pushes.models import PushTargetGroup

    push_ids = PushTargetGroup.objects.filter(group_id=group_id).values("push_id")
    scale = Answer.objects.filter(
        response__survey__push_id__in=push_ids,
        response__attempt=1,
        question__kind=QuestionKind.SCALE,
        number__isnull=False,
    )
    total = scale.count()
    return rate(scale.filter(number__gte=4).count(), total) if total else None
