"""Read calendar dates as people type them (Chinese or English, spec §4): in a visit time,
a report's 日期 and a gift's planned 赠送日期.

Every date-like word is either read or reported, never dropped. How ambiguous input is read
(the lead documents these for users; ``times`` reads the time of day around a date):

- Slash and dash dates: ``2026/11/26`` is Y/M/D; ``11/26`` and ``11-26`` are M/D;
  ``26/11/2026`` is D/M/Y because 26 cannot be a month, otherwise ``11/12/2026`` is M/D/Y
  (12 November). Dotted dates read the same way: ``2026.11.25`` is Y.M.D, ``11.25`` M.D.
  In a visit time ``11.25`` is a date only beside a time of day (``11.25 9:30``): alone,
  ``9.30`` could be a time written with a dot, so it is ``unparseable``. A date without a
  year takes the reference date's year (the report date, or today), or the previous year
  when that would put it more than 183 days ahead. Years outside 2000–2099 are
  ``bad_date``; two-digit years only with 年 (``26年`` = 2026).
- A day of the month alone (``25日``, ``25号``, ``二十五日``, ``the 25th``) is in the
  reference date's month, or the month before when that day would come after the reference
  date: on 27 November ``25日`` is 25 November and ``28日`` 28 October. A day the month
  does not have (``31日`` on 2 December: 31 November) is ``bad_date``.
- A weekday (``周三``, ``星期三``, ``礼拜三``, ``Wednesday``, ``Wed``) is the most recent such
  day on or before the reference date: on Friday 27 November ``周三`` is 25 November and
  ``周五`` the 27th itself. Weeks start on Monday: ``本周三``/``这周三``/``this Wednesday``
  is the Wednesday of the reference date's week, ``上周三`` the one of the week before,
  ``上上周三`` two weeks before, ``下周三`` the week after. ``last Wednesday`` is the most
  recent Wednesday before the reference date, ``next Wednesday`` the first one after it.
  Beside a date a weekday must agree with it (``2026-11-26 周三`` is
  ``weekday_mismatch``: 26 November 2026 is a Thursday).
- 今天/today, 昨天/yesterday, 前天, 明天/tomorrow, 后天 are dates relative to the reference
  date; in a visit time they count only next to a time of day (``明天`` alone is
  ``unparseable``, as the user gave no time at all).
- A planned date (a gift's 赠送日期, read with ``ahead=True``) looks forward instead: a day
  alone is in the reference month or the next, a weekday is the next such day on or after
  the reference date, and a year-less date more than 183 days back is next year's
  (``1月5日`` planned on 27 November 2026 is 5 January 2027).
- Only the first date in the text counts (and one weekday beside it). ``DATEISH_RE`` finds
  what looks like a date but is not read (``26.11.26``, ``上周``, ``周末``), so that a visit
  time holding one is ``unparseable`` rather than put on the report date.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from .values import BAD_DATE, EMPTY, UNPARSEABLE, WEEKDAY_MISMATCH, normalise, parse_chinese_number

__all__ = ["DATEISH_RE", "DATE_RE", "date_from_match", "find_date", "parse_date", "small_int"]

_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
           r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_MONTH_NUMBER = {name: i for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_CN_SMALL = "一二三四五六七八九十"
_AMPM = r"[ap](?:\.\s?)?m(?![a-z])\.?"
# After a number these make it a duration, a distance or a count, not a date or an hour.
_UNIT = r"小时|钟头|个|人|位|天|元|公里|%|h(?![a-z])|hours?|hrs?|mins?|分钟|km|days?"

_RELATIVE_DAYS = {"今天": 0, "今日": 0, "today": 0, "昨天": -1, "昨日": -1, "yesterday": -1,
                  "前天": -2, "明天": 1, "明日": 1, "tomorrow": 1, "后天": 2}
# Every date starts with a digit, a Chinese numeral, a month's name or a relative day. The
# lookahead passes over any other position at once instead of trying each alternative there;
# it changes no match (tests/test_reading_speedups.py).
_WORD_INITIALS = "".join(sorted({month[0] for month in _MONTH_NUMBER} | {word[0] for word in _RELATIVE_DAYS}))
_DATE_START = rf"(?=[\d{_CN_SMALL}{_WORD_INITIALS}])"
# One alternation so a single search finds the leftmost date of any form.
DATE_RE = re.compile(rf"""
    {_DATE_START}(?:
    (?<!\d)(?P<iso_y>\d{{4}})\s*(?P<iso_sep>[-/.])\s*(?P<iso_m>\d{{1,2}})\s*(?P=iso_sep)\s*
        (?P<iso_d>\d{{1,2}})(?!\d)(?:\s*[日号])?
  | (?<![\d/.:-])(?P<dmy_a>\d{{1,2}})/(?P<dmy_b>\d{{1,2}})/(?P<dmy_y>\d{{4}})(?!\d)
  | (?:(?<!\d)(?P<cn_y>\d{{4}}|\d{{2}})\s*年\s*)?
        (?<!\d)(?P<cn_m>\d{{1,2}}|[{_CN_SMALL}]{{1,2}})\s*月\s*
        (?P<cn_d>\d{{1,2}}(?![\d:])|[{_CN_SMALL}]{{1,3}}(?=\s*[日号]))\s*[日号]?
  | (?<![\d/.:-])(?P<md_a>\d{{1,2}})[/-](?P<md_b>\d{{1,2}})
        (?![\d/.:]|\s*(?:[点时點時]|{_AMPM}))
  | (?<![\d/.:-])(?P<dot_a>\d{{1,2}})\.(?P<dot_b>\d{{1,2}})(?![\d.:])
        (?!\s*(?:[点时點時分]|{_AMPM}|{_UNIT}))(?:\s*[日号])?
  | (?<![a-z])(?P<en1_mon>{_MONTHS})(?![a-z])\.?\s*(?P<en1_d>\d{{1,2}})(?!\d)(?:st|nd|rd|th)?(?![a-z:])
        (?:\s*,?\s*(?P<en1_y>\d{{4}})(?![\d:]))?
  | (?<![\d:.])(?P<en2_d>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:of\s+)?(?P<en2_mon>{_MONTHS})(?![a-z])\.?
        (?:\s*,?\s*(?P<en2_y>\d{{4}})(?![\d:]))?
  | (?<![\d/.:-])(?P<day_d>\d{{1,2}})(?:\s*[日号]|(?:st|nd|rd|th)(?![a-z]))
  | (?<![{_CN_SMALL}〇零月])(?P<day_cn>[{_CN_SMALL}]{{1,3}})\s*[日号]
  | (?P<rel>今天|今日|昨天|昨日|前天|明天|明日|后天|(?<![a-z])(?:today|yesterday|tomorrow)(?![a-z]))
    )""", re.X)
_WEEKDAY_RE = re.compile(r"""
    (?P<cn_rel>上上|上|本|这|下下|下)?个?\s*(?:周|星期|礼拜)(?P<cn_day>[一二三四五六日天1-7])
  | (?<![a-z])(?:(?P<en_rel>last|this|next)\s+)?
        (?P<en_day>mon|tue|wed|thu|fri|sat|sun)(?:day|s|sday|nesday|r|rs|rsday|urday)?\.?(?![a-z])
