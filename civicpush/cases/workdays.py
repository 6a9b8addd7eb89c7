"""Working-day arithmetic for standard processing times (處理期限).

A working day is Monday to Friday, minus the county's holidays, plus its make-up working Saturdays
(補班). Holidays come from the county's `NonWorkingDay` table (the operator keeps it, e.g. typhoon
days) and, when the `holidays` package is installed, from its Taiwan calendar (public holidays
and make-up workdays). The table wins where both speak about a date.
"""

from __future__ import annotations

import datetime
import functools
from typing import Any

from django.utils import timezone

from .models import DayBasis, NonWorkingDay

TAIPEI = datetime.timezone(datetime.timedelta(hours=8), "Asia/Taipei")


@functools.lru_cache(maxsize=8)
def _package_calendar(year: int) -> tuple[frozenset[datetime.date], frozenset[datetime.date]]:
    """(holidays, make-up workdays) of Taiwan in `year` from the `holidays` package, or empty sets."""
    try:
        import holidays  # type: ignore[import-not-found]
    except ImportError:
        return frozenset(), frozenset()
    off: Any = holidays.country_holidays("TW", years=year)
    try:
        on: Any = holidays.country_holidays("TW", years=year, categories=("workday",))
    except Exception:  # older versions without the category
        on = {}
    return frozenset(off.keys()), frozenset(on.keys())


class WorkingCalendar:
    """Answers "is this a working day?" for one county; loads the exceptions of the years it is asked
    about once."""

    def __init__(self, county_id: int) -> None:
        self.county_id = county_id
        self._years: dict[int, tuple[set[datetime.date], set[datetime.date]]] = {}

    def _year(self, year: int) -> tuple[set[datetime.date], set[datetime.date]]:
        if year not in self._years:
            off, on = (set(s) for s in _package_calendar(year))
            for day in NonWorkingDay.objects.filter(county_id=self.county_id, date__year=year):
                (on if day.is_workday else off).add(day.date)
                (off if day.is_workday else on).discard(day.date)
            self._years[year] = (off, on)
        return self._years[year]

    def is_working_day(self, day: datetime.date) -> bool:
        off, on = self._year(day.year)
        if day in on:
            return True
        if day in off:
            return False
        return day.weekday() < 5

    def add_days(self, start: datetime.date, days: int, basis: str) -> datetime.date:
        """The last day of a period of `days` days after `start` (the day of receipt does not count)."""
        if basis == DayBasis.CALENDAR:
            return start + datetime.timedelta(days=days)
        day = start
        remaining = days
        while remaining > 0:
            day += datetime.timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day


def end_of_day(day: datetime.date) -> datetime.datetime:
    """23:59:59 of `day` in Asia/Taipei, as an aware datetime."""
    return datetime.datetime.combine(day, datetime.time(23, 59, 59), tzinfo=TAIPEI)


def local_date(moment: datetime.datetime) -> datetime.date:
    return timezone.localtime(moment, TAIPEI).date()


def due_at(county_id: int, received_at: datetime.datetime, days: int, basis: str) -> datetime.datetime:
    """When a case received at `received_at` becomes overdue: the end of its last allowed day."""
    calendar = WorkingCalendar(county_id)
    return end_of_day(calendar.add_days(local_date(received_at), days, basis))
