"""Read a filled daily visit report form (巡访日报表, spec §4) from a Word ``.docx`` file.

Reps may fill ``templates/forms/daily_report.docx`` (built by ``scripts/make_forms.py``)
instead of writing ``label: value`` lines; an attached filled form is read as the report.

Reading does not rely on the blank form's exact layout. Columns are found by the text of the
header cell (Chinese or English label, any order, case and spacing ignored), so a rep who
reorders or deletes columns, adds rows, merges a customer cell over two visits or splits the
table still gets read. Header fields (日期 / Date, 巡访人员 / Visitor) come from any table cell
holding the label, with the value in the next cell to its right, or from a paragraph such as
``日期：2026-11-26``.

The file comes from mail, so it is untrusted: the zip directory is checked (total unpacked
size, compression ratio, member count) before anything is decompressed, and every failure,
whatever its cause, is raised as :class:`FormError` with a plain-words message.
"""

from __future__ import annotations

import io
import re
import unicodedata
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field

__all__ = [
    "DAILY_COLUMNS",
    "FormError",
    "FormReport",
    "check_zip",
    "is_daily_form",
    "read_daily_form",
]

# Columns of the main table, in the blank form's order: (data name, 中文 label, English label).
DAILY_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("customer", "客户名称", "Customer"),
    ("visited_at", "巡访时间", "Visit time"),
    ("feedback", "客户意见", "Customer feedback"),
    ("market", "市场行情", "Market"),
    ("effect", "巡访效果", "Effect"),
    ("handled", "处理事项", "Matters handled"),
    ("other", "其他事项", "Other"),
    ("stock", "库存销售", "Stock and sales"),
    ("products", "推广产品", "Products promoted"),
    ("tech_issue", "技术问题", "Technical issue"),
    ("urgent", "紧急", "Urgent"),
)
# Header fields above the table: (data name, 中文 label, English label).
DAILY_HEADER_FIELDS: tuple[tuple[str, str, str], ...] = (
    ("date", "日期", "Date"),
    ("visitor", "巡访人员", "Visitor"),
)

# Other words reps use for the same column or field. A header cell may hold one label, or a
# Chinese and an English label together (in either order, on one line or two).
_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "customer": ("客户", "Customer name"),
    "visited_at": ("拜访时间", "访问时间", "Time of visit", "Visited at"),
    "feedback": ("客户意见建议", "意见建议", "Feedback"),
    "market": ("市场", "Market conditions"),
    "effect": ("效果", "Visit effect"),
    "handled": ("处理事项及结果", "Handled"),
    "other": ("其他", "其它事项", "其它", "Other matters"),
    "stock": ("库存", "库存及销售", "Stock", "Stock & sales"),
    "products": ("Products", "Promoted products"),
    "tech_issue": ("Technical issues", "Tech issue"),
    "urgent": ("紧急事项", "Urgent matter"),
}
_HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "date": ("报告日期", "日报日期", "Report date"),
    "visitor": ("巡访人", "Visited by"),
}

# Zip checks, made on the zip directory before anything is decompressed.
BOMB_RATIO = 100                   # a member unpacking to more than 100× its packed size …
BOMB_MIN_SIZE = 1024 * 1024        # … and to more than 1 MB is treated as a zip bomb
MAX_MEMBERS = 5000                 # a real form has a few dozen parts
_MAX_SPAN = 64                     # Word tables have at most 63 columns; caps gridSpan/gridBefore

_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # old binary .doc (Word 97-2003)


class FormError(Exception):
    """The attachment cannot be read as a daily report form; the message says why, in plain words."""


@dataclass
class FormReport:
    report_date_text: str | None  # raw text of the 日期/Date value, None if blank
    visitor_text: str | None      # raw text of the 巡访人员/Visitor value, None if blank
    visits: list[dict[str, str]] = field(default_factory=list)
    # One dict per non-empty row: data name -> cell text (stripped; paragraphs joined with
    # "\n"); only non-empty cells.


# --------------------------------------------------------------------------- public API


def is_daily_form(payload: bytes, *, max_unzipped_bytes: int = 50 * 1024 * 1024) -> bool:
    """Say whether a .docx holds the form's visit table (客户名称 / Customer and another column).

    Only the content counts, never the file's name. Never raises: anything unreadable (not a
    zip, corrupt, a zip bomb, beyond ``max_unzipped_bytes``) is False.
    """
    try:
        body = _open_body(payload, max_unzipped_bytes=max_unzipped_bytes)
        return any(_find_header_row(_Grid(tbl)) is not None for tbl in body.iter(_W_TBL))
    except Exception:  # noqa: BLE001 - a yes/no question about untrusted bytes
        return False


