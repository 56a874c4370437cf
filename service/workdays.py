"""Tell working days from days off: the company's week, China's statutory calendar, config.

A day is a working day by these rules, the first that applies winning:

1. ``policy.extra_working_days`` lists it: working.
2. ``policy.holidays`` lists it: off.
3. China's statutory calendar (the ``chinesecalendar`` package, which follows the State
   Council's yearly notice) names it a holiday or a day off in lieu: off; a weekend day it
   makes a working day (调休): working.
4. Otherwise its weekday is in ``policy.working_days``.

``chinesecalendar`` knows the years up to its release (1.11.0: 2004–2026). For a year it does
not know, rule 3 is skipped and a warning is logged once per year: the week and the config's
own lists then decide, so a company adds that year's holidays to ``policy.holidays`` and
``policy.extra_working_days`` until the package has them.
"""

from __future__ import annotations

import logging
from datetime import date

import chinese_calendar

from .config import Policy

log = logging.getLogger(__name__)

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WorkingDays:
    """Answer ``is_working_day(day)`` for one policy; build once, ask often (cheap)."""

    def __init__(self, policy: Policy) -> None:
        self.week = frozenset(WEEKDAYS.index(d) for d in policy.working_days)
        self.holidays = frozenset(policy.holidays)
        self.extra = frozenset(policy.extra_working_days)
        self._warned: set[int] = set()

    def is_working_day(self, day: date) -> bool:
        """Return whether ``day`` (a local date) is a working day by the rules above."""
        if day in self.extra:
            return True
        if day in self.holidays:
            return False
        statutory = self.statutory(day)
        if statutory is not None:
            return statutory
        return day.weekday() in self.week

    def statutory(self, day: date) -> bool | None:
        """Return False for a statutory day off, True for a make-up working day, None otherwise
        (an ordinary day, or a year the calendar does not know)."""
        try:
            on_holiday, name = chinese_calendar.get_holiday_detail(day)
        except NotImplementedError:
            if day.year not in self._warned:
                self._warned.add(day.year)
                log.warning("the statutory calendar does not know %d: working days follow policy.working_days, "
                            "policy.holidays and policy.extra_working_days only", day.year)
            return None
        if on_holiday and name:
            return False  # a named holiday, or a weekday off in lieu
        if not on_holiday and day.weekday() >= 5:
            return True  # 调休: a weekend day made a working day
        return None

    def working_days_in(self, first: date, last: date) -> list[date]:
        """Return the working days from ``first`` to ``last``, both included, in order."""
        days = []
        day = first
        while day <= last:
            if self.is_working_day(day):
                days.append(day)
            day = date.fromordinal(day.toordinal() + 1)
        return days
