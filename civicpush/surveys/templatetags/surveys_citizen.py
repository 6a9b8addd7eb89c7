"""`{% survey_box push %}` on the citizen's message page: the questionnaire's card and its button."""

from __future__ import annotations

from typing import Any

from django import template

from ..models import Survey
from ..selectors import citizen_view

register = template.Library()


@register.inclusion_tag("surveys/citizen/_message_box.html", takes_context=True)
def survey_box(context: Any, push: Any) -> dict[str, Any]:
    request = context.get("request")
    citizen = getattr(request, "citizen", None)
    survey = Survey.objects.filter(push_id=push.pk).first() if push.push_type == "questionnaire" else None
    if survey is None or citizen is None:
        return {"survey": None}
    return {"survey": survey, "view": citizen_view(citizen, survey), "push": push}