def read_daily_form(payload: bytes, *, max_unzipped_bytes: int = 50 * 1024 * 1024) -> FormReport:
    """Read a filled daily report form; raise FormError, and only FormError, on bad input."""
    body = _open_body(payload, max_unzipped_bytes=max_unzipped_bytes)
    try:
        return _read(body)
    except FormError:
        raise
    except Exception as exc:  # noqa: BLE001 - damaged XML can fail in many ways
        raise FormError(f"the Word file's content could not be read ({_reason(exc)})") from exc


# --------------------------------------------------------------------------- opening


def _open_body(payload: bytes, *, max_unzipped_bytes: int):
    """Check the zip directory, then open with python-docx; return the w:body element."""
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise FormError("the attachment has no content to read")
    payload = bytes(payload)
    if not payload:
        raise FormError("the file is empty")
    if payload.startswith(_OLE_MAGIC):
        raise FormError("the file is an old Word 97-2003 (.doc) document; "
                        "please save it as .docx (Word 2007 or later) and send it again")
    check_zip(payload, max_unzipped_bytes)
    try:
        import docx  # deferred: importing python-docx costs ~0.2 s

        document = docx.Document(io.BytesIO(payload))
        return document.element.body
    except Exception as exc:  # noqa: BLE001 - python-docx raises many types on bad files
        raise FormError(f"the file could not be opened as a Word .docx document ({_reason(exc)})") from exc


def check_zip(payload: bytes, max_unzipped_bytes: int) -> None:
    """Raise FormError for what is not a zip, or would unpack too big; reads only the zip directory."""
    try:
        with zipfile.ZipFile(io.BytesIO(payload)) as archive:
            members = archive.infolist()
    except Exception as exc:  # noqa: BLE001 - BadZipFile, but also OSError/ValueError/… on junk
        raise FormError("the file is not a Word .docx document (it is not a valid zip archive)") from exc
    if len(members) > MAX_MEMBERS:
        raise FormError(f"the file holds {len(members):,} parts, more than the {MAX_MEMBERS:,} "
                        "a Word form could have; it was not opened")
    total = sum(m.file_size for m in members)
    if total > max_unzipped_bytes:
        raise FormError(f"the file would unpack to {_size(total)}, more than the "
                        f"{_size(max_unzipped_bytes)} limit; it was not opened")
    for member in members:
        if member.file_size > BOMB_MIN_SIZE and member.file_size > BOMB_RATIO * member.compress_size:
            raise FormError(
                f"the file looks like a zip bomb: its part {member.filename!r} would unpack from "
                f"{_size(member.compress_size)} to {_size(member.file_size)} (over {BOMB_RATIO}:1); "
                "it was not opened")


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):,.1f} MB ({n:,} bytes)"
    if n >= 1024:
        return f"{n / 1024:,.1f} KB ({n:,} bytes)"
    return f"{n:,} bytes"


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = text[:200]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


# --------------------------------------------------------------------------- XML walking

_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_MC = "{http://schemas.openxmlformats.org/markup-compatibility/2006}"
_W_TBL, _W_TR, _W_TC, _W_P = _W + "tbl", _W + "tr", _W + "tc", _W + "p"
_W_T, _W_TAB, _W_BR, _W_CR = _W + "t", _W + "tab", _W + "br", _W + "cr"
_W_NO_BREAK_HYPHEN = _W + "noBreakHyphen"
_W_VAL = _W + "val"
# Never holds visible text of the paragraph (or holds it twice, as mc:Fallback does).
_SKIP_IN_TEXT = frozenset({_W + "pPr", _W + "rPr", _W + "del", _W + "moveFrom", _W + "instrText",
                           _W + "delText", _MC + "Fallback"})


def _deep_children(parent, want: str, stop: frozenset[str] = frozenset()) -> Iterator:
    """Yield the `want` elements under parent, not looking inside them nor inside `stop` tags.

    Finds rows and cells wrapped in content controls (w:sdt) or custom XML, which
    python-docx's own row/cell lists miss.
    """
    for child in parent:
        tag = child.tag
        if tag == want:
            yield child
        elif tag in stop or not isinstance(tag, str):
            continue
        else:
            yield from _deep_children(child, want, stop)


def _paragraph_text(element, out: list[str]) -> None:
    for child in element:
        tag = child.tag
        if tag == _W_T:
            out.append(child.text or "")
        elif tag == _W_TAB:
            out.append("\t")
        elif tag in (_W_BR, _W_CR):
            out.append("\n")
        elif tag == _W_NO_BREAK_HYPHEN:
            out.append("-")
        elif tag in _SKIP_IN_TEXT or not isinstance(tag, str):
            continue
        else:
            _paragraph_text(child, out)


