"""Results: distribution per question, correct rate, satisfaction rate (share of 4–5), cross-tabs
by township, age band and gender, trend over repeated runs, free text, and the export tables."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone

from civicpush.citizen_web.tests.pushes import new_citizen
from civicpush.citizens.models import Township
from civicpush.surveys import selectors, services

from .helpers import Q1, Q_SCALE, Q_TEXT, approve, coin_period, quiz_push, reserved_budget, send, with_profile

pytestmark = pytest.mark.django_db


def _answer(survey: Any, citizen: Any, *, right: bool, scale: int, text: str, n: int) -> None:
    data: dict[str, list[str]] = {}
    for q in services.questions_of(survey):
        choices = list(q.choices.all())
        if q.kind == "single":
            data[f"q{q.pk}"] = [str(c.pk) for c in choices if c.is_correct == right][:1]
        elif q.kind == "scale":
            data[f"q{q.pk}"] = [str(scale)]
        else:
            data[f"q{q.pk}"] = [text] if text else []
    services.do_answer(citizen, survey, data, f"results-token-{survey.pk}-{n:04d}")


def _person(township: Any, birth_year: int, gender: str) -> Any:
    return with_profile(new_citizen(), township=township, birth_year=birth_year, gender=gender)


def test_results_count_first_attempts_with_rates_and_cross_tabs(org: Any) -> None:
    unit = org.unit("prevention")
    reserved_budget(unit)
    coin_period(unit)
    push, survey = quiz_push(
        org, questions=[Q1, Q_SCALE, Q_TEXT | {"coins": 10}], body="可獲得金幣20枚(限制前300位用戶領取)"
    )
    send(org, approve(org, push))
    from civicpush.citizens.reference import ensure_reference_data

    ensure_reference_data(org.county)
    towns = list(Township.objects.order_by("sort_order")[:2])
    year = timezone.localdate().year
    people = [
        (_person(towns[0], year - 25, "female"), True, 5, "很好"),
        (_person(towns[0], year - 70, "male"), True, 4, ""),
        (_person(towns[1], year - 35, "female"), False, 2, "字太小"),
        (_person(towns[1], year - 35, "male"), True, 3, ""),
    ]
    for n, (p, right, scale, text) in enumerate(people):
        _answer(survey, p, right=right, scale=scale, text=text, n=n)
    # The one who was wrong retries and gets it right: results still count the first attempt.
    _answer(survey, people[2][0], right=True, scale=5, text="", n=99)
    res = selectors.results(survey)
    assert res.respondents == 4 and res.retries == 1 and res.rewarded == 4
    assert res.correct_rate == 0.75
    assert res.satisfaction_rate == 0.5  # 5 and 4 of (5, 4, 2, 3)
    q1, scale, text = res.questions
    assert [r.count for r in q1.rows] == [3, 1] and q1.correct_rate == 0.75 and q1.graded
    assert [r.count for r in scale.rows] == [0, 1, 1, 1, 1] and scale.satisfaction_rate == 0.5
    assert scale.mean == 3.5
    assert sorted(text.texts) == ["字太小", "很好"]
    by_town = {row.label: row for row in res.crosstabs["township"]}
    assert by_town[towns[0].name].respondents == 2 and by_town[towns[0].name].correct_rate == 1.0
    assert by_town[towns[1].name].correct_rate == 0.5 and by_town[towns[1].name].satisfaction_rate == 0.0
    bands = {row.label: row.respondents for row in res.crosstabs["age_band"]}
    assert bands == {"20–29 歲": 1, "30–39 歲": 2, "65 歲以上": 1}
    genders = {row.label: row.respondents for row in res.crosstabs["gender"]}
    assert sum(genders.values()) == 4 and len(genders) == 2
    header, rows = selectors.export_table(survey)
    assert len(rows) == 5 and header[-1].endswith(Q_TEXT["text"])
    _s_header, s_rows = selectors.summary_table(res)
    assert any(row[1] == "轉頭開車門往後看" and row[2] == 3 for row in s_rows)


def test_the_trend_compares_repeated_runs_of_the_same_questionnaire(org: Any) -> None:
    unit = org.unit("prevention")
    reserved_budget(unit)
    coin_period(unit)
    push, survey = quiz_push(org, questions=[Q1, Q_SCALE | {"coins": 10}])
    send(org, approve(org, push))
    _answer(survey, new_citizen(), right=False, scale=2, text="", n=1)
    drafter = org.user("prevention.drafter")
    second = services.do_run_again(drafter, survey)
    now = timezone.now()
    services.do_configure_survey(
        drafter, second.push, opens_at=now - datetime.timedelta(minutes=5), closes_at=now + datetime.timedelta(days=3),
        quota=300,
    )  # fmt: skip
    second.refresh_from_db()
    send(org, approve(org, second.push))
    _answer(second, new_citizen(), right=True, scale=5, text="", n=2)
    trend = selectors.trend(second)
    assert [(r.run_number, r.respondents, r.correct_rate, r.satisfaction_rate) for r in trend] == [
        (1, 1, 0.0, 0.0),
        (2, 1, 1.0, 1.0),
    ]
    assert trend[1].is_current


def test_satisfaction_rate_for_a_group_counts_the_questionnaires_pushed_to_it(org: Any) -> None:
    from civicpush.audiences.models import Group, GroupKind, GroupMembership
    from civicpush.pushes import services as push_services

    people = [new_citizen() for _ in range(4)]
    unit = org.unit("prevention")
    group = Group.objects.create(county=unit.county, unit=unit, name="活動出席者1122", kind=GroupKind.STATIC)
    GroupMembership.objects.bulk_create(
        [GroupMembership(group=group, citizen=p, added_at=timezone.now() - datetime.timedelta(days=1)) for p in people]
    )
    push, survey = quiz_push(org, quota=None, questions=[Q_SCALE], body="請填寫活動滿意度調查")
    push_services.do_update_draft(
        org.user("prevention.drafter"), push, target_kind="groups", target_group_ids=[group.pk]
    )
    assert selectors.satisfaction_rate_for_group(group.pk) is None
    send(org, approve(org, push))
    for n, (p, score) in enumerate(zip(people, [5, 4, 4, 2], strict=True)):
        _answer(survey, p, right=True, scale=score, text="", n=n)
    assert selectors.satisfaction_rate_for_group(group.pk) == 0.75
