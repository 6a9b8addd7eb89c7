"""Anonymous mode keeps no link between a citizen and their answers (in the model and in the
database itself); the answered_survey group filter; personal data export and erasure."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from civicpush.audiences.segments import citizens_matching, validate_filters
from civicpush.citizen_web.tests.pushes import new_citizen
from civicpush.core.errors import ValidationFailed
from civicpush.core.personal_data import erase_all, export_all
from civicpush.pushes import services as push_services
from civicpush.surveys import services
from civicpush.surveys.models import Answer, Participation, Response

from .helpers import (
    Q1,
    Q_SCALE,
    Q_TEXT,
    approve,
    coin_period,
    quiz_push,
    reserved_budget,
    right_answers,
    send,
    with_profile,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def anonymous_survey(org: Any) -> Any:
    unit = org.unit("prevention")
    reserved_budget(unit)
    coin_period(unit)
    push, survey = quiz_push(
        org, anonymous=True, questions=[{**Q_SCALE, "coins": 10}, {**Q_TEXT, "coins": 10}],
        body="填寫滿意度調查可獲得金幣20枚(限制前300位用戶領取)",
    )  # fmt: skip
    send(org, approve(org, push))
    return survey


def _columns(table: str) -> list[str]:
    with connection.cursor() as cursor:
        return [c.name for c in connection.introspection.get_table_description(cursor, table)]


def test_anonymous_answers_record_that_a_citizen_answered_but_not_what(anonymous_survey: Any) -> None:
    survey = anonymous_survey
    people = [new_citizen() for _ in range(3)]
    for i, person in enumerate(people):
        outcome = services.do_answer(person, survey, right_answers(survey), f"anon-token-{i}-xyz")
        assert outcome.rewarded_now  # rewarded: the reward does not depend on what was answered
    assert Participation.objects.filter(survey=survey).count() == 3
    responses = Response.objects.filter(survey=survey)
    assert responses.count() == 3
    for r in responses:
        assert r.anonymous and r.citizen_id is None and r.submitted_at is None
        assert r.township_id is None and r.age_band == "" and r.gender == ""
    # At the database level: no response row names a citizen, carries a time finer than the day or
    # any demographic; the participation table has no column pointing at responses or answers.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM surveys_response WHERE survey_id = %s AND (citizen_id IS NOT NULL "
            "OR submitted_at IS NOT NULL OR township_id IS NOT NULL OR age_band <> '' OR gender <> '')",
            [survey.pk],
        )
        assert cursor.fetchone()[0] == 0
    assert not {c for c in _columns("surveys_participation") if "response" in c or "answer" in c}
    assert not {c for c in _columns("surveys_answer") if "citizen" in c or "participation" in c}
    # Responses have random keys, so their order says nothing about who answered first.
    assert all(len(str(r.pk)) == 36 for r in responses)


def test_the_database_refuses_an_anonymous_response_that_names_a_citizen(anonymous_survey: Any) -> None:
    citizen = new_citizen()
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(
            survey=anonymous_survey, anonymous=True, citizen=citizen, submitted_on=timezone.localdate()
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Response.objects.create(
            survey=anonymous_survey, anonymous=True, gender="female", submitted_on=timezone.localdate()
        )


def test_an_anonymous_questionnaire_cannot_be_a_quiz(org: Any) -> None:
    push, _survey = quiz_push(org, anonymous=True, questions=[Q1, Q1 | {"text": "第二題"}])
    with pytest.raises(ValidationFailed) as caught:
        push_services.do_submit(org.user("prevention.drafter"), push)
    assert "survey" in caught.value.field_errors


def test_the_answered_survey_filter_finds_respondents(anonymous_survey: Any) -> None:
    survey = anonymous_survey
    answered, other = with_profile(new_citizen()), with_profile(new_citizen())
    services.do_answer(answered, survey, right_answers(survey), "filter-token-001")
    filters = validate_filters({"answered_survey": [survey.pk]})
    assert set(citizens_matching(filters)) == {answered.pk}
    assert other.pk not in set(citizens_matching(filters))
    with pytest.raises(ValidationFailed):
        validate_filters({"answered_survey": [999_999]})
    with pytest.raises(ValidationFailed):
        validate_filters({"answered_survey": ["x"]})


def test_export_and_erasure_of_a_citizens_answers(org: Any) -> None:
    unit = org.unit("prevention")
    reserved_budget(unit)
    coin_period(unit)
    push, survey = quiz_push(org, questions=[Q1, {**Q_TEXT, "coins": 10}])
    send(org, approve(org, push))
    citizen = new_citizen()
    answers = right_answers(survey)
    text_key = next(k for k, v in answers.items() if v == ["很好"])
    answers[text_key] = ["我住在知本，電話 0912-000-000"]
    services.do_answer(citizen, survey, answers, "export-token-0001")
    data = export_all(citizen)["surveys"]
    assert data["answered"][0]["coins"] == 20
    assert "我住在知本，電話 0912-000-000" in str(data["answers"])
    erase_all(citizen)
    response = Response.objects.get(survey=survey)
    assert response.citizen_id is None and response.anonymous
    assert not Answer.objects.filter(text__contains="0912").exists()
    assert Participation.objects.filter(survey=survey).count() == 1  # the reward's record stays (pseudonymous)
