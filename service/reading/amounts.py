"""Read money amounts as people type them: CNY in figures, in words, or both (spec §4).

The grammar, outside in (text is NFKC-normalised first, so （）and ：read as () and :)::

    field        := amount [restatement]
    restatement  := bracket-open [label [":"]] amount bracket-close     () [] 【】
                  | separator [label [":"]] amount                     , ; / | 、 space or line break
    amount       := [label [":"]] [sign] [currency] number [unit] [整]
    label        := 人民币大写 | 大写金额 | 金额大写 | 大写 | in words         (the words)
                  | 人民币小写 | 小写金额 | 金额小写 | 小写 | in figures       (the figures)
    unit         := 元|圆|块[钱] [零] [jiao 角|毛] [fen 分] | jiao 角 [fen 分]

- Amounts are CNY only: ¥/￥/RMB/CNY/人民币 and 元/圆/块(钱)/整 are accepted around one
  number; any other currency sign or word makes it ``unparseable``. Thousands separators
  must group by three (``1,200``, ``1 200``). More than two decimal places are
  ``too_many_decimals`` only when they are not zeros (``1200.000`` is fine). Zero is 0.00.
- Numbers in words: Chinese numerals, including the financial capitals (壹贰叁…拾佰仟), with
  零 where a unit is skipped (``壹万零伍拾元整`` = 10050, ``贰仟零捌元伍角`` = 2008.50) and, the
  banking form, between 元 and 角/分 (``壹仟陆佰捌拾元零叁角贰分`` = 1680.32, ``壹佰元零贰分``
  = 100.02); 万/千 after digits (``1.2万``). The colloquial short form is read as Chinese
  speakers mean it: ``一千二`` = 1200, ``一万五`` = 15000, ``五块五`` = 5.50. English number
  words too (``one thousand two hundred yuan``, ``... and thirty-two cents``, read by
  ``text2num``).
- A restatement says the same amount a second time, as banks and forms ask:
  ``1,200元（人民币大写：壹仟贰佰元整）``, ``¥1,200.00，大写：壹仟贰佰元整``, ``1200元/壹仟贰佰元整``,
  ``大写：壹仟贰佰元整（小写：¥1,200.00）``, ``CNY 1,200 (in words: one thousand two hundred)``.
  It counts as one when it is labelled or when one side is in figures and the other in
  words. Both must say the same amount; when they differ the result is an
  :class:`AmountMismatch` holding both values (never one of them picked). Two amounts both
  in figures and unlabelled (``1200/1500``, ``1200元（1500元）``) are ``unparseable``. A
  bracket without any numeral (``（含税）``) is a remark and ignored; a labelled restatement
  that cannot be read makes the whole amount ``unparseable``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

from text_to_num import text2num

from .values import (
    CHINESE_DIGITS,
    DIGIT_CHARS,
    EMPTY,
    NEGATIVE,
    NUMERAL_CHARS,
    TOO_MANY_DECIMALS,
    UNPARSEABLE,
    normalise,
    parse_chinese_number,
)

__all__ = ["AmountMismatch", "format_amount", "parse_amount"]


@dataclass(frozen=True, slots=True)
class AmountMismatch:
    """Hold an amount whose figures and restatement (in words) say different values."""

    figures: Decimal
    words: Decimal


# --------------------------------------------------------------------------- one amount

_CENT = Decimal("0.01")
# Wide enough that no amount a person types is rounded while being added up.
_WIDE = Context(prec=60)
_MAX_AMOUNT_CHARS = 200

_AMOUNT_PREFIX_RE = re.compile(r"(?:¥|rmb|cny|人民币|yuan)\s*:?\s*")
_AMOUNT_SUFFIX_RE = re.compile(r"\s*(?:rmb|cny|yuan|人民币)$")
_SIGN_RE = re.compile(r"[-−负]\s*")
_TRAILING_PUNCT_RE = re.compile(r"[\s。.,;!]+$")
_D = f"[0-9{DIGIT_CHARS}]"
_AMOUNT_RE = re.compile(rf"""
    (?P<yuan>[^元圆块角毛分整正]*?)\s*
    (?:(?P<cur>[元圆块])钱?(?P<zero>\s*零)?)?
    (?:\s*(?P<jiao>{_D})\s*[角毛])?
    (?:\s*(?P<fen>{_D})\s*分)?
    (?:(?<=[元圆块钱角毛])\s*(?P<tail>{_D}))?
    \s*(?:整|正)?
