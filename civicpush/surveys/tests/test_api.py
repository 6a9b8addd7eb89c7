"""The questionnaire API: questions and results of a push the caller may see; 404 otherwise."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from civicpush.citizen_web.tests.pushes import new_citizen
from civicpush.surveys import services

from .helpers import Q1, Q_SCALE, approve, coin_period, quiz_push, reserved_budget, right_answers, send

pytestmark = pytest.mark.django_db


def test_results_api_for_the_unit_and_404_for_others(org: Any) -> None:
    unit = org.unit("prevention")
    reserved_budget(unit)
    coin_period(unit)
    push, survey = quiz_push(org, questions=[Q1, Q_SCALE | {"coins": 10}])
    send(org, approve(org, push))
    services.do_answer(new_citizen(), survey, right_answers(survey), "api-token-000001")
    client = Client()
    assert client.login(username="prevention.drafter", password="demo-password-for-tests")
    definition = client.get(f"/api/v1/pushes/{push.pk}/survey").json()
    assert definition["reward_amount"] == 20 and definition["quota"] == 300
    assert [c["is_correct"] for c in definition["questions"][0]["choices"]] == [True, False]
    results = client.get(f"/api/v1/pushes/{push.pk}/survey/results").json()
    assert results["respondents"] == 1 and results["rewarded"] == 1 and results["correct_rate"] == 1.0
    assert results["satisfaction_rate"] == 1.0 and results["trend"][0]["run_number"] == 1
    other = Client()
    assert other.login(username="rescue.drafter", password="demo-password-for-tests")
    response = other.get(f"/api/v1/pushes/{push.pk}/survey/results")
    assert response.status_code == 404 and response["Content-Type"].startswith("application/problem+json")
