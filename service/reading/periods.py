"""Read a visit plan's period and the dates of its visits (巡访计划, Article 5, spec §4).

A plan covers a year, a quarter or a month, written as people write them:

- a year: ``2027``, ``2027年``, ``2027年度``;
- a quarter: ``2026-Q4``, ``2026Q4``, ``Q4 2026``, ``2026年第四季度``, ``2027年一季度``,
  ``2026年4季度``, ``2026年Q4``;
- a month: ``2026-12``, ``2026/12``, ``2026.12``, ``2026年12月``, ``2026年十二月``,
  ``Dec 2026``, ``December 2026``.

Its key is the normalised text the database and ``parse --json`` use: ``2027``,
``2026-Q4``, ``2026-12``.

A visit's date is a day, an ISO week or a month (a quarter or a year also reads, as the span
it names). A day is any form ``dates.DATE_RE`` reads (``2026-12-03``, ``2026/12/3``,
``2026年12月3日``, ``12月3日``, ``Dec 3``); a date without a year is in the plan's year (a
plan never spans two years), and a day of the month alone (``3日``) only in a monthly plan.
A week is ``2026-W49``, ``2026W49``, ``W49``, ``2026年第49周`` or ``第49周``; a month is a
period as above, or ``12月`` / ``Dec`` in the plan's year. Relative words (明天, 周三) mean
nothing in a plan and are not read. Every value is read whole: ``2026-12-03 或 12-05`` is
unparseable, not the 3rd.

A day may carry what spreadsheets and people put beside it: a time of day (a datetime cell
``2026-12-03 09:30``, typed ``2026/12/3 9:30`` or ``下午2:00``) – a plan schedules days, so
the time is passed over – and its weekday before or after it (``2026年12月3日（周四）``,
``12月3日 星期四``, ``Thu, Dec 3``). A weekday the day does not fall on is a
``WeekdayMismatch`` naming both; a weekday beside a week or a month is unparseable.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from .dates import DATE_RE, date_from_match
from .values import BAD_DATE, EMPTY, UNPARSEABLE, normalise, parse_chinese_number

__all__ = ["Period", "Span", "WeekdayMismatch", "parse_period", "parse_plan_date"]

_CN_NUMBER = "一二三四五六七八九十"
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_EN_MONTH = (r"(?P<mon>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
             r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?")

_YEAR_RE = re.compile(r"(?P<y>\d{4})\s*(?:年\s*(?:度|全年)?)?")
_QUARTER_RE = re.compile(
    r"(?P<y>\d{4})\s*(?:年\s*(?:度\s*)?)?[-/. ]?\s*(?:q(?P<q>[1-4])|第?\s*(?P<cq>[1-4一二三四])\s*季度?)"
    r"|q(?P<q2>[1-4])\s*[-/ ]?\s*(?P<y2>\d{4})\s*年?")
_MONTH_RE = re.compile(
    rf"(?P<y>\d{{4}})\s*(?:[-/.]\s*(?P<m>\d{{1,2}})|年\s*(?P<cm>\d{{1,2}}|[{_CN_NUMBER}]{{1,3}})\s*月份?)"
    rf"|{_EN_MONTH}\s*,?\s*(?P<y2>\d{{4}})|(?P<y3>\d{{4}})\s*{_EN_MONTH.replace('mon>', 'mon3>')}")
_BARE_MONTH_RE = re.compile(rf"(?P<cm>\d{{1,2}}|[{_CN_NUMBER}]{{1,3}})\s*月份?|{_EN_MONTH}")
_WEEK_RE = re.compile(r"(?:(?P<y>\d{4})\s*(?:年\s*)?[-/ ]?\s*)?(?:w|第)\s*(?P<w>\d{1,2})\s*周?"
                      r"(?:\s*-?\s*(?P<d>[1-7]))?")
_DAY_ALONE_RE = re.compile(rf"(?P<d>\d{{1,2}}|[{_CN_NUMBER}]{{1,3}})\s*[日号]")
# A time of day after the date ("2026-12-03 09:30:00", "2026/12/3 9:30", "12月3日 下午2:00",
# "Dec 3 9:30 am"): a plan schedules the day.
_TIME_AFTER = re.compile(r"(?:\s+|(?<=\d)t|(?<=[日号]))(?:上午|下午|早上|中午|晚上)?\s*(?:[01]?\d|2[0-3]):[0-5]\d"
                         r"(?::[0-5]\d(?:\.\d+)?)?(?:\s*[ap]\.?m\.?)?$")
# A weekday before or after the day, bracketed or not: "(周四)", "星期四", "礼拜四", "thu,", "thursday".
_WEEKDAY = (r"[(\[]?\s*(?:(?:周|星期|礼拜)(?P<cn>[一二三四五六日天])|(?P<en>mon(?:day)?|tue(?:sday|s)?|"
            r"wed(?:nesday)?|thu(?:rsday|rs|r)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)(?![a-z])\.?)\s*[)\]]?")
_WEEKDAY_BEFORE = re.compile(rf"^{_WEEKDAY}\s*,?\s*(?=\S)")
_WEEKDAY_AFTER = re.compile(rf"(?<=\S)\s*,?\s*{_WEEKDAY}$")
_CN_WEEKDAY = {**{d: i for i, d in enumerate("一二三四五六")}, "日": 6, "天": 6}
_EN_WEEKDAY = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WEEKDAY_NAMES = {"zh-CN": ("星期一", "星期二", "星期三", "星期四", "星期五", "星期六", "星期日"),
                 "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}


@dataclass(frozen=True)
class WeekdayMismatch:
    """A day written with a weekday it does not fall on (2026-12-03 周五: the 3rd is a Thursday)."""

    day: date
    written: int  # the weekday written, Monday being 0

    def details(self) -> tuple[tuple[str, str], ...]:
        """Return the names a problem sentence fills in: the day, its weekday and the one written."""
        return (("day", self.day.isoformat()),
                *((f"{kind}_{lang.split('-')[0]}", WEEKDAY_NAMES[lang][n])
                  for kind, n in (("is", self.day.weekday()), ("written", self.written))
                  for lang in WEEKDAY_NAMES))


@dataclass(frozen=True)
class Span:
    """A run of days, both ends included, with the key it is written as (2026-12-03, 2026-W49, 2026-12)."""

    key: str
    start: date
    end: date

    def overlaps(self, other: Span) -> bool:
        return self.start <= other.end and other.start <= self.end

    def clipped(self, other: Span) -> Span:
        """Return the part of this span inside ``other`` (the caller checked that they overlap)."""
        return Span(self.key, max(self.start, other.start), min(self.end, other.end))


@dataclass(frozen=True)
class Period(Span):
    """A plan's year, quarter or month; ``key`` is its normalised text (2027, 2026-Q4, 2026-12)."""

    kind: str = "month"  # year | quarter | month


