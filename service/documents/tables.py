"""Write rows of text as a spreadsheet file a person opens in Excel, WPS or LibreOffice.

The counterpart of ``reading/tables.py``: what is written here reads back cell for cell. CSV
is UTF-8 with a BOM – without it Excel on Chinese Windows shows UTF-8 as mojibake – and
CRLF line ends; .xlsx keeps every cell as text, so ``0571-88888888`` stays a phone number.

No cell hands a spreadsheet a formula (CSV injection, OWASP): a CSV cell starting with = + -
@ tab or CR gets an apostrophe in front (``'=HYPERLINK(…)``, ``'+86 138…``), as OWASP advises;
in .xlsx a cell starting with = + - @ is a text cell marked "quote prefix", Excel's own record
of a typed apostrophe, so it stays text even when someone edits it (tab and CR, which a
reader would strip, get the apostrophe there too). ``reading/tables.py`` takes exactly
that apostrophe off again (``unescape_formula``); a value that already starts with
apostrophes before such a character gets one more, so it too reads back as it was.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence

__all__ = ["SUFFIXES", "escape_formula", "table_bytes"]

SUFFIXES = (".csv", ".xlsx")
# A cell a spreadsheet would take as a formula (or DDE): = + - @, and tab or CR before them.
_FORMULA_START = re.compile(r"[=+\-@\t\r]")
# What an .xlsx cell keeps as it is, marked quote-prefixed, instead of an apostrophe in the text.
_SHOWN_AS_TYPED = ("=", "+", "-", "@")
# A value that already looks escaped: apostrophes before such a character.
_LOOKS_ESCAPED = re.compile(r"'+[=+\-@\t\r]")


def escape_formula(value: str) -> str:
    """Return ``value`` with an apostrophe in front when a spreadsheet would run it, else as it is."""
    return "'" + value if _FORMULA_START.match(value) or _LOOKS_ESCAPED.match(value) else value


def table_bytes(rows: Sequence[Sequence[str]], suffix: str, *, sheet_title: str = "Sheet1") -> bytes:
    """Return ``rows`` (header first) as the bytes of a .csv or .xlsx file; ValueError for another suffix."""
    suffix = suffix.lower()
    if suffix == ".csv":
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n").writerows([[escape_formula(str(v)) for v in row] for row in rows])
        return out.getvalue().encode("utf-8-sig")
    if suffix == ".xlsx":
        return _xlsx(rows, sheet_title)
    raise ValueError(f"cannot write a {suffix or 'suffix-less'} file: use {' or '.join(SUFFIXES)}")


def _xlsx(rows: Sequence[Sequence[str]], sheet_title: str) -> bytes:
    from openpyxl import Workbook  # deferred: only exports need it
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    sheet.title = sheet_title[:31]  # Excel's limit on sheet names
    widths: dict[int, int] = {}
    for r, row in enumerate(rows, start=1):
        for c, value in enumerate(row, start=1):
            cell = sheet.cell(row=r, column=c)
            text = str(value)
            if text[:1] in _SHOWN_AS_TYPED:
                cell.value = text
                cell.quotePrefix = True  # Excel's "typed with an apostrophe": text even when edited
            else:
                # A leading tab or CR (which a reader strips) and an escaped-looking value get the apostrophe.
                cell.value = escape_formula(text)
            cell.data_type = "s"  # text, never a formula or a number
            # CJK characters take two columns' width.
            width = sum(2 if ord(ch) > 0x2E80 else 1 for ch in str(value))
            widths[c] = max(widths.get(c, 0), width)
    for c, width in widths.items():
        sheet.column_dimensions[get_column_letter(c)].width = min(60, max(8, width + 2))
    if rows:
        for cell in sheet[1]:
            cell.font = Font(bold=True)
        sheet.freeze_panes = "A2"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
