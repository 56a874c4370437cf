"""Read visit times and dates as people type them (Chinese or English, spec §4).

How ambiguous input is read (the lead documents these for users):

- Slash and dash dates: ``2026/11/26`` is Y/M/D; ``11/26`` and ``11-26`` are M/D;
  ``26/11/2026`` is D/M/Y because 26 cannot be a month, otherwise ``11/12/2026`` is M/D/Y
  (12 November). A date without a year takes the reference date's year (the report date,
  or today), or the previous year when that would put it more than 183 days ahead.
  Years outside 2000–2099 are ``bad_date``; two-digit years only with 年 (``26年`` = 2026).
- Only the first date in the text counts, and the first time of day; weekday words and
  other words around them are ignored. A visit time without any recognised date but with
  something date-like that is not understood (``26.11.26 9:30``) is ``unparseable`` rather
  than silently put on the report date.
- Times need a colon, 点/时, or am/pm: ``9:30``, ``9点``, ``2pm``. A bare number is a time
  only as one end of a range whose other end is a time (``下午2-4点``, ``2-4pm``,
  ``9:30-11``). ``9.30`` is not a time. ``9-11`` alone reads as the date 11 September.
- 上午/早上 12点 is noon (12:00); English ``12 am`` is midnight and ``12 pm`` noon.
  凌晨12点 is 00:00. 晚上12点 (and 晚上/24:00) is midnight at the end of the day, so the
  next day's 00:00; 晚上1–4点 is the small hours of the next day. A 24-hour time keeps its
  value under 下午/pm (``下午14:30`` = 14:30), but contradicts 上午/am (``上午14:30`` is
  ``bad_time``).
- In a range, an end without its own 上午/下午/am/pm takes the start's (``下午2点-4点`` =
  14:00–16:00); if that would end before the start it is read as the afternoon
  (``上午11点-1点`` = 11:00–13:00). A start without one takes the end's when that keeps it
  before the end (``2-4pm`` = 14:00–16:00, ``11-1pm`` = 11:00–13:00). A range ends on the
  start's day unless the end says 次日/第二天/next day, gives its own date, or passes
  midnight as above. An end at or before the start is ``end_before_start``.
- 今天/today, 昨天/yesterday, 前天, 明天/tomorrow, 后天 are dates relative to the reference
  date; in a visit time they count only next to a time of day (``明天`` alone is
  ``unparseable``, as the user gave no time at all).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .values import (
    BAD_DATE, BAD_TIME, EMPTY, END_BEFORE_START, NO_TIME, UNPARSEABLE, normalise,
    parse_chinese_number,
)

__all__ = ["VisitTime", "parse_date", "parse_visit_time"]


@dataclass(frozen=True, slots=True)
class VisitTime:
    """Hold when a visit happened, as naive local time (the configured zone is applied elsewhere)."""

    start: datetime
    end: datetime | None = None


# --------------------------------------------------------------------------- dates

_MONTHS = (r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
           r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?")
_MONTH_NUMBER = {name: i for i, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}
_CN_SMALL = "一二三四五六七八九十"
_AMPM = r"[ap](?:\.\s?)?m(?![a-z])\.?"

# One alternation so a single search finds the leftmost date of any form.
_DATE_RE = re.compile(rf"""
    (?<!\d)(?P<iso_y>\d{{4}})\s*(?P<iso_sep>[-/.])\s*(?P<iso_m>\d{{1,2}})\s*(?P=iso_sep)\s*
        (?P<iso_d>\d{{1,2}})(?!\d)(?:\s*[日号])?
  | (?<![\d/.:-])(?P<dmy_a>\d{{1,2}})/(?P<dmy_b>\d{{1,2}})/(?P<dmy_y>\d{{4}})(?!\d)
  | (?:(?<!\d)(?P<cn_y>\d{{4}}|\d{{2}})\s*年\s*)?
        (?<!\d)(?P<cn_m>\d{{1,2}}|[{_CN_SMALL}]{{1,2}})\s*月\s*
        (?P<cn_d>\d{{1,2}}(?![\d:])|[{_CN_SMALL}]{{1,3}}(?=\s*[日号]))\s*[日号]?
  | (?<![\d/.:-])(?P<md_a>\d{{1,2}})[/-](?P<md_b>\d{{1,2}})
        (?![\d/.:]|\s*(?:[点时點時]|{_AMPM}))
  | (?<![a-z])(?P<en1_mon>{_MONTHS})(?![a-z])\.?\s*(?P<en1_d>\d{{1,2}})(?!\d)(?:st|nd|rd|th)?(?![a-z:])
        (?:\s*,?\s*(?P<en1_y>\d{{4}})(?![\d:]))?
  | (?<![\d:.])(?P<en2_d>\d{{1,2}})(?:st|nd|rd|th)?\s*(?:of\s+)?(?P<en2_mon>{_MONTHS})(?![a-z])\.?
        (?:\s*,?\s*(?P<en2_y>\d{{4}})(?![\d:]))?
  | (?P<rel>今天|今日|昨天|昨日|前天|明天|明日|后天|(?<![a-z])(?:today|yesterday|tomorrow)(?![a-z]))