def _block_text(container) -> str:
    """Text of a cell (or any block container): paragraphs joined with "\\n", lines stripped."""
    lines: list[str] = []
    for p in _deep_children(container, _W_P, frozenset({_W_TBL})):
        parts: list[str] = []
        _paragraph_text(p, parts)
        lines.extend("".join(parts).split("\n"))
    text = "\n".join(line.strip() for line in lines).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def _int_attr(element, path: str, default: int) -> int:
    found = element.find(path)
    if found is None:
        return default
    try:
        return max(0, min(int(found.get(_W_VAL, default)), _MAX_SPAN))
    except (TypeError, ValueError):
        return default


class _Grid:
    """A table as rows of layout-grid slots, each slot the w:tc that covers it (or None).

    A horizontally merged cell fills all its slots; a vertically merged continuation takes
    the cell above. Cell texts are computed once per w:tc.
    """

    def __init__(self, tbl) -> None:
        self.rows: list[list] = []
        above: list = []
        for tr in _deep_children(tbl, _W_TR, frozenset({_W_TBL})):
            slots: list = [None] * _int_attr(tr, f"{_W}trPr/{_W}gridBefore", 0)
            for tc in _deep_children(tr, _W_TC, frozenset({_W_TBL})):
                span = max(1, _int_attr(tc, f"{_W}tcPr/{_W}gridSpan", 1))
                owner = tc
                vmerge = tc.find(f"{_W}tcPr/{_W}vMerge")
                if vmerge is not None and vmerge.get(_W_VAL, "continue") != "restart":
                    col = len(slots)
                    if col < len(above) and above[col] is not None:
                        owner = above[col]
                slots.extend([owner] * span)
            self.rows.append(slots)
            above = slots
        self.width = len(tbl.findall(f"{_W}tblGrid/{_W}gridCol"))
        self._texts: dict = {}

    def text(self, tc) -> str:
        key = id(tc)
        if key not in self._texts:
            self._texts[key] = (tc, _block_text(tc))  # keep tc alive so its id stays unique
        return self._texts[key][1]

    def distinct(self, row: list) -> list:
        """The row's cells left to right, each once."""
        out, seen = [], set()
        for tc in row:
            if tc is not None and id(tc) not in seen:
                seen.add(id(tc))
                out.append(tc)
        return out


# --------------------------------------------------------------------------- labels


