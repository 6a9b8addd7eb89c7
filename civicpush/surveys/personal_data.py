"""The citizen's questionnaire data for export and erasure (個資法)."""

from __future__ import annotations

from typing import Any

from .models import Answer, Participation, Response


def export_survey_data(citizen: Any) -> dict[str, Any]:
    """Which questionnaires the citizen answered, the coins received, and their own (non-anonymous)
    answers. Anonymous answers cannot be exported: nothing links them to the citizen."""
    parts = Participation.objects.filter(citizen_id=citizen.pk).select_related("survey__push").order_by("created_at")
    responses = (
        Response.objects.filter(citizen_id=citizen.pk)
        .select_related("survey__push")
        .prefetch_related("answers__question__choices")
        .order_by("submitted_at")
    )
    return {
        "answered": [
            {
                "questionnaire": p.survey.push.full_title,
                "first_answered_at": p.created_at.isoformat(),
                "attempts": p.attempts,
                "passed": p.passed,
                "coins": p.reward_coins,
            }
            for p in parts
        ],
        "answers": [
            {
                "questionnaire": r.survey.push.full_title,
                "attempt": r.attempt,
                "submitted_at": r.submitted_at.isoformat() if r.submitted_at else None,
                "answers": [_answer_json(a) for a in r.answers.all()],
            }
            for r in responses
        ],
    }


def _answer_json(a: Answer) -> dict[str, Any]:
    names = {c.pk: c.text for c in a.question.choices.all()}
    return {
        "question": a.question.text,
        "choices": [names.get(c, "") for c in a.choices],
        "number": a.number,
        "text": a.text,
    }


def erase_survey_data(citizen: Any) -> None:
    """Unlink the citizen's answers (they stay in the results as anonymous ones, without the
    free text, which may hold personal data); participations stay under the pseudonymous id, as
    the coin ledger's records of the rewards do."""
    responses = Response.objects.filter(citizen_id=citizen.pk)
    Answer.objects.filter(response__in=responses).exclude(text="").update(text="")
    responses.update(
        citizen=None, anonymous=True, submitted_at=None, township=None, age_band="", gender="", all_correct=None
    )
    Participation.objects.filter(citizen_id=citizen.pk).update(last_token="")
