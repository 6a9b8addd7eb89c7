"""Questionnaire endpoints (read-only): a questionnaire push's questions and settings, and its
results — distribution per question, correct rate, satisfaction rate (share of 4–5), cross-tabs
by township, age band and gender, and the trend over repeated runs.

Isolation as for pushes: a push of a unit the caller cannot see is 404. Anonymous questionnaires
have no cross-tabs (nothing links answers to people). Free-text answers are listed (at most 500 per
question; the console's export has them all).
"""

from __future__ import annotations

import datetime

from django.http import HttpRequest
from ninja import Router, Schema

from civicpush.core.errors import NotFound
from civicpush.org.roles import Capability
from civicpush.pushes.models import Push
from civicpush.surveys import selectors, services
from civicpush.surveys.models import Survey

from ..auth import principal_of
from ..problems import problem_responses

router = Router(tags=["surveys"])


class ChoiceOut(Schema):
    id: int
    text: str
    is_correct: bool


class QuestionOut(Schema):
    id: int
    kind: str
    text: str
    required: bool
    coins: int
    choices: list[ChoiceOut]
    scale_labels: list[str]
    rating_max: int


class SurveyOut(Schema):
    id: int
    push_id: int
    series: str
    run_number: int
    opens_at: datetime.datetime | None
    closes_at: datetime.datetime | None
    closed_at: datetime.datetime | None
    allow_retry: bool
    anonymous: bool
    reward_amount: int
    quota: int | None
    rewarded_count: int
    funded_amount: int
    returned_amount: int
    questions: list[QuestionOut]


class RowOut(Schema):
    label: str
    count: int
    share: float | None
    is_correct: bool


class QuestionResultOut(Schema):
    question_id: int
    kind: str
    text: str
    answered: int
    rows: list[RowOut]
    correct_rate: float | None
    satisfaction_rate: float | None
    mean: float | None
    texts: list[str]
    text_count: int


class GroupOut(Schema):
    label: str
    respondents: int
    correct_rate: float | None
    satisfaction_rate: float | None


class RunOut(Schema):
    survey_id: int
    push_id: int
    run_number: int
    title: str
    opened: datetime.date | None
    respondents: int
    correct_rate: float | None
    satisfaction_rate: float | None


class ResultsOut(Schema):
    survey_id: int
    push_id: int
    respondents: int
    retries: int
    passed: int
    rewarded: int
    coins_paid: int
    quota_left: int | None
    correct_rate: float | None
    satisfaction_rate: float | None
    questions: list[QuestionResultOut]
    by_township: list[GroupOut]
    by_age_band: list[GroupOut]
    by_gender: list[GroupOut]
    trend: list[RunOut]


def _survey(request: HttpRequest, push_id: int) -> Survey:
    principal = principal_of(request)
    push = Push.objects.select_related("unit").filter(pk=push_id).first()
    if push is None or not principal.has_capability(Capability.VIEW_UNIT, push.unit):
        raise NotFound()
    survey = Survey.objects.filter(push=push).first()
    if survey is None:
        raise NotFound()
    return survey


@router.get(
    "/pushes/{push_id}/survey",
    response={200: SurveyOut, **problem_responses(401, 404)},
    summary="A questionnaire push's questions and reward settings",
)
def get_survey(request: HttpRequest, push_id: int) -> SurveyOut:
    survey = _survey(request, push_id)
    return SurveyOut(
        id=survey.pk,
        push_id=survey.push_id,
        series=str(survey.series),
        run_number=survey.run_number,
        opens_at=survey.opens_at,
        closes_at=survey.closes_at,
        closed_at=survey.closed_at,
        allow_retry=survey.allow_retry,
        anonymous=survey.anonymous,
        reward_amount=survey.reward_amount,
        quota=survey.quota,
        rewarded_count=survey.rewarded_count,
        funded_amount=survey.funded_amount,
        returned_amount=survey.returned_amount,
        questions=[
            QuestionOut(
                id=q.pk,
                kind=q.kind,
                text=q.text,
                required=q.required,
                coins=q.coins,
                choices=[ChoiceOut(id=c.pk, text=c.text, is_correct=c.is_correct) for c in q.choices.all()],
                scale_labels=list(q.scale_labels or []),
                rating_max=q.rating_max,
            )
            for q in services.questions_of(survey)
        ],
    )


def _groups(rows: list[selectors.GroupRow]) -> list[GroupOut]:
    return [
        GroupOut(
            label=r.label, respondents=r.respondents, correct_rate=r.correct_rate, satisfaction_rate=r.satisfaction_rate
        )
        for r in rows
    ]


@router.get(
    "/pushes/{push_id}/survey/results",
    response={200: ResultsOut, **problem_responses(401, 404)},
    summary="Results of a questionnaire push",
)
def get_results(request: HttpRequest, push_id: int) -> ResultsOut:
    """Counts each respondent's first attempt. Rates are fractions (0.908 = 90.8%); null when there
    is nothing to rate."""
    res = selectors.results(_survey(request, push_id))
    return ResultsOut(
        survey_id=res.survey.pk,
        push_id=res.survey.push_id,
        respondents=res.respondents,
        retries=res.retries,
        passed=res.passed,
        rewarded=res.rewarded,
        coins_paid=res.coins_paid,
        quota_left=res.quota_left,
        correct_rate=res.correct_rate,
        satisfaction_rate=res.satisfaction_rate,
        questions=[
            QuestionResultOut(
                question_id=q.question.pk,
                kind=q.question.kind,
                text=q.question.text,
                answered=q.answered,
                rows=[RowOut(label=r.label, count=r.count, share=r.share, is_correct=r.is_correct) for r in q.rows],
                correct_rate=q.correct_rate,
                satisfaction_rate=q.satisfaction_rate,
                mean=q.mean,
                texts=q.texts,
                text_count=q.text_count,
            )
            for q in res.questions
        ],
        by_township=_groups(res.crosstabs.get("township", [])),
        by_age_band=_groups(res.crosstabs.get("age_band", [])),
        by_gender=_groups(res.crosstabs.get("gender", [])),
        trend=[
            RunOut(
                survey_id=r.survey_id,
                push_id=r.push_id,
                run_number=r.run_number,
                title=r.title,
                opened=r.opened,
                respondents=r.respondents,
                correct_rate=r.correct_rate,
                satisfaction_rate=r.satisfaction_rate,
            )
            for r in res.trend
        ],
    )
