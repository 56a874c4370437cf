"""Read the values people type by hand into mails: visit times, dates and money amounts.

Reps and managers write these in Chinese or English, with full-width digits, Chinese
numerals, 上午/下午 or am/pm, and a few words around them. Every reader here is tolerant of
form but strict about meaning: it returns the value, or a short problem code (a plain
string, see the constants below) that the caller turns into a reply naming the field and
showing a correct example. Nothing here raises on bad input.

How ambiguous input is read (the lead documents these for users):

- Text is NFKC-normalised first, so full-width ``９：３０－１１：００`` and ``￥１２００`` read
  like ASCII; letters are compared case-insensitively.
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
- Amounts are CNY only: ¥/￥/RMB/CNY/人民币 and 元/圆/块(钱)/整 are accepted around one
  number; any other currency sign or word makes it ``unparseable``. Thousands separators
  must group by three (``1,200``, ``1 200``). Chinese numerals, including the financial
  capitals (壹贰叁…拾佰仟), with 角/毛 and 分; 万/千 after digits (``1.2万``). The colloquial
  short form is read as Chinese speakers mean it: ``一千二`` = 1200, ``一万五`` = 15000,
  ``五块五`` = 5.50. One restatement in brackets must agree (``1200元（壹仟贰佰元整）``);
  a bracket without any numeral (``（含税）``) is ignored. More than two decimal places are
  ``too_many_decimals`` only when they are not zeros (``1200.000`` is fine). Zero is 0.00.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

__all__ = [
    "BAD_DATE",
    "BAD_TIME",
    "CHINESE_DIGITS",
    "EMPTY",
    "END_BEFORE_START",
    "NEGATIVE",
    "NO_TIME",
    "TOO_MANY_DECIMALS",
    "UNPARSEABLE",
    "VisitTime",
    "format_amount",
    "parse_amount",
    "parse_chinese_number",
    "parse_date",
    "parse_visit_time",
]

# Problem codes returned instead of a value.
EMPTY = "empty"
NO_TIME = "no_time"
UNPARSEABLE = "unparseable"
BAD_DATE = "bad_date"
BAD_TIME = "bad_time"
END_BEFORE_START = "end_before_start"
NEGATIVE = "negative"
TOO_MANY_DECIMALS = "too_many_decimals"


@dataclass(frozen=True, slots=True)
class VisitTime:
    """Hold when a visit happened, as naive local time (the configured zone is applied elsewhere)."""

    start: datetime
    end: datetime | None = None


# --------------------------------------------------------------------------- Chinese numerals

CHINESE_DIGITS = {
    "零": 0, "〇": 0,
    "一": 1, "壹": 1,
    "二": 2, "两": 2, "兩": 2, "俩": 2, "贰": 2, "貳": 2,
    "三": 3, "叁": 3, "參": 3,
    "四": 4, "肆": 4,
    "五": 5, "伍": 5,
    "六": 6, "陆": 6, "陸": 6,
    "七": 7, "柒": 7,
    "八": 8, "捌": 8,
    "九": 9, "玖": 9,
}
_SMALL_UNITS = {"十": 10, "拾": 10, "百": 100, "佰": 100, "千": 1000, "仟": 1000}
_BIG_UNITS = {"万": 10_000, "萬": 10_000, "亿": 100_000_000, "億": 100_000_000}
_DIGIT_CHARS = "".join(CHINESE_DIGITS)
_NUMERAL_CHARS = _DIGIT_CHARS + "".join(_SMALL_UNITS) + "".join(_BIG_UNITS)

_CN_TOKEN_RE = re.compile(
    r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"   # 1: Arabic number (as in 1.2万)
    rf"|([{_DIGIT_CHARS}])"                            # 2: Chinese digit
    r"|([十拾百佰千仟])"                                 # 3: unit inside a section
    r"|([万萬亿億])"                                     # 4: section unit
    r"|(\s+)"                                          # 5: ignorable space
    r"|(.)",                                           # 6: anything else spoils it
    re.S)


def parse_chinese_number(text: str) -> Decimal | None:
    """Return the value of a Chinese numeral such as 一千二百五十, 壹仟贰佰, 1.2万 or 二〇二六, else None.

    Digits and units may mix with Arabic numbers (``1万2千``). Without any unit the digits
    are read positionally (``二〇二六`` = 2026). A trailing digit right after a unit is the
    colloquial short form (``一千二`` = 1200) unless 零 stands between them.
    """
    tokens = [m for m in _CN_TOKEN_RE.finditer(text) if m.lastindex != 5]
    if not tokens or any(m.lastindex == 6 for m in tokens):
        return None
    if not any(m.lastindex in (3, 4) for m in tokens):
        if len(tokens) == 1 and tokens[0].lastindex == 1:
            return Decimal(tokens[0][1].replace(",", ""))
        if all(m.lastindex == 2 for m in tokens):
            return Decimal("".join(str(CHINESE_DIGITS[m[2]]) for m in tokens))
        return None

    total = Decimal(0)
    section = Decimal(0)
    pending: Decimal | None = None
    pending_is_digit = False      # a single digit, eligible for the colloquial short form
    last_small = 10_000           # units must fall within a section (千 before 百 ...)
    last_big = 10**12             # and sections must fall too (亿 before 万)
    last_unit = 0
    after_zero = False
    for m in tokens:
        kind = m.lastindex
        if kind == 1 or kind == 2:
            if kind == 2 and CHINESE_DIGITS[m[2]] == 0:
                if pending is not None:
                    return None
                after_zero = True
                continue
            if pending is not None:
                return None
            pending = Decimal(m[1].replace(",", "")) if kind == 1 else Decimal(CHINESE_DIGITS[m[2]])
            pending_is_digit = kind == 2 or len(m[1]) == 1
        elif kind == 3:
            unit = _SMALL_UNITS[m[3]]
            if unit >= last_small:
                return None
            if pending is None and unit != 10:
                # 十五 is standard for 15; a bare 百 or 千 is not a number anyone writes.
                return None
            section += (pending if pending is not None else 1) * unit
            pending, last_small, last_unit, after_zero = None, unit, unit, False
        else:
            unit = _BIG_UNITS[m[4]]
            if unit >= last_big:
                return None
            if pending is not None:
                section += pending
            if section == 0:
                return None
            total += section * unit
            section, pending, last_small, last_big, last_unit, after_zero = (
                Decimal(0), None, 10_000, unit, unit, False)
    if pending is not None:
        if last_unit >= 10 and pending_is_digit and not after_zero:
            pending *= last_unit // 10
        section += pending
    return total + section


# --------------------------------------------------------------------------- normalising


def _normalise(text: str) -> str:
    """Return text with full-width forms folded to ASCII, lower-cased and stripped."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.lower().strip()


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
    t = _normalise(text)
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
    t = _normalise(text)
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


