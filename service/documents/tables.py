"""Write rows of text as a spreadsheet file a person opens in Excel, WPS or LibreOffice.

The counterpart of ``reading/tables.py``: what is written here reads back cell for cell. CSV
is UTF-8 with a BOM – without it Excel on Chinese Windows shows UTF-8 as mojibake – and
CRLF line ends; .xlsx keeps every cell as text, so ``0571-88888888`` stays a phone number and
a value starting with ``=`` never becomes a formula.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence

__all__ = ["SUFFIXES", "table_bytes"]

SUFFIXES = (".csv", ".xlsx")


def table_bytes(rows: Sequence[Sequence[str]], suffix: str, *, sheet_title: str = "Sheet1") -> bytes:
    """Return ``rows`` (header first) as the bytes of a .csv or .xlsx file; ValueError for another suffix."""
    suffix = suffix.lower()
    if suffix == ".csv":
        out = io.StringIO(newline="")
        csv.writer(out, lineterminator="\r\n").writerows(rows)
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
            cell.value = value
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
