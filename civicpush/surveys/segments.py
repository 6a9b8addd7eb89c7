"""The `answered_survey` filter of dynamic groups: citizens who answered any of the given
questionnaires (anonymous ones too: that a citizen answered is recorded, never what)."""

from __future__ import annotations

from typing import Any

from django.db.models import Exists, OuterRef, QuerySet
from django.utils.translation import gettext_lazy as _

from civicpush.citizens.models import CitizenProfile
from civicpush.core.errors import ValidationFailed

from .models import Participation, Survey

MAX_SURVEYS = 100


def validate_survey_ids(value: Any) -> list[int]:
    items = value if isinstance(value, list | tuple) else [value]
    message = _("Choose questionnaires from the list.")
    try:
        ids = sorted({int(x) for x in items if not isinstance(x, bool)})
    except (TypeError, ValueError):
        raise ValidationFailed(message, field_errors={"answered_survey": [message]}) from None
    if not ids or len(ids) > MAX_SURVEYS or len(ids) != len([x for x in items if not isinstance(x, bool)]):
        raise ValidationFailed(message, field_errors={"answered_survey": [message]})
    if Survey.objects.filter(pk__in=ids).count() != len(ids):
        missing = _("One of the chosen questionnaires does not exist.")
        raise ValidationFailed(missing, field_errors={"answered_survey": [missing]})
    return ids


def apply_answered_survey(qs: QuerySet[CitizenProfile], ids: list[int]) -> QuerySet[CitizenProfile]:
    # EXISTS, not a join: a citizen who answered two of them still counts once.
    return qs.filter(Exists(Participation.objects.filter(citizen_id=OuterRef("citizen_id"), survey_id__in=ids)))
