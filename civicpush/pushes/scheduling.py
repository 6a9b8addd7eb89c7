"""Send-time rules: quiet hours (Asia/Taipei) and the county policy. Pure functions over datetimes."""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from civicpush.org.models import County

from .models import CountyPushPolicy

TAIPEI = ZoneInfo("Asia/Taipei")


def policy_for(county: County | int) -> CountyPushPolicy:
    """The county's policy, or an unsaved one with the defaults (22:00–07:00, 3 promotions a day)."""
    county_id = county if isinstance(county, int) else county.pk
    policy = CountyPushPolicy.objects.filter(county_id=county_id).first()
    return policy or CountyPushPolicy(county_id=county_id)


def in_quiet_hours(moment: datetime.datetime, start: datetime.time, end: datetime.time) -> bool:
    local = moment.astimezone(TAIPEI).time()
    if start == end:
        return False
    if start < end:  # e.g. 01:00–05:00
        return start <= local < end
    return local >= start or local < end  # crosses midnight, e.g. 22:00–07:00


def end_of_quiet_hours(moment: datetime.datetime, start: datetime.time, end: datetime.time) -> datetime.datetime:
    """The first instant at or after `moment` outside quiet hours (aware, in UTC-agnostic form)."""
    if not in_quiet_hours(moment, start, end):
        return moment
    local = moment.astimezone(TAIPEI)
    candidate = datetime.datetime.combine(local.date(), end, tzinfo=TAIPEI)
    if candidate <= local:
        candidate = datetime.datetime.combine(local.date() + datetime.timedelta(days=1), end, tzinfo=TAIPEI)
    return candidate


def effective_send_time(
    desired: datetime.datetime, *, ignores_quiet_hours: bool, policy: CountyPushPolicy
) -> datetime.datetime:
    """When a push wanted at `desired` may go out: held to the end of quiet hours unless it is
    urgent or a personal notice."""
    if ignores_quiet_hours:
        return desired
    return end_of_quiet_hours(desired, policy.quiet_start, policy.quiet_end)


def taipei_day_bounds(moment: datetime.datetime) -> tuple[datetime.datetime, datetime.datetime]:
    """[start, end) of the Asia/Taipei calendar day containing `moment`."""
    day = moment.astimezone(TAIPEI).date()
    start = datetime.datetime.combine(day, datetime.time(0), tzinfo=TAIPEI)
    return start, start + datetime.timedelta(days=1)


def taipei_date(moment: datetime.datetime) -> datetime.date:
    return moment.astimezone(TAIPEI).date()
