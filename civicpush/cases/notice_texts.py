"""The wording of case notices. Fixed text with the case type's name and dates filled in: never the
citizen's name, ID or case details (a notice may show on a lock screen or go out by SMS). Written in
the site's default language (zh-Hant), which is the language of the county's notices."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _

from .models import Case, CaseEvent, DayBasis, EventKind, EventSource

TITLE_TAG = "申辦進度"
TYPE_NAME_MAX = 20


def _date(day: datetime.date | None) -> str:
    return f"{day:%Y-%m-%d}" if day else ""


def notice_text(case: Case, event: CaseEvent) -> tuple[str, str]:
    """(title, body) of the notice for `event`, in the default language."""
    with translation.override(settings.LANGUAGE_CODE):
        name = case.case_type.name[:TYPE_NAME_MAX]
        due = _date(case.due_at.astimezone(datetime.timezone(datetime.timedelta(hours=8))).date())
        kind = event.kind
        if kind == EventKind.RECEIVED:
            title = _("Application received")
            if case.case_type.day_basis == DayBasis.WORKING:
                body = _(
                    "We have received your application for %(type)s. It takes up to %(days)s working days; expected by %(date)s."
                )
            else:
                body = _(
                    "We have received your application for %(type)s. It takes up to %(days)s days; expected by %(date)s."
                )
            body = body % {"type": name, "days": case.case_type.standard_days, "date": due}
        elif kind == EventKind.IN_PROGRESS:
            title = _("Your application is being processed")
            body = _("Your application for %(type)s is being processed.") % {"type": name}
        elif kind == EventKind.NEEDS_DOCUMENTS:
            title = _("Documents needed")
            body = _(
                "Your application for %(type)s needs more documents. Open the case in the app to see what is needed."
            ) % {"type": name}
        elif kind == EventKind.OVERDUE and event.source == EventSource.PLATFORM:
            title = _("Your application is delayed")
            body = _(
                "Your application for %(type)s has passed its standard processing time. The unit will tell you why; expected completion: %(date)s."
            ) % {"type": name, "date": _date(event.expected_completion)}
        elif kind == EventKind.OVERDUE:
            title = _("Your application is delayed")
            body = _(
                "Your application for %(type)s is taking longer than the standard time. Expected completion: %(date)s. Open the case in the app to see why."
            ) % {"type": name, "date": _date(event.expected_completion)}
        elif kind == EventKind.DONE:
            title = _("Your application is done")
            body = _("Your application for %(type)s is done.") % {"type": name}
        else:
            title = _("Decision on your application")
            body = _("Your application for %(type)s was not approved. Open the case in the app to see the reason.") % {
                "type": name
            }
        return str(title), str(body)