def _month(year: int, month: int) -> Period | None:
    if not (2000 <= year <= 2099 and 1 <= month <= 12):
        return None
    last = calendar.monthrange(year, month)[1]
    return Period(f"{year}-{month:02d}", date(year, month, 1), date(year, month, last), "month")


def _quarter(year: int, quarter: int) -> Period | None:
    if not 2000 <= year <= 2099:
        return None
    first = 3 * quarter - 2
    end = date(year, first + 2, calendar.monthrange(year, first + 2)[1])
    return Period(f"{year}-Q{quarter}", date(year, first, 1), end, "quarter")


def _year(year: int) -> Period | None:
    if not 2000 <= year <= 2099:
        return None
    return Period(str(year), date(year, 1, 1), date(year, 12, 31), "year")


def _small(text: str) -> int:
    if text.isdigit():
        return int(text)
    value = parse_chinese_number(text)
    return int(value) if value is not None else -1


def _month_number(m: re.Match, group: str = "mon") -> int:
    name = m[group]
    return _MONTH_NAMES.index(name[:3]) + 1 if name else -1


def parse_period(text: str) -> Period | None:
    """Return the year, quarter or month ``text`` names, or None when it names none of them."""
    t = normalise(text)
    if not t:
        return None
    if m := _YEAR_RE.fullmatch(t):
        return _year(int(m["y"]))
    if m := _QUARTER_RE.fullmatch(t):
        if m["y2"]:
            return _quarter(int(m["y2"]), int(m["q2"]))
        return _quarter(int(m["y"]), int(m["q"]) if m["q"] else _small(m["cq"]))
    if m := _MONTH_RE.fullmatch(t):
        if m["y2"]:
            return _month(int(m["y2"]), _month_number(m))
        if m["y3"]:
            return _month(int(m["y3"]), _month_number(m, "mon3"))
        return _month(int(m["y"]), int(m["m"]) if m["m"] else _small(m["cm"]))
    return None


