"""Write a plain .xlsx (Office Open XML SpreadsheetML) row by row, straight into its zip file.

Why not a library: the company's month is 100,000 visits of 24 fields, and the spec (§7)
gives every unit's report, the summary, the charts and the .xlsx files 15 s together on two
CPUs. Measured on the project's machine for those 100,000 rows (CPU time, issue 11): this
writer 2.3 s, XlsxWriter 3.3.1 ``constant_memory`` 13.3 s, openpyxl ``write_only`` 20.4 s –
the libraries spend microseconds per cell in Python objects, and a run writes every row twice
(the unit's workbook and the company's), so either library alone would take the whole budget.
This writer formats each row as one string (inline strings, no shared-string table to hold in
memory) and streams it through zlib, memory flat; a unit's rows are formatted once and copied
into the company's workbook (``write_templates``).

It writes only what the report needs: sheets of header + rows, a bold frozen header with an
autofilter, column widths, dates and times as Excel serial numbers with a date format, numbers,
booleans, text. Text loses the characters XML 1.0 cannot hold and is cut at Excel's
32,767-character cell limit. openpyxl reads the result back in the tests; Excel and
LibreOffice open it.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

__all__ = ["SheetWriter", "XlsxWriter", "column_letter", "read_templates", "templates", "write_templates"]

CELL_LIMIT = 32767                       # Excel's longest cell text
# Bidirectional formatting characters a rep may paste (or plant): the embeddings and
# overrides U+202A–202E, the isolates U+2066–2069, and the marks LRM/RLM/ALM. Word, LibreOffice
# and Excel obey them, so "退货 \u202e12\u202c 件" would show as 退货 21 件; the reports' text is
# Chinese and English (left to right), where they have no honest use. Removed here for the
# workbook and by service.monthly.document._clean for the Word report.
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_NOT_XML = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff{BIDI_CONTROLS}]")
_SHEET_NAME_BAD = re.compile(r"[\[\]:*?/\\]")
_EPOCH_ORDINAL = date(1899, 12, 30).toordinal()   # Excel's day 0 in the 1900 date system
_CHUNK = 512                             # rows per write to the zip stream

# Cell formats (index into cellXfs of styles.xml): plain, header, date, date-time, decimal.
STYLE_PLAIN, STYLE_HEADER, STYLE_DATE, STYLE_DATETIME, STYLE_DECIMAL = range(5)

_NS = ('xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"')

_STYLES = """<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">
<numFmts count="2"><numFmt numFmtId="164" formatCode="yyyy\\-mm\\-dd"/><numFmt numFmtId="165" formatCode="yyyy\\-mm\\-dd\\ hh:mm"/></numFmts>
<fonts count="2"><font><sz val="11"/><name val="{font}"/><charset val="134"/><family val="2"/></font><font><b/><sz val="11"/><name val="{font}"/><charset val="134"/><family val="2"/></font></fonts>
<fills count="3"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill><fill><patternFill patternType="solid"><fgColor rgb="FFD9E1F2"/><bgColor indexed="64"/></patternFill></fill></fills>
<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="5"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/><xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/><xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""


def column_letter(index: int) -> str:
    """Return the letters of a 0-based column index: 0 → A, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def clean_text(text: str) -> str:
    """Return text without the characters XML 1.0 cannot hold and without bidirectional
    controls (BIDI_CONTROLS), cut to Excel's cell limit."""
    # isprintable() is false for every control character, surrogate and non-character (and for
    # \n and \t, which the slower pattern then keeps): most text skips the pattern.
    if not text.isprintable():
        text = _NOT_XML.sub("", text)
    if len(text) > CELL_LIMIT:
        text = text[:CELL_LIMIT - 1] + "…"
    return text


def _text(ref: str, value: str) -> str:
    value = clean_text(value)
    if "&" in value or "<" in value or ">" in value:
        value = escape(value)
    return f'<c r="{ref}" t="inlineStr"><is><t xml:space="preserve">{value}</t></is></c>'


def _datetime(ref: str, value: datetime) -> str:
    # Full double precision (repr): with 8 decimals 09:30 came out as 09:29:59.9997, which
    # LibreOffice shows as 09:29 (it cuts, Excel rounds).
    serial = (value.toordinal() - _EPOCH_ORDINAL
              + (value.hour * 3600 + value.minute * 60 + value.second + value.microsecond / 1e6) / 86400)
    return f'<c r="{ref}" s="{STYLE_DATETIME}"><v>{serial!r}</v></c>'


# How each type of value becomes a cell, looked up by exact type (the common cases are
# plain str, int, date and datetime; anything else goes through _other).
_CELLS = {
    str: _text,
    bool: lambda ref, value: f'<c r="{ref}" t="b"><v>{int(value)}</v></c>',
    int: lambda ref, value: f'<c r="{ref}"><v>{value}</v></c>',
    float: lambda ref, value: f'<c r="{ref}"><v>{value!r}</v></c>',
    Decimal: lambda ref, value: f'<c r="{ref}" s="{STYLE_DECIMAL}"><v>{value}</v></c>',
    datetime: _datetime,
    date: lambda ref, value: f'<c r="{ref}" s="{STYLE_DATE}"><v>{value.toordinal() - _EPOCH_ORDINAL}</v></c>',
    time: lambda ref, value: _text(ref, value.isoformat("minutes")),
    timedelta: lambda ref, value: f'<c r="{ref}"><v>{value.total_seconds() / 86400!r}</v></c>',
}


