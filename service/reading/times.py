"""Read visit times as people type them (Chinese or English, spec §4): a date, a time of day, a range.

Every part of a visit time that looks like a date is either read or reported: nothing
date-like is dropped in favour of the report date. Dates (a day alone such as ``25日``, a
dotted ``11.25``, weekdays such as ``周三``) are read by ``dates``, whose notes say how; a
visit time with nothing read as a date but with something date-like that is not understood
(``26.11.26 9:30``, ``上周 10点``, ``周末``, ``9:30-11.00``) is ``unparseable`` rather than
silently put on the report date. In a visit time ``11.25`` is a date only beside a time of
day (``11.25 9:30``): alone, ``9.30`` could be a time written with a dot. How times of day
are read (the lead documents these for users):

- Times need a colon, 点/时, or am/pm: ``9:30``, ``9点``, ``2pm``. A bare number is a time
  only as one end of a range whose other end is a time (``下午2-4点``, ``2-4pm``,
  ``9:30-11``) or before an English part of the day (``3 in the afternoon``). ``9.30`` is
  not a time. ``9-11`` alone reads as the date 11 September.
- A part of the day bounds the hour. A 12-hour hour is read as the one reading (h, h+12, or
  h+24 for the small hours after midnight) that falls in the part's span; a 24-hour time
  keeps its value and must fall in the span. Anything outside is ``bad_time``, never a
  guess (``晚上3点`` could be 15:00 or 03:00, so it is a problem; ``中午5点`` too).

  =========================  ============  =========================================
  words                      span (hours)  reads
  =========================  ============  =========================================
  凌晨                       0–6           凌晨1点 = 01:00, 凌晨12点 = 00:00
  早上 早晨 清晨 早          4–12          早上8点 = 08:00, 早上12点 = 12:00
  上午                       0–12          the a.m. half (as clocks write 上午3:00);
                                           上午12点 = 12:00, as people mean it
  中午                       11–13         中午11点半 = 11:30, 中午12点 = 12:00,
                                           中午1点 = 13:00; 中午5点 is ``bad_time``
  下午 午后                  12–23         the p.m. half: 下午2点 = 14:00, 下午14:30
  傍晚                       16–19         傍晚6点 = 18:00
  晚上 晚间 夜晚 晚          17–24         晚上7点 = 19:00; 晚上12点 = midnight at the
                                           end of the day (the next day's 00:00);
                                           晚上1–4点 is ``bad_time``: 凌晨1点 or 下午1点?
  夜里 夜间 深夜 半夜        19–28         the night on into the small hours:
                                           夜里11点 = 23:00, 夜里2点 = the next day's 02:00
  am / pm                    0–11 / 12–23  ``12 am`` = 00:00, ``12 pm`` = 12:00
  in the morning             4–11
  in the afternoon           12–18
  in the evening             17–24         as 晚上
  at night                   19–28         as 夜里
  noon / midnight            12 / 24       ``12 noon``, ``12 midnight`` (end of day)
  =========================  ============  =========================================

  Earlier versions read 晚上1–4点 as the small hours of the next day; that is what
  夜里/半夜/凌晨 say, while 晚上3点 is as often a slip for 下午3点, so it is now a problem.
  晚上12点 stays midnight: it has no other reading.
  Two marks on one time must both hold (``晚上8pm`` = 20:00, ``上午3pm`` is ``bad_time``).
- In a range, an end without its own part of the day takes the start's (``下午2点-4点`` =
  14:00–16:00); if that would end before the start it is read as the afternoon
  (``上午11点-1点`` = 11:00–13:00). A start without one takes the end's when that keeps it
  before the end (``2-4pm`` = 14:00–16:00, ``11-1pm`` = 11:00–13:00). A range ends on the
  start's day unless the end says 次日/第二天/next day, gives its own date, or passes
  midnight as above; a range that starts at 17:00 or later and would otherwise end before
  it, at an hour before 05:00, ends the next day (``晚上10点-2点``, ``22:00-01:00``,
  ``晚上10点-凌晨1点``). Any other end at or before the start is ``end_before_start``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from .dates import DATE_RE, DATEISH_RE, date_from_match, find_date, parse_date, small_int
from .values import BAD_TIME, EMPTY, END_BEFORE_START, NO_TIME, UNPARSEABLE, normalise

__all__ = ["VisitTime", "parse_date", "parse_visit_time"]


@dataclass(frozen=True, slots=True)
class VisitTime:
    """Hold when a visit happened, as naive local time (the configured zone is applied elsewhere)."""

    start: datetime
    end: datetime | None = None


# --------------------------------------------------------------------------- times of day

_PERIODS = {
    "凌晨": "small_hours",
    "清晨": "morning", "早晨": "morning", "早上": "morning", "早": "morning",
    "上午": "am",
    "中午": "noon",
    "午后": "pm", "下午": "pm",
    "傍晚": "dusk",
    "晚上": "evening", "晚间": "evening", "夜晚": "evening", "晚": "evening",
    "夜里": "night", "夜间": "night", "深夜": "night", "半夜": "night",
    "morning": "en_morning", "afternoon": "en_afternoon", "evening": "evening", "night": "night",
    "noon": "en_noon", "midnight": "en_midnight",
}
# Each part of the day's span on the 24-hour clock; past 24 is the next day's small hours.
_SPANS = {
    "small_hours": (0, 6), "morning": (4, 12), "am": (0, 12), "noon": (11, 13), "pm": (12, 23),
    "dusk": (16, 19), "evening": (17, 24), "night": (19, 28),
    "en_a": (0, 11), "en_p": (12, 23), "en_morning": (4, 11), "en_afternoon": (12, 18),
    "en_noon": (12, 12), "en_midnight": (24, 24),
}


def _period_pattern(word: str) -> str:
    """Return the regex for one part-of-day word: whole English words, and 早/晚 not in 最早/最晚."""
    if word.isascii():
        return rf"(?<![a-z]){word}(?![a-z])"
    return rf"(?<!最){word}" if len(word) == 1 else word


_PERIOD_ALTERNATION = "|".join(_period_pattern(w) for w in sorted(_PERIODS, key=len, reverse=True))
_CN_HOUR = "[零〇一二两兩三四五六七八九十]{1,3}"
_CN_MINUTE = "[零〇一二三四五六七八九十]"

# Every time starts with a part-of-day word, a digit or a Chinese numeral. The lookahead
# passes over any other position at once: finditer used to try each alternative there
# (half the CPU of reading a visit time). It changes no match (tests/test_reading_speedups.py).
_PERIOD_INITIALS = "".join(sorted({word[0] for word in _PERIODS}))
_TIME_START = rf"(?=[\d{_PERIOD_INITIALS}零〇一二两兩三四五六七八九十])"
_TIME_RE = re.compile(rf"""
    {_TIME_START}
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
    (?:\s*(?:in\s+the\s+|at\s+)?(?<![a-z])(?P<per2>morning|afternoon|evening|night|noon|midnight)(?![a-z]))?