""", re.X)
_CN_WEEKDAYS = {**{d: i for i, d in enumerate("一二三四五六")}, "日": 6, "天": 6,
                **{str(i): i - 1 for i in range(1, 8)}}
_EN_WEEKDAYS = {d: i for i, d in enumerate(("mon", "tue", "wed", "thu", "fri", "sat", "sun"))}
_WEEK_SHIFT = {"上上": -2, "上": -1, "本": 0, "这": 0, "this": 0, "下": 1, "下下": 2}
# Something that looks like a date in a form we do not read; see parse_visit_time.
DATEISH_RE = re.compile(rf"""
    \d+\s*[-/.]\s*\d+\s*[-/.]\s*\d+
  | [\d〇零{_CN_SMALL}]\s*[年月日号]
  | (?<![\d.])\d{{1,2}}\.\d{{1,2}}(?![\d.])(?!\s*(?:{_UNIT}))
  | [上下本这]个?(?:周|星期|礼拜)|(?:周|星期|礼拜)[{_CN_SMALL}日天末\d]|周末
  | (?<![a-z])(?:weekend|(?:last|next|this)\s+week)(?![a-z])
""", re.X)
# Half a year: a year-less date further ahead than this is taken to be last year's.
_YEAR_WINDOW = timedelta(days=183)


def _make_date(year: int, month: int, day: int) -> date | str:
    """Return the date, or BAD_DATE when it does not exist or is implausibly far off."""
    if not 2000 <= year <= 2099:
        return BAD_DATE
    try:
        return date(year, month, day)
    except ValueError:
        return BAD_DATE


def _date_near(month: int, day: int, ref: date, ahead: bool = False) -> date | str:
    """Return the month and day in ref's year, or the year before if that is > 183 days ahead
    (the year after if > 183 days back, when ahead)."""
    found = _make_date(ref.year, month, day)
    if isinstance(found, date) and found - ref > _YEAR_WINDOW:
        return _make_date(ref.year - 1, month, day)
    if ahead and isinstance(found, date) and ref - found > _YEAR_WINDOW:
        return _make_date(ref.year + 1, month, day)
    return found


def _day_of_month(day: int, ref: date, ahead: bool) -> date | str:
    """Return that day in ref's month, or the month before (after, when ahead) to keep its side of ref."""
    year, month = ref.year, ref.month
    if ahead and day < ref.day:
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    elif not ahead and day > ref.day:
        year, month = (year - 1, 12) if month == 1 else (year, month - 1)
    return _make_date(year, month, day)


