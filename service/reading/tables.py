"""Read a spreadsheet file – CSV or .xlsx – into numbered rows of text cells.

People keep customer registries and visit plans in Excel, WPS or LibreOffice and save them as
they please: .xlsx, CSV in UTF-8 (with or without Excel's BOM) or in the GBK that Chinese
Windows still writes, with commas, semicolons (European locales) or tabs. Names and suffixes
are what the person typed, so the bytes decide what a file is: a zip with
``xl/workbook.xml`` is a workbook whatever it is called; an OLE2 file is an old .xls (or an
encrypted workbook, which Office also stores as OLE2); anything else must be text.

Invariants:
- every row keeps the number a person sees in Excel or LibreOffice, so a problem reported as
  "第 7 行" is found on row 7 (blank rows are skipped, never renumbered);
- every cell is stripped text: numbers as Excel shows them (``13800138000``, not
  ``13800138000.0``; ``00123`` under a zero-padded format such as ``00000``), dates as
  ``YYYY-MM-DD``; trailing empty cells are dropped (``Row.cell`` gives '' beyond the last one);
- a workbook is read from its first *visible* sheet (a hidden first sheet of drop-down
  lists is passed over), and a merged cell's value stands in every row the merge spans, as a
  person sees it (a 地区 merged over three customers is each one's region);
- the apostrophe an export puts before a cell that would start a formula (``'=…``, ``'+86…``,
  see ``documents/tables.py``) is taken off again, so an exported file reads back unchanged;
- a file that cannot be read raises :class:`TableError` with one line a person can act on
  (in zh-CN, like the rest of the CLI's problem lines); nothing else escapes.

Encodings are detected by charset-normalizer among the ones such files are written in (see
``_ENCODINGS``), never guessed by decoding with one codec after another.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import unicodedata
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["Row", "TableError", "decode_text", "match_header", "read_table", "unescape_formula"]


class TableError(ValueError):
    """A file that cannot be read as a table; str() is one clear user-facing line (zh-CN)."""


@dataclass(frozen=True)
class Row:
    """One non-blank row of a table, numbered as a spreadsheet program shows it."""

    number: int  # the row number a person sees in Excel/LibreOffice (1-based)
    cells: tuple[str, ...]  # every cell as stripped text: '' for empty; trailing empty cells dropped

    def cell(self, index: int) -> str:
        """Return the text of column ``index`` (0-based), '' when the row is shorter."""
        return self.cells[index] if 0 <= index < len(self.cells) else ""


# What a registry or plan saved as text is written in: UTF-8 (Excel's "CSV UTF-8", WPS,
# LibreOffice), GB18030 – the superset of GBK and GB2312 that Chinese Windows' "CSV" writes –,
# UTF-16/32 (Excel's "Unicode text") and Windows-1252 for Western-only files. Big5 is left
# out on purpose: given a short GBK file it wins too often (名称/店 decode as Big5 junk).
_ENCODINGS = ["utf_8", "gb18030", "utf_16", "utf_32", "cp1252"]
_GB_FAMILY = {"gb2312", "gbk", "gb18030", "cp936", "hz"}

_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
# A registry or plan is small; a workbook that claims to expand beyond this is not one.
_MAX_UNZIPPED = 200 * 1024 * 1024
_MAX_MEMBERS = 5000
_DELIMITERS = ",;\t"
# OWASP's CSV-injection escape: an apostrophe before a cell that starts with = + - @ tab or CR
# (and before one that already starts with such an escape, so the escape itself reads back).
_FORMULA_ESCAPED = re.compile(r"'+[=+\-@\t\r]")


class TooManyRows(TableError):
    """The file holds more non-blank rows than the caller's ``max_rows``; reading stopped there."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


