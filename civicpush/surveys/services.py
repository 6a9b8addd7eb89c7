"""Every write to questionnaires: the builder, the money (funding at approval, return at closing),
answering with its first-N reward, closing, and a repeated run.

Money rules (seed 000, DESIGN invariant 3):
* The push text must state the coins and the quota (`survey_problems`, checked at submission).
* The final approval of the push moves (quota − rewarded) × reward from the unit's budget into the
  push's reward pool (`on_push_approved`): first from coins the budget's account already holds (what
  earlier questionnaires returned), the rest issued from the budget (`ledger.issue`, which refuses
  beyond the reservation). Short → the approval is refused as a whole. The budget row is locked
  first, so concurrent approvals against one budget are decided one after the other.
* Closing (at `closes_at`, by hand, or when the push is cancelled) returns what is left in the pool
  to the budget's account.
* A reward is one ledger transfer pool → wallet with the key "survey:<id>:reward:<citizen>", inside
  the answer's transaction, after a conditional UPDATE that counts the first N
  (`rewarded_count < quota`); a database CHECK keeps the count within the quota, the pool's balance
  cannot go below zero, and UNIQUE (survey, citizen) on Participation makes a second submission by
  the same citizen (double tap, retry, second device) wait for the first and then find it.
"""

from __future__ import annotations

import datetime
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Max
from django.utils import timezone
from django.utils.translation import gettext as _

from civicpush.citizens.models import Citizen, CitizenProfile
from civicpush.coins import ledger
from civicpush.coins.errors import BudgetExceeded, InsufficientFunds, IssueDeadlinePassed
from civicpush.coins.models import Budget, BudgetStatus, ExpiryPeriod
from civicpush.core.audit import log_action
from civicpush.core.errors import Conflict, DomainError, NotFound, PermissionDenied, ValidationFailed
from civicpush.org.permissions import has_capability, require
from civicpush.org.roles import Capability
from civicpush.pushes import services as push_services
from civicpush.pushes.models import Push, PushStatus, PushType
from civicpush.pushes.scheduling import TAIPEI
from civicpush.pushes.validation import CONTENT_FIELDS, FieldErrors

from .models import (
    CHOICE_KINDS,
    DEFAULT_COINS_PER_QUESTION,
    DEFAULT_SCALE_LABELS,
    MIN_COINS_PER_PUSH,
    NUMBER_KINDS,
    SCALE_POINTS,
    AgeBand,
    Answer,
    Choice,
    Participation,
    Question,
    QuestionKind,
    Response,
    Survey,
)

BUILDER_STATUSES = frozenset({PushStatus.DRAFT, PushStatus.RETURNED})
MAX_QUESTIONS = 50
MAX_CHOICES = 20
MAX_TEXT_ANSWER = 2000
MAX_QUOTA = 1_000_000
MAX_COINS_PER_QUESTION = 10_000
TOKEN_RE = re.compile(r"^[A-Za-z0-9_-]{8,64}$")
KIND_FUND = "survey.fund"
KIND_REWARD = "survey.reward"
KIND_RETURN = "survey.return"


def _now(now: datetime.datetime | None) -> datetime.datetime:
    return now or timezone.now()


# --- the builder ----------------------------------------------------------------------------------


def survey_of(push: Push) -> Survey | None:
    return Survey.objects.filter(push=push).first()


def _editable(actor: Any, push: Push) -> None:
    require(actor, Capability.DRAFT_PUSH, push.unit)
    if push.push_type != PushType.QUESTIONNAIRE:
        raise Conflict(_("Only a questionnaire push has a questionnaire."), code="not_questionnaire")
    if push.status not in BUILDER_STATUSES:
        raise Conflict(
            _("The questionnaire can be changed only while its push is a draft or returned."), code="survey_locked"
        )


def _locked_survey(actor: Any, survey: Survey) -> Survey:
    # The push first, then the survey: the same order as configuring, approving and cancelling.
    Push.objects.select_for_update().filter(pk=survey.push_id).first()
    survey = Survey.objects.select_for_update().select_related("push", "push__unit").get(pk=survey.pk)
    _editable(actor, survey.push)
    if survey.closed_at is not None:
        raise Conflict(_("This questionnaire is closed."), code="survey_closed")
    if Participation.objects.filter(survey=survey).exists():
        raise Conflict(_("Citizens have answered this questionnaire; it can no longer be changed."), code="answered")
    return survey


def _as_int(value: Any, field_name: str, errors: FieldErrors, *, low: int, high: int, message: Any) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        errors.add(field_name, message)
        return None
    if not low <= number <= high:
        errors.add(field_name, message)
        return None
    return number


def _as_aware(value: Any, field_name: str, errors: FieldErrors) -> datetime.datetime | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            value = datetime.datetime.fromisoformat(value)
        except ValueError:
            errors.add(field_name, _("Enter a date and time."))
            return None
    if not isinstance(value, datetime.datetime):
        errors.add(field_name, _("Enter a date and time."))
        return None
    return value.replace(tzinfo=TAIPEI) if timezone.is_naive(value) else value