""", re.X)
_RELATIVE_DAYS = {"今天": 0, "今日": 0, "today": 0, "昨天": -1, "昨日": -1, "yesterday": -1,
                  "前天": -2, "明天": 1, "明日": 1, "tomorrow": 1, "后天": 2}
# Something that looks like a date in a form we do not read; see parse_visit_time.
_DATEISH_RE = re.compile(
    rf"\d+\s*[-/.]\s*\d+\s*[-/.]\s*\d+|[\d〇零{_CN_SMALL}]\s*[年月]")
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


def _date_near(month: int, day: int, ref: date) -> date | str:
    """Return the month and day in ref's year, or the year before if that is > 183 days ahead."""
    found = _make_date(ref.year, month, day)
    if isinstance(found, date) and found - ref > _YEAR_WINDOW:
        return _make_date(ref.year - 1, month, day)
    return found


def _small_int(text: str) -> int:
    """Return a month, day or hour written in Arabic digits or Chinese numerals."""
    if text.isdigit():
        return int(text)
    value = parse_chinese_number(text)
    return int(value) if value is not None else -1


def _date_from_match(m: re.Match[str], ref: date) -> date | str:
    """Return the date a _DATE_RE match stands for, relative to ref where needed."""
    if m["iso_y"]:
        return _make_date(int(m["iso_y"]), int(m["iso_m"]), int(m["iso_d"]))
    if m["dmy_y"]:
        first, second = int(m["dmy_a"]), int(m["dmy_b"])
        # D/M/Y only when the first number cannot be a month; otherwise US order.
        month, day = (second, first) if first > 12 else (first, second)
        return _make_date(int(m["dmy_y"]), month, day)
    if m["cn_m"]:
        month, day = _small_int(m["cn_m"]), _small_int(m["cn_d"])
        if m["cn_y"]:
            year = int(m["cn_y"])
            return _make_date(year + 2000 if year < 100 else year, month, day)
        return _date_near(month, day, ref)
    if m["md_a"]:
        first, second = int(m["md_a"]), int(m["md_b"])
        month, day = (second, first) if first > 12 else (first, second)
        return _date_near(month, day, ref)
    if m["en1_mon"]:
        month, day, year = _MONTH_NUMBER[m["en1_mon"][:3]], int(m["en1_d"]), m["en1_y"]
    elif m["en2_mon"]:
        month, day, year = _MONTH_NUMBER[m["en2_mon"][:3]], int(m["en2_d"]), m["en2_y"]
    else:
        return ref + timedelta(days=_RELATIVE_DAYS[m["rel"]])
    return _make_date(int(year), month, day) if year else _date_near(month, day, ref)


def parse_date(text: str, today: date) -> date | str:
    """Return the first date written in text, or a problem code: 'empty', 'unparseable', 'bad_date'.

    Year-less dates and 今天/昨天/today/yesterday/明天/tomorrow are read relative to today.
    """
    t = normalise(text)
    if not t:
        return EMPTY
    m = _DATE_RE.search(t)
    if m is None:
        return UNPARSEABLE
    return _date_from_match(m, today)


# --------------------------------------------------------------------------- times of day