""", re.X)
_ARABIC_RE = re.compile(r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d{1,3}(?: \d{3})+(?:\.\d+)?|\d+(?:\.\d+)?")
_NUMERAL_RE = re.compile(rf"[0-9{NUMERAL_CHARS}]")
_EN_CURRENCY = ("yuan", "renminbi", "rmb", "cny")
_EN_CENTS = ("cent", "cents", "fen")


def _digit_value(ch: str) -> int:
    """Return the value of one Arabic or Chinese digit."""
    return int(ch) if ch.isdigit() else CHINESE_DIGITS[ch]


def _english_number(words: str) -> Decimal | None:
    """Return the value of English number words (``one thousand two hundred``), else None."""
    if not words:
        return None
    try:
        return Decimal(text2num(words, "en"))
    except ValueError:
        return None


def _english_amount(t: str) -> Decimal | None:
    """Return an amount in English words ('one thousand yuan and five cents only'), else None."""
    words = t.replace(",", " ").split()
    if words[-1:] == ["only"]:
        words.pop()
    cents: Decimal | None = Decimal(0)
    if words[-1:] and words[-1] in _EN_CENTS:
        # The cents follow the currency word; without one, 'one hundred and five cents' is unclear.
        currency = next((i for i, w in enumerate(words) if w in _EN_CURRENCY), None)
        if currency is None:
            return None
        tail = words[currency + 1:-1]
        cents = _english_number(" ".join(tail[1:] if tail[:1] == ["and"] else tail))
        words = words[:currency + 1]
    if words[-1:] and words[-1] in _EN_CURRENCY:
        words.pop()
    value = _english_number(" ".join(words))
    if value is None or cents is None or cents >= 100:
        return None
    return value + cents / 100


def _chinese_amount(t: str) -> Decimal | str:
    """Return an amount in figures or Chinese numerals with 元/角/分, or a problem code."""
    m = _AMOUNT_RE.fullmatch(t)
    if m is None:
        return UNPARSEABLE
    yuan, jiao, fen, tail = m["yuan"].strip(), m["jiao"], m["fen"], m["tail"]
    # 零 after 元 stands for the skipped ones or 角 (元零叁角, 元零贰分): 角 or 分 must follow it.
    if m["zero"] and not (jiao or fen):
        return UNPARSEABLE
    if tail:
        # The colloquial last digit is one place below the last unit: 五块五, 三块五毛五.
        if fen or not (m["cur"] or jiao):
            return UNPARSEABLE
        jiao, fen = (jiao, tail) if jiao else (tail, None)
    if not yuan:
        if not (jiao or fen) or m["cur"]:
            return UNPARSEABLE
        value = Decimal(0)
    elif _ARABIC_RE.fullmatch(yuan):
        value = Decimal(yuan.replace(",", "").replace(" ", ""))
    else:
        value = parse_chinese_number(yuan)
        if value is None:
            return UNPARSEABLE
    if jiao or fen:
        if value != value.to_integral_value():
            return UNPARSEABLE       # 1200.5元5角 says the fraction twice
        value += Decimal(_digit_value(jiao or "0")) / 10 + Decimal(_digit_value(fen or "0")) / 100
    return value


def _parse_plain_amount(t: str) -> Decimal | str:
    """Return one amount without a restatement, or a problem code."""
    t = _TRAILING_PUNCT_RE.sub("", t)
    negative = False
    while True:
        prefix = _AMOUNT_PREFIX_RE.match(t) or _SIGN_RE.match(t)
        if prefix is None:
            break
        negative = negative or prefix.re is _SIGN_RE
        t = t[prefix.end():]
    t = _AMOUNT_SUFFIX_RE.sub("", t)
    if re.search(r"[a-z]{2}", t):
        english = _english_amount(t)
        value: Decimal | str = UNPARSEABLE if english is None else english
    else:
        value = _chinese_amount(t)
    if isinstance(value, str):
        return value
    if negative and value:
        return NEGATIVE
    if value != value.quantize(_CENT):
        return TOO_MANY_DECIMALS
    return value.quantize(_CENT)


# --------------------------------------------------------------------------- restatements

_LABEL_RE = re.compile(
    r"(?P<label>人民币大写|大写金额|金额大写|大写|人民币小写|小写金额|金额小写|小写|in\s+words|in\s+figures)\s*:?\s*")
_BRACKETED_RE = re.compile(r"(?P<outer>[^()\[\]【】]*?)\s*[(\[【](?P<inner>[^()\[\]【】]*)[)\]】]")
# Where a restatement may start: after a separator, or right at its label (1200元大写:…).
_SPLIT_RE = re.compile(r"\s*[,;/|、]\s*|\s+|(?=人民币大写|大写|金额大写|人民币小写|小写|金额小写|in\s+words|in\s+figures)")


@dataclass(frozen=True, slots=True)
class _Said:
    """Hold one side of a restatement: its amount (or problem code), and how it was written."""

    value: Decimal | str
    in_words: bool
    labelled: bool


def _said(text: str) -> _Said:
    """Return one side read with its optional label."""
    text = _TRAILING_PUNCT_RE.sub("", text.strip())
    label = _LABEL_RE.match(text)
    if label is not None:
        text = text[label.end():]
    return _Said(_parse_plain_amount(text), in_words=not re.search(r"\d", text), labelled=label is not None)


def _agreed(first: _Said, second: _Said) -> Decimal | str | AmountMismatch:
    """Return the amount both sides say, or the mismatch between figures and words."""
    assert isinstance(first.value, Decimal) and isinstance(second.value, Decimal)
    if first.value == second.value:
        return first.value
    if first.in_words == second.in_words and not second.labelled:
        return UNPARSEABLE           # 1200元（1500元）: two amounts, no restatement
    figures, words = (second, first) if first.in_words and not second.in_words else (first, second)
    return AmountMismatch(figures=figures.value, words=words.value)


def _restated(t: str) -> Decimal | str | AmountMismatch | None:
    """Return the amount of 'amount separator restatement', or None when t is not that."""
    for sep in _SPLIT_RE.finditer(t):
        if sep.start() == 0:
            continue
        second = _said(t[sep.end():])
        if not isinstance(second.value, Decimal):
            continue
        first = _said(t[:sep.start()])
        if not isinstance(first.value, Decimal):
            continue
        if second.labelled or first.in_words != second.in_words:
            return _agreed(first, second)
    return None


def _parse_field(t: str) -> Decimal | str | AmountMismatch:
    """Return the amount of a whole field: one amount, or one amount and its restatement."""
    t = _TRAILING_PUNCT_RE.sub("", t)
    bracketed = _BRACKETED_RE.fullmatch(t)
    if bracketed is not None:
        outer = _said(bracketed["outer"])
        if isinstance(outer.value, str):
            return outer.value
        inner = _said(bracketed["inner"])
        if isinstance(inner.value, str):
            # A remark such as （含税） carries no number and does not matter.
            if inner.labelled or _NUMERAL_RE.search(bracketed["inner"]):
                return UNPARSEABLE
            return outer.value
        return _agreed(outer, inner)
    whole = _said(t)
    if isinstance(whole.value, Decimal):
        return whole.value
    restated = _restated(t)
    return whole.value if restated is None else restated


def parse_amount(text: str) -> Decimal | str | AmountMismatch:
    """Return a CNY amount quantized to cents, an AmountMismatch, or a problem code.

    Codes: 'empty', 'unparseable', 'negative', 'too_many_decimals'. An AmountMismatch holds
    the two values when the figures and their restatement in words disagree.
    """
    t = normalise(text)
    if not t:
        return EMPTY
    if len(t) > _MAX_AMOUNT_CHARS:
        return UNPARSEABLE
    with localcontext(_WIDE):
        try:
            return _parse_field(t)
        except InvalidOperation:
            return UNPARSEABLE


def format_amount(value: Decimal) -> str:
    """Return the amount as a plain decimal string with two places, such as '1200.00'."""
    return f"{value.quantize(_CENT, rounding=ROUND_HALF_UP, context=_WIDE):f}"
