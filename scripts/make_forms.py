"""Build the Word forms in templates/forms (spec §4, §5).

Writes templates/forms/daily_report.docx (巡访日报表 / Daily Visit Report), the blank form reps may
fill instead of writing label lines: A4 landscape, a small header table (日期 / Date,
巡访人员 / Visitor), an instruction line, and the visit table whose header row holds each column's
Chinese label above its English label, repeated on every page. The column list comes from
service.reading.wordform, which reads the filled form back.

Writes templates/forms/gift_request.docx (赠送礼品预算申请表 / Gift Budget Application), a docxtpl
template that service.documents.docx_forms fills for the gift approval mail: A4 portrait, a
two-column table of fields (Chinese label above English label, then a `{{ name }}` tag), the
approval trail table whose rows come from a `{%tr for step in trail %}` loop, and a status line.
Every Jinja tag sits whole inside one Word run, so a customer can edit the form in Word (move
rows, change labels and fonts) as long as each tag is kept or retyped in one go.

Fonts: East Asian text is set to SimSun (宋体) through w:eastAsia on rFonts – in the document
defaults, the Normal style, the table styles and every run – and the theme font references
that would otherwise win (the python-docx default theme maps East Asian text to a Japanese
font) are removed. The output is byte-for-byte reproducible (fixed zip timestamps and
document dates), so re-running the script does not change a committed file.

Run from the repository root:  .venv/bin/python scripts/make_forms.py [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import sys
import zipfile
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_CELL_VERTICAL_ALIGNMENT, WD_ROW_HEIGHT_RULE, WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from service.reading.wordform import DAILY_COLUMNS  # noqa: E402

EAST_ASIAN_FONT = "SimSun"      # 宋体; fontconfig and LibreOffice know this name, Word knows both
LATIN_FONT = "Times New Roman"
TABLE_FONT_SIZE = Pt(9)
FIXED_TIME = dt.datetime(2026, 1, 1, 0, 0, 0)

# Column widths in mm, summing to the 267 mm between the landscape A4 margins.
COLUMN_WIDTHS_MM = {
    "customer": 28, "visited_at": 24, "feedback": 32, "market": 30, "effect": 26, "handled": 30,
    "other": 22, "stock": 21, "products": 21, "tech_issue": 19, "urgent": 14,
}
EMPTY_ROWS = 5
ROW_HEIGHT = Mm(16)

INSTRUCTION_ZH = "每行填写一次巡访；客户名称与巡访时间必填，客户意见/市场行情/巡访效果/处理事项至少填一项"
INSTRUCTION_EN = ("One row per visit; customer and visit time required; "
                  "at least one of feedback/market/effect/handled")

# The gift application (赠送礼品预算申请表): (Chinese label, English label, value cell text).
# The value cell text is one Word run; service.documents.docx_forms fills the tags.
GIFT_FIELDS = [
    ("申请编号", "No.", "{{ number }}"),
    ("申请人", "Applicant", "{{ requester_name }}"),
    ("事业部", "Unit", "{{ unit_name }}"),
    ("地区", "Region", "{{ region_name }}"),
    ("客户名称", "Customer", "{{ customer }}"),
    ("礼品", "Gift", "{{ items }}"),
    ("数量", "Quantity", "{{ quantity }}"),
    ("预算金额", "Amount", "¥{{ amount }}"),
    ("事由", "Reason", "{{ reason }}"),
    ("赠送日期", "Date", "{{ planned_date }}"),
    ("申请日期", "Applied", "{{ applied_at }}"),
    ("本期预算余额", "Remaining budget", "{{ budget_remaining }}"),
]
# The approval trail: (Chinese label, English label, key of one trail entry, width in mm).
GIFT_TRAIL_COLUMNS = [
    ("步骤", "Step", "step", 22),
    ("审批人", "Approver", "approver", 30),
    ("结果", "Decision", "decision", 20),
    ("意见", "Comment", "comment", 62),
    ("时间", "Time", "time", 36),
]
GIFT_FIELD_WIDTHS_MM = [44, 126]        # 170 mm between the portrait A4 margins
GIFT_VALUE_SIZE = Pt(10.5)
GIFT_NO_TRAIL = "尚无审批记录 / No decisions yet"


# --------------------------------------------------------------------------- fonts


def set_fonts(rpr_parent) -> None:
    """Give an element's w:rPr explicit Latin and East Asian fonts (no theme fonts)."""
    rpr = _get_or_add_rpr(rpr_parent)
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    for theme_attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(theme_attr), None)
    rfonts.set(qn("w:ascii"), LATIN_FONT)
    rfonts.set(qn("w:hAnsi"), LATIN_FONT)
    rfonts.set(qn("w:cs"), LATIN_FONT)
    rfonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)
    rfonts.set(qn("w:hint"), "eastAsia")