def _norm(text: str) -> str:
    """Label key: NFKC, lower case, no (hints), no spaces, slashes, colons or asterisks."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】", "", text)
    return re.sub(r"[\s/\\|:*·•、,，.;；_\-–—]+", "", text)


def _label_keys(spec: tuple[tuple[str, str, str], ...],
                aliases: dict[str, tuple[str, ...]]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for name, zh, en in spec:
        chinese = [zh, *(a for a in aliases.get(name, ()) if not a.isascii())]
        english = [en, *(a for a in aliases.get(name, ()) if a.isascii())]
        for label in (name, *chinese, *english):
            keys[_norm(label)] = name
        for c in chinese:
            for e in english:
                keys[_norm(c + e)] = name
                keys[_norm(e + c)] = name
    return keys


_COLUMN_KEYS = _label_keys(DAILY_COLUMNS, _COLUMN_ALIASES)
_HEADER_KEYS = _label_keys(DAILY_HEADER_FIELDS, _HEADER_ALIASES)
_HEADER_WORDS = "|".join(sorted((re.escape(w) for name, zh, en in DAILY_HEADER_FIELDS
                                 for w in (zh, en, *_HEADER_ALIASES.get(name, ()))),
                                key=len, reverse=True))
# "日期：2026-11-26", "Date: …", "日期 / Date: …" in a paragraph (or a cell) of its own.
_HEADER_LINE = re.compile(
    rf"^\s*({_HEADER_WORDS})(?:\s*[/／]\s*(?:{_HEADER_WORDS}))?\s*[:：]\s*(.*?)\s*$",
    re.IGNORECASE)
_HEADER_WORD_NAMES = {_norm(w): name for name, zh, en in DAILY_HEADER_FIELDS
                      for w in (zh, en, *_HEADER_ALIASES.get(name, ()))}


def _column_mapping(grid: _Grid, row: list) -> dict[int, str] | None:
    """Slot index -> data name if this row is the visit table's header row, else None.

    A header row names the customer column and at least one other visit column, so a
    customer card with a single 客户名称 cell is not taken for a report.
    """
    mapping: dict[int, str] = {}
    for col, tc in enumerate(row):
        if tc is not None:
            name = _COLUMN_KEYS.get(_norm(grid.text(tc)))
            if name is not None:
                mapping[col] = name
    names = set(mapping.values())
    if "customer" in names and len(names) >= 2:
        return mapping
    return None


def _find_header_row(grid: _Grid) -> int | None:
    for index, row in enumerate(grid.rows):
        if _column_mapping(grid, row) is not None:
            return index
    return None


def _header_fields_in_row(grid: _Grid, row: list, found: dict[str, str | None]) -> None:
    """Take 日期/Date and 巡访人员/Visitor from a label cell and the cell to its right."""
    cells = grid.distinct(row)
    for index, tc in enumerate(cells):
        text = grid.text(tc)
        name = _HEADER_KEYS.get(_norm(text))
        if name is not None:
            value = None
            if index + 1 < len(cells):
                right = grid.text(cells[index + 1])
                if right and _norm(right) not in _HEADER_KEYS:
                    value = _without_label(right, name)
            if value is not None and found.get(name) is None:
                found[name] = value
            found.setdefault(name, None)
            continue
        _header_fields_in_line(text, found)


def _without_label(value: str, name: str) -> str | None:
    """A value typed with its own label ("日期：2026-11-26" in the value cell) loses the label."""
    match = _HEADER_LINE.match(value)
    if match and "\n" not in value and _HEADER_WORD_NAMES.get(_norm(match[1])) == name:
        return match[2] or None
    return value


def _header_fields_in_line(text: str, found: dict[str, str | None]) -> None:
    for line in text.split("\n"):
        match = _HEADER_LINE.match(line)
        if match and match[2]:
            name = _HEADER_WORD_NAMES[_norm(match[1])]
            if found.get(name) is None:
                found[name] = match[2]


def _has_header_labels(grid: _Grid) -> bool:
    return any(_norm(grid.text(tc)) in _HEADER_KEYS for row in grid.rows for tc in grid.distinct(row))


# --------------------------------------------------------------------------- reading


def _read(body) -> FormReport:
    found: dict[str, str | None] = {}
    visits: list[dict[str, str]] = []
    saw_table = False
    previous: tuple[dict[int, str], int] | None = None  # mapping and width of the last visit table
    for tbl in body.iter(_W_TBL):
        grid = _Grid(tbl)
        start = _find_header_row(grid)
        mapping: dict[int, str] | None = None
        if start is None and previous is not None and grid.width == previous[1] \
                and not _has_header_labels(grid):
            # A visit table Word split in two: the second part has no header row of its own.
            mapping, start = previous[0], -1
        header_cells: set[int] = set()
        for index, row in enumerate(grid.rows):
            if start is None or index < start:
                _header_fields_in_row(grid, row, found)
                continue
            header = _column_mapping(grid, row)
            if header is not None:  # the header row (or a repeated one)
                mapping = header
                saw_table = True
                header_cells.update(id(tc) for tc in row if tc is not None)
                continue
            if mapping is not None:
                visit = _visit(grid, row, mapping, skip=header_cells)
                if visit:
                    visits.append(visit)
        if mapping is not None:
            previous = (mapping, grid.width)
    if not saw_table:
        raise FormError("no visit table found: the document has no table whose header row names "
                        "客户名称 / Customer and the other columns of the daily report form")
    for p in _deep_children(body, _W_P, frozenset({_W_TBL})):
        parts: list[str] = []
        _paragraph_text(p, parts)
        _header_fields_in_line("".join(parts), found)
    return FormReport(report_date_text=found.get("date"), visitor_text=found.get("visitor"),
                      visits=visits)


def _visit(grid: _Grid, row: list, mapping: dict[int, str], *, skip: set[int]) -> dict[str, str]:
    """The row's non-empty cells by data name; cells under one header are joined by lines.

    Cells in `skip` (header cells merged down into the row) are not data.
    """
    values: dict[str, list[str]] = {}
    used: set[int] = set(skip)
    for col, name in mapping.items():
        if col >= len(row) or row[col] is None or id(row[col]) in used:
            continue
        used.add(id(row[col]))
        text = grid.text(row[col])
        if text:
            values.setdefault(name, []).append(text)
    ordered = sorted(values.items(), key=lambda item: _ORDER.get(item[0], 99))
    return {name: "\n".join(parts) for name, parts in ordered}


_ORDER = {name: index for index, (name, _, _) in enumerate(DAILY_COLUMNS)}
