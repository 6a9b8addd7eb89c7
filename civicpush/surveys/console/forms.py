"""Builder forms: questionnaire settings and one question. Nothing is checked here that the
services do not check again (they say what is missing or wrong)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from civicpush.console.push_forms import DateTimeLocalInput

from ..models import DEFAULT_COINS_PER_QUESTION, DEFAULT_SCALE_LABELS, QuestionKind


class SettingsForm(forms.Form):
    opens_at = forms.DateTimeField(label=_("Opens at (Taiwan time)"), widget=DateTimeLocalInput(), required=False)
    closes_at = forms.DateTimeField(label=_("Closes at (Taiwan time)"), widget=DateTimeLocalInput(), required=False)
    quota = forms.IntegerField(
        label=_("Respondents rewarded (the first N)"),
        required=False,
        min_value=1,
        help_text=_("Leave empty for a questionnaire without coins."),
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    allow_retry = forms.BooleanField(label=_("A wrong answer may be retried"), required=False, initial=True)
    anonymous = forms.BooleanField(
        label=_("Anonymous: record that a citizen answered, not what"),
        required=False,
        help_text=_("An anonymous questionnaire cannot have correct answers."),
    )
    budget_id = forms.ChoiceField(label=_("Coin budget"), required=False)
    period_id = forms.ChoiceField(label=_("Coin period (expiry)"), required=False)

    def __init__(self, *args: Any, budgets: Sequence[Any] = (), periods: Sequence[Any] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        budget_choices: list[tuple[str, Any]] = [("", _("This year's reserved budget"))]
        budget_choices += [(str(b.pk), f"{b.year} · {b.remaining:,}") for b in budgets]
        period_choices: list[tuple[str, Any]] = [("", _("The first period still running at closing"))]
        period_choices += [(str(p.pk), f"{p.name or p.code} · {p.expires_at:%Y-%m-%d}") for p in periods]
        self.fields["budget_id"].choices = budget_choices  # type: ignore[attr-defined]
        self.fields["period_id"].choices = period_choices  # type: ignore[attr-defined]


class QuestionForm(forms.Form):
    kind = forms.ChoiceField(
        label=_("Question type"), choices=QuestionKind.choices, widget=forms.RadioSelect, initial=QuestionKind.SINGLE
    )
    text = forms.CharField(label=_("Question"), max_length=300, required=False)
    options = forms.CharField(
        label=_("Options, one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("For single and multiple choice."),
    )
    correct = forms.CharField(
        label=_("Correct answer(s) for a quiz"),
        required=False,
        help_text=_("The numbers of the right options, for example 1 or 1、2. Leave empty for no correct answer."),
    )
    coins = forms.IntegerField(
        label=_("Coins for this question"),
        required=False,
        min_value=0,
        initial=DEFAULT_COINS_PER_QUESTION,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )
    required = forms.BooleanField(label=_("An answer is required"), required=False, initial=True)
    scale_labels = forms.CharField(
        label=_("Scale labels, 1 to 5, one per line"),
        required=False,
        initial="\n".join(DEFAULT_SCALE_LABELS),
        widget=forms.Textarea(attrs={"rows": 5}),
    )
    rating_max = forms.IntegerField(
        label=_("Highest rating (stars)"), required=False, initial=5, min_value=3, max_value=10
    )

    def service_data(self) -> dict[str, Any]:
        data = dict(self.cleaned_data)
        data["required"] = bool(data.get("required"))
        return data