def read_table(data: bytes, filename: str, *, max_rows: int | None = None) -> list[Row]:
    """Return the non-blank rows of a CSV/text or .xlsx file (first sheet), numbered.

    Reading stops after ``max_rows`` non-blank rows with TooManyRows (a 600 KB workbook can
    hold a million rows: they are never all read). Raises TableError for an empty file, an
    old .xls, an encrypted or damaged workbook, a Word file or other non-table content, and
    text in no encoding we can detect.
    """
    if not data or not data.strip(b" \t\r\n\x00\xef\xbb\xbf\xff\xfe"):
        raise TableError(f"文件 {filename} 是空的")
    if data.startswith(_ZIP_MAGIC):
        return _read_xlsx(data, filename, max_rows)
    if data.startswith(_OLE_MAGIC):
        raise TableError(_ole_problem(data, filename))
    _refuse_other_binaries(data, filename)
    return _read_csv(decode_text(data), filename, max_rows)


def _too_many(filename: str, limit: int) -> TooManyRows:
    return TooManyRows(f"文件 {filename} 超过 {limit} 行，不是一份名录或计划", limit)


def decode_text(data: bytes) -> str:
    """Return the text of a CSV/YAML file, its encoding detected (a BOM wins); raise TableError."""
    if not data:
        return ""
    if data.startswith(b"\xef\xbb\xbf"):
        try:
            return data[3:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise TableError("文件以 UTF-8 标记开头，内容却不是 UTF-8，请重新另存为“CSV UTF-8”") from exc
    from charset_normalizer import from_bytes  # deferred: only file imports need it

    best = from_bytes(data, cp_isolation=_ENCODINGS).best()
    if best is None:
        raise TableError("无法识别文件的文字编码，请另存为“CSV UTF-8”或 .xlsx 后再试")
    encoding = best.encoding
    # GBK and GB2312 files hold GB18030 characters (镕, 喆) often enough; read the superset.
    if encoding.replace("-", "").lower() in _GB_FAMILY:
        encoding = "gb18030"
    try:
        text = data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        text = str(best)
    return text.removeprefix("\ufeff")


def match_header(cells: Sequence[str], columns: Mapping[str, Sequence[str]]) -> dict[str, int] | None:
    """Return field → column index when ``cells`` is a header row of ``columns``, else None.

    ``columns`` maps each field to the labels it may have (Chinese and English). Labels are
    compared ignoring case, width and spaces ('客户 名称', 'Name ', 'ＮＡＭＥ'); a trailing '*'
    or '（必填）' that marks a required column is ignored too. A row is a header row when at
    least two fields are found (one when ``columns`` has only one) and most of its non-empty
    cells are known labels – a data row that happens to hold one label-like word is not.
    When a label appears twice, the first column counts.
    """
    wanted: dict[str, str] = {}
    for field, labels in columns.items():
        for label in labels:
            wanted.setdefault(_label_key(label), field)
    found: dict[str, int] = {}
    filled = known = 0
    for index, cell in enumerate(cells):
        key = _label_key(cell)
        if not key:
            continue
        filled += 1
        field = wanted.get(key)
        if field is None:
            continue
        known += 1
        found.setdefault(field, index)
    needed = min(2, len(columns))
    if needed == 0 or len(found) < needed or 2 * known < filled:
        return None
    return found


def _label_key(text: str) -> str:
    key = "".join(unicodedata.normalize("NFKC", text).casefold().split())
    for mark in ("(必填)", "(required)", "*"):
        key = key.removesuffix(mark)
    return key.strip("*:")


# ---------------------------------------------------------------------------- content kinds


def _ole_problem(data: bytes, filename: str) -> str:
    """Say what an OLE2 file is, as the line a person reads: old .xls, encrypted, or other."""
    import olefile  # deferred: only OLE2 uploads need it

    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            if ole.exists("EncryptionInfo") or ole.exists("EncryptedPackage"):
                return f"文件 {filename} 设有密码（已加密），请取消密码后另存为 .xlsx 再导入"
            if ole.exists("Workbook") or ole.exists("Book"):
                return f"文件 {filename} 是旧版 Excel 97-2003 格式（.xls），请在 Excel/WPS 中另存为 .xlsx 再导入"
            if ole.exists("WordDocument"):
                return f"文件 {filename} 是 Word 文档，不是表格，请提供 .xlsx 或 CSV 文件"
    except Exception:  # noqa: BLE001 - a damaged directory raises OleFileError, OSError, …
        return f"文件 {filename} 已损坏，无法读取，请重新另存为 .xlsx 或 CSV"
    return f"文件 {filename} 不是表格文件，请提供 .xlsx 或 CSV 文件"


def _refuse_other_binaries(data: bytes, filename: str) -> None:
    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"%PDF"):
        raise TableError(f"文件 {filename} 是 PDF，不是表格，请提供 .xlsx 或 CSV 文件")
    lowered = head[:200].lower()
    if lowered.startswith((b"<html", b"<!doctype html", b"<table")) or b"<html" in lowered:
        # Many business systems "export to Excel" as an HTML page named .xls.
        raise TableError(f"文件 {filename} 是网页（HTML）格式，请用 Excel/WPS 打开后另存为 .xlsx 再导入")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return  # UTF-16 text: NUL bytes are expected
    if b"\x00" in data[:8192] and not _looks_utf16(data[:8192]):
        raise TableError(f"文件 {filename} 不是表格文件（既不是 .xlsx 也不是 CSV 文本）")


