"""Questionnaires and quizzes (問卷/測驗) attached to a questionnaire push, their rewards and answers.

Two tables keep apart *that* a citizen answered and *what* was answered:

* `Participation` — one row per (survey, citizen): attempts, whether it passed, the reward. It is
  the idempotency gate of answering (UNIQUE (survey, citizen)) and never holds an answer.
* `Response` + `Answer` — what was answered. In an anonymous survey a response carries no citizen,
  no time finer than the day and no demographics, and its key is random (UUID), so nothing stored
  links it to a participation; a database CHECK enforces the empty columns.

Coins: approving the push moves quota × reward from the unit's budget into the push's reward pool
(`coins.ledger.reward_pool`, ref "push:<id>"); each reward is a ledger transfer pool → wallet with the
key "survey:<id>:reward:<citizen id>"; closing returns what is left to the budget's account.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from civicpush.citizens.models import Citizen, Township
from civicpush.coins.models import Budget, ExpiryPeriod
from civicpush.org.models import County, Unit
from civicpush.pushes.models import Push

DEFAULT_COINS_PER_QUESTION = 10  # seed 000: 1題10金幣
MIN_COINS_PER_PUSH = 20  # seed 000: 單一推播至少20金幣
SCALE_POINTS = 5
DEFAULT_SCALE_LABELS = ["非常不滿意", "不滿意", "普通", "滿意", "非常滿意"]


class QuestionKind(models.TextChoices):
    SINGLE = "single", _("Single choice")
    MULTIPLE = "multiple", _("Multiple choice")
    SCALE = "scale", _("Satisfaction scale (1–5)")
    RATING = "rating", _("Rating")
    TEXT = "text", _("Free text")


CHOICE_KINDS = frozenset({QuestionKind.SINGLE, QuestionKind.MULTIPLE})
NUMBER_KINDS = frozenset({QuestionKind.SCALE, QuestionKind.RATING})


class AgeBand(models.TextChoices):
    UNDER_20 = "0-19", _("under 20")
    AGE_20 = "20-29", _("20–29")
    AGE_30 = "30-39", _("30–39")
    AGE_40 = "40-49", _("40–49")
    AGE_50 = "50-64", _("50–64")
    AGE_65 = "65+", _("65 and over")
    UNKNOWN = "", _("not given")


class Survey(models.Model):
    """The questionnaire of one push (a run). Runs of the same questionnaire share `series`."""

    push = models.OneToOneField(Push, on_delete=models.CASCADE, related_name="survey")
    county = models.ForeignKey(County, on_delete=models.PROTECT, related_name="+")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    series = models.UUIDField(default=uuid.uuid4, db_index=True)
    run_number = models.PositiveIntegerField(default=1)
    opens_at = models.DateTimeField(_("opens at"), null=True, blank=True)
    closes_at = models.DateTimeField(_("closes at"), null=True, blank=True)
    allow_retry = models.BooleanField(_("a wrong answer may be retried"), default=True)
    anonymous = models.BooleanField(_("anonymous"), default=False)
    # Coins for a respondent who passes: the sum of the questions' coins (kept by the builder).
    reward_amount = models.PositiveIntegerField(default=0)
    quota = models.PositiveIntegerField(_("respondents rewarded (first N)"), null=True, blank=True)
    budget = models.ForeignKey(Budget, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    period = models.ForeignKey(ExpiryPeriod, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The first N: incremented only together with a reward transfer (conditional UPDATE).
    rewarded_count = models.PositiveIntegerField(default=0)
    funded_amount = models.PositiveBigIntegerField(default=0)  # coins moved into the pool, in all
    returned_amount = models.PositiveBigIntegerField(default=0)  # coins given back to the budget
    closed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(quota__isnull=True, rewarded_count=0) | Q(rewarded_count__lte=F("quota")),
                name="surveys_rewarded_within_quota",
            ),
        ]
        indexes = [models.Index(fields=["closed_at", "closes_at"], name="surveys_due_idx")]
        verbose_name = pgettext_lazy("survey", "questionnaire")
        verbose_name_plural = _("questionnaires")

    def __str__(self) -> str:
        return f"survey {self.pk} ({self.push_id})"

    @property
    def pool_ref(self) -> str:
        return f"push:{self.push_id}"

    @property
    def gives_coins(self) -> bool:
        return bool(self.reward_amount and self.quota)

    @property
    def quota_coins(self) -> int:
        return int(self.reward_amount) * int(self.quota or 0) if self.gives_coins else 0


class Question(models.Model):
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="questions")
    order = models.PositiveSmallIntegerField(default=0)
    kind = models.CharField(pgettext_lazy("question", "type"), max_length=16, choices=QuestionKind.choices)
    text = models.CharField(_("question"), max_length=300)
    required = models.BooleanField(_("required"), default=True)
    coins = models.PositiveIntegerField(_("coins"), default=DEFAULT_COINS_PER_QUESTION)
    # Satisfaction scale: five labels, 1 → 5. Rating: 1 → rating_max (stars).
    scale_labels = models.JSONField(default=list, blank=True)
    rating_max = models.PositiveSmallIntegerField(default=5)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.text

    @property
    def is_graded(self) -> bool:
        """A choice question with correct answer(s): a quiz question."""
        return self.kind in CHOICE_KINDS and any(c.is_correct for c in self.choices.all())

    @property
    def points(self) -> list[int]:
        top = SCALE_POINTS if self.kind == QuestionKind.SCALE else int(self.rating_max)
        return list(range(1, top + 1))


class Choice(models.Model):
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="choices")
    order = models.PositiveSmallIntegerField(default=0)
    text = models.CharField(_("option"), max_length=200)
    is_correct = models.BooleanField(_("correct answer"), default=False)

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return self.text


class Participation(models.Model):
    """That `citizen` answered `survey` (never what). The idempotency gate of answering."""

    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="participations")
    citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    passed = models.BooleanField(default=False)  # a quiz answered all right (a questionnaire: answered)
    completed = models.BooleanField(default=False)  # no further attempt is possible
    rewarded = models.BooleanField(default=False)
    reward_coins = models.PositiveIntegerField(default=0)
    ledger_transfer_id = models.BigIntegerField(null=True, blank=True)
    missed_reward = models.BooleanField(default=False)  # passed after the coins were all given out
    last_token = models.CharField(max_length=64, blank=True)  # the submission's idempotency token

    class Meta:
        constraints = [models.UniqueConstraint(fields=["survey", "citizen"], name="surveys_participation_once")]
        indexes = [models.Index(fields=["citizen", "survey"], name="surveys_part_citizen_idx")]


class Response(models.Model):
    """What one attempt answered. In an anonymous survey: no citizen, only the day, no demographics."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    survey = models.ForeignKey(Survey, on_delete=models.CASCADE, related_name="responses")
    anonymous = models.BooleanField(default=False)
    citizen = models.ForeignKey(Citizen, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    attempt = models.PositiveSmallIntegerField(default=1)
    submitted_on = models.DateField()  # Taiwan date
    submitted_at = models.DateTimeField(null=True, blank=True)
    all_correct = models.BooleanField(null=True, blank=True)  # None: nothing graded
    township = models.ForeignKey(Township, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    age_band = models.CharField(max_length=8, choices=AgeBand.choices, blank=True)
    gender = models.CharField(max_length=16, blank=True)

    class Meta:
        constraints = [
            # Anonymous mode, enforced by the database: nothing that could point back to a person.
            models.CheckConstraint(
                condition=Q(anonymous=False)
                | Q(
                    citizen__isnull=True,
                    submitted_at__isnull=True,
                    township__isnull=True,
                    age_band="",
                    gender="",
                ),
                name="surveys_anonymous_response_unlinked",
            ),
            models.CheckConstraint(
                condition=Q(anonymous=True) | Q(citizen__isnull=False), name="surveys_named_response"
            ),
            models.UniqueConstraint(
                fields=["survey", "citizen", "attempt"],
                condition=Q(citizen__isnull=False),
                name="surveys_response_once_per_attempt",
            ),
        ]
        indexes = [models.Index(fields=["survey", "attempt"], name="surveys_response_survey_idx")]


class Answer(models.Model):
    response = models.ForeignKey(Response, on_delete=models.CASCADE, related_name="answers")
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="answers")
    choices = models.JSONField(default=list, blank=True)  # chosen Choice ids
    number = models.PositiveSmallIntegerField(null=True, blank=True)  # scale / rating
    text = models.TextField(blank=True)
    is_correct = models.BooleanField(null=True, blank=True)  # None: not graded

    class Meta:
        constraints = [models.UniqueConstraint(fields=["response", "question"], name="surveys_answer_once")]
