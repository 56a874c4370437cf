"""Read the values people type by hand into mails: the shared part of times, dates and amounts.

Reps and managers write these in Chinese or English, with full-width digits, Chinese
numerals, 上午/下午 or am/pm, and a few words around them. Every reader (``dates`` for
dates, ``times`` for visit times, ``amounts`` for money) is tolerant of form but strict about
meaning: it returns the value, or a short problem code (a plain string, the constants below)
that the caller turns into a reply naming the field and showing a correct example (an
amount whose figures and words disagree comes back as ``amounts.AmountMismatch``, holding
both). Nothing here raises on bad input. Text is NFKC-normalised first, so full-width
``９：３０`` and ``￥１２００`` read like ASCII; letters are compared case-insensitively.
"""

from __future__ import annotations

import re
import unicodedata
from decimal import Decimal

__all__ = [
    "BAD_DATE", "BAD_TIME", "CHINESE_DIGITS", "DIGIT_CHARS", "NUMERAL_CHARS", "EMPTY", "END_BEFORE_START", "NEGATIVE",
    "NO_TIME", "TOO_MANY_DECIMALS", "UNPARSEABLE", "WEEKDAY_MISMATCH", "normalise", "parse_chinese_number",
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
WEEKDAY_MISMATCH = "weekday_mismatch"     # 2026-11-26 周三: the date is a Thursday


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
DIGIT_CHARS = "".join(CHINESE_DIGITS)
NUMERAL_CHARS = DIGIT_CHARS + "".join(_SMALL_UNITS) + "".join(_BIG_UNITS)

_CN_TOKEN_RE = re.compile(
    r"(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"   # 1: Arabic number (as in 1.2万)
    rf"|([{DIGIT_CHARS}])"                            # 2: Chinese digit
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


def normalise(text: str) -> str:
    """Return text with full-width forms folded to ASCII, lower-cased and stripped."""
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return text.lower().strip()