def _other(ref: str, value) -> str:
    """Return the cell of a value of a subclass (str, int, datetime …) or of any other type, as text."""
    for kind, cell in _CELLS.items():
        if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
            return cell(ref, value)
    return _text(ref, str(value))


class SheetWriter:
    """Stream one worksheet: the header row, then rows as they come.

    A row is first formatted as a *template*, UTF-8 bytes with its row number left as ``\x00``
    (a character no cell text can hold): a template formatted once can be written into more
    than one sheet – a unit's visits are rows of its own workbook and of the company's.
    """

    def __init__(self, stream, headers: Sequence[str], row_count: int, widths: Sequence[float] | None):
        self._stream = stream
        self._letters = [column_letter(i) for i in range(len(headers))]
        self._refs = [f"{letter}\x00" for letter in self._letters]
        self._row = 1
        last = f"{self._letters[-1]}{row_count + 1}"
        cols = "".join(f'<col min="{i + 1}" max="{i + 1}" width="{w:g}" customWidth="1"/>'
                       for i, w in enumerate(widths or ()))
        head = "".join(f'<c r="{letter}1" t="inlineStr" s="{STYLE_HEADER}"><is><t>{escape(clean_text(h))}</t></is></c>'
                       for letter, h in zip(self._letters, headers))
        self._stream.write((
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<worksheet {_NS}>'
            f'<dimension ref="A1:{last}"/>'
            '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" '
            'state="frozen"/><selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            '<sheetFormatPr defaultRowHeight="15"/>'
            + (f"<cols>{cols}</cols>" if cols else "")
            + f'<sheetData><row r="1">{head}</row>').encode("utf-8"))
        self._autofilter = f"A1:{last}"
        self._pending: list[bytes] = []

    @property
    def rows(self) -> int:
        """Return the rows written so far, the header not counted."""
        return self._row - 1

    def template(self, values: Sequence) -> bytes:
        """Return one row (values in the header's order; None and '' leave the cell empty) as a template."""
        return _template(self._refs, values)

    def append(self, values: Sequence) -> None:
        """Add one row (values in the header's order; None and '' leave the cell empty)."""
        self.append_template(self.template(values))

    def append_template(self, template: bytes) -> None:
        """Add one row formatted by ``template()`` (of a sheet with the same columns)."""
        self._row += 1
        self._pending.append(template.replace(b"\x00", b"%d" % self._row))
        if len(self._pending) >= _CHUNK:
            self._flush()

    def _flush(self) -> None:
        self._stream.write(b"".join(self._pending))
        self._pending.clear()

    def close(self) -> None:
        self._flush()
        self._stream.write(f'</sheetData><autoFilter ref="{self._autofilter}"/>'
                           '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>'
                           '</worksheet>'.encode())
        self._stream.close()


def _template(refs: Sequence[str], values: Sequence) -> bytes:
    cells = "".join([_CELLS.get(type(value), _other)(ref, value)
                     for ref, value in zip(refs, values) if value is not None and value != ""])
    return f'<row r="\x00">{cells}</row>'.encode()


def templates(rows: Iterable[Sequence], columns: int) -> Iterator[bytes]:
    """Yield each row formatted as a template for a sheet of ``columns`` columns (see SheetWriter)."""
    refs = [f"{column_letter(i)}\x00" for i in range(columns)]
    for values in rows:
        yield _template(refs, values)


def write_templates(path: Path, templates: Iterable[bytes]) -> int:
    """Write row templates to a spool file (each ended by \\x01, which no cell holds either); return how many."""
    count = 0
    with open(path, "wb") as spool:
        batch = []
        for template in templates:
            batch.append(template)
            if len(batch) >= _CHUNK:
                spool.write(b"\x01".join(batch) + b"\x01")
                count += len(batch)
                batch.clear()
        if batch:
            spool.write(b"\x01".join(batch) + b"\x01")
            count += len(batch)
    return count


def read_templates(path: Path) -> Iterator[bytes]:
    """Yield the row templates of a spool file written by ``write_templates``."""
    with open(path, "rb") as spool:
        rest = b""
        while chunk := spool.read(1 << 20):
            *whole, rest = (rest + chunk).split(b"\x01")
            yield from whole
        if rest:
            raise ValueError(f"{path}: the spool ends inside a row")