def _get_or_add_rpr(parent):
    """The element's w:rPr, created in a schema-valid place if missing."""
    if hasattr(parent, "get_or_add_rPr"):
        return parent.get_or_add_rPr()
    rpr = parent.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        # In w:pPr, rPr comes before sectPr and pPrChange; in w:rPrDefault it is the only child.
        later = [child for child in parent if child.tag in (qn("w:sectPr"), qn("w:pPrChange"))]
        if later:
            later[0].addprevious(rpr)
        else:
            parent.append(rpr)
    return rpr


def set_document_fonts(document) -> None:
    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault"))
    set_fonts(rpr_default)
    lang = rpr_default.find(qn("w:rPr")).find(qn("w:lang"))
    if lang is None:
        lang = OxmlElement("w:lang")
        rpr_default.find(qn("w:rPr")).append(lang)
    lang.set(qn("w:eastAsia"), "zh-CN")
    # Theme East Asian font language: Japanese in python-docx's default template.
    theme_lang = document.settings.element.find(qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(qn("w:eastAsia"), "zh-CN")
    for style in document.styles:
        if style.type in (WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.CHARACTER, WD_STYLE_TYPE.TABLE):
            rpr = style.element.find(qn("w:rPr"))
            rfonts = rpr.find(qn("w:rFonts")) if rpr is not None else None
            if style.name == "Normal" or rfonts is not None:
                set_fonts(style.element)


def add_run(paragraph, text: str, *, size=None, bold: bool = False, color: RGBColor | None = None):
    run = paragraph.add_run(text)
    set_fonts(run._r)
    if size is not None:
        run.font.size = size
    if bold:
        run.bold = True
    if color is not None:
        run.font.color.rgb = color
    return run


def mark_paragraph(paragraph, size) -> None:
    """Set the paragraph mark's font, which Word uses for text typed into an empty cell."""
    ppr = paragraph._p.get_or_add_pPr()
    set_fonts(ppr)
    rpr = _get_or_add_rpr(ppr)
    for tag in ("w:sz", "w:szCs"):
        element = OxmlElement(tag)
        element.set(qn("w:val"), str(int(size.pt * 2)))
        rpr.append(element)


# --------------------------------------------------------------------------- tables


def set_table_width(table, widths_mm: list[float]) -> None:
    """Fixed layout, with widths on the grid (LibreOffice) and every cell (Word)."""
    table.autofit = False
    tbl_pr = table._tbl.tblPr
    tbl_w = tbl_pr.find(qn("w:tblW"))
    if tbl_w is None:
        tbl_w = OxmlElement("w:tblW")
        tbl_pr.append(tbl_w)
    tbl_w.set(qn("w:w"), str(int(Mm(sum(widths_mm)).twips)))
    tbl_w.set(qn("w:type"), "dxa")
    for column, width in zip(table.columns, widths_mm):
        column.width = Mm(width)
    for row in table.rows:
        for cell, width in zip(row.cells, widths_mm):
            cell.width = Mm(width)


def repeat_as_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    for tag in ("w:cantSplit", "w:tblHeader"):
        element = OxmlElement(tag)
        tr_pr.append(element)


def shade(cell, fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tc_pr.insert_element_before(shd, "w:noWrap", "w:tcMar", "w:textDirection", "w:tcFitText",
                                "w:vAlign", "w:hideMark", "w:headers", "w:cellIns", "w:cellDel",
                                "w:cellMerge", "w:tcPrChange")


def cell_lines(cell, lines: list[tuple[str, dict]], style) -> None:
    """Fill a cell with one paragraph per (text, run options)."""
    first = cell.paragraphs[0]
    for index, (text, options) in enumerate(lines):
        paragraph = first if index == 0 else cell.add_paragraph()
        paragraph.style = style
        paragraph.alignment = options.pop("align", None)
        add_run(paragraph, text, size=TABLE_FONT_SIZE, **options)


# --------------------------------------------------------------------------- the form


def new_form(*, title: str, subject: str, keywords: str, comments: str):
    """A document with the East Asian fonts, the Normal and "Form Table Text" styles, and fixed
    core properties; returns (document, table_text style)."""
    document = Document()
    set_document_fonts(document)

    normal = document.styles["Normal"]
    normal.font.size = Pt(10.5)
    normal.paragraph_format.space_before = Pt(0)
    normal.paragraph_format.space_after = Pt(0)
    normal.paragraph_format.line_spacing = 1.0

    table_text = document.styles.add_style("Form Table Text", WD_STYLE_TYPE.PARAGRAPH)
    table_text.base_style = normal
    table_text.quick_style = True
    table_text.font.size = TABLE_FONT_SIZE
    set_fonts(table_text.element)
    table_text.paragraph_format.space_before = Pt(0)
    table_text.paragraph_format.space_after = Pt(0)
    table_text.paragraph_format.line_spacing = 1.0

    core = document.core_properties
    core.title = title
    core.subject = subject
    core.author = core.last_modified_by = "visitflow"
    core.keywords = keywords
    core.comments = comments
    core.revision = 1
    core.created = core.modified = FIXED_TIME
    return document, table_text


def add_title(document, chinese: str, english: str) -> None:
    title = document.paragraphs[0] if document.paragraphs else document.add_paragraph()
    title.alignment = WD_ALIGN_PARAGRAPH.CENTER
    add_run(title, chinese, size=Pt(16), bold=True)
    subtitle = document.add_paragraph()
    subtitle.alignment = WD_ALIGN_PARAGRAPH.CENTER
    subtitle.paragraph_format.space_after = Pt(6)
    add_run(subtitle, english, size=Pt(11))


def finish_form(document) -> bytes:
    """End the body with a small paragraph, drop the stale thumbnail, save reproducibly."""
    # Word requires a paragraph after a final table; keep it small.
    tail = document.add_paragraph()
    mark_paragraph(tail, Pt(2))

    # python-docx's template carries a thumbnail of some other page; a stale preview misleads.
    package_rels = document.part.package.rels
    for r_id, rel in list(package_rels.items()):
        if rel.reltype.endswith("/metadata/thumbnail"):
            del package_rels[r_id]

    raw = io.BytesIO()
    document.save(raw)
    return reproducible_zip(raw.getvalue())


def build_daily_report() -> bytes:
    document, table_text = new_form(
        title="巡访日报表 Daily Visit Report",
        subject="Daily visit report form (visitflow)",
        keywords="visitflow daily_report",
        comments="Fill one row per visit and send this file attached to the daily report mail.",
    )

    section = document.sections[0]
    section.orientation = WD_ORIENT.LANDSCAPE
    section.page_width, section.page_height = Mm(297), Mm(210)
    section.left_margin = section.right_margin = Mm(15)
    section.top_margin = section.bottom_margin = Mm(12)
    section.header_distance = section.footer_distance = Mm(8)

    add_title(document, "巡访日报表", "Daily Visit Report")

    # Header fields: label cell, then the value cell to its right.
    header = document.add_table(rows=2, cols=2)
    header.style = document.styles["Table Grid"]
    header.alignment = WD_TABLE_ALIGNMENT.LEFT
    gray = RGBColor(0x80, 0x80, 0x80)
    for row, (label, hint) in zip(header.rows, (("日期 / Date", "(YYYY-MM-DD)"),
                                                 ("巡访人员 / Visitor", "(姓名 / name)"))):
        row.height = Mm(8)
        row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
        label_cell, value_cell = row.cells
        cell_lines(label_cell, [(label, {"bold": True}), (hint, {"color": gray})], table_text)
        shade(label_cell, "F2F2F2")
        value_cell.paragraphs[0].style = table_text
        mark_paragraph(value_cell.paragraphs[0], Pt(10.5))
        for cell in row.cells:
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    set_table_width(header, [40, 70])

    instruction = document.add_paragraph()
    instruction.paragraph_format.space_before = Pt(6)
    add_run(instruction, INSTRUCTION_ZH, size=TABLE_FONT_SIZE)
    english = document.add_paragraph()
    english.paragraph_format.space_after = Pt(4)
    add_run(english, INSTRUCTION_EN, size=TABLE_FONT_SIZE, color=gray)

    # The visit table.
    visits = document.add_table(rows=1 + EMPTY_ROWS, cols=len(DAILY_COLUMNS))
    visits.style = document.styles["Table Grid"]
    visits.alignment = WD_TABLE_ALIGNMENT.CENTER
    head = visits.rows[0]
    repeat_as_header(head)
    for cell, (_name, zh, en) in zip(head.cells, DAILY_COLUMNS):
        cell_lines(cell, [(zh, {"bold": True, "align": WD_ALIGN_PARAGRAPH.CENTER}),
                          (en, {"align": WD_ALIGN_PARAGRAPH.CENTER})], table_text)
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        shade(cell, "D9D9D9")
    for row in visits.rows[1:]:
        row.height = ROW_HEIGHT
        row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
        for cell in row.cells:
            paragraph = cell.paragraphs[0]
            paragraph.style = table_text
            mark_paragraph(paragraph, TABLE_FONT_SIZE)
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
    set_table_width(visits, [COLUMN_WIDTHS_MM[name] for name, _, _ in DAILY_COLUMNS])

    return finish_form(document)


def build_gift_request() -> bytes:
    """The docxtpl template of the gift budget application (filled by service.documents.docx_forms)."""
    document, table_text = new_form(
        title="赠送礼品预算申请表 Gift Budget Application",
        subject="Gift budget application form (visitflow)",
        keywords="visitflow gift_request",
        comments=("Filled by visitflow for each gift request. Keep every tag in double braces "
                  "or braces with percent signs whole when editing."),
    )

    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(20)
    section.top_margin = section.bottom_margin = Mm(18)
    section.header_distance = section.footer_distance = Mm(10)

    add_title(document, "赠送礼品预算申请表", "Gift Budget Application")
    gray = RGBColor(0x80, 0x80, 0x80)

    # The fields: label cell (Chinese above English), value cell holding one tag in one run.
    fields = document.add_table(rows=len(GIFT_FIELDS), cols=2)
    fields.style = document.styles["Table Grid"]
    fields.alignment = WD_TABLE_ALIGNMENT.CENTER
    for row, (zh, en, tag) in zip(fields.rows, GIFT_FIELDS):
        row.height = Mm(9)
        row.height_rule = WD_ROW_HEIGHT_RULE.AT_LEAST
        label_cell, value_cell = row.cells
        cell_lines(label_cell, [(zh, {"bold": True}), (en, {"color": gray})], table_text)
        shade(label_cell, "F2F2F2")
        paragraph = value_cell.paragraphs[0]
        paragraph.style = table_text
        add_run(paragraph, tag, size=GIFT_VALUE_SIZE)
        for cell in row.cells:
            cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
    set_table_width(fields, GIFT_FIELD_WIDTHS_MM)

    heading = document.add_paragraph()
    heading.paragraph_format.space_before = Pt(12)
    heading.paragraph_format.space_after = Pt(4)
    heading.paragraph_format.keep_with_next = True
    add_run(heading, "审批记录", size=Pt(12), bold=True)
    add_run(heading, " / Approval trail", size=Pt(11))

    # The trail: header row, then docxtpl's row loop – the {%tr %} rows are removed when
    # rendering and the middle row repeats once per entry of `trail`.
    trail = document.add_table(rows=4, cols=len(GIFT_TRAIL_COLUMNS))
    trail.style = document.styles["Table Grid"]
    trail.alignment = WD_TABLE_ALIGNMENT.CENTER
    head, loop_start, body, loop_end = trail.rows
    repeat_as_header(head)
    for cell, (zh, en, _key, _width) in zip(head.cells, GIFT_TRAIL_COLUMNS):
        cell_lines(cell, [(zh, {"bold": True, "align": WD_ALIGN_PARAGRAPH.CENTER}),
                          (en, {"align": WD_ALIGN_PARAGRAPH.CENTER})], table_text)
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.CENTER
        shade(cell, "D9D9D9")
    for row, first in ((loop_start, "{%tr for step in trail %}"), (loop_end, "{%tr endfor %}")):
        row.cells[0].paragraphs[0].style = table_text
        add_run(row.cells[0].paragraphs[0], first, size=TABLE_FONT_SIZE, color=gray)
        for cell in row.cells[1:]:
            cell.paragraphs[0].style = table_text
    for cell, (_zh, _en, key, _width) in zip(body.cells, GIFT_TRAIL_COLUMNS):
        paragraph = cell.paragraphs[0]
        paragraph.style = table_text
        add_run(paragraph, f"{{{{ step.{key} }}}}", size=TABLE_FONT_SIZE)
        cell.vertical_alignment = WD_CELL_VERTICAL_ALIGNMENT.TOP
    set_table_width(trail, [width for *_, width in GIFT_TRAIL_COLUMNS])

    # Shown only while nobody has decided yet ({%p %}: the tag paragraphs are removed).
    for text, color in (("{%p if not trail %}", gray), (GIFT_NO_TRAIL, None), ("{%p endif %}", gray)):
        paragraph = document.add_paragraph()
        add_run(paragraph, text, size=TABLE_FONT_SIZE, color=color)

    status = document.add_paragraph()
    status.paragraph_format.space_before = Pt(10)
    add_run(status, "状态 / Status：", bold=True)
    add_run(status, "{{ status }}")

    return finish_form(document)


FORMS = {"daily_report.docx": build_daily_report, "gift_request.docx": build_gift_request}


def reproducible_zip(payload: bytes) -> bytes:
    """Rewrite the zip with fixed timestamps so the same input gives the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(payload)) as source, \
            zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            target.writestr(fixed, source.read(info))
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "templates" / "forms",
                        help="folder to write the forms to (default: templates/forms)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in FORMS.items():
        target = args.out / name
        target.write_bytes(build())
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