def _looks_utf16(sample: bytes) -> bool:
    # UTF-16 without a BOM: ASCII characters leave every second byte NUL.
    evens, odds = sample[0::2], sample[1::2]
    return evens.count(0) > 0.4 * len(evens) or odds.count(0) > 0.4 * len(odds)


# ---------------------------------------------------------------------------- CSV


def _read_csv(text: str, filename: str, max_rows: int | None = None) -> list[Row]:
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n\f\v" for ch in text[:8192]):
        raise TableError(f"文件 {filename} 不是表格文件（含有二进制内容）")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text))
    rows: list[Row] = []
    try:
        # A record is one row in Excel even when a quoted cell spans lines, and a blank line
        # is an (empty) row there too: count records, not lines.
        for number, record in enumerate(reader, start=1):
            cells = _trimmed(unescape_formula(cell.strip()) for cell in record)
            if cells:
                if max_rows is not None and len(rows) >= max_rows:
                    raise _too_many(filename, max_rows)
                rows.append(Row(number, cells))
    except csv.Error as exc:
        raise TableError(f"文件 {filename} 第 {reader.line_num} 行无法按 CSV 读取：{exc}") from exc
    if not rows:
        raise TableError(f"文件 {filename} 是空的")
    return rows


def _trimmed(cells) -> tuple[str, ...]:
    # Trailing empty cells are an accident of where the sheet's used range ends (they differ
    # row by row in the same file); rows compare alike without them.
    cells = list(cells)
    while cells and not cells[-1]:
        cells.pop()
    return tuple(cells)


def _delimiter(text: str) -> str:
    """Return the delimiter of a CSV text: ',' ';' or tab, as the csv sniffer finds it."""
    sample = text[:16384]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:
        pass
    # One column, or too few lines for the sniffer: the first line that has any decides.
    for line in sample.splitlines():
        counts = {d: line.count(d) for d in _DELIMITERS}
        best = max(counts, key=lambda d: counts[d])
        if counts[best]:
            return best
    return ","


# ---------------------------------------------------------------------------- .xlsx


