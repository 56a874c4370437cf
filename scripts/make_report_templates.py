"""Build the Word templates of the monthly visit report (每月巡访情况报告书, spec §5, Article 10).

Writes templates/reports/monthly_report.docx (Chinese) and monthly_report.en.docx (English):
docxtpl templates that service.monthly.document fills. The template, not Python, decides the
layout – headings, sentences, table columns, fonts, page set-up: a manager may restyle either
file in Word (fonts, colours, spacing, column widths, the order of sections) and the next
report keeps it, as long as every tag in double braces or braces with percent signs is kept
or retyped whole. What the tags may use is listed in service/monthly/document.py.

Layout: A4 portrait, 25 mm side margins (160 mm of text: the charts are that wide), a page
header with the unit and month, a footer with 第 X 页 / 共 Y 页 (Page X of Y). The first page
holds the title and the key figures; then one numbered Heading 1 per section of the issue
(discipline, visits, tier coverage with the overdue list, plan, feedback, market, matters
handled, technical issues, urgent reports, gifts, designated-visitor violations, unmatched
names). Tables use Table Grid with a shaded header row repeated on every page; their body
rows come from docxtpl row loops ({%tr for %}); a section without rows says so (本月无…).
Long free text is grouped by customer in the "Group Heading" and "Entry" styles.

Fonts: every style (Normal, Title, Subtitle, Heading 1–3, Table Grid, and this file's own
styles) names its East Asian font with w:eastAsia – Noto Sans CJK SC, which LibreOffice finds
through fontconfig – and the theme font references that would otherwise win are removed.
The font table lists Microsoft YaHei as its alternative name and GB2312 as its character set,
so Word on a machine without Noto picks a Chinese font instead of a Japanese one. The output
is byte-for-byte reproducible, so re-running the script does not change a committed file.

Run from the repository root:  .venv/bin/python scripts/make_report_templates.py [--out DIR]
"""

from __future__ import annotations

import argparse
import io
import sys
from pathlib import Path

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

REPO = Path(__file__).resolve().parents[1]
# The Word forms' builder beside this script: the same fixed time and reproducible zip.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_forms import FIXED_TIME, reproducible_zip, set_table_width  # noqa: E402
EAST_ASIAN_FONT = "Noto Sans CJK SC"
EAST_ASIAN_ALT = "Microsoft YaHei"     # what Word substitutes when Noto is missing (微软雅黑)
LATIN_FONT = "Arial"
TEXT_WIDTH_MM = 160
GRAY = RGBColor(0x70, 0x70, 0x70)
HEADER_FILL = "D9E1F2"
HEADING_COLOR = RGBColor(0x1F, 0x3A, 0x68)
TEMPLATES = {"zh-CN": "monthly_report.docx", "en": "monthly_report.en.docx"}


def pick(lang: str, zh: str, en: str) -> str:
    return zh if lang == "zh-CN" else en


# --------------------------------------------------------------------------- fonts and styles


def set_fonts(element) -> None:
    """Give a style's w:rPr explicit Latin and East Asian fonts (no theme fonts)."""
    rpr = element.get_or_add_rPr()
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    _explicit_fonts(rfonts)
    rfonts.set(qn("w:hint"), "eastAsia")


def _explicit_fonts(rfonts) -> None:
    """Replace a w:rFonts element's theme fonts with our Latin and East Asian fonts."""
    for theme_attr in ("w:asciiTheme", "w:hAnsiTheme", "w:eastAsiaTheme", "w:cstheme"):
        rfonts.attrib.pop(qn(theme_attr), None)
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        rfonts.set(qn(attr), LATIN_FONT)
    rfonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)


def style_font(style, *, size: float | None = None, bold: bool | None = None,
               color: RGBColor | None = None, italic: bool | None = None) -> None:
    set_fonts(style.element)
    if size is not None:
        style.font.size = Pt(size)
    if bold is not None:
        style.font.bold = bold
    if italic is not None:
        style.font.italic = italic
    if color is not None:
        style.font.color.rgb = color
        style.font.color.theme_color = None