# --------------------------------------------------------------------------- amounts

_CENT = Decimal("0.01")
# Wide enough that no amount a person types is rounded while being added up.
_WIDE = Context(prec=60)
_MAX_AMOUNT_CHARS = 200

_AMOUNT_PREFIX_RE = re.compile(r"(?:¥|rmb|cny|人民币|yuan)\s*:?\s*")
_AMOUNT_SUFFIX_RE = re.compile(r"\s*(?:rmb|cny|yuan|人民币)$")
_SIGN_RE = re.compile(r"[-−负]\s*")
_TRAILING_PUNCT_RE = re.compile(r"[\s。.,;!]+$")
_AMOUNT_RE = re.compile(rf"""
    (?P<yuan>[^元圆块角毛分整]*?)\s*
    (?:(?P<cur>[元圆块])钱?
        (?:\s*(?P<jiao>[0-9{_DIGIT_CHARS}])\s*[角毛]?)?
        (?:\s*(?P<fen>[0-9{_DIGIT_CHARS}])\s*分)?
    )?
    \s*(?:整|正)?
""", re.X)
_ARABIC_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?: \d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_BRACKETED_RE = re.compile(r"(?P<outer>[^()]*?)\s*\((?P<inner>[^()]*)\)")
_NUMERAL_RE = re.compile(rf"[0-9{_NUMERAL_CHARS}]")


def _digit_value(ch: str) -> int:
    """Return the value of one Arabic or Chinese digit."""
    return int(ch) if ch.isdigit() else CHINESE_DIGITS[ch]


def _parse_plain_amount(t: str) -> Decimal | str:
    """Return one amount without brackets, or a problem code."""
    t = _TRAILING_PUNCT_RE.sub("", t)
    negative = False
    while True:
        prefix = _AMOUNT_PREFIX_RE.match(t) or _SIGN_RE.match(t)
        if prefix is None:
            break
        negative = negative or prefix.re is _SIGN_RE
        t = t[prefix.end():]
    t = _AMOUNT_SUFFIX_RE.sub("", t)
    m = _AMOUNT_RE.fullmatch(t)
    if m is None:
        return UNPARSEABLE
    yuan = m["yuan"].strip()
    if not yuan:
        return UNPARSEABLE
    if _ARABIC_RE.fullmatch(yuan):
        value = Decimal(yuan.replace(",", "").replace(" ", ""))
    else:
        value = parse_chinese_number(yuan)
    if value is None:
        return UNPARSEABLE
    if m["jiao"] or m["fen"]:
        if value != value.to_integral_value():
            return UNPARSEABLE       # 1200.5元5角 says the fraction twice
        value += Decimal(_digit_value(m["jiao"] or "0")) / 10 + Decimal(_digit_value(m["fen"] or "0")) / 100
    if negative and value:
        return NEGATIVE
    if value != value.quantize(_CENT):
        return TOO_MANY_DECIMALS
    return value.quantize(_CENT)


def parse_amount(text: str) -> Decimal | str:
    """Return a CNY amount quantized to cents, or a problem code.

    Codes: 'empty', 'unparseable', 'negative', 'too_many_decimals'.
    """
    t = _normalise(text)
    if not t:
        return EMPTY
    if len(t) > _MAX_AMOUNT_CHARS:
        return UNPARSEABLE
    with localcontext(_WIDE):
        try:
            bracketed = _BRACKETED_RE.fullmatch(t)
            if bracketed is None:
                return _parse_plain_amount(t)
            outer = _parse_plain_amount(bracketed["outer"])
            if isinstance(outer, str):
                return outer
            inner = _parse_plain_amount(bracketed["inner"])
            if isinstance(inner, str):
                # A remark such as （含税） carries no number and does not matter.
                return UNPARSEABLE if _NUMERAL_RE.search(bracketed["inner"]) else outer
            return outer if inner == outer else UNPARSEABLE
        except InvalidOperation:
            return UNPARSEABLE


def format_amount(value: Decimal) -> str:
    """Return the amount as a plain decimal string with two places, such as '1200.00'."""
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_UP, context=_WIDE):f}"
