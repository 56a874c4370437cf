"""Normalise customer names so a visit finds its customer in the registry (spec §5, issue 10).

Reps type a customer's name as they remember it: ``华联超市（浦东店）`` or ``华联超市(浦东店)``,
``上海华联超市有限公司`` or ``上海华联超市``, ``ＡＣＭＥ Co., Ltd.`` or ``acme``. The registry
holds one spelling (plus aliases). Both sides go through the same steps, in the order of
``STEPS`` (like classify.RULES: the policy reads on one screen), and match when the results
are equal.

Invariants:
- only the *comparison key* is normalised: nothing here changes what a rep wrote or what the
  registry stores;
- a leading place name is kept – 上海华联 and 杭州华联 are two shops in two cities;
- the branch in brackets is kept – 华联超市（浦东店） is not 华联超市（徐汇店）;
- a name never normalises to nothing: if stripping a suffix would leave nothing (a customer
  called 公司), the suffix stays.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Callable

__all__ = ["STEPS", "normalise_name"]

# Legal-form words in English names, removed word by word at the end (before spaces go, so
# "Costco" keeps its "co").
_ENGLISH_FORMS = re.compile(
    r"(?:[\s,.]+(?:co|company|corp|corporation|inc|incorporated|ltd|limited|llc|plc|gmbh|pte|pty)\.?)+\s*$")
# Chinese legal forms and the shop suffix, longest first: 股份有限公司 before 有限公司 before 公司.
_CHINESE_SUFFIXES = ("股份有限公司", "有限责任公司", "有限公司", "公司", "店")


def _width(text: str) -> str:
    # NFKC folds full-width letters, digits and punctuation (ＡＢＣ１（）) to their ASCII forms.
    return unicodedata.normalize("NFKC", text)


def _case(text: str) -> str:
    return text.casefold()


def _english_forms(text: str) -> str:
    stripped = _ENGLISH_FORMS.sub("", text)
    return stripped if stripped.strip(" ,.") else text


def _punctuation_and_spaces(text: str) -> str:
    # Brackets, dots, dashes, quotes, '&', '·' and every kind of space carry no identity; the
    # words inside brackets (the branch) stay.
    kept = "".join(ch for ch in text if unicodedata.category(ch)[0] not in "PZSC")
    return kept or text


def _chinese_suffixes(text: str) -> str:
    changed = True
    while changed:
        changed = False
        for suffix in _CHINESE_SUFFIXES:
            if text.endswith(suffix) and len(text) > len(suffix):
                text = text[: -len(suffix)]
                changed = True
                break
    return text


# The steps, in order: (name, function).
STEPS: tuple[tuple[str, Callable[[str], str]], ...] = (
    ("width", _width),
    ("case", _case),
    ("english_legal_forms", _english_forms),
    ("punctuation_and_spaces", _punctuation_and_spaces),
    ("chinese_suffixes", _chinese_suffixes),
)


@functools.lru_cache(maxsize=8192)  # a rep names the same customers day after day
def normalise_name(text: str) -> str:
    """Return the comparison key of a customer name ('' for a blank one)."""
    text = (text or "").strip()
    if not text:
        return ""
    for _name, step in STEPS:
        text = step(text)
    return text