def set_document_defaults(document, lang: str) -> None:
    """Set the fonts of the document defaults and language, and remove theme fonts everywhere."""
    defaults = document.styles.element.find(qn("w:docDefaults"))
    rpr_default = defaults.find(qn("w:rPrDefault"))
    rpr = rpr_default.find(qn("w:rPr"))
    if rpr is None:
        rpr = OxmlElement("w:rPr")
        rpr_default.append(rpr)
    rfonts = rpr.find(qn("w:rFonts"))
    if rfonts is None:
        rfonts = OxmlElement("w:rFonts")
        rpr.insert(0, rfonts)
    rfonts.attrib.clear()
    for attr in ("w:ascii", "w:hAnsi", "w:cs"):
        rfonts.set(qn(attr), LATIN_FONT)
    rfonts.set(qn("w:eastAsia"), EAST_ASIAN_FONT)
    lang_el = rpr.find(qn("w:lang"))
    if lang_el is None:
        lang_el = OxmlElement("w:lang")
        rpr.append(lang_el)
    lang_el.set(qn("w:val"), "zh-CN" if lang == "zh-CN" else "en-US")
    lang_el.set(qn("w:eastAsia"), "zh-CN")
    theme_lang = document.settings.element.find(qn("w:themeFontLang"))
    if theme_lang is not None:
        theme_lang.set(qn("w:eastAsia"), "zh-CN")


def add_font_table_entry(document) -> None:
    """Describe the East Asian font in word/fontTable.xml: Chinese charset, Word's alternative."""
    for rel in document.part.rels.values():
        if rel.reltype.endswith("/fontTable"):
            part = rel.target_part
            break
    else:
        return
    from lxml import etree

    root = etree.fromstring(part.blob)
    for font in root.findall(qn("w:font")):
        if font.get(qn("w:name")) == EAST_ASIAN_FONT:
            root.remove(font)
    font = etree.SubElement(root, qn("w:font"))
    font.set(qn("w:name"), EAST_ASIAN_FONT)
    for tag, value in (("w:altName", EAST_ASIAN_ALT), ("w:panose1", "020B0500000000000000"),
                       ("w:charset", "86"), ("w:family", "swiss"), ("w:pitch", "variable")):
        child = etree.SubElement(font, qn(tag))
        child.set(qn("w:val"), value)
    part._blob = etree.tostring(root, xml_declaration=True, encoding="UTF-8", standalone=True)