def reserved_budgets(push: Push) -> list[Budget]:
    """The unit's reserved budgets a questionnaire may draw on, this year's first."""
    return list(Budget.objects.filter(unit_id=push.unit_id, status=BudgetStatus.RESERVED).order_by("-year"))


def usable_periods(push: Push, now: datetime.datetime | None = None) -> list[ExpiryPeriod]:
    return list(ExpiryPeriod.objects.filter(county_id=push.county_id, expires_at__gt=_now(now)).order_by("expires_at"))


@transaction.atomic
def do_configure_survey(
    actor: Any,
    push: Push,
    *,
    opens_at: Any = None,
    closes_at: Any = None,
    allow_retry: bool = True,
    anonymous: bool = False,
    quota: Any = None,
    budget_id: Any = None,
    period_id: Any = None,
) -> Survey:
    """Create or change the questionnaire's settings (DRAFT_PUSH; the push a draft or returned)."""
    push = Push.objects.select_for_update().select_related("unit").get(pk=push.pk)
    _editable(actor, push)
    errors = FieldErrors()
    opens = _as_aware(opens_at, "opens_at", errors)
    closes = _as_aware(closes_at, "closes_at", errors)
    if opens and closes and closes <= opens:
        errors.add("closes_at", _("The questionnaire must close after it opens."))
    n = _as_int(quota, "quota", errors, low=1, high=MAX_QUOTA, message=_("Enter a whole number of people, at least 1."))
    budget = None
    if budget_id not in (None, ""):
        budget = next((b for b in reserved_budgets(push) if str(b.pk) == str(budget_id)), None)
        if budget is None:
            errors.add("budget_id", _("Choose a reserved budget of this unit."))
    period = None
    if period_id not in (None, ""):
        period = next((p for p in usable_periods(push) if str(p.pk) == str(period_id)), None)
        if period is None:
            errors.add("period_id", _("Choose a coin period that has not expired."))
    errors.raise_if_any()
    survey = Survey.objects.select_for_update().filter(push=push).first()
    created = survey is None
    if survey is None:
        survey = Survey(push=push, county_id=push.county_id, unit_id=push.unit_id)
    elif survey.anonymous != bool(anonymous) and Participation.objects.filter(survey=survey).exists():
        raise Conflict(_("Citizens have answered this questionnaire; it can no longer be changed."), code="answered")
    before = {} if created else _settings_state(survey)
    survey.opens_at, survey.closes_at = opens, closes
    survey.allow_retry, survey.anonymous = bool(allow_retry), bool(anonymous)
    survey.quota, survey.budget, survey.period = n, budget, period
    survey.save()
    _after_change(actor, survey)
    log_action(
        "surveys.survey.created" if created else "surveys.survey.configured",
        actor=actor,
        obj=survey,
        unit_id=push.unit_id,
        before=before or None,
        after=_settings_state(survey),
        data={"push": push.pk},
    )
    return survey


def _settings_state(survey: Survey) -> dict[str, Any]:
    return {
        "opens_at": survey.opens_at,
        "closes_at": survey.closes_at,
        "allow_retry": survey.allow_retry,
        "anonymous": survey.anonymous,
        "quota": survey.quota,
        "budget": survey.budget_id,
        "period": survey.period_id,
        "reward_amount": survey.reward_amount,
    }


@dataclass
class QuestionInput:
    kind: str
    text: str
    options: list[str] = field(default_factory=list)
    correct: list[int] = field(default_factory=list)  # 1-based option numbers (the seed's 答案：1、2)
    coins: int = DEFAULT_COINS_PER_QUESTION
    required: bool = True
    scale_labels: list[str] = field(default_factory=list)
    rating_max: int = 5


_NUMBER_SPLIT = re.compile(r"[\s,，、;；]+")


def parse_correct(raw: Any) -> list[int] | None:
    """ "1、2" / "1,2" / [1, 2] → [1, 2]; None when it is not a list of numbers."""
    if isinstance(raw, list | tuple):
        items = [str(x) for x in raw]
    else:
        items = [p for p in _NUMBER_SPLIT.split(unicodedata.normalize("NFKC", str(raw or "")).strip()) if p]
    try:
        return sorted({int(x) for x in items})
    except ValueError:
        return None