def _read_xlsx(data: bytes, filename: str, max_rows: int | None = None) -> list[Row]:
    _check_workbook_zip(data, filename)
    import openpyxl  # deferred: only workbook imports need it

    try:
        book = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises KeyError, ValueError, lxml errors …
        raise TableError(f"文件 {filename} 已损坏或不是有效的 .xlsx，无法读取（{type(exc).__name__}）") from exc
    try:
        sheet = _first_visible_sheet(book, filename)
        # Some programs write a wrong <dimension> (just "A1"); read what is really there.
        sheet.reset_dimensions()
        rows: list[Row] = []
        try:
            for counter, cells in enumerate(sheet.iter_rows(), start=1):
                number = next((c.row for c in cells if getattr(c, "row", None)), counter)
                texts = _trimmed(_cell_text(c.value, _number_format(c)) for c in cells)
                if texts:
                    if max_rows is not None and len(rows) >= max_rows:
                        raise _too_many(filename, max_rows)
                    rows.append(Row(number, texts))
            # read_only mode streams the cells and leaves out the merges (they follow the
            # cells in the sheet's XML): read those from the XML, without loading the sheet.
            merges = _merged_ranges(data, getattr(sheet, "_worksheet_path", ""))
        except TableError:
            raise
        except Exception as exc:  # noqa: BLE001 - a damaged sheet part fails while streaming
            raise TableError(f"文件 {filename} 已损坏，无法读取工作表（{type(exc).__name__}）") from exc
    finally:
        book.close()
    if not rows:
        raise TableError(f"文件 {filename} 的第一个工作表是空的")
    return _fill_merged(rows, merges) if merges else rows


def _number_format(cell) -> str | None:
    # Looked up for numbers only: the style lookup behind number_format costs on every cell.
    value = getattr(cell, "value", None)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return getattr(cell, "number_format", None)
    return None


def _first_visible_sheet(book, filename: str):
    """Return the first sheet a person sees in the workbook (not the active one: see below).

    A sheet of drop-down lists is often first and hidden. The first *visible* sheet is the
    first tab a person sees, whichever tab was open when the file was saved; the active sheet
    is only where the cursor happened to be (a notes sheet, as often as not), and the problem
    lines say "第一个工作表". A workbook whose sheets are all hidden (Excel does not allow
    it, other programs might) is read from its first sheet.
    """
    if not book.worksheets:
        raise TableError(f"文件 {filename} 没有工作表")
    return next((s for s in book.worksheets if getattr(s, "sheet_state", "visible") == "visible"),
                book.worksheets[0])


def _merged_ranges(data: bytes, part: str) -> list[tuple[int, int, int, int]]:
    """Return the merged ranges (min_col, min_row, max_col, max_row) of a sheet part, streamed.

    Expat reads the part in chunks and keeps only the <mergeCell ref="…"/> it meets, so a
    sheet of many rows costs one pass and no tree. A DOCTYPE (never written by a spreadsheet
    program, the door to entity expansion) refuses the file.
    """
    from xml.parsers import expat

    from openpyxl.utils.cell import range_boundaries

    if not part:
        return []
    found: list[tuple[int, int, int, int]] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        if name.rpartition("}")[2] == "mergeCell" and attributes.get("ref"):
            bounds = range_boundaries(attributes["ref"])
            if None not in bounds:
                found.append(bounds)

    def doctype(*_args) -> None:
        raise TableError("工作表含有 DOCTYPE 声明，不是 Excel/WPS 保存的文件")

    if not _mentions(data, part.lstrip("/"), b"mergeCell"):
        return []  # most sheets: a plain byte scan is ten times cheaper than parsing
    parser = expat.ParserCreate(namespace_separator="}")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    parser.StartDoctypeDeclHandler = doctype
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(part.lstrip("/")) as stream:
        while chunk := stream.read(1 << 16):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    return found


def _mentions(data: bytes, part: str, word: bytes) -> bool:
    """Say whether the zip member ``part`` holds ``word``, reading it in chunks."""
    tail = b""
    with zipfile.ZipFile(io.BytesIO(data)) as archive, archive.open(part) as stream:
        while chunk := stream.read(1 << 16):
            if word in tail + chunk[:len(word)] or word in chunk:
                return True
            tail = chunk[-len(word):]
    return False


