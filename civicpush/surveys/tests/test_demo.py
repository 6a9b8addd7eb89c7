"""The demo: a funded quiz open to answer, and a satisfaction survey in two runs with results."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from civicpush.citizens.models import Citizen
from civicpush.coins import ledger
from civicpush.surveys import selectors
from civicpush.surveys.demo import demo_surveys_exist, load_demo_surveys
from civicpush.surveys.models import Survey

pytestmark = pytest.mark.django_db


def test_the_demo_has_a_funded_quiz_and_a_survey_with_a_trend() -> None:
    from civicpush.citizens.reference import ensure_reference_data
    from civicpush.demo.citizens import load_demo_citizens
    from civicpush.demo.organisation import create_fire_bureau

    demo = create_fire_bureau()
    ensure_reference_data(demo.county)
    load_demo_citizens(demo.county, 300)
    Citizen.objects.update(created_at=timezone.now() - datetime.timedelta(days=30))  # as load_demo dates them
    assert not demo_surveys_exist(demo.county)
    line = load_demo_surveys(demo)
    assert "quiz" in line and demo_surveys_exist(demo.county)
    quiz = Survey.objects.get(push__title="行車安全小測驗")
    assert quiz.push.status == "sent" and quiz.gives_coins
    assert ledger.balance(ledger.reward_pool(quiz.county_id, ref=quiz.pool_ref)) == 6_000
    run2 = Survey.objects.get(push__title="防火宣導滿意度調查", run_number=2)
    trend = selectors.trend(run2)
    assert [round(r.satisfaction_rate or 0, 3) for r in trend] == [0.908, 0.944]
    assert trend[0].respondents == 65 and trend[1].respondents == 72
    res = selectors.results(run2)
    assert res.crosstabs["township"] and res.crosstabs["age_band"]