def clean_question(data: Mapping[str, Any]) -> QuestionInput:
    """Validate one question of the builder; every field error at once."""
    errors = FieldErrors()
    kind = str(data.get("kind") or "")
    if kind not in QuestionKind.values:
        errors.add("kind", _("Choose a question type."))
    text = unicodedata.normalize("NFC", str(data.get("text") or "")).strip()
    if not text:
        errors.add("text", _("Enter the question."))
    elif len(text) > 300:
        errors.add("text", _("At most 300 characters."))
    raw_options = data.get("options") or []
    if isinstance(raw_options, str):
        raw_options = raw_options.splitlines()
    options = [unicodedata.normalize("NFC", str(o)).strip() for o in raw_options]
    options = [o for o in options if o]
    correct = parse_correct(data.get("correct"))
    if correct is None:
        errors.add("correct", _("Give the numbers of the correct options, for example 1 or 1、2."))
        correct = []
    if kind in CHOICE_KINDS:
        if len(options) < 2:
            errors.add("options", _("Give at least two options, one per line."))
        elif len(options) > MAX_CHOICES:
            errors.add("options", _("At most 20 options."))
        elif any(len(o) > 200 for o in options):
            errors.add("options", _("An option has at most 200 characters."))
        elif len(set(options)) != len(options):
            errors.add("options", _("Two options are the same."))
        if any(not 1 <= c <= len(options) for c in correct):
            errors.add("correct", _("A correct answer must be the number of one of the options."))
        elif kind == QuestionKind.SINGLE and len(correct) > 1:
            errors.add("correct", _("A single-choice question has one correct answer."))
    else:
        options, correct = [], []
    coins = _as_int(
        data.get("coins"), "coins", errors, low=0, high=MAX_COINS_PER_QUESTION,
        message=_("Enter the coins for this question: a whole number from 0 to 10,000."),
    )  # fmt: skip
    labels: list[str] = []
    if kind == QuestionKind.SCALE:
        raw_labels = data.get("scale_labels") or []
        if isinstance(raw_labels, str):
            raw_labels = raw_labels.splitlines()
        labels = [str(x).strip() for x in raw_labels if str(x).strip()] or list(DEFAULT_SCALE_LABELS)
        if len(labels) != SCALE_POINTS or any(len(x) > 30 for x in labels):
            errors.add("scale_labels", _("Give five labels, one per line, from the lowest (1) to the highest (5)."))
    rating_max = 5
    if kind == QuestionKind.RATING:
        rating_max = (
            _as_int(
                data.get("rating_max") or 5,
                "rating_max",
                errors,
                low=3,
                high=10,
                message=_("A rating goes up to 3 to 10 stars."),
            )
            or 5
        )
    errors.raise_if_any()
    return QuestionInput(
        kind=kind,
        text=text,
        options=options,
        correct=correct,
        coins=DEFAULT_COINS_PER_QUESTION if coins is None else coins,
        required=bool(data.get("required", True)),
        scale_labels=labels,
        rating_max=rating_max,
    )


def _write_question(question: Question, data: QuestionInput) -> None:
    question.kind, question.text, question.coins = data.kind, data.text, data.coins
    question.required, question.scale_labels, question.rating_max = data.required, data.scale_labels, data.rating_max
    question.save()
    Choice.objects.filter(question=question).delete()
    Choice.objects.bulk_create(
        [
            Choice(question=question, order=i, text=text, is_correct=(i + 1) in data.correct)
            for i, text in enumerate(data.options)
        ]
    )


def _question_state(q: Question) -> dict[str, Any]:
    return {
        "kind": q.kind,
        "text": q.text,
        "coins": q.coins,
        "required": q.required,
        "options": [c.text for c in q.choices.all()],
        "correct": [i + 1 for i, c in enumerate(q.choices.all()) if c.is_correct],
    }


@transaction.atomic
def do_add_question(actor: Any, survey: Survey, data: Mapping[str, Any]) -> Question:
    survey = _locked_survey(actor, survey)
    clean = clean_question(data)
    if survey.questions.count() >= MAX_QUESTIONS:
        raise ValidationFailed(_("A questionnaire has at most 50 questions."), code="too_many_questions")
    order = (survey.questions.aggregate(m=Max("order"))["m"] or 0) + 1
    question = Question(survey=survey, order=order)
    _write_question(question, clean)
    _after_change(actor, survey)
    log_action(
        "surveys.question.added", actor=actor, obj=survey, unit_id=survey.unit_id, after=_question_state(question)
    )
    return question


@transaction.atomic
def do_update_question(actor: Any, question: Question, data: Mapping[str, Any]) -> Question:
    survey = _locked_survey(actor, question.survey)
    question = Question.objects.get(pk=question.pk, survey=survey)
    clean = clean_question(data)
    before = _question_state(question)
    _write_question(question, clean)
    _after_change(actor, survey)
    log_action(
        "surveys.question.changed", actor=actor, obj=survey, unit_id=survey.unit_id,
        before=before, after=_question_state(question),
    )  # fmt: skip
    return question


@transaction.atomic
def do_delete_question(actor: Any, question: Question) -> None:
    survey = _locked_survey(actor, question.survey)
    before = _question_state(question)
    Question.objects.filter(pk=question.pk, survey=survey).delete()
    _after_change(actor, survey)
    log_action("surveys.question.deleted", actor=actor, obj=survey, unit_id=survey.unit_id, before=before)


@transaction.atomic
def do_move_question(actor: Any, question: Question, direction: int) -> None:
    """Swap the question with its neighbour above (direction −1) or below (+1)."""
    survey = _locked_survey(actor, question.survey)
    questions = list(survey.questions.order_by("order", "id"))
    index = next(i for i, q in enumerate(questions) if q.pk == question.pk)
    other = index + (1 if direction > 0 else -1)
    if not 0 <= other < len(questions):
        return
    questions[index], questions[other] = questions[other], questions[index]
    for i, q in enumerate(questions, start=1):
        if q.order != i:
            Question.objects.filter(pk=q.pk).update(order=i)
    _after_change(actor, survey)