class XlsxWriter:
    """Write a workbook to ``path``: ``sheet()`` each sheet in turn, then ``close()``.

    ``font`` names the cells' font (a CJK font so Chinese is not left to substitution);
    ``title`` goes into the document properties.
    """

    def __init__(self, path: Path, *, title: str = "", font: str = "等线", compresslevel: int = 1):
        self._zip = zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
        self._sheets: list[tuple[str, str]] = []   # (name, autofilter range)
        self._title = title
        self._font = font
        self._open: SheetWriter | None = None

    def sheet(self, name: str, headers: Sequence[str], rows: Iterable[Sequence] | Sequence[Sequence], *,
              widths: Sequence[float] | None = None, row_count: int | None = None,
              spool: Path | None = None, spooled: Sequence[Path] = ()) -> int:
        """Write a whole sheet (rows: a sequence, or an iterable with ``row_count``); return its rows.

        ``spool`` also keeps the rows' templates in that file; ``spooled`` files' rows (kept so
        by sheets with the same columns) follow the rows, and ``row_count`` counts them too.
        """
        if row_count is None:
            rows = rows if isinstance(rows, Sequence) else list(rows)
            row_count = len(rows)
        name = self._sheet_name(name)
        number = len(self._sheets) + 1
        stream = self._zip.open(f"xl/worksheets/sheet{number}.xml", "w", force_zip64=True)
        writer = SheetWriter(stream, headers, row_count, widths)

        def formatted():
            for values in rows:
                template = writer.template(values)
                writer.append_template(template)
                yield template

        if spool is not None:
            write_templates(spool, formatted())
        else:
            for values in rows:
                writer.append(values)
        for path in spooled:
            for template in read_templates(path):
                writer.append_template(template)
        written = writer.rows
        if written != row_count:
            raise ValueError(f"sheet {name}: {written} rows written, {row_count} announced")
        writer.close()
        self._sheets.append((name, writer._autofilter))
        return written

    def _sheet_name(self, name: str) -> str:
        """Return a name Excel accepts: no []:*?/\\, at most 31 characters, unique."""
        base = _SHEET_NAME_BAD.sub("_", name).strip("'")[:31] or "Sheet"
        taken = {existing for existing, _ in self._sheets}
        candidate, n = base, 2
        while candidate in taken:
            suffix = f" ({n})"
            candidate, n = base[:31 - len(suffix)] + suffix, n + 1
        return candidate

    def close(self) -> None:
        """Write the workbook's parts and finish the zip file."""
        if not self._sheets:
            raise ValueError("a workbook needs at least one sheet")
        z = self._zip
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
            for i in range(1, len(self._sheets) + 1))
        z.writestr("[Content_Types].xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
            '<Override PartName="/xl/styles.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/>'
            '<Override PartName="/docProps/core.xml" '
            'ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>'
            '<Override PartName="/docProps/app.xml" '
            'ContentType="application/vnd.openxmlformats-officedocument.extended-properties+xml"/>'
            f'{overrides}</Types>'))
        z.writestr("_rels/.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'officeDocument" Target="xl/workbook.xml"/>'
            '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/'
            'core-properties" Target="docProps/core.xml"/>'
            '<Relationship Id="rId3" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            'extended-properties" Target="docProps/app.xml"/></Relationships>'))
        z.writestr("docProps/core.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
            'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">'
            f'<dc:title>{escape(clean_text(self._title))}</dc:title><dc:creator>visitflow</dc:creator>'
            '</cp:coreProperties>'))
        z.writestr("docProps/app.xml", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties">'
            '<Application>visitflow</Application></Properties>'))
        sheets = "".join(f'<sheet name={quoteattr(name)} sheetId="{i}" r:id="rId{i}"/>'
                         for i, (name, _) in enumerate(self._sheets, 1))
        # Excel keeps each sheet's autofilter range as this hidden name; without it some
        # versions show the filter buttons but do not filter.
        names = "".join(
            f'<definedName name="_xlnm._FilterDatabase" localSheetId="{i}" hidden="1">'
            f"{escape(_quoted_sheet(name))}!{_absolute(ref)}</definedName>"
            for i, (name, ref) in enumerate(self._sheets))
        z.writestr("xl/workbook.xml", (
            f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<workbook {_NS}>'
            '<bookViews><workbookView/></bookViews>'
            f'<sheets>{sheets}</sheets><definedNames>{names}</definedNames></workbook>'))
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'relationships/worksheet" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(self._sheets) + 1))
        styles_id = len(self._sheets) + 1
        z.writestr("xl/_rels/workbook.xml.rels", (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">{rels}'
            f'<Relationship Id="rId{styles_id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
            'relationships/styles" Target="styles.xml"/></Relationships>'))
        z.writestr("xl/styles.xml", _STYLES.replace("{font}", escape(self._font)))
        z.close()

    def abort(self) -> None:
        """Close the zip file without finishing the workbook (after an error)."""
        self._zip.close()


def _quoted_sheet(name: str) -> str:
    return "'" + name.replace("'", "''") + "'"


def _absolute(ref: str) -> str:
    """Return A1:U2001 as $A$1:$U$2001."""
    return ":".join(re.sub(r"([A-Z]+)(\d+)", r"$\1$\2", part) for part in ref.split(":"))