""", re.X)
_RANGE_SEP_RE = re.compile(
    r"\s*(?:[-~〜—–―‐‑‒]+|至|到|(?<![a-z])(?:to|until|till)(?![a-z]))\s*")
_NEXT_DAY_RE = re.compile(r"(?:次日|第二天|翌日|隔天|(?<![a-z])next\s+day(?![a-z]))\s*")
_DATE_TIME_GAP_RE = re.compile(r"\s*t?\s*")
# A range that starts at or after _EVENING and ends before _SMALL_HOURS_END (by the clock) ends the next day.
_EVENING, _SMALL_HOURS_END = 17, 5
# A bare number followed by one of these is a duration or a count, not the end of a range.
_NOT_AN_HOUR_RE = re.compile(r"\s*(?:分钟|小时|个|人|位|min|hour|hr|h(?![a-z]))")


@dataclass(frozen=True, slots=True)
class _Clock:
    """Hold one written time of day before its parts of the day (上午/下午/am/pm …) are applied."""

    hour: int
    minute: int
    second: int
    periods: tuple[str, ...]
    bare: bool


def _is_bare(m: re.Match[str]) -> bool:
    """Return whether a _TIME_RE match is a number alone, a time only as one end of a range."""
    return bool(m["bh"]) and not m["ap"] and not m["per2"]


def _clock(m: re.Match[str]) -> _Clock | str:
    """Return the time of day a _TIME_RE match stands for, or BAD_TIME."""
    if m["h"]:
        hour, minute, second = int(m["h"]), int(m["m"]), int(m["s"] or 0)
    elif m["bh"]:
        hour, minute, second = int(m["bh"]), 0, 0
    else:
        hour = int(m["dh"]) if m["dh"] else small_int(m["ch"])
        second = 0
        if m["half"]:
            minute = 30
        elif m["quarter"]:
            minute = 15 if m["quarter"] == "一" else 45
        elif m["dm"]:
            minute = int(m["dm"])
        elif m["cm"]:
            minute = small_int(m["cm"])
        else:
            minute = 0
    if not (0 <= hour <= 24 and 0 <= minute <= 59 and 0 <= second <= 59):
        return BAD_TIME
    if hour == 24 and (minute or second):
        return BAD_TIME
    marks = (_PERIODS.get(m["per"] or ""), f"en_{m['ap']}" if m["ap"] else None, _PERIODS.get(m["per2"] or ""))
    return _Clock(hour, minute, second, tuple(p for p in marks if p), bare=_is_bare(m))


def _apply_period(hour: int, periods: tuple[str, ...]) -> int | None:
    """Return the 24-hour hour (24 and above run into the next day), or None outside the spans."""
    if not periods:
        return hour
    if hour > 12:
        readings: tuple[int, ...] = (hour,)     # a 24-hour time keeps its value
    elif hour == 12:
        readings = (12, 24, 0)                   # noon first, as 上午12点 is meant
    elif hour == 0:
        readings = (0, 24)
    else:
        readings = (hour, hour + 12, hour + 24)
    for reading in readings:
        if all(_SPANS[p][0] <= reading <= _SPANS[p][1] for p in periods):
            return reading
    return None


def _at(day: date, hour: int, clock: _Clock) -> datetime:
    """Return the datetime on day at hour (24 and above roll into the next day)."""
    return datetime.combine(day + timedelta(days=hour // 24),
                            time(hour % 24, clock.minute, clock.second))


def _find_time(t: str) -> tuple[re.Match[str], re.Match[str] | None, int, re.Match[str] | None] | None:
    """Return the first time (start match, end match, extra end days, end date match) in t."""
    for start in _TIME_RE.finditer(t):
        start_bare = _is_bare(start)
        sep = _RANGE_SEP_RE.match(t, start.end())
        if sep is not None:
            pos = sep.end()
            next_day = _NEXT_DAY_RE.match(t, pos)
            if next_day is not None:
                pos = next_day.end()
            end_date = DATE_RE.match(t, pos)
            # A dotted pair after a time is no end date (9:30 - 11.00 is a time with a dot).
            if end_date is not None and not end_date["rel"] and not end_date["dot_a"]:
                pos = _DATE_TIME_GAP_RE.match(t, end_date.end()).end()
            else:
                end_date = None
            end = _TIME_RE.match(t, pos)
            if end is not None:
                end_bare = _is_bare(end)
                if not (start_bare and end_bare) and not (
                        end_bare and _NOT_AN_HOUR_RE.match(t, end.end())):
                    return start, end, 1 if next_day else 0, end_date
        if not start_bare:
            return start, None, 0, None
    return None


def _blank(t: str, m: re.Match[str]) -> str:
    """Return t with the match replaced by spaces, keeping offsets, so its digits are not read again."""
    return f"{t[:m.start()]}{' ' * (m.end() - m.start())}{t[m.end():]}"


def parse_visit_time(text: str, report_date: date) -> VisitTime | str:
    """Return the parsed time, or a short problem code string.

    Codes: 'empty', 'no_time' (a date without a time of day), 'unparseable', 'bad_date'
    (e.g. 2026-02-30), 'weekday_mismatch', 'bad_time' (25:00, 晚上3点), 'end_before_start'.
    A time alone is on report_date; a year-less date takes report_date's year (see the
    module notes for every interpretation).
    """
    t = normalise(text)
    if not t:
        return EMPTY
    found = find_date(t, report_date, ahead=False)
    if isinstance(found, str):
        return found
    day, said = found if found is not None else (report_date, [])
    for m in said:
        t = _blank(t, m)
    date_match = said[0] if said else None
    located = _find_time(t)
    if located is None:
        if date_match is None or (date_match.re is DATE_RE and (date_match["rel"] or date_match["dot_a"])):
            return UNPARSEABLE
        return NO_TIME
    if date_match is None and DATEISH_RE.search(t):
        return UNPARSEABLE
    start_m, end_m, extra_days, end_date_m = located

    start = _clock(start_m)
    if isinstance(start, str):
        return start
    if end_m is None:
        hour = _apply_period(start.hour, start.periods)
        return BAD_TIME if hour is None else VisitTime(_at(day, hour, start))

    end = _clock(end_m)
    if isinstance(end, str):
        return end
    end_day = day
    if end_date_m is not None:
        found_end = date_from_match(end_date_m, report_date)
        if isinstance(found_end, str):
            return found_end
        end_day = found_end
    end_day += timedelta(days=extra_days)

    # Try readings in order of plausibility; the first that ends after it starts wins.
    if start.periods and not end.periods:
        start_hours = [_apply_period(start.hour, start.periods)]
        end_hours = [_apply_period(end.hour, start.periods), end.hour,
                     end.hour + 12 if end.hour < 12 else None]
    elif end.periods and not start.periods:
        start_hours = [_apply_period(start.hour, end.periods), start.hour]
        end_hours = [_apply_period(end.hour, end.periods)]
    else:
        start_hours = [_apply_period(start.hour, start.periods)]
        end_hours = [_apply_period(end.hour, end.periods)]
    pairs = [(_at(day, s, start), _at(end_day, e, end))
             for s in start_hours if s is not None for e in end_hours if e is not None]
    if not pairs:
        return BAD_TIME
    for begin, finish in pairs:
        if finish > begin:
            return VisitTime(begin, finish)
    if end_date_m is None and not extra_days:
        # From the evening into the small hours, a range ends the next day (晚上10点-2点).
        for begin, finish in pairs:
            if begin.hour >= _EVENING and finish.hour < _SMALL_HOURS_END and finish.date() == begin.date():
                return VisitTime(begin, finish + timedelta(days=1))
    return END_BEFORE_START