def questionnaire_text_of(survey: Survey) -> str:
    """The questionnaire in the review form's own format (seed 000):
    "1.請問…?(1.… 2.…，單選答案：1)"."""
    lines = []
    for n, q in enumerate(survey.questions.prefetch_related("choices").order_by("order", "id"), start=1):
        if q.kind in CHOICE_KINDS:
            choices = list(q.choices.all())
            options = " ".join(f"{i}.{c.text}" for i, c in enumerate(choices, start=1))
            correct = "、".join(str(i) for i, c in enumerate(choices, start=1) if c.is_correct)
            kind = "單選" if q.kind == QuestionKind.SINGLE else "複選"
            lines.append(f"{n}.{q.text}({options}，{kind}" + (f"答案：{correct})" if correct else ")"))
        elif q.kind == QuestionKind.SCALE:
            lines.append(f"{n}.{q.text}(滿意度 1–5：{'、'.join(q.scale_labels)})")
        elif q.kind == QuestionKind.RATING:
            lines.append(f"{n}.{q.text}(評分 1–{q.rating_max})")
        else:
            lines.append(f"{n}.{q.text}(自由填答)")
    return "\n".join(lines)


def coin_method_text(survey: Survey) -> str:
    if not survey.gives_coins:
        return ""
    return f"前{survey.quota}名可獲金幣{survey.reward_amount}枚"


def _after_change(actor: Any, survey: Survey) -> None:
    """Keep the reward (sum of the questions' coins) and the push's review-form fields in step."""
    reward = sum(survey.questions.values_list("coins", flat=True))
    survey.reward_amount, survey.updated_at = reward, timezone.now()
    Survey.objects.filter(pk=survey.pk).update(reward_amount=reward, updated_at=survey.updated_at)
    push = survey.push
    wanted = {
        "questionnaire_text": questionnaire_text_of(survey),
        # (the review form's own check wants at least 20; below that, submission says why)
        "coin_amount": survey.reward_amount
        if survey.gives_coins and survey.reward_amount >= MIN_COINS_PER_PUSH
        else None,
        "coin_method": coin_method_text(survey),
    }
    if any(getattr(push, k) != v for k, v in wanted.items()):
        push_services.do_update_draft(actor, push, **wanted)
        survey.push.refresh_from_db()


# --- checks at submission -------------------------------------------------------------------------


def _numbers_in(text: str) -> set[int]:
    """Whole numbers written in `text` (full-width digits and thousands separators allowed)."""
    plain = unicodedata.normalize("NFKC", text)
    plain = re.sub(r"(?<=\d)[,，](?=\d{3}\b)", "", plain)
    return {int(m) for m in re.findall(r"\d+", plain)}


def survey_problems(survey: Survey, push: Push) -> dict[str, list[Any]]:
    """What keeps the questionnaire's push from being submitted, by field."""
    errors = FieldErrors()
    questions = list(survey.questions.prefetch_related("choices"))
    if not questions:
        errors.add("survey", _("Add at least one question to the questionnaire."))
    if survey.opens_at is None or survey.closes_at is None:
        errors.add("survey", _("Set when the questionnaire opens and closes."))
    elif survey.closes_at <= survey.opens_at:
        errors.add("survey", _("The questionnaire must close after it opens."))
    if survey.anonymous and any(q.is_graded for q in questions):
        errors.add(
            "survey",
            _("An anonymous questionnaire cannot have correct answers: the reward would show what was answered."),
        )
    if survey.reward_amount and not survey.quota:
        errors.add("survey", _("Say how many respondents get the coins (the first N)."))
    if 0 < survey.reward_amount < MIN_COINS_PER_PUSH:
        errors.add(
            "survey",
            _("A push that gives coins gives at least %(min)s (10 coins a question); this one gives %(coins)s.")
            % {"min": MIN_COINS_PER_PUSH, "coins": survey.reward_amount},
        )
    if survey.gives_coins:
        numbers = _numbers_in(" ".join([push.title, push.subtitle, push.body]))
        if survey.reward_amount not in numbers or survey.quota not in numbers:
            errors.add(
                "body",
                _(
                    "The message must state the coins and the number of people who get them, for example "
                    "「可獲得金幣%(coins)s枚(限制前%(quota)s位用戶領取)」."
                )
                % {"coins": survey.reward_amount, "quota": survey.quota},
            )
    return errors.by_field


def on_push_submitted(push: Push, actor: Any, errors: FieldErrors) -> None:
    """pushes hook "submit": a questionnaire push with a questionnaire must pass `survey_problems`."""
    if push.push_type != PushType.QUESTIONNAIRE:
        return
    survey = survey_of(push)
    if survey is None:
        return
    for name, messages in survey_problems(survey, push).items():
        for message in messages:
            errors.add(name, message)


# --- the money: funding at approval, returning at closing ----------------------------------------