_PERIODS = {
    "凌晨": "small_hours",
    "清晨": "am", "早晨": "am", "早上": "am", "上午": "am", "早": "am",
    "中午": "noon",
    "午后": "pm", "下午": "pm", "傍晚": "pm",
    "晚上": "evening", "晚间": "evening", "夜里": "evening", "夜间": "evening",
    "夜晚": "evening", "晚": "evening",
}
_PERIOD_ALTERNATION = "|".join(sorted(_PERIODS, key=len, reverse=True))
_CN_HOUR = "[零〇一二两兩三四五六七八九十]{1,3}"
_CN_MINUTE = "[零〇一二三四五六七八九十]"

_TIME_RE = re.compile(rf"""
    (?:(?P<per>{_PERIOD_ALTERNATION})\s*)?
    (?:
        (?<![\d:.])(?P<h>\d{{1,2}}):(?P<m>\d{{2}})(?::(?P<s>\d{{2}}))?(?!\d)
      | (?:(?<![\d:.])(?P<dh>\d{{1,2}})|(?<!第)(?P<ch>{_CN_HOUR}))\s*[点时點時]
        (?:\s*(?:
            (?P<half>半)
          | (?P<quarter>[一三])刻
          | (?P<dm>\d{{1,2}})(?!\d)(?!\s*[点时點時:])(?:\s*分)?
          | (?P<cm>{_CN_MINUTE}{{2,3}}|{_CN_MINUTE}(?=\s*分))(?:\s*分)?
        ))?
      | (?<![\d:.])(?P<bh>\d{{1,2}})(?![\d:.])
    )
    (?:\s*(?P<ap>[ap])(?:\.\s?)?m(?![a-z])\.?)?
""", re.X)
_RANGE_SEP_RE = re.compile(
    r"\s*(?:[-~〜—–―‐‑‒]+|至|到|(?<![a-z])(?:to|until|till)(?![a-z]))\s*")
_NEXT_DAY_RE = re.compile(r"(?:次日|第二天|翌日|隔天|(?<![a-z])next\s+day(?![a-z]))\s*")
_DATE_TIME_GAP_RE = re.compile(r"\s*t?\s*")
# A bare number followed by one of these is a duration or a count, not the end of a range.
_NOT_AN_HOUR_RE = re.compile(r"\s*(?:分钟|小时|个|人|位|min|hour|hr|h(?![a-z]))")


@dataclass(frozen=True, slots=True)
class _Clock:
    """Hold one written time of day before 上午/下午/am/pm is applied."""

    hour: int
    minute: int
    second: int
    period: str | None
    bare: bool


def _clock(m: re.Match[str]) -> _Clock | str:
    """Return the time of day a _TIME_RE match stands for, or BAD_TIME."""
    if m["h"]:
        hour, minute, second = int(m["h"]), int(m["m"]), int(m["s"] or 0)
    elif m["bh"]:
        hour, minute, second = int(m["bh"]), 0, 0
    else:
        hour = int(m["dh"]) if m["dh"] else _small_int(m["ch"])
        second = 0
        if m["half"]:
            minute = 30
        elif m["quarter"]:
            minute = 15 if m["quarter"] == "一" else 45
        elif m["dm"]:
            minute = int(m["dm"])
        elif m["cm"]:
            minute = _small_int(m["cm"])
        else:
            minute = 0
    if not (0 <= hour <= 24 and 0 <= minute <= 59 and 0 <= second <= 59):
        return BAD_TIME
    if hour == 24 and (minute or second):
        return BAD_TIME
    period = ("en_" + m["ap"]) if m["ap"] else _PERIODS.get(m["per"] or "")
    return _Clock(hour, minute, second, period, bare=bool(m["bh"]) and not m["ap"])


def _apply_period(hour: int, period: str | None) -> int | None:
    """Return the 24-hour hour (24 and above run into the next day), or None if contradictory."""
    if period is None:
        return hour
    if hour == 24:
        return 24 if period == "evening" else None
    if period == "am":
        return hour if hour <= 12 else None       # 上午12点 is noon, as people mean it
    if period == "en_a":
        return 0 if hour == 12 else hour if hour <= 11 else None
    if period == "small_hours":
        return 0 if hour == 12 else hour if hour <= 11 else None
    if period == "noon":
        return None if hour == 0 else hour + 12 if hour <= 10 else hour
    if period in ("pm", "en_p"):
        return None if hour == 0 else hour + 12 if hour <= 11 else hour
    # evening: 晚上12点 is midnight and 晚上1点 the small hours after it
    if hour in (0, 12):
        return 24
    return hour + 24 if hour <= 4 else hour + 12 if hour <= 11 else hour