def small_int(text: str) -> int:
    """Return a month, day or hour written in Arabic digits or Chinese numerals."""
    if text.isdigit():
        return int(text)
    value = parse_chinese_number(text)
    return int(value) if value is not None else -1


def date_from_match(m: re.Match[str], ref: date, ahead: bool = False) -> date | str:
    """Return the date a DATE_RE match stands for, relative to ref where needed."""
    if m["iso_y"]:
        return _make_date(int(m["iso_y"]), int(m["iso_m"]), int(m["iso_d"]))
    if m["dmy_y"]:
        first, second = int(m["dmy_a"]), int(m["dmy_b"])
        # D/M/Y only when the first number cannot be a month; otherwise US order.
        month, day = (second, first) if first > 12 else (first, second)
        return _make_date(int(m["dmy_y"]), month, day)
    if m["cn_m"]:
        month, day = small_int(m["cn_m"]), small_int(m["cn_d"])
        if m["cn_y"]:
            year = int(m["cn_y"])
            return _make_date(year + 2000 if year < 100 else year, month, day)
        return _date_near(month, day, ref, ahead)
    if m["md_a"] or m["dot_a"]:
        first, second = int(m["md_a"] or m["dot_a"]), int(m["md_b"] or m["dot_b"])
        month, day = (second, first) if first > 12 else (first, second)
        found = _date_near(month, day, ref, ahead)
        # 14.30 or 9.00 is no date at all, more likely a time with a dot: say it cannot be read.
        return UNPARSEABLE if m["dot_a"] and isinstance(found, str) else found
    if m["day_d"] or m["day_cn"]:
        return _day_of_month(small_int(m["day_d"] or m["day_cn"]), ref, ahead)
    if m["en1_mon"]:
        month, day, year = _MONTH_NUMBER[m["en1_mon"][:3]], int(m["en1_d"]), m["en1_y"]
    elif m["en2_mon"]:
        month, day, year = _MONTH_NUMBER[m["en2_mon"][:3]], int(m["en2_d"]), m["en2_y"]
    else:
        return ref + timedelta(days=_RELATIVE_DAYS[m["rel"]])
    return _make_date(int(year), month, day) if year else _date_near(month, day, ref, ahead)


def _weekday_number(m: re.Match[str]) -> int:
    """Return the weekday a _WEEKDAY_RE match names, Monday being 0."""
    return _CN_WEEKDAYS[m["cn_day"]] if m["cn_day"] else _EN_WEEKDAYS[m["en_day"]]


def _weekday_date(m: re.Match[str], ref: date, ahead: bool) -> date:
    """Return the day a weekday word stands for, seen from ref (see the module notes)."""
    weekday, shift = _weekday_number(m), m["cn_rel"] or m["en_rel"]
    if shift == "last":
        return ref - timedelta(days=(ref.weekday() - weekday - 1) % 7 + 1)
    if shift == "next":
        return ref + timedelta(days=(weekday - ref.weekday() - 1) % 7 + 1)
    if shift:
        return ref + timedelta(weeks=_WEEK_SHIFT[shift], days=weekday - ref.weekday())
    if ahead:
        return ref + timedelta(days=(weekday - ref.weekday()) % 7)
    return ref - timedelta(days=(ref.weekday() - weekday) % 7)


def find_date(t: str, ref: date, ahead: bool) -> tuple[date, list[re.Match[str]]] | str | None:
    """Return the first date in t with the matches that said it, a problem code, or None.

    A weekday stands for the date only when no other date is written; beside one it must agree.
    """
    m = DATE_RE.search(t)
    weekday = _WEEKDAY_RE.search(t)
    if m is None:
        return None if weekday is None else (_weekday_date(weekday, ref, ahead), [weekday])
    found = date_from_match(m, ref, ahead)
    if isinstance(found, str):
        return found
    if weekday is None:
        return found, [m]
    if found.weekday() != _weekday_number(weekday):
        return WEEKDAY_MISMATCH
    return found, [m, weekday]


def parse_date(text: str, today: date, *, ahead: bool = False) -> date | str:
    """Return the first date written in text, or a problem code: 'empty', 'unparseable', 'bad_date',
    'weekday_mismatch'.

    Year-less dates, days alone, weekdays and 今天/昨天/today/yesterday/明天/tomorrow are read
    relative to today, looking back (a report) or, with ``ahead``, forward (a plan).
    """
    t = normalise(text)
    if not t:
        return EMPTY
    found = find_date(t, today, ahead)
    if found is None:
        return UNPARSEABLE
    return found if isinstance(found, str) else found[0]