def default_budget(push: Push, now: datetime.datetime | None = None) -> Budget | None:
    year = timezone.localtime(_now(now), TAIPEI).year
    budgets = reserved_budgets(push)
    return next((b for b in budgets if b.year == year), budgets[0] if budgets else None)


def default_period(survey: Survey, now: datetime.datetime | None = None) -> ExpiryPeriod | None:
    """The earliest period that still runs when the questionnaire closes (else the latest one)."""
    periods = usable_periods(survey.push, now)
    after = [p for p in periods if survey.closes_at is None or p.expires_at > survey.closes_at]
    return after[0] if after else (periods[-1] if periods else None)


def budget_short_message(survey: Survey, budget: Budget, needed: int, left: int) -> str:
    return _(
        "The %(year)s coin budget of %(unit)s cannot cover this questionnaire: it needs %(needed)s coins "
        "(the first %(quota)s respondents × %(reward)s coins) and %(left)s are left. The push was not approved."
    ) % {
        "year": budget.year,
        "unit": budget.unit.name,
        "needed": f"{needed:,}",
        "quota": f"{survey.quota:,}",
        "reward": f"{survey.reward_amount:,}",
        "left": f"{max(0, left):,}",
    }


def _budget_left(budget: Budget, today: datetime.date) -> int:
    if budget.status != BudgetStatus.RESERVED or today > budget.effective_deadline:
        return 0
    return max(0, int(budget.remaining))


def on_push_approved(push: Push, actor: Any) -> None:
    """pushes hook "approved" (the final sign-off, inside its transaction): fund the reward pool."""
    survey = Survey.objects.select_for_update().filter(push_id=push.pk).first()
    if survey is None or not survey.gives_coins or survey.closed_at is not None:
        return
    now = timezone.now()
    pool = ledger.reward_pool(push.county_id, ref=survey.pool_ref, unit=push.unit)
    needed = (int(survey.quota or 0) - survey.rewarded_count) * survey.reward_amount - ledger.available(pool)
    budget = survey.budget or default_budget(push, now)
    if budget is None:
        raise ValidationFailed(
            _("%(unit)s has no reserved coin budget, so this questionnaire's coins cannot be funded.")
            % {"unit": push.unit.name},
            code="no_budget",
        )
    if needed < 0:  # the quota or the reward went down since an earlier approval: give back the excess
        _return(survey, pool, budget, -needed, key=f"survey:{survey.pk}:refund:{push.revision}", actor=actor)
        return
    if needed == 0:
        return
    # The budget row first: approvals drawing on one budget are decided one after the other.
    budget = Budget.objects.select_for_update(no_key=True).select_related("unit").get(pk=budget.pk)
    account = ledger.unit_budget_account(budget)
    spare = ledger.available(account)
    left = _budget_left(budget, timezone.localdate())
    if spare + left < needed:
        raise ValidationFailed(budget_short_message(survey, budget, needed, spare + left), code="budget_short")
    period = survey.period or default_period(survey, now)
    issue = max(0, needed - spare)
    try:
        if issue:
            if period is None:
                raise ValidationFailed(
                    _("There is no coin period that has not expired; the county operator must add one."),
                    code="no_period",
                )
            ledger.issue(
                key=f"survey:{survey.pk}:issue:{push.revision}",
                budget=budget,
                credit=account,
                amount=issue,
                period=period,
                reason="questionnaire funding",
                actor=actor,
                metadata={"survey": survey.pk, "push": push.pk},
            )
        ledger.transfer(
            key=f"survey:{survey.pk}:fund:{push.revision}",
            debit=account,
            credit=pool,
            amount=needed,
            kind=KIND_FUND,
            memo=f"push {push.pk}",
            actor=actor,
            metadata={"survey": survey.pk, "push": push.pk},
        )
    except (BudgetExceeded, InsufficientFunds) as exc:
        raise ValidationFailed(
            budget_short_message(survey, budget, needed, spare + _budget_left(budget, timezone.localdate())),
            code="budget_short",
        ) from exc
    except IssueDeadlinePassed as exc:
        raise ValidationFailed(exc.message, code=exc.code) from exc
    survey.budget, survey.period = budget, period
    survey.funded_amount += needed
    survey.save(update_fields=["budget", "period", "funded_amount", "updated_at"])
    log_action(
        "surveys.survey.funded",
        actor=actor,
        obj=survey,
        unit_id=push.unit_id,
        data={
            "push": push.pk,
            "budget": budget.pk,
            "coins": needed,
            "issued": issue,
            "from_returned": needed - issue,
            "quota": survey.quota,
            "reward": survey.reward_amount,
        },
    )


def _return(survey: Survey, pool: Any, budget: Budget | None, amount: int, *, key: str, actor: Any) -> int:
    if amount <= 0 or budget is None:
        return 0
    result = ledger.transfer(
        key=key,
        debit=pool,
        credit=ledger.unit_budget_account(budget),
        amount=amount,
        kind=KIND_RETURN,
        memo=f"push {survey.push_id}",
        actor=actor,
        metadata={"survey": survey.pk, "push": survey.push_id},
    )
    Survey.objects.filter(pk=survey.pk).update(returned_amount=F("returned_amount") + result.amount)
    survey.returned_amount += result.amount
    return result.amount