def build_styles(document) -> None:
    styles = document.styles
    normal = styles["Normal"]
    style_font(normal, size=10.5)
    pf = normal.paragraph_format
    pf.space_before, pf.space_after, pf.line_spacing = Pt(0), Pt(4), 1.15

    for name, size, before, after in (("Heading 1", 14, 16, 6), ("Heading 2", 12, 10, 4), ("Heading 3", 11, 8, 3)):
        style = styles[name]
        style_font(style, size=size, bold=True, color=HEADING_COLOR)
        style.paragraph_format.space_before = Pt(before)
        style.paragraph_format.space_after = Pt(after)
        style.paragraph_format.keep_with_next = True
    title = styles["Title"]
    style_font(title, size=24, bold=True, color=HEADING_COLOR)
    title.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    title.paragraph_format.space_before = Pt(24)
    title.paragraph_format.space_after = Pt(6)
    # The default template draws a rule under Title; a centred title reads better without it.
    ppr = title.element.find(qn("w:pPr"))
    if ppr is not None and ppr.find(qn("w:pBdr")) is not None:
        ppr.remove(ppr.find(qn("w:pBdr")))
    subtitle = styles["Subtitle"]
    style_font(subtitle, size=14, bold=False, italic=False, color=GRAY)
    subtitle.paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    subtitle.paragraph_format.space_after = Pt(12)

    def paragraph_style(name, *, size, bold=None, italic=None, color=None, before=0, after=0,
                        indent=None, keep=False):
        style = styles.add_style(name, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = normal
        style.quick_style = True
        style_font(style, size=size, bold=bold, italic=italic, color=color)
        f = style.paragraph_format
        f.space_before, f.space_after, f.line_spacing = Pt(before), Pt(after), 1.0
        if indent is not None:
            f.left_indent = Mm(indent)
        f.keep_with_next = keep
        return style

    paragraph_style("Table Text", size=9)
    paragraph_style("Table Head", size=9, bold=True)
    paragraph_style("Group Heading", size=10.5, bold=True, before=6, after=2, keep=True)
    paragraph_style("Entry", size=9.5, after=2, indent=5)
    paragraph_style("Note", size=9, italic=True, color=GRAY, before=2, after=4)
    paragraph_style("Figure", size=9, before=4, after=4).paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph_style("Meta", size=9, color=GRAY, after=2).paragraph_format.alignment = WD_ALIGN_PARAGRAPH.CENTER
    paragraph_style("Tag", size=8, color=GRAY)
    paragraph_style("Notice", size=11, bold=True, before=12, after=6).paragraph_format.alignment = \
        WD_ALIGN_PARAGRAPH.CENTER
    for name in ("Header", "Footer"):
        style_font(styles[name], size=8, color=GRAY)

    # Every other style gets ours too (Table Grid, list styles, …), and so does every font a
    # table style sets for its first row or column (w:tblStylePr), where theme fonts hide.
    for style in styles:
        if style.type in (WD_STYLE_TYPE.PARAGRAPH, WD_STYLE_TYPE.CHARACTER, WD_STYLE_TYPE.TABLE):
            set_fonts(style.element)
        for rfonts in style.element.iter(qn("w:rFonts")):
            _explicit_fonts(rfonts)


# --------------------------------------------------------------------------- building blocks


class Builder:
    """Append headings, paragraphs, tables and tags to one document."""

    def __init__(self, document, lang: str):
        self.doc = document
        self.lang = lang

    def t(self, zh: str, en: str) -> str:
        return pick(self.lang, zh, en)

    def para(self, *runs: str | tuple[str, dict], style: str = "Normal", align=None):
        paragraph = self.doc.add_paragraph(style=style)
        if align is not None:
            paragraph.alignment = align
        for run in runs:
            text, options = (run, {}) if isinstance(run, str) else run
            r = paragraph.add_run(text)
            if options.get("bold"):
                r.bold = True
            if options.get("color"):
                r.font.color.rgb = options["color"]
        return paragraph

    def tag(self, text: str) -> None:
        """A paragraph holding only a {%p %} tag (docxtpl removes the paragraph, keeps the tag)."""
        self.para(text, style="Tag")

    def heading(self, zh: str, en: str, level: int = 1) -> None:
        self.doc.add_heading(self.t(zh, en), level=level)

    def note(self, zh: str, en: str) -> None:
        self.para(self.t(zh, en), style="Note")

    def when(self, condition: str, zh: str, en: str, style: str = "Note") -> None:
        """A paragraph shown only when the condition holds."""
        self.tag(f"{{%p if {condition} %}}")
        self.para(self.t(zh, en), style=style)
        self.tag("{%p endif %}")

    def table(self, columns: list[tuple[str, str, str, float, str]], loop: str) -> None:
        """A table: a shaded header row, then one row per item of ``loop`` ("r in x.rows").

        columns: (Chinese header, English header, cell text with tags, width in mm, align l|c|r).
        """
        table = self.doc.add_table(rows=4, cols=len(columns))
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        head, start, body, end = table.rows
        _repeat_header(head)
        aligns = {"l": WD_ALIGN_PARAGRAPH.LEFT, "c": WD_ALIGN_PARAGRAPH.CENTER, "r": WD_ALIGN_PARAGRAPH.RIGHT}
        for cell, (zh, en, text, _w, align) in zip(head.cells, columns):
            paragraph = cell.paragraphs[0]
            paragraph.style = self.doc.styles["Table Head"]
            paragraph.alignment = aligns["c" if align != "l" else "l"]
            paragraph.add_run(self.t(zh, en))
            _shade(cell, HEADER_FILL)
        # A row stays on one page: a row cut in two reads as two rows.
        body._tr.get_or_add_trPr().append(OxmlElement("w:cantSplit"))
        for cell, (*_, text, _w, align) in zip(body.cells, columns):
            paragraph = cell.paragraphs[0]
            paragraph.style = self.doc.styles["Table Text"]
            paragraph.alignment = aligns[align]
            paragraph.add_run(text)
        for row, text in ((start, f"{{%tr for {loop} %}}"), (end, "{%tr endfor %}")):
            for cell in row.cells:
                cell.paragraphs[0].style = self.doc.styles["Tag"]
            row.cells[0].paragraphs[0].add_run(text)
        _widths(table, [w for *_, w, _a in columns])

    def static_table(self, header: list[str], rows: list[list[str]], widths: list[float],
                     aligns: str) -> None:
        """A table with fixed rows (tags in the cells), the first row shaded as a header."""
        table = self.doc.add_table(rows=1 + len(rows), cols=len(header))
        table.style = self.doc.styles["Table Grid"]
        table.alignment = WD_TABLE_ALIGNMENT.CENTER
        _repeat_header(table.rows[0])
        align_of = {"l": WD_ALIGN_PARAGRAPH.LEFT, "c": WD_ALIGN_PARAGRAPH.CENTER, "r": WD_ALIGN_PARAGRAPH.RIGHT}
        for cell, text in zip(table.rows[0].cells, header):
            cell.paragraphs[0].style = self.doc.styles["Table Head"]
            cell.paragraphs[0].add_run(text)
            _shade(cell, HEADER_FILL)
        for row, texts in zip(table.rows[1:], rows):
            for index, (cell, text) in enumerate(zip(row.cells, texts)):
                paragraph = cell.paragraphs[0]
                paragraph.style = self.doc.styles["Table Text"]
                paragraph.alignment = align_of[aligns[index]]
                run = paragraph.add_run(text)
                if index == 0:
                    run.bold = True
        _widths(table, widths)

    def section_table(self, name: str, columns, *, none_zh: str, none_en: str,
                      more_zh: str, more_en: str) -> None:
        """A list section: its table, or a sentence that there is nothing; a note when trimmed."""
        self.tag(f"{{%p if {name}.rows %}}")
        self.table(columns, f"r in {name}.rows")
        self.tag("{%p else %}")
        self.para(self.t(none_zh, none_en))
        self.tag("{%p endif %}")
        self.when(f"{name}.more", more_zh, more_en)

    def chart(self, name: str) -> None:
        self.tag(f"{{%p if charts.{name} %}}")
        self.para(f"{{{{ charts.{name} }}}}", style="Figure")
        self.tag("{%p endif %}")

    def text_section(self, name: str, *, none_zh: str, none_en: str, sheet_zh: str, sheet_en: str) -> None:
        """A free-text section grouped by customer: a bold customer line, then its entries."""
        self.tag(f"{{%p if {name}.groups %}}")
        self.tag(f"{{%p for g in {name}.groups %}}")
        self.para("{{ g.customer }}", (self.t("（{{ g.count }} 条）", " ({{ g.count }})"), {"color": GRAY}),
                  style="Group Heading")
        self.tag("{%p for e in g.entries %}")
        self.para(("{{ e.day }}  {{ e.rep }}", {"color": GRAY}), self.t("：", ": "), "{{ e.text }}", style="Entry")
        self.tag("{%p endfor %}")
        self.tag("{%p if g.more %}")
        self.para(self.t("该客户另有 {{ g.more }} 条，见附表。", "{{ g.more }} more for this customer in the workbook."),
                  style="Entry")
        self.tag("{%p endif %}")
        self.tag("{%p endfor %}")
        self.tag("{%p else %}")
        self.para(self.t(none_zh, none_en))
        self.tag("{%p endif %}")
        self.when(f"{name}.more or {name}.trimmed",
                  f"共 {{{{ {name}.total }}}} 条{{% if {name}.more %}}，另有 {{{{ {name}.more }}}} 条未列出{{% endif %}}。"
                  f"{{% if {name}.trimmed %}}过长的内容已截断（以“…”结尾）。{{% endif %}}"
                  f"全文见附表《{{{{ xlsx_name }}}}》“巡访明细”工作表的“{sheet_zh}”列。",
                  f"{{{{ {name}.total }}}} in all{{% if {name}.more %}}, {{{{ {name}.more }}}} not listed here{{% endif %}}. "
                  f"{{% if {name}.trimmed %}}Long texts are cut (ending in “…”). {{% endif %}}"
                  f"The full text is in the “{sheet_en}” column of the “Visits” sheet of {{{{ xlsx_name }}}}.")


def _repeat_header(row) -> None:
    tr_pr = row._tr.get_or_add_trPr()
    for tag in ("w:cantSplit", "w:tblHeader"):
        tr_pr.append(OxmlElement(tag))


def _shade(cell, fill: str) -> None:
    tc_pr = cell._tc.get_or_add_tcPr()
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    tc_pr.append(shd)


def _widths(table, widths_mm: list[float]) -> None:
    """The forms' fixed layout (make_forms.set_table_width), shrunk to the text width if wider."""
    scale = TEXT_WIDTH_MM / sum(widths_mm) if sum(widths_mm) > TEXT_WIDTH_MM else 1.0
    set_table_width(table, [w * scale for w in widths_mm])


def _field(paragraph, instruction: str) -> None:
    """Append a field (PAGE, NUMPAGES) as Word's begin / instruction / separate / end runs."""
    for kind, text in (("begin", None), (None, instruction), ("separate", None), (None, "1"), ("end", None)):
        run = paragraph.add_run()
        if kind:
            char = OxmlElement("w:fldChar")
            char.set(qn("w:fldCharType"), kind)
            run._r.append(char)
        elif text == instruction:
            instr = OxmlElement("w:instrText")
            instr.set(qn("xml:space"), "preserve")
            instr.text = f" {instruction} "
            run._r.append(instr)
        else:
            run.text = text


# --------------------------------------------------------------------------- the report


def build(lang: str) -> bytes:
    document = Document()
    set_document_defaults(document, lang)
    build_styles(document)
    add_font_table_entry(document)
    b = Builder(document, lang)

    section = document.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.left_margin = section.right_margin = Mm(25)
    section.top_margin, section.bottom_margin = Mm(22), Mm(20)
    section.header_distance = section.footer_distance = Mm(10)
    header = section.header.paragraphs[0]
    header.style = document.styles["Header"]
    header.alignment = WD_ALIGN_PARAGRAPH.RIGHT
    header.add_run(b.t("{{ title_unit }}　{{ month_label }}　每月巡访情况报告书",
                       "{{ title_unit }} · {{ month_label }} · Monthly Visit Report"))
    footer = section.footer.paragraphs[0]
    footer.style = document.styles["Footer"]
    footer.alignment = WD_ALIGN_PARAGRAPH.CENTER
    footer.add_run(b.t("第 ", "Page "))
    _field(footer, "PAGE")
    footer.add_run(b.t(" 页 / 共 ", " of "))
    _field(footer, "NUMPAGES")
    if lang == "zh-CN":
        footer.add_run(" 页")

    # Title page: title, unit and month, who compiled it, the key figures.
    document.add_paragraph(b.t("每月巡访情况报告书", "Monthly Visit Report"), style="Title")
    b.para("{{ title_unit }}　{{ month_label }}", style="Subtitle")
    b.para(b.t("{% if head %}编制：{{ head }}　{% endif %}生成：{{ generated_at }}（{{ timezone }}）",
               "{% if head %}Compiled for {{ head }} · {% endif %}generated {{ generated_at }} ({{ timezone }})"),
           style="Meta")
    b.para(b.t("完整明细见附表《{{ xlsx_name }}》", "Every visit and every list in full: {{ xlsx_name }}"), style="Meta")
    b.when("empty", "本月无任何巡访数据：没有日报、巡访、紧急报告或礼品申请。",
           "There is no data for this month: no daily reports, visits, urgent reports or gift requests.",
           style="Notice")

    b.heading("一、主要指标", "1. Key figures")
    b.static_table(
        [b.t("指标", "Figure"), b.t("数值", "Value"), b.t("说明", "Details")],
        [[b.t("巡访次数", "Visits"), "{{ kpi.visits }}", b.t("本月日报中的巡访", "visits in this month's daily reports")],
         [b.t("报告人数", "Reps reporting"), "{{ kpi.reps_reporting }} / {{ kpi.reps }}",
          b.t("有日报的营销员 / 全部营销员（{{ kpi.reporting_pct }}）",
              "reps with a daily report / all reps ({{ kpi.reporting_pct }})")],
         [b.t("日报及时率", "Reports on time"), "{{ kpi.on_time_pct }}",
          b.t("应报 {{ kpi.reports_due }}，按时 {{ kpi.reports_on_time }}，迟报 {{ kpi.reports_late }}，"
              "未报 {{ kpi.reports_missing }}",
              "due {{ kpi.reports_due }}, on time {{ kpi.reports_on_time }}, late {{ kpi.reports_late }}, "
              "missing {{ kpi.reports_missing }}")],
         [b.t("分级覆盖率", "Tier coverage"), "{{ kpi.coverage_pct }}",
          b.t("按等级频次巡访达标的客户 {{ kpi.customers_covered }} / {{ kpi.customers }}",
              "customers visited as often as their tier requires: {{ kpi.customers_covered }} / {{ kpi.customers }}")],
         [b.t("计划完成率", "Plan done"), "{{ kpi.plan_pct }}",
          b.t("已完成 {{ kpi.planned_done }} / 计划 {{ kpi.planned_visits }}",
              "done {{ kpi.planned_done }} of {{ kpi.planned_visits }} planned")],
         # The count is every report still open at the month's end, earlier months' too: said
         # so, or it reads as "of this month's N, so many open".
         [b.t("月末未结紧急报告", "Urgent reports open at month end"), "{{ kpi.urgent_open }}",
          b.t("月末仍未关闭（含以前月份的）；本月新提出 {{ kpi.urgent_total }} 件",
              "still open at the month's end, earlier months' included; {{ kpi.urgent_total }} raised this month")],
         [b.t("礼品支出（元）", "Gift spend (CNY)"), "{{ kpi.gift_spent }}",
          b.t("预算 {{ kpi.gift_budget }}，已用 {{ kpi.gift_used_pct }}",
              "budget {{ kpi.gift_budget }}, used {{ kpi.gift_used_pct }}")]],
        [40, 28, 92], "lcl")

    b.tag("{%p if is_summary %}")
    b.heading("各营业单位", "Units", level=2)
    b.section_table("units", [
        ("营业单位", "Unit", "{{ r.name }}", 28, "l"),
        ("巡访", "Visits", "{{ r.visits }}", 14, "r"),
        ("报告人数", "Reporting", "{{ r.reps_reporting }}/{{ r.reps }}", 18, "c"),
        ("及时率", "On time", "{{ r.on_time_pct }}", 16, "r"),
        ("覆盖率", "Coverage", "{{ r.coverage_pct }}", 16, "r"),
        ("计划完成率", "Plan done", "{{ r.plan_pct }}", 21, "r"),
        ("未结紧急", "Urgent open", "{{ r.urgent_open }}", 19, "r"),
        ("礼品支出", "Gift spend", "{{ r.gift_spent }}", 28, "r")],
        none_zh="本月无营业单位数据。", none_en="No units this month.",
        more_zh="另有 {{ units.more }} 个单位见附表。", more_en="{{ units.more }} more units in the workbook.")
    b.tag("{%p endif %}")

    b.heading("二、日报纪律", "2. Daily report discipline")
    b.note("应报天数为本月工作日（含调休，不含法定假日）；按时指当日报送，迟报指事后补报。",
           "Days due are the month's working days (make-up days included, holidays not); on time means the "
           "same day, late a later day.")
    b.section_table("discipline", [
        ("营销员", "Rep", "{{ r.name }}", 40, "l"),
        ("应报天数", "Due", "{{ r.due }}", 22, "r"),
        ("按时", "On time", "{{ r.on_time }}", 22, "r"),
        ("迟报", "Late", "{{ r.late }}", 22, "r"),
        ("未报", "Missing", "{{ r.missing }}", 22, "r"),
        ("及时率", "On time %", "{{ r.on_time_pct }}", 32, "r")],
        none_zh="本月无应报日报。", none_en="No daily reports were due this month.",
        more_zh="另有 {{ discipline.more }} 名营销员见附表“日报纪律”工作表。",
        more_en="{{ discipline.more }} more reps in the “Report discipline” sheet.")

    b.heading("三、巡访情况", "3. Visits")
    b.chart("per_day")
    b.section_table("per_rep", [
        ("营销员", "Rep", "{{ r.name }}", 52, "l"),
        ("巡访次数", "Visits", "{{ r.visits }}", 36, "r"),
        ("客户数", "Customers", "{{ r.customers }}", 36, "r"),
        ("巡访天数", "Days", "{{ r.days }}", 36, "r")],
        none_zh="本月无巡访记录。", none_en="No visits this month.",
        more_zh="另有 {{ per_rep.more }} 名营销员见附表“营销员巡访”工作表。",
        more_en="{{ per_rep.more }} more reps in the “Visits per rep” sheet.")

    b.heading("四、客户分级覆盖", "4. Tier coverage")
    b.chart("tiers")
    b.section_table("tiers", [
        ("等级", "Tier", "{{ r.tier }}", 14, "c"),
        ("客户数", "Customers", "{{ r.customers }}", 18, "r"),
        ("要求频次", "Required", "{{ r.required }}", 22, "c"),
        ("达标客户", "Visited enough", "{{ r.visited_enough }}", 20, "r"),
        ("覆盖率", "Coverage", "{{ r.coverage_pct }}", 20, "r"),
        ("计划巡访", "Planned", "{{ r.planned }}", 20, "r"),
        ("已完成", "Done", "{{ r.planned_done }}", 20, "r"),
        ("计划完成率", "Plan done", "{{ r.plan_pct }}", 26, "r")],
        none_zh="本月无登记的分级客户。", none_en="No tiered customers are registered.",
        more_zh="另有 {{ tiers.more }} 个等级见附表。", more_en="{{ tiers.more }} more tiers in the workbook.")
    b.heading("逾期未访客户", "Overdue customers", level=2)
    b.section_table("overdue", [
        ("客户", "Customer", "{{ r.customer }}", 42, "l"),
        ("等级", "Tier", "{{ r.tier }}", 12, "c"),
        ("地区", "Region", "{{ r.region }}", 20, "l"),
        ("指定巡访人", "Visitor", "{{ r.visitor }}", 24, "l"),
        ("最近巡访", "Last visit", "{{ r.last_visit }}", 24, "c"),
        ("间隔天数", "Days since", "{{ r.days_since }}", 18, "r"),
        ("限期", "Limit", "{{ r.limit_days }}", 14, "r")],
        none_zh="本月无逾期未访客户。", none_en="No customer is overdue.",
        more_zh="另有 {{ overdue.more }} 位客户见附表“逾期客户”工作表。",
        more_en="{{ overdue.more }} more customers in the “Overdue customers” sheet.")

    b.heading("五、计划执行", "5. Plan vs actual")
    b.chart("plan")
    b.section_table("plan", [
        ("{% if is_summary %}营业单位{% else %}营销员{% endif %}", "{% if is_summary %}Unit{% else %}Rep{% endif %}",
         "{{ r.name }}", 52, "l"),
        ("计划巡访", "Planned", "{{ r.planned }}", 36, "r"),
        ("已完成", "Done", "{{ r.done }}", 36, "r"),
        ("完成率", "Done %", "{{ r.pct }}", 36, "r")],
        none_zh="本月无巡访计划。", none_en="No visits were planned this month.",
        more_zh="另有 {{ plan.more }} 行见附表“计划与实际”工作表。",
        more_en="{{ plan.more }} more rows in the “Plan vs actual” sheet.")

    b.heading("六、客户意见与投诉", "6. Customer feedback and complaints")
    b.text_section("feedback", none_zh="本月无客户意见。", none_en="No customer feedback this month.",
                   sheet_zh="客户意见", sheet_en="Customer feedback")
    b.heading("七、市场行情与竞争动态", "7. Market and competitors")
    b.text_section("market", none_zh="本月无市场行情报告。", none_en="No market reports this month.",
                   sheet_zh="市场行情", sheet_en="Market")
    b.heading("八、处理事项", "8. Matters handled")
    b.text_section("handled", none_zh="本月无处理事项。", none_en="No matters handled this month.",
                   sheet_zh="处理事项", sheet_en="Matters handled")

    b.heading("九、技术问题", "9. Technical issues")
    b.section_table("tech", [
        ("客户", "Customer", "{{ r.customer }}", 27, "l"),
        ("营销员", "Rep", "{{ r.rep }}", 15, "l"),
        ("日期", "Date", "{{ r.day }}", 24, "c"),
        ("问题", "Issue", b.t("{% if r.major %}【重大】{% endif %}{{ r.text }}",
                            "{% if r.major %}[major] {% endif %}{{ r.text }}"), 62, "l"),
        ("转交", "Sent to", "{{ r.routed_to }}", 32, "l")],
        none_zh="本月无技术问题。", none_en="No technical issues this month.",
        more_zh="另有 {{ tech.more }} 条见附表“技术问题”工作表。",
        more_en="{{ tech.more }} more in the “Technical issues” sheet.")

    b.heading("十、紧急报告", "10. Urgent reports")
    b.section_table("urgent", [
        # 提出时间 holds "2026-11-03 10:15" on one line and 确认用时 its four characters, with the
        # cells' margins, in LibreOffice's metrics as well as Word's (28 and 16 mm broke them).
        ("编号", "Ref", "{{ r.ref }}", 17, "l"),
        ("类别", "Category", "{{ r.category }}", 27, "l"),
        ("客户", "Customer", "{{ r.customer }}", 21, "l"),
        ("报告人", "Reporter", "{{ r.reporter }}", 14, "l"),
        ("提出时间", "Raised", "{{ r.created }}", 31, "c"),
        ("确认用时", "Ack. (h)", "{{ r.acknowledged_after }}", 19, "r"),
        ("状态", "State", b.t("{{ r.state }}{% if r.escalated %}（{{ r.level }}）{% endif %}",
                              "{{ r.state }}{% if r.escalated %} ({{ r.level }}){% endif %}"), 31, "l")],
        none_zh="本月无紧急报告。", none_en="No urgent reports this month.",
        more_zh="另有 {{ urgent.more }} 件见附表“紧急报告”工作表。",
        more_en="{{ urgent.more }} more in the “Urgent reports” sheet.")
    b.note("确认用时：从提出到第一位收件人回复“收到”的小时数。",
           "Ack. (h): hours from the report to the first recipient's acknowledgement.")

    b.heading("十一、礼品申请与预算", "11. Gift requests and budget")
    b.tag("{%p if budget %}")
    b.para(b.t("预算期 {{ budget.period }}：预算 {{ budget.budget }} 元，已批准支出 {{ budget.spent }} 元"
               "（{{ budget.used_pct }}），余额 {{ budget.remaining }} 元。{% if budget.over %}已超出预算。{% endif %}",
               "Budget period {{ budget.period }}: budget CNY {{ budget.budget }}, approved spend CNY "
               "{{ budget.spent }} ({{ budget.used_pct }}), remaining CNY {{ budget.remaining }}."
               "{% if budget.over %} The budget is exceeded.{% endif %}"))
    b.tag("{%p endif %}")
    b.section_table("gifts", [
        ("编号", "Ref", "{{ r.ref }}", 17, "l"),
        ("客户", "Customer", "{{ r.customer }}", 28, "l"),
        ("申请人", "Rep", "{{ r.requester }}", 16, "l"),
        ("礼品", "Gift", "{{ r.gift }} × {{ r.quantity }}", 34, "l"),
        ("金额（元）", "Amount", "{{ r.amount }}", 22, "r"),
        ("状态", "State", "{{ r.state }}", 21, "c"),
        ("申请日期", "Applied", "{{ r.applied }}", 24, "c")],
        none_zh="本月无礼品申请。", none_en="No gift requests this month.",
        more_zh="另有 {{ gifts.more }} 件见附表“礼品申请”工作表。",
        more_en="{{ gifts.more }} more in the “Gift requests” sheet.")

    b.heading("十二、指定巡访人违规（第四条）", "12. Designated-visitor violations (Article 4)")
    b.note("第四条：客户的指定巡访人原则上不能由本地区的负责业务员担任。",
           "Article 4: a customer's designated visitor should not be the region's own salesperson.")
    b.section_table("violations", [
        ("客户", "Customer", "{{ r.customer }}", 70, "l"),
        ("地区", "Region", "{{ r.region }}", 40, "l"),
        ("指定巡访人（本地区业务员）", "Designated visitor (region's salesperson)", "{{ r.visitor }}", 50, "l")],
        none_zh="本月无违规指定。", none_en="No violations.",
        more_zh="另有 {{ violations.more }} 位客户见附表。", more_en="{{ violations.more }} more in the workbook.")

    b.heading("十三、未匹配的客户名称", "13. Unmatched customer names")
    b.note("日报中写到、但客户名录中找不到的名称；请在名录中补登或加为别名。",
           "Names in daily reports that match no registered customer: register them or add them as aliases.")
    b.section_table("unmatched", [
        ("名称", "Name", "{{ r.name }}", 70, "l"),
        ("巡访次数", "Visits", "{{ r.visits }}", 30, "r"),
        ("营销员", "Reps", "{{ r.reps }}", 60, "l")],
        none_zh="本月无未匹配的客户名称。", none_en="Every customer name matched the registry.",
        more_zh="另有 {{ unmatched.more }} 个名称见附表“未匹配客户”工作表。",
        more_en="{{ unmatched.more }} more names in the “Unmatched names” sheet.")

    core = document.core_properties
    core.title = b.t("每月巡访情况报告书", "Monthly Visit Report")
    core.subject = "visitflow monthly report template"
    core.author = core.last_modified_by = "visitflow"
    core.keywords = "visitflow monthly_report"
    core.comments = b.t("由 visitflow 填写。编辑时请保留双花括号和带百分号的花括号标记，每个标记整体保留或整体重打。",
                        "Filled by visitflow. Keep every tag in double braces or braces with percent signs whole.")
    core.revision = 1
    core.created = core.modified = FIXED_TIME
    return _finish(document)


def _finish(document) -> bytes:
    # python-docx's template carries a thumbnail of some other page; a stale preview misleads.
    package_rels = document.part.package.rels
    for r_id, rel in list(package_rels.items()):
        if rel.reltype.endswith("/metadata/thumbnail"):
            del package_rels[r_id]
    raw = io.BytesIO()
    document.save(raw)
    return reproducible_zip(raw.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "templates" / "reports",
                        help="folder to write the templates to (default: templates/reports)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for lang, name in TEMPLATES.items():
        target = args.out / name
        target.write_bytes(build(lang))
        print(f"wrote {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