def _fill_merged(rows: list[Row], merges: list[tuple[int, int, int, int]]) -> list[Row]:
    """Return ``rows`` with each merge's top-left value down the first column of the merge.

    A value merged over rows 2–4 belongs to each of them; the cells to its right within the
    merge stay empty (a title merged across columns is one cell's text, not four). Rows with
    nothing else in them stay blank rows (not read), so a merge drawn past the data makes no
    phantom rows.
    """
    by_number = {row.number: list(row.cells) for row in rows}
    for min_col, min_row, _max_col, max_row in merges:
        top = by_number.get(min_row)
        value = top[min_col - 1] if top is not None and len(top) >= min_col else ""
        if not value:
            continue
        for number in range(min_row + 1, max_row + 1):
            cells = by_number.get(number)
            if cells is None:
                continue
            cells.extend([""] * (min_col - len(cells)))
            if not cells[min_col - 1]:
                cells[min_col - 1] = value
    return [Row(row.number, _trimmed(by_number[row.number])) for row in rows]


def _check_workbook_zip(data: bytes, filename: str) -> None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise TableError(f"文件 {filename} 已损坏（不是完整的 .xlsx），请重新保存后再试") from exc
    names = {info.filename for info in infos}
    if "xl/workbook.xml" not in names:
        if "word/document.xml" in names:
            raise TableError(f"文件 {filename} 是 Word 文档，不是表格，请提供 .xlsx 或 CSV 文件")
        if "content.xml" in names and "mimetype" in names:
            raise TableError(f"文件 {filename} 是 OpenDocument 表格（.ods），请另存为 .xlsx 再导入")
        raise TableError(f"文件 {filename} 是压缩包，不是 .xlsx 表格")
    if len(infos) > _MAX_MEMBERS or sum(info.file_size for info in infos) > _MAX_UNZIPPED:
        raise TableError(f"文件 {filename} 解压后过大，不像客户名录或计划表，已拒绝")


def _cell_text(value: object, number_format: str | None = None) -> str:
    """Return a cell's value as the text Excel shows for it, stripped (an export's escape taken off)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)) and number_format and "0" in number_format:
        padded = _zero_padded(value, number_format)
        if padded is not None:
            return padded
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=" ", timespec="seconds" if value.second else "minutes")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat(timespec="seconds" if value.second else "minutes")
    return unescape_formula(str(value).strip())


def unescape_formula(text: str) -> str:
    """Return ``text`` without the one apostrophe an export put before a formula-like cell."""
    return text[1:] if _FORMULA_ESCAPED.match(text) else text


# One token of an integer number format: a quoted literal, an escaped character, a digit
# placeholder 0, or a character Excel shows as itself without quotes.
_FORMAT_TOKEN = re.compile(r'"[^"]*"|\\.|0|[$\-+/():!^&\'~{}<>= ]')


def _zero_padded(value: int | float, number_format: str) -> str | None:
    """Return a whole number as a format of 0 placeholders and literals shows it, else None.

    ``00000`` shows 123 as 00123, ``"KH"00000`` as KH00123, ``00000-0000`` 123456789 as
    12345-6789 (digits fill the placeholders from the right; more digits than placeholders go
    in front). Any other format (decimals, #, thousands, dates, several sections for a
    negative number) is None: the caller shows the plain number, as before.
    """
    sections = number_format.split(";")
    if isinstance(value, float) and not value.is_integer() or value < 0 and len(sections) > 1:
        return None  # a fraction keeps its digits (Excel would round it away): only whole numbers are ids
    tokens = _FORMAT_TOKEN.findall(sections[0])
    if "".join(tokens) != sections[0] or "0" not in tokens:
        return None
    rounded = int(value)
    placeholders = tokens.count("0")
    digits = str(abs(int(rounded))).zfill(placeholders)
    extra, digits = digits[:len(digits) - placeholders], digits[len(digits) - placeholders:]
    out, used = ["-"] if rounded < 0 else [], 0
    for token in tokens:
        if token == "0":
            out.append((extra if used == 0 else "") + digits[used])
            used += 1
        elif token.startswith('"'):
            out.append(token[1:-1])
        elif token.startswith("\\"):
            out.append(token[1:])
        else:
            out.append(token)
    return "".join(out)