def _close(survey: Survey, actor: Any, now: datetime.datetime, reason: str) -> int:
    """Close a locked survey: no more answers or rewards; the pool's coins go back to the budget."""
    if survey.closed_at is not None:
        return 0
    survey.closed_at = now
    Survey.objects.filter(pk=survey.pk).update(closed_at=now)
    returned = 0
    if survey.funded_amount:
        pool = ledger.reward_pool(survey.county_id, ref=survey.pool_ref, unit=survey.unit)
        returned = _return(
            survey, pool, survey.budget, ledger.available(pool), key=f"survey:{survey.pk}:return", actor=actor
        )
    log_action(
        "surveys.survey.closed",
        actor=actor if actor is not None else "system",
        obj=survey,
        unit_id=survey.unit_id,
        data={"reason": reason, "returned": returned, "rewarded": survey.rewarded_count, "push": survey.push_id},
    )
    return returned


def on_push_cancelled(push: Push, actor: Any) -> None:
    """pushes hook "cancelled": close the questionnaire and return its coins."""
    survey = Survey.objects.select_for_update().filter(push_id=push.pk).first()
    if survey is not None:
        _close(survey, actor, timezone.now(), "push cancelled")


@transaction.atomic
def do_close_survey(actor: Any, survey: Survey, *, now: datetime.datetime | None = None) -> int:
    """Close now (DRAFT_PUSH or APPROVE_PUSH on the unit). Returns the coins given back to the budget."""
    if actor is not None:
        unit = survey.push.unit
        if not any(has_capability(actor, c, unit) for c in (Capability.DRAFT_PUSH, Capability.APPROVE_PUSH)):
            require(actor, Capability.DRAFT_PUSH, unit)
    survey = Survey.objects.select_for_update().select_related("unit").get(pk=survey.pk)
    if survey.closed_at is not None:
        raise Conflict(_("This questionnaire is already closed."), code="survey_closed")
    return _close(survey, actor, _now(now), "closed by staff" if actor is not None else "closing time")


def close_due_surveys(now: datetime.datetime | None = None) -> int:
    """Close every questionnaire whose closing time has passed (periodic; idempotent). Returns how many."""
    now = _now(now)
    done = 0
    for pk in list(Survey.objects.filter(closed_at__isnull=True, closes_at__lte=now).values_list("pk", flat=True)):
        with transaction.atomic():
            survey = Survey.objects.select_for_update().select_related("unit").get(pk=pk)
            if survey.closed_at is None:
                _close(survey, None, now, "closing time")
                done += 1
    return done


# --- answering ------------------------------------------------------------------------------------


@dataclass
class CleanAnswer:
    question: Question
    choices: list[int] = field(default_factory=list)
    number: int | None = None
    text: str = ""
    is_correct: bool | None = None


@dataclass
class AnswerOutcome:
    """What the citizen is told after submitting."""

    participation: Participation
    replayed: bool = False  # the same submission again (double tap, network retry)
    already: bool = False  # answered before (e.g. on another device): nothing new recorded
    rewarded_now: bool = False
    quota_exhausted: bool = False  # passed, but the first N were already rewarded
    wrong: list[int] = field(default_factory=list)  # ids of questions answered wrongly (this attempt)


def questions_of(survey: Survey) -> list[Question]:
    return list(survey.questions.prefetch_related("choices").order_by("order", "id"))


# Questions as answering reads them, per process: a questionnaire can no longer change once it is
# sent (the builder is locked outside draft), and every builder change moves `updated_at`.
_answering_questions: dict[int, tuple[datetime.datetime, list[Question]]] = {}


def _questions_for_answering(survey: Survey) -> list[Question]:
    cached = _answering_questions.get(survey.pk)
    if cached is not None and cached[0] == survey.updated_at:
        return cached[1]
    questions = questions_of(survey)
    if len(_answering_questions) > 1_000:
        _answering_questions.clear()
    _answering_questions[survey.pk] = (survey.updated_at, questions)
    return questions


def clean_answers(questions: Sequence[Question], raw: Mapping[str, Sequence[str]]) -> list[CleanAnswer]:
    """`raw` maps "q<id>" to the submitted values. Every question's error at once; nothing written."""
    errors = FieldErrors()
    out: list[CleanAnswer] = []
    for q in questions:
        key = f"q{q.pk}"
        values = [str(v).strip() for v in (raw.get(key) or []) if str(v).strip()]
        a = CleanAnswer(question=q)
        if q.kind in CHOICE_KINDS:
            choices = list(q.choices.all())
            ids = {c.pk for c in choices}
            try:
                chosen = sorted({int(v) for v in values})
            except ValueError:
                chosen = [-1]
            if any(c not in ids for c in chosen) or (q.kind == QuestionKind.SINGLE and len(chosen) > 1):
                errors.add(key, _("Choose from the options."))
            elif q.required and not chosen:
                errors.add(key, _("Please answer this question."))
            a.choices = chosen
            correct = {c.pk for c in choices if c.is_correct}
            if correct:
                a.is_correct = set(chosen) == correct
        elif q.kind in NUMBER_KINDS:
            if not values:
                if q.required:
                    errors.add(key, _("Please answer this question."))
            else:
                try:
                    number = int(values[0])
                except ValueError:
                    number = 0
                if number not in q.points or len(values) > 1:
                    errors.add(key, _("Choose from the options."))
                else:
                    a.number = number
        else:
            text = unicodedata.normalize("NFC", "\n".join(values)).replace("\r\n", "\n")
            if q.required and not text:
                errors.add(key, _("Please answer this question."))
            elif len(text) > MAX_TEXT_ANSWER:
                errors.add(key, _("At most 2,000 characters."))
            a.text = text
        out.append(a)
    errors.raise_if_any()
    return out


