"""The citizen's answering pages and the console's builder, results and exports (Django client)."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.test import Client
from openpyxl import load_workbook

from civicpush.citizen_web.tests.pushes import client_for, new_citizen
from civicpush.surveys import services
from civicpush.surveys.models import Participation, Question
from civicpush.wallet import selectors as wallet_selectors

from .helpers import Q1, Q2, Q_SCALE, Q_TEXT, approve, coin_period, quiz_push, reserved_budget, send

pytestmark = pytest.mark.django_db
PASSWORD = "demo-password-for-tests"


@pytest.fixture
def sent_quiz(org: Any) -> Any:
    unit = org.unit("prevention")
    reserved_budget(unit)
    coin_period(unit)
    push, survey = quiz_push(org, questions=[Q1, Q2, Q_SCALE, Q_TEXT], body="答對可獲得金幣20枚(限制前300位用戶領取)")
    send(org, approve(org, push))
    survey.refresh_from_db()
    return push, survey


def staff(org: Any, username: str = "prevention.drafter") -> Client:
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    return client


def _form(survey: Any, *, right: bool = True) -> dict[str, Any]:
    data: dict[str, Any] = {"token": "a" * 32}
    for q in services.questions_of(survey):
        choices = list(q.choices.all())
        if q.kind == "single":
            data[f"q{q.pk}"] = [str(c.pk) for c in choices if c.is_correct == right][:1]
        elif q.kind == "multiple":
            data[f"q{q.pk}"] = [str(c.pk) for c in choices if c.is_correct]
        elif q.kind == "scale":
            data[f"q{q.pk}"] = "4"
        else:
            data[f"q{q.pk}"] = "講解清楚"
    return data


def test_the_message_page_offers_the_quiz_and_the_answer_shows_the_coins_at_once(sent_quiz: Any) -> None:
    push, survey = sent_quiz
    citizen = new_citizen()
    client = client_for(citizen)
    page = client.get(f"/m/{push.pk}/").content.decode()
    assert f"/m/{push.pk}/survey/" in page and "20" in page
    form = client.get(f"/m/{push.pk}/survey/")
    assert form.status_code == 200 and Q1["text"] in form.content.decode()
    done = client.post(f"/m/{push.pk}/survey/", _form(survey))
    assert done.status_code == 303 and done["Location"] == f"/m/{push.pk}/survey/result/"
    result = client.get(done["Location"]).content.decode()
    assert 'data-coins="20"' in result and "關山鎮" in result
    assert wallet_selectors.wallet_balance(citizen) == 20
    again = client.post(f"/m/{push.pk}/survey/", _form(survey))  # a double tap: same token
    assert again.status_code == 303 and wallet_selectors.wallet_balance(citizen) == 20
    assert client.get(f"/m/{push.pk}/survey/").status_code == 302  # answered: straight to the result


def test_a_wrong_answer_shows_a_retry_and_missing_answers_are_shown_per_question(sent_quiz: Any) -> None:
    push, survey = sent_quiz
    client = client_for(new_citizen())
    missing = client.post(f"/m/{push.pk}/survey/", {"token": "b" * 32})
    assert missing.status_code == 400 and missing.content.decode().count('class="field-error"') == 3
    assert not Participation.objects.exists()
    client.post(f"/m/{push.pk}/survey/", _form(survey, right=False))
    result = client.get(f"/m/{push.pk}/survey/result/").content.decode()
    assert f'href="/m/{push.pk}/survey/"' in result and 'class="wrong"' in result
    assert "大聲鳴按喇叭" in result and "轉頭開車門往後看" not in result  # no correct answers while a retry is left
    assert Participation.objects.get().passed is False


def test_a_citizen_who_did_not_receive_the_push_gets_404(org: Any) -> None:
    unit = org.unit("prevention")
    reserved_budget(unit)
    coin_period(unit)
    push, _survey = quiz_push(org)
    approve(org, push)  # approved, never sent
    client = client_for(new_citizen())
    assert client.get(f"/m/{push.pk}/survey/").status_code == 404


def test_the_builder_adds_a_question_with_correct_answers_and_shows_what_blocks_submission(org: Any) -> None:
    push, survey = quiz_push(org, questions=[], body="請作答")
    client = staff(org)
    page = client.get(f"/console/pushes/{push.pk}/survey/").content.decode()
    assert 'class="notice-card"' in page  # what still blocks submission: no question yet
    response = client.post(
        f"/console/pushes/{push.pk}/survey/questions/",
        {"kind": "multiple", "text": Q2["text"], "options": "關山鎮\n池上鄉\n富里鄉", "correct": "1、2", "coins": "10",
         "required": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    question = Question.objects.get(survey=survey)
    assert [c.is_correct for c in question.choices.all()] == [True, True, False]
    bad = client.post(f"/console/pushes/{push.pk}/survey/questions/", {"kind": "single", "text": "", "options": "A"})
    assert bad.status_code == 400
    detail = client.get(f"/console/pushes/{push.pk}/").content.decode()
    assert f"/console/pushes/{push.pk}/survey/" in detail


def test_results_page_and_exports(sent_quiz: Any, org: Any) -> None:
    push, survey = sent_quiz
    for i in range(3):
        client_for(new_citizen()).post(f"/m/{push.pk}/survey/", {**_form(survey, right=i != 2), "token": f"t{i}" * 8})
    client = staff(org)
    page = client.get(f"/console/pushes/{push.pk}/survey/results/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="stat-respondents">3<' in html and "<svg" in html and "講解清楚" in html
    csv = client.get(f"/console/pushes/{push.pk}/survey/results.csv")
    assert csv.status_code == 200 and csv.content.decode("utf-8-sig").count("\n") == 4
    xlsx = client.get(f"/console/pushes/{push.pk}/survey/results.xlsx?table=summary")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet.max_row > 5
    assert client.get(f"/console/pushes/{push.pk}/survey/results.pdf").status_code == 404
    outsider = staff(org, "rescue.drafter")
    assert outsider.get(f"/console/pushes/{push.pk}/survey/results/").status_code == 404
