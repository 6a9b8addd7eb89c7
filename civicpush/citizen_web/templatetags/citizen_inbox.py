"""Template filters for the citizen inbox: times in Asia/Taipei, relative for today."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from django import template
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.utils import timezone
from django.utils.formats import date_format

register = template.Library()
TAIPEI = ZoneInfo("Asia/Taipei")


@register.filter
def inbox_time(value: datetime.datetime | None) -> str:
    """Today: "3 hours ago"; this year: "11月20日"-style month and day; older: the full date."""
    if value is None:
        return ""
    local = timezone.localtime(value, TAIPEI)
    now = timezone.localtime(timezone.now(), TAIPEI)
    if local.date() == now.date():
        return str(naturaltime(value))
    if local.year == now.year:
        return date_format(local, "MONTH_DAY_FORMAT")
    return date_format(local, "DATE_FORMAT")


@register.filter
def taipei_datetime(value: datetime.datetime | None) -> str:
    """A full date and time in Asia/Taipei, e.g. 2026年11月20日 14:05."""
    if value is None:
        return ""
    local = timezone.localtime(value, TAIPEI)
    return f"{date_format(local, 'DATE_FORMAT')} {local:%H:%M}"
