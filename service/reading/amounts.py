"""Read money amounts as people type them: CNY in figures, in words, or both (spec §4).

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
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

from .values import (
    CHINESE_DIGITS, DIGIT_CHARS, EMPTY, NEGATIVE, NUMERAL_CHARS, TOO_MANY_DECIMALS, UNPARSEABLE,
    normalise, parse_chinese_number,
)

__all__ = ["format_amount", "parse_amount"]


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
        (?:\s*(?P<jiao>[0-9{DIGIT_CHARS}])\s*[角毛]?)?
        (?:\s*(?P<fen>[0-9{DIGIT_CHARS}])\s*分)?
    )?
    \s*(?:整|正)?
""", re.X)
_ARABIC_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?: \d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_BRACKETED_RE = re.compile(r"(?P<outer>[^()]*?)\s*\((?P<inner>[^()]*)\)")
_NUMERAL_RE = re.compile(rf"[0-9{NUMERAL_CHARS}]")


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
    t = normalise(text)
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