def _at(day: date, hour: int, clock: _Clock) -> datetime:
    """Return the datetime on day at hour (24 and above roll into the next day)."""
    return datetime.combine(day + timedelta(days=hour // 24),
                            time(hour % 24, clock.minute, clock.second))


def _find_time(t: str) -> tuple[re.Match[str], re.Match[str] | None, int, re.Match[str] | None] | None:
    """Return the first time (start match, end match, extra end days, end date match) in t."""
    for start in _TIME_RE.finditer(t):
        start_bare = bool(start["bh"]) and not start["ap"]
        sep = _RANGE_SEP_RE.match(t, start.end())
        if sep is not None:
            pos = sep.end()
            next_day = _NEXT_DAY_RE.match(t, pos)
            if next_day is not None:
                pos = next_day.end()
            end_date = _DATE_RE.match(t, pos)
            if end_date is not None and not end_date["rel"]:
                pos = _DATE_TIME_GAP_RE.match(t, end_date.end()).end()
            else:
                end_date = None
            end = _TIME_RE.match(t, pos)
            if end is not None:
                end_bare = bool(end["bh"]) and not end["ap"]
                if not (start_bare and end_bare) and not (
                        end_bare and _NOT_AN_HOUR_RE.match(t, end.end())):
                    return start, end, 1 if next_day else 0, end_date
        if not start_bare:
            return start, None, 0, None
    return None


def parse_visit_time(text: str, report_date: date) -> VisitTime | str:
    """Return the parsed time, or a short problem code string.

    Codes: 'empty', 'no_time' (a date without a time of day), 'unparseable', 'bad_date'
    (e.g. 2026-02-30), 'bad_time' (25:00), 'end_before_start'. A time alone is on
    report_date; a year-less date takes report_date's year (see the module notes for every
    interpretation).
    """
    t = normalise(text)
    if not t:
        return EMPTY
    day = report_date
    date_match = _DATE_RE.search(t)
    if date_match is not None:
        found = _date_from_match(date_match, report_date)
        if isinstance(found, str):
            return found
        day = found
        # Blank the date out (keeping offsets) so its digits are not read as a time.
        t = f"{t[:date_match.start()]}{' ' * (date_match.end() - date_match.start())}{t[date_match.end():]}"
    located = _find_time(t)
    if located is None:
        return NO_TIME if date_match is not None and not date_match["rel"] else UNPARSEABLE
    if date_match is None and _DATEISH_RE.search(t):
        return UNPARSEABLE
    start_m, end_m, extra_days, end_date_m = located

    start = _clock(start_m)
    if isinstance(start, str):
        return start
    if end_m is None:
        hour = _apply_period(start.hour, start.period)
        return BAD_TIME if hour is None else VisitTime(_at(day, hour, start))

    end = _clock(end_m)
    if isinstance(end, str):
        return end
    end_day = day
    if end_date_m is not None:
        found = _date_from_match(end_date_m, report_date)
        if isinstance(found, str):
            return found
        end_day = found
    end_day += timedelta(days=extra_days)

    # Try readings in order of plausibility; the first that ends after it starts wins.
    if start.period and not end.period:
        start_hours = [_apply_period(start.hour, start.period)]
        end_hours = [_apply_period(end.hour, start.period), end.hour,
                     end.hour + 12 if end.hour < 12 else None]
    elif end.period and not start.period:
        start_hours = [_apply_period(start.hour, end.period), start.hour]
        end_hours = [_apply_period(end.hour, end.period)]
    else:
        start_hours = [_apply_period(start.hour, start.period)]
        end_hours = [_apply_period(end.hour, end.period)]
    pairs = [(_at(day, s, start), _at(end_day, e, end))
             for s in start_hours if s is not None for e in end_hours if e is not None]
    if not pairs:
        return BAD_TIME
    for begin, finish in pairs:
        if finish > begin:
            return VisitTime(begin, finish)
    return END_BEFORE_START