def age_band(birth_year: int | None, year: int) -> str:
    if not birth_year:
        return AgeBand.UNKNOWN
    age = year - int(birth_year)
    for band, low in (
        (AgeBand.AGE_65, 65),
        (AgeBand.AGE_50, 50),
        (AgeBand.AGE_40, 40),
        (AgeBand.AGE_30, 30),
        (AgeBand.AGE_20, 20),
    ):
        if age >= low:
            return band
    return AgeBand.UNDER_20


def answering_state(survey: Survey, now: datetime.datetime | None = None) -> str:
    """ "open", "not_open", "closed" or "not_sent" (the push has not gone out)."""
    now = _now(now)
    if survey.closed_at is not None or (survey.closes_at and now >= survey.closes_at):
        return "closed"
    if survey.opens_at is None or now < survey.opens_at:
        return "not_open"
    return "open"


def _check_can_answer(citizen: Citizen, survey: Survey, now: datetime.datetime) -> None:
    from civicpush.pushes.inbox import is_visible_to

    if citizen is None or not citizen.is_active:
        raise PermissionDenied()
    if citizen.county_id != survey.county_id or not is_visible_to(citizen, survey.push, now=now):
        raise NotFound()
    state = answering_state(survey, now)
    if state == "closed":
        raise Conflict(_("This questionnaire has closed."), code="survey_closed")
    if state == "not_open":
        raise Conflict(_("This questionnaire is not open yet."), code="survey_not_open")


def _replay(part: Participation, *, already: bool) -> AnswerOutcome:
    return AnswerOutcome(participation=part, replayed=not already, already=already)


def do_answer(
    citizen: Citizen,
    survey: Survey,
    raw: Mapping[str, Sequence[str]],
    token: str,
    *,
    now: datetime.datetime | None = None,
) -> AnswerOutcome:
    """Record one submission and pay the first-N reward, exactly once per citizen.

    `token` identifies the submission (made when the form was shown): the same token again returns
    the first outcome. A second device's submission waits on the (survey, citizen) row and then finds
    the questionnaire answered. Answers are still taken once the coins are all given out."""
    now = _now(now)
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        raise ValidationFailed(_("The form has expired; please open the questionnaire again."), code="bad_token")
    _check_can_answer(citizen, survey, now)
    answers = clean_answers(_questions_for_answering(survey), raw)
    graded = [a for a in answers if a.is_correct is not None]
    passed = all(a.is_correct for a in graded)
    with transaction.atomic():
        try:
            with transaction.atomic():
                part = Participation.objects.create(
                    survey=survey, citizen=citizen, created_at=now, updated_at=now, last_token=token
                )
        except IntegrityError:
            part = Participation.objects.select_for_update().get(survey=survey, citizen=citizen)
            if part.last_token == token:
                return _replay(part, already=False)
            if part.completed:
                return _replay(part, already=True)
        part.attempts += 1
        _write_response(survey, citizen, part.attempts, answers, passed if graded else None, now)
        outcome = AnswerOutcome(participation=part, wrong=[a.question.pk for a in graded if not a.is_correct])
        part.passed = passed
        part.completed = passed or not survey.allow_retry
        if passed and survey.gives_coins and not part.rewarded:
            transfer_id = _reward(survey, citizen)
            if transfer_id is None:
                part.missed_reward = outcome.quota_exhausted = True
            else:
                part.rewarded, part.reward_coins, part.ledger_transfer_id = True, survey.reward_amount, transfer_id
                outcome.rewarded_now = True
        part.last_token = token
        part.updated_at = now
        part.save()
        if outcome.rewarded_now and getattr(settings, "SURVEYS_REWARD_NOTICES", True):
            part_id = part.pk
            transaction.on_commit(lambda: _enqueue_reward_notice(part_id))
    return outcome


def _write_response(
    survey: Survey,
    citizen: Citizen,
    attempt: int,
    answers: list[CleanAnswer],
    all_correct: bool | None,
    now: datetime.datetime,
) -> Response:
    local = timezone.localtime(now, TAIPEI)
    response = Response(survey=survey, anonymous=survey.anonymous, attempt=attempt, submitted_on=local.date())
    if not survey.anonymous:
        profile = CitizenProfile.objects.filter(citizen_id=citizen.pk).only("township_id", "birth_year", "gender")
        p = profile.first()
        response.citizen = citizen
        response.submitted_at = now
        response.all_correct = all_correct
        if p is not None:
            response.township_id = p.township_id
            response.age_band = age_band(p.birth_year, local.year)
            response.gender = p.gender or ""
    response.save(force_insert=True)
    Answer.objects.bulk_create(
        [
            Answer(
                response=response,
                question=a.question,
                choices=a.choices,
                number=a.number,
                text=a.text,
                is_correct=None if survey.anonymous else a.is_correct,
            )
            for a in answers
        ]
    )
    return response