def _week(year: int, week: int, day: str | None) -> Span | str:
    try:
        monday = date.fromisocalendar(year, week, 1)
    except ValueError:
        return BAD_DATE
    key = f"{year}-W{week:02d}"
    if day:
        one = monday + timedelta(days=int(day) - 1)
        return Span(one.isoformat(), one, one)
    return Span(key, monday, monday + timedelta(days=6))


def parse_plan_date(text: str, period: Period) -> Span | WeekdayMismatch | str:
    """Return the day, week or month a plan's date cell names, a WeekdayMismatch, or a problem code.

    Codes: 'empty', 'unparseable', 'bad_date' (a day, week or month that does not exist).
    A time of day after a date is passed over; a weekday beside a day must be that day's.
    Whether the span lies in ``period`` is the caller's check.
    """
    t = _TIME_AFTER.sub("", normalise(text)).strip()
    if not t:
        return EMPTY
    weekday = _WEEKDAY_BEFORE.search(t) or _WEEKDAY_AFTER.search(t)
    if weekday is None:
        return _plan_date(t, period)
    found = _plan_date((t[:weekday.start()] + t[weekday.end():]).strip(), period)
    if isinstance(found, str):
        return found
    if found.start != found.end:
        return UNPARSEABLE  # a week or a month with a weekday: which day is meant?
    written = _CN_WEEKDAY[weekday["cn"]] if weekday["cn"] else _EN_WEEKDAY.index(weekday["en"][:3])
    return found if found.start.weekday() == written else WeekdayMismatch(found.start, written)


def _plan_date(t: str, period: Period) -> Span | str:
    """Return the day, week or month of a normalised date text (no time, no weekday), or a problem code."""
    if not t:
        return UNPARSEABLE
    year = period.start.year
    if m := _WEEK_RE.fullmatch(t):
        return _week(int(m["y"]) if m["y"] else year, int(m["w"]), m["d"])
    if found := parse_period(t):
        return found
    if _YEAR_RE.fullmatch(t) or _MONTH_RE.fullmatch(t) or _QUARTER_RE.fullmatch(t):
        return BAD_DATE  # 2026-13, 1999年: the shape of a month or year that does not exist
    if m := _BARE_MONTH_RE.fullmatch(t):
        month = _month_number(m) if m["mon"] else _small(m["cm"])
        return _month(year, month) or BAD_DATE
    if m := _DAY_ALONE_RE.fullmatch(t):
        if period.kind != "month":
            return UNPARSEABLE  # "3日" of a year or a quarter: which month?
        day = _small(m["d"])
        return _day(period.start.year, period.start.month, day)
    m = DATE_RE.fullmatch(t)
    if m is None or m["rel"] or m["day_d"] or m["day_cn"]:
        return UNPARSEABLE
    # A year-less date reads in the year of its reference day unless it would be more than
    # half a year off; with 2 July as the reference every day of the plan's year is within.
    found = date_from_match(m, date(year, 7, 2))
    if isinstance(found, str):
        return found
    return Span(found.isoformat(), found, found)


def _day(year: int, month: int, day: int) -> Span | str:
    try:
        one = date(year, month, day)
    except ValueError:
        return BAD_DATE
    return Span(one.isoformat(), one, one)
