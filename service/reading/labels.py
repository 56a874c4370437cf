"""Split "label: value" text into fields (spec §4).

A field starts at a line that begins with a known label and a colon (ASCII ``:`` or
full-width ``：``), optionally after a list marker (``1.``, ``（1）``, ``-``). Its value is the
rest of that line plus the following lines, up to the next label. After the last field, the
value ends at the first blank line: what follows is a signature or a closing remark.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Compiled once, and skipped where they cannot change anything: split runs on every report.
_SPACES = re.compile(r"\s+")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class Field:
    name: str   # the data name, e.g. "customer"
    label: str  # the label as the sender wrote it
    value: str
    line: int   # 1-based line number of the label


class LabelSet:
    """Recognises the labels of one message format; build once, use for every message."""

    def __init__(self, labels: Mapping[str, Sequence[str]]) -> None:
        self.names = {variant.lower(): name for name, variants in labels.items() for variant in variants}
        # Longest first, so "客户意见" wins over "客户" and "Customer feedback" over "Customer".
        variants = sorted(self.names, key=len, reverse=True)
        alternatives = "|".join(re.escape(v).replace(r"\ ", r"\s+") for v in variants)
        self.pattern = re.compile(
            r"^[ \t\u3000]*(?:(?:\d{1,2}|[一二三四五六七八九十]{1,3})[.、)）]|[（(]\d{1,2}[）)]|[-*•·])?"
            r"[ \t\u3000]*(?:\*\*)?(" + alternatives + r")(?:\*\*)?[ \t\u3000]*[:：][ \t\u3000]*(.*)$",
            re.IGNORECASE)

    def split(self, text: str) -> list[Field]:
        """Return the fields of text in the order written."""
        fields: list[tuple[str, str, list[str], int]] = []
        for number, line in enumerate(text.split("\n"), start=1):
            match = self.pattern.match(line)
            if match:
                label = match[1]
                name = self.names.get(label.lower()) or self.names[_SPACES.sub(" ", label.lower())]
                fields.append((name, label, [match[2].rstrip()], number))
            elif fields:
                fields[-1][2].append(line.rstrip())
        out = []
        for index, (name, label, lines, number) in enumerate(fields):
            if index == len(fields) - 1:
                lines = _until_blank(lines)
            out.append(Field(name=name, label=label, value=_join(lines), line=number))
        return out


def _until_blank(lines: list[str]) -> list[str]:
    """Keep the value's lines up to the first blank line after some content."""
    kept: list[str] = []
    for line in lines:
        if not line.strip():
            if any(k.strip() for k in kept):
                break
            continue
        kept.append(line)
    return kept


def _join(lines: list[str]) -> str:
    if len(lines) == 1:  # most values are one line: nothing to join or collapse
        return lines[0].strip()
    text = "\n".join([line.strip() for line in lines])
    return _BLANK_LINES.sub("\n\n", text).strip() if "\n\n\n" in text else text.strip()