def _reward(survey: Survey, citizen: Citizen) -> int | None:
    """Pay the reward if one of the first N is left: the ledger transfer id, else None."""
    # An unlocked look first: once the quota is used up, later answers never queue on the row lock.
    counted = Survey.objects.filter(pk=survey.pk).values_list("rewarded_count", "quota", "closed_at").first()
    if counted is None or counted[2] is not None or counted[0] >= (counted[1] or 0):
        return None
    try:
        with transaction.atomic():
            won = Survey.objects.filter(pk=survey.pk, closed_at__isnull=True, rewarded_count__lt=F("quota")).update(
                rewarded_count=F("rewarded_count") + 1
            )
            if not won:
                return None
            result = ledger.transfer(
                key=f"survey:{survey.pk}:reward:{citizen.pk}",
                debit=ledger.reward_pool(survey.county_id, ref=survey.pool_ref, unit=survey.unit),
                credit=ledger.wallet_of(citizen),
                amount=survey.reward_amount,
                kind=KIND_REWARD,
                memo=f"push {survey.push_id}",
                metadata={"reason": "quiz" if _is_quiz(survey) else "survey", "survey": survey.pk},
            )
            return result.transfer_id
    except DomainError:
        # The pool cannot pay (not funded, or emptied at closing): nothing was counted.
        return None


_quiz_cache: dict[int, bool] = {}


def _is_quiz(survey: Survey) -> bool:
    value = _quiz_cache.get(survey.pk)
    if value is None:
        value = _quiz_cache[survey.pk] = Choice.objects.filter(question__survey=survey, is_correct=True).exists()
    return value


def _enqueue_reward_notice(participation_id: int) -> None:
    from .tasks import send_reward_notice

    send_reward_notice.delay(participation_id)


def send_reward_notice(participation_id: int) -> None:
    """Tell the citizen in the inbox that the coins arrived (idempotent per survey and citizen)."""
    from civicpush.delivery.notices import send_system_notice

    part = Participation.objects.select_related("survey", "survey__push", "survey__unit", "citizen").get(
        pk=participation_id
    )
    if not part.rewarded:
        return
    survey = part.survey
    title = survey.push.title
    if len(title) > 20:
        title = title[:19] + "…"
    send_system_notice(
        part.citizen,
        unit=survey.unit,
        kind="survey_reward",
        reference=f"survey-reward:{survey.pk}:{part.citizen_id}",
        title=_("You received %(coins)s coins") % {"coins": part.reward_coins},
        body=_("Thank you for answering 「%(title)s」. %(coins)s coins are in your wallet.")
        % {"title": title, "coins": part.reward_coins},
        link="/wallet/",
    )


# --- a repeated run -------------------------------------------------------------------------------


@transaction.atomic
def do_run_again(actor: Any, survey: Survey) -> Survey:
    """A new draft push with the same content and questions, as the next run of the same series
    (its results are compared over runs). Opening and closing times are left to set."""
    push = survey.push
    require(actor, Capability.DRAFT_PUSH, push.unit)
    fields = {f: getattr(push, f) for f in CONTENT_FIELDS}
    today = timezone.localdate()
    fields["planned_date"] = max(push.planned_date or today, today)
    fields["valid_from"] = fields["valid_to"] = None
    group_ids = list(push.target_group_links.values_list("group_id", flat=True))
    if group_ids:
        fields["target_group_ids"] = group_ids
    new_push = push_services.do_create_draft(actor, push.unit, **fields)
    runs = Survey.objects.filter(series=survey.series).aggregate(m=Max("run_number"))["m"] or 1
    copy = Survey.objects.create(
        push=new_push,
        county_id=survey.county_id,
        unit_id=survey.unit_id,
        series=survey.series,
        run_number=runs + 1,
        allow_retry=survey.allow_retry,
        anonymous=survey.anonymous,
        quota=survey.quota,
        reward_amount=survey.reward_amount,
        budget=survey.budget,
    )
    for q in questions_of(survey):
        new_q = Question.objects.create(
            survey=copy, order=q.order, kind=q.kind, text=q.text, required=q.required, coins=q.coins,
            scale_labels=q.scale_labels, rating_max=q.rating_max,
        )  # fmt: skip
        Choice.objects.bulk_create(
            [Choice(question=new_q, order=c.order, text=c.text, is_correct=c.is_correct) for c in q.choices.all()]
        )
    log_action(
        "surveys.survey.run_again",
        actor=actor,
        obj=copy,
        unit_id=push.unit_id,
        data={"from_push": push.pk, "push": new_push.pk, "run": copy.run_number},
    )
    return copy
