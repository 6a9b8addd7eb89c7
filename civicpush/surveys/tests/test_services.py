"""Questionnaires: the builder, the money rules (funding at approval, return at closing), answering
with first-N rewards and idempotency, retries, closing and cancelling."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.utils import timezone, translation

from civicpush.citizen_web.tests.pushes import new_citizen
from civicpush.coins import ledger
from civicpush.coins.verify import verify
from civicpush.core.errors import Conflict, NotFound, ValidationFailed
from civicpush.pushes import services as push_services
from civicpush.pushes.models import PushStatus
from civicpush.surveys import services
from civicpush.surveys.models import Participation, Response, Survey
from civicpush.wallet import selectors as wallet_selectors

from .helpers import (
    Q1,
    Q2,
    Q_SCALE,
    Q_TEXT,
    approve,
    coin_period,
    quiz_push,
    reserved_budget,
    right_answers,
    send,
    wrong_answers,
)

pytestmark = pytest.mark.django_db

TOKENS = iter(f"token-{i:06d}-abcdef" for i in range(100_000))


def token() -> str:
    return next(TOKENS)


@pytest.fixture
def money(org: Any) -> Any:
    unit = org.unit("prevention")
    return reserved_budget(unit, 100_000), coin_period(unit)


def _pool(survey: Survey) -> Any:
    return ledger.reward_pool(survey.county_id, ref=survey.pool_ref)


def test_the_seed_quiz_is_built_with_ten_coins_a_question_and_written_into_the_review_form(org: Any) -> None:
    push, survey = quiz_push(org, quota=300)
    assert survey.reward_amount == 20 and survey.quota == 300 and survey.gives_coins
    assert push.coin_amount == 20
    assert push.coin_method == "前300名可獲金幣20枚"
    assert push.questionnaire_text.splitlines() == [
        "1.請問下列那一項是安全開車門的行為?(1.轉頭開車門往後看 2.大聲鳴按喇叭，單選答案：1)",
        "2.請問下列何者為台東地名?(1.關山鎮 2.池上鄉 3.富里鄉，複選答案：1、2)",
    ]


def test_a_builder_error_lists_every_field_and_writes_nothing(org: Any) -> None:
    _push, survey = quiz_push(org, questions=[])
    with pytest.raises(ValidationFailed) as caught:
        services.do_add_question(
            org.user("prevention.drafter"), survey, {"kind": "single", "text": "", "options": "A", "correct": "1、2"}
        )
    assert set(caught.value.field_errors) == {"text", "options", "correct"}
    assert survey.questions.count() == 0


def test_submission_requires_the_text_to_state_the_coins_and_the_quota(org: Any, money: Any) -> None:
    push, _survey = quiz_push(org, body="歡迎參加行車安全小測驗，答對有獎！")
    translation.activate("zh-hant")
    with pytest.raises(ValidationFailed) as caught:
        push_services.do_submit(org.user("prevention.drafter"), push)
    message = str(caught.value.field_errors["body"][0])
    assert "金幣數和名額" in message and "可獲得金幣20枚(限制前300位用戶領取)" in message
    push.refresh_from_db()
    assert push.status == PushStatus.DRAFT


def test_fewer_than_twenty_coins_a_push_is_refused_at_submission(org: Any, money: Any) -> None:
    push, _survey = quiz_push(org, questions=[{**Q1, "coins": 10}], body="可獲得金幣10枚(限制前300位用戶領取)")
    with pytest.raises(ValidationFailed) as caught:
        push_services.do_submit(org.user("prevention.drafter"), push)
    assert "20" in str(caught.value.field_errors["survey"][0])


def test_final_approval_moves_quota_times_reward_from_the_budget_into_the_pool(org: Any, money: Any) -> None:
    budget, _period = money
    push, survey = quiz_push(org, quota=300)
    approve(org, push)
    assert push.status == PushStatus.APPROVED
    survey.refresh_from_db()
    assert ledger.balance(_pool(survey)) == 6_000 == survey.funded_amount
    budget.refresh_from_db()
    assert budget.issued_amount == 6_000
    assert verify() == []


def test_approval_is_refused_with_a_clear_message_when_the_budget_cannot_cover_it(org: Any) -> None:
    unit = org.unit("prevention")
    budget = reserved_budget(unit, 5_000)
    coin_period(unit)
    push, survey = quiz_push(org, quota=300)  # needs 6,000
    translation.activate("zh-hant")
    with pytest.raises(ValidationFailed) as caught:
        approve(org, push)
    message = str(caught.value.message)
    assert "預算" in message and "6,000" in message and "5,000" in message
    push.refresh_from_db()
    assert push.status == PushStatus.SUBMITTED  # the last signature was not recorded
    assert push.approvals.filter(revision=push.revision, is_current=True).count() == len(push.chain_roles) - 2
    budget.refresh_from_db()
    assert budget.issued_amount == 0 and ledger.balance(_pool(survey)) == 0


def test_answering_right_pays_the_reward_at_once_and_a_replay_pays_nothing_more(org: Any, money: Any) -> None:
    push, survey = quiz_push(org)
    send(org, approve(org, push))
    citizen = new_citizen()
    t = token()
    outcome = services.do_answer(citizen, survey, right_answers(survey), t)
    assert outcome.rewarded_now and outcome.participation.reward_coins == 20
    assert wallet_selectors.wallet_balance(citizen) == 20
    again = services.do_answer(citizen, survey, right_answers(survey), t)  # double tap / network retry
    assert again.replayed and not again.rewarded_now
    other_device = services.do_answer(citizen, survey, right_answers(survey), token())
    assert other_device.already and not other_device.rewarded_now
    assert wallet_selectors.wallet_balance(citizen) == 20
    assert Participation.objects.get().attempts == 1 and Response.objects.count() == 1
    survey.refresh_from_db()
    assert survey.rewarded_count == 1
    assert wallet_selectors.reason_texts()["quiz"] in [line.reason for line in wallet_selectors.wallet_history(citizen)]


def test_a_wrong_answer_may_be_retried_and_the_reward_comes_with_the_right_one(org: Any, money: Any) -> None:
    push, survey = quiz_push(org, allow_retry=True)
    send(org, approve(org, push))
    citizen = new_citizen()
    first = services.do_answer(citizen, survey, wrong_answers(survey), token())
    assert not first.participation.passed and not first.participation.completed and first.wrong
    assert wallet_selectors.wallet_balance(citizen) == 0
    second = services.do_answer(citizen, survey, right_answers(survey), token())
    assert second.rewarded_now and second.participation.attempts == 2
    assert wallet_selectors.wallet_balance(citizen) == 20


def test_without_retry_a_wrong_answer_is_final(org: Any, money: Any) -> None:
    push, survey = quiz_push(org, allow_retry=False)
    send(org, approve(org, push))
    citizen = new_citizen()
    first = services.do_answer(citizen, survey, wrong_answers(survey), token())
    assert first.participation.completed and not first.participation.passed
    later = services.do_answer(citizen, survey, right_answers(survey), token())
    assert later.already and wallet_selectors.wallet_balance(citizen) == 0


def test_only_the_first_n_are_rewarded_and_later_answers_are_still_taken(org: Any, money: Any) -> None:
    push, survey = quiz_push(org, quota=2, body="答對可獲得金幣20枚(限制前2位用戶領取)")
    send(org, approve(org, push))
    people = [new_citizen() for _ in range(3)]
    outcomes = [services.do_answer(p, survey, right_answers(survey), token()) for p in people]
    assert [o.rewarded_now for o in outcomes] == [True, True, False]
    assert outcomes[2].quota_exhausted and outcomes[2].participation.missed_reward
    assert Response.objects.filter(survey=survey).count() == 3
    assert ledger.balance(_pool(survey)) == 0
    assert sum(wallet_selectors.wallet_balance(p) for p in people) == 40


def test_answers_are_refused_before_opening_after_closing_and_for_pushes_not_received(org: Any, money: Any) -> None:
    push, survey = quiz_push(org)
    citizen = new_citizen()
    with pytest.raises(NotFound):  # approved but never sent: the citizen cannot see it
        services.do_answer(citizen, survey, right_answers(survey), token())
    send(org, approve(org, push))
    Survey.objects.filter(pk=survey.pk).update(opens_at=timezone.now() + datetime.timedelta(hours=1))
    survey.refresh_from_db()
    with pytest.raises(Conflict):
        services.do_answer(citizen, survey, right_answers(survey), token())
    Survey.objects.filter(pk=survey.pk).update(
        opens_at=timezone.now() - datetime.timedelta(days=2), closes_at=timezone.now() - datetime.timedelta(days=1)
    )
    survey.refresh_from_db()
    with pytest.raises(Conflict):
        services.do_answer(citizen, survey, right_answers(survey), token())
    assert not Participation.objects.exists()


def test_closing_returns_what_is_left_to_the_budget_and_coins_are_conserved(org: Any, money: Any) -> None:
    budget, _period = money
    push, survey = quiz_push(org, quota=10, body="答對可獲得金幣20枚(限制前10位用戶領取)")
    send(org, approve(org, push))
    people = [new_citizen() for _ in range(3)]
    for p in people:
        services.do_answer(p, survey, right_answers(survey), token())
    assert services.close_due_surveys(now=timezone.now() + datetime.timedelta(days=8)) == 1
    survey.refresh_from_db()
    account = ledger.unit_budget_account(budget)
    assert survey.closed_at is not None and survey.returned_amount == 140
    assert ledger.balance(_pool(survey)) == 0 and ledger.balance(account) == 140
    assert ledger.balance(account) + sum(wallet_selectors.wallet_balance(p) for p in people) == survey.funded_amount
    assert services.close_due_surveys(now=timezone.now() + datetime.timedelta(days=9)) == 0
    # The next questionnaire is funded from the returned coins first, then from the budget.
    push2, _survey2 = quiz_push(org, quota=10, body="答對可獲得金幣20枚(限制前10位用戶領取)", title="[防火]第二回")
    approve(org, push2)
    budget.refresh_from_db()
    assert ledger.balance(account) == 0 and budget.issued_amount == 200 + 60
    assert verify() == []


def test_cancelling_the_push_closes_the_questionnaire_and_returns_the_coins(org: Any, money: Any) -> None:
    budget, _period = money
    push, survey = quiz_push(org)
    approve(org, push)
    push_services.do_cancel(org.user("prevention.drafter"), push, "活動取消")
    survey.refresh_from_db()
    assert survey.closed_at is not None and ledger.balance(_pool(survey)) == 0
    assert ledger.balance(ledger.unit_budget_account(budget)) == 6_000


def test_the_builder_is_locked_once_submitted(org: Any, money: Any) -> None:
    push, survey = quiz_push(org)
    push_services.do_submit(org.user("prevention.drafter"), push)
    with pytest.raises(Conflict):
        services.do_add_question(org.user("prevention.drafter"), survey, Q_TEXT)


def test_a_questionnaire_without_coins_needs_no_budget(org: Any) -> None:
    push, survey = quiz_push(org, quota=None, questions=[Q_SCALE, Q_TEXT], body="請填寫滿意度調查")
    send(org, approve(org, push))
    citizen = new_citizen()
    outcome = services.do_answer(citizen, survey, right_answers(survey), token())
    assert outcome.participation.passed and not outcome.rewarded_now and not outcome.quota_exhausted


def test_missing_required_answers_are_listed_and_nothing_is_recorded(org: Any, money: Any) -> None:
    push, survey = quiz_push(org, questions=[Q1, Q2, Q_TEXT])
    send(org, approve(org, push))
    with pytest.raises(ValidationFailed) as caught:
        services.do_answer(new_citizen(), survey, {}, token())
    assert len(caught.value.field_errors) == 2  # the free-text question is optional
    assert not Participation.objects.exists()


def test_run_again_copies_the_questions_into_a_new_draft_of_the_same_series(org: Any, money: Any) -> None:
    push, survey = quiz_push(org)
    copy = services.do_run_again(org.user("prevention.drafter"), survey)
    assert copy.series == survey.series and copy.run_number == 2
    assert copy.push.status == PushStatus.DRAFT and copy.push_id != push.pk
    assert [q.text for q in copy.questions.all()] == [Q1["text"], Q2["text"]]
    assert copy.opens_at is None and copy.reward_amount == 20


def test_the_reward_is_also_told_in_the_inbox_once(
    org: Any, money: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from civicpush.delivery.models import SystemNotice

    push, survey = quiz_push(org)
    send(org, approve(org, push))
    citizen = new_citizen()
    with django_capture_on_commit_callbacks(execute=True):
        services.do_answer(citizen, survey, right_answers(survey), token())
    notice = SystemNotice.objects.get(citizen=citizen)
    assert notice.kind == "survey_reward" and "20" in notice.push.title
    services.send_reward_notice(Participation.objects.get(citizen=citizen).pk)  # again: still one
    assert SystemNotice.objects.filter(citizen=citizen).count() == 1
