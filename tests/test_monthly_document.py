"""The monthly visit report as files (service.monthly): the Word document, its charts, the workbook.

A hand-made month (tests/monthly_sample.py) is written with ``write_report`` and read back the
way a reader sees it: python-docx for the document (headings, table cells, images), openpyxl
for the workbook, LibreOffice + pdftotext for what actually renders.
"""

from __future__ import annotations

import csv
import importlib.util
import io
import shutil
import subprocess
import warnings
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import docx
import openpyxl
import pytest
from docx.oxml.ns import qn
from PIL import Image

from service.monthly import (
    Limits,
    MonthlyReport,
    ReportRenderError,
    UnitInfo,
    write_report,
)
from service.monthly.charts import Charts, cjk_font
from service.monthly.document import REPORTS_DIR, TEMPLATES, report_names
from service.monthly.labels import CATALOGUE, words
from service.monthly.model import (
    VISIT_FIELDS,
    GiftItem,
    Kpis,
    PlanRow,
    RepDiscipline,
    TierCoverage,
    UrgentItem,
)
from service.monthly.xlsx import CELL_LIMIT, XlsxWriter, column_letter
from tests.monthly_sample import LONG_TEXT, sample_report, summary_report

REPO = Path(__file__).resolve().parents[1]

HEADINGS_ZH = ["一、主要指标", "二、日报纪律", "三、巡访情况", "四、客户分级覆盖", "五、计划执行", "六、客户意见与投诉",
               "七、市场行情与竞争动态", "八、处理事项", "九、技术问题", "十、紧急报告", "十一、礼品申请与预算",
               "十二、指定巡访人违规（第四条）", "十三、未匹配的客户名称"]
HEADINGS_EN = ["1. Key figures", "2. Daily report discipline", "3. Visits", "4. Tier coverage", "5. Plan vs actual",
               "6. Customer feedback and complaints", "7. Market and competitors", "8. Matters handled",
               "9. Technical issues", "10. Urgent reports", "11. Gift requests and budget",
               "12. Designated-visitor violations (Article 4)", "13. Unmatched customer names"]


def pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}%"


def written(report: MonthlyReport, tmp_path: Path, **options):
    """Write the report; return (docx.Document, openpyxl workbook, ReportFiles)."""
    files = write_report(report, tmp_path, **options)
    return docx.Document(str(files.docx)), openpyxl.load_workbook(files.xlsx), files


def table_rows(document, first_header: str, second_header: str | None = None) -> list[list[str]]:
    """Return the body rows (cell texts) of the table whose header row starts with these cells."""
    for table in document.tables:
        head = [cell.text for cell in table.rows[0].cells]
        if head[0] == first_header and (second_header is None or head[1] == second_header):
            return [[cell.text for cell in row.cells] for row in table.rows[1:]]
    raise AssertionError(f"no table with header {first_header!r}, {second_header!r}")


def paragraphs(document, style: str | None = None) -> list[str]:
    return [p.text for p in document.paragraphs if style is None or p.style.name == style]


@pytest.fixture(scope="module")
def zh(tmp_path_factory):
    """The sample month written once in Chinese: (document, workbook, files)."""
    return written(sample_report(), tmp_path_factory.mktemp("zh"))


# --------------------------------------------------------------------------- the document


def test_the_files_are_named_after_the_unit_and_month_and_no_temporary_file_is_left(zh):
    _document, _book, files = zh
    assert files.docx.name == "每月巡访情况报告书-华东事业部-2026-11.docx"
    assert files.xlsx.name == "每月巡访情况报告书-华东事业部-2026-11.xlsx"
    assert sorted(p.name for p in files.docx.parent.iterdir()) == sorted([files.docx.name, files.xlsx.name])


@pytest.mark.parametrize("report, names", [
    (sample_report("en"), ("monthly-visit-report-east-2026-11.docx", "monthly-visit-report-east-2026-11.xlsx")),
    (summary_report(), ("每月巡访情况报告书-公司汇总-2026-11.docx", "每月巡访情况报告书-公司汇总-2026-11.xlsx")),
    (summary_report("en"), ("monthly-visit-report-company-2026-11.docx", "monthly-visit-report-company-2026-11.xlsx")),
    (MonthlyReport.empty("2027-01", UnitInfo("a/b", "华南:事业部*"), datetime(2027, 2, 1)),
     ("每月巡访情况报告书-华南_事业部_-2027-01.docx", "每月巡访情况报告书-华南_事业部_-2027-01.xlsx")),
])
def test_file_names_follow_language_and_unit_and_lose_characters_a_file_system_refuses(report, names):
    assert report_names(report) == names


def test_every_section_heading_is_present_in_order(zh):
    document, _book, _files = zh
    assert paragraphs(document, "Title") == ["每月巡访情况报告书"]
    assert paragraphs(document, "Subtitle") == ["华东事业部　2026年11月"]
    assert paragraphs(document, "Heading 1") == HEADINGS_ZH
    assert paragraphs(document, "Heading 2") == ["逾期未访客户"]


def test_the_key_figures_table_shows_the_models_numbers(zh):
    document, _book, _files = zh
    k = sample_report().kpis
    rows = table_rows(document, "指标", "数值")
    assert [(label, value) for label, value, _details in rows] == [
        ("巡访次数", str(k.visits)),
        ("报告人数", f"{k.reps_reporting} / {k.reps}"),
        ("日报及时率", pct(k.on_time_pct)),
        ("分级覆盖率", pct(k.coverage_pct)),
        ("计划完成率", pct(k.plan_pct)),
        ("月末未结紧急报告", str(k.urgent_open)),
        ("礼品支出（元）", "6,200.00"),
    ]
    assert rows[2][2] == f"应报 {k.reports_due}，按时 {k.reports_on_time}，迟报 {k.reports_late}，未报 {k.reports_missing}"
    assert rows[6][2] == "预算 20,000.00，已用 31.0%"


def _expected_tables(report: MonthlyReport) -> dict[tuple[str, str], list[list[str]]]:
    """Return each list table's expected body rows, computed from the model."""
    return {
        ("营销员", "应报天数"): [[d.name, str(d.due), str(d.on_time), str(d.late), str(d.missing), pct(d.on_time_pct)]
                             for d in report.discipline],
        ("营销员", "巡访次数"): [[r.name, str(r.visits), str(r.customers), str(r.days)] for r in report.visits_per_rep],
        ("等级", "客户数"): [[t.tier, str(t.customers), f"{t.required_visits} 次/{'月' if t.required_period == 'month' else '季'}",
                          str(t.visited_enough), pct(t.coverage_pct), str(t.planned), str(t.planned_done),
                          pct(t.plan_pct)] for t in report.tier_coverage],
        ("客户", "等级"): [[o.customer, o.tier, o.region, o.visitor,
                          o.last_visit.isoformat() if o.last_visit else "从未巡访",
                          "—" if o.days_since is None else str(o.days_since), str(o.limit_days)]
                         for o in report.overdue],
        ("营销员", "计划巡访"): [[p.name, str(p.planned), str(p.done), pct(p.pct)] for p in report.plan_vs_actual],
        ("客户", "营销员"): [["浦东五金批发部", "李雷", "2026-11-03", "【重大】灯管批量闪烁，重大", "孙丽、生产部、技术部"],
                          ["杭州百货大楼", "韩梅梅", "2026-11-18", "调光器兼容性问题", "周敏、吴磊"]],
        ("编号", "类别"): [["VF-U-7", "本公司产品重大缺陷", "浦东五金批发部", "李雷", "2026-11-03 10:15", "1.5", "已确认（已上报领导）"],
                         ["VF-U-9", "同行新产品上市", "上海华联超市（浦东店）", "李雷", "2026-11-10 14:00", "—", "未处理"],
                         ["VF-U-12", "其他紧急事项", "—", "王芳", "2026-11-20 09:00", "26.2", "已关闭"]],
        ("编号", "客户"): [[g.ref, g.customer, g.requester, f"{g.items} × {g.quantity}", f"{g.amount:,.2f}",
                          {"approved": "已批准", "rejected": "已驳回", "pending": "审批中"}[g.state],
                          g.applied.date().isoformat()] for g in report.gifts],
        ("客户", "地区"): [[v.customer, v.region, v.visitor] for v in report.violations],
        ("名称", "巡访次数"): [[u.name, str(u.visits), "、".join(u.reps)] for u in report.unmatched],
    }


@pytest.mark.parametrize("header", list(_expected_tables(sample_report())))
def test_each_list_table_shows_the_models_rows(zh, header):
    document, _book, _files = zh
    assert table_rows(document, *header) == _expected_tables(sample_report())[header]


def test_the_gift_budget_line_shows_spend_against_budget(zh):
    document, _book, _files = zh
    assert "预算期 2026-11：预算 20,000.00 元，已批准支出 6,200.00 元（31.0%），余额 13,800.00 元。" in paragraphs(document)


def test_the_three_charts_are_images_across_the_text_width(zh):
    document, _book, _files = zh
    shapes = document.inline_shapes
    assert len(shapes) == 3
    for shape in shapes:
        assert round(shape.width.mm) == 160
    blobs = [part.blob for part in document.part.package.parts if part.content_type == "image/png"]
    assert len(blobs) == 3
    for blob in blobs:
        assert Image.open(io.BytesIO(blob)).width == 945        # 6.3 in at 150 dpi


def test_free_text_is_grouped_by_customer_with_the_busiest_customer_first(zh):
    document, _book, _files = zh
    groups = paragraphs(document, "Group Heading")
    # Feedback: 上海华联超市 has three entries, the others fewer (first mention breaks ties).
    assert groups[:5] == ["上海华联超市（浦东店）（3 条）", "浦东五金批发部（2 条）", "杭州百货大楼（1 条）",
                          "西湖照明（1 条）", "上海华联超市（浦东店）（2 条）"]


def test_long_text_is_cut_in_the_document_and_markup_characters_stay_text(zh):
    document, _book, _files = zh
    entries = paragraphs(document, "Entry")
    long_entry = next(text for text in entries if "仓库高温环境" in text)
    assert long_entry.endswith("…")
    assert len(long_entry) < 320 < len(LONG_TEXT)
    assert "2026-11-03  李雷：价格 <5% & 返利>3%，客户很满意👍 {_{ 不是标签 }_}" in entries
    assert not any("\x07" in text for text in paragraphs(document))
    notes = paragraphs(document, "Note")
    assert ("共 7 条。过长的内容已截断（以“…”结尾）。全文见附表《每月巡访情况报告书-华东事业部-2026-11.xlsx》"
            "“巡访明细”工作表的“客户意见”列。") in notes


def test_the_page_header_names_the_unit_and_month_and_the_footer_counts_pages(zh):
    document, _book, _files = zh
    section = document.sections[0]
    assert section.header.paragraphs[0].text == "华东事业部　2026年11月　每月巡访情况报告书"
    footer_xml = section.footer._element.xml
    assert "PAGE" in footer_xml and "NUMPAGES" in footer_xml
    assert round(section.page_width.mm) == 210 and round(section.page_height.mm) == 297


def test_long_lists_are_trimmed_with_a_note_pointing_to_the_workbook(tmp_path):
    document, book, _files = written(sample_report(), tmp_path, limits=Limits(rows=2, entries=3, per_customer=1))
    assert len(table_rows(document, "营销员", "应报天数")) == 2
    assert "另有 2 名营销员见附表“日报纪律”工作表。" in paragraphs(document, "Note")
    assert "另有 1 件见附表“礼品申请”工作表。" in paragraphs(document, "Note")
    feedback_groups = paragraphs(document, "Group Heading")[:3]
    assert feedback_groups == ["上海华联超市（浦东店）（3 条）", "浦东五金批发部（2 条）", "杭州百货大楼（1 条）"]
    assert "该客户另有 2 条，见附表。" in paragraphs(document, "Entry")
    # The workbook keeps every row.
    assert book[words("zh-CN")["sheet_discipline"]].max_row == 1 + 4


@pytest.mark.parametrize("language, sentences", [
    ("zh-CN", ["本月无任何巡访数据：没有日报、巡访、紧急报告或礼品申请。", "本月无应报日报。", "本月无巡访记录。",
               "本月无登记的分级客户。", "本月无逾期未访客户。", "本月无巡访计划。", "本月无客户意见。",
               "本月无市场行情报告。", "本月无处理事项。", "本月无技术问题。", "本月无紧急报告。", "本月无礼品申请。",
               "本月无违规指定。", "本月无未匹配的客户名称。"]),
    ("en", ["There is no data for this month: no daily reports, visits, urgent reports or gift requests.",
            "No daily reports were due this month.", "No visits this month.", "No tiered customers are registered.",
            "No customer is overdue.", "No visits were planned this month.", "No customer feedback this month.",
            "No market reports this month.", "No matters handled this month.", "No technical issues this month.",
            "No urgent reports this month.", "No gift requests this month.", "No violations.",
            "Every customer name matched the registry."]),
])
def test_a_month_without_data_says_so_in_every_section(tmp_path, language, sentences):
    report = MonthlyReport.empty("2026-11", UnitInfo("west", "西南事业部"), datetime(2026, 12, 1, 8), language=language)
    document, book, _files = written(report, tmp_path)
    text = paragraphs(document)
    for sentence in sentences:
        assert sentence in text
    assert len(document.inline_shapes) == 0
    assert len(document.tables) == 1                   # the key figures, all zero or "—"
    assert book[book.sheetnames[0]].max_row == 1       # the header only


def test_the_english_template_writes_english_headings_figures_and_states(tmp_path):
    document, book, _files = written(sample_report("en"), tmp_path)
    assert paragraphs(document, "Title") == ["Monthly Visit Report"]
    assert paragraphs(document, "Subtitle") == ["华东事业部　November 2026"]
    assert paragraphs(document, "Heading 1") == HEADINGS_EN
    rows = table_rows(document, "Figure", "Value")
    assert rows[2][:2] == ["Reports on time", "47.6%"]
    urgent = table_rows(document, "Ref", "Category")
    assert urgent[0][1] == "Product defect" and urgent[0][6] == "acknowledged (with leadership)"
    assert book.sheetnames[0] == "Visits"
    assert [c.value for c in book["Visits"][1]][:3] == ["Unit", "Region", "Rep"]
    assert len(document.inline_shapes) == 3


def test_the_company_summary_lists_the_units_and_plans_per_unit(tmp_path):
    document, book, _files = written(summary_report(), tmp_path)
    assert paragraphs(document, "Subtitle") == ["公司汇总　2026年11月"]
    assert "各营业单位" in paragraphs(document, "Heading 2")
    assert table_rows(document, "营业单位", "巡访") == [
        ["华东事业部", "10", "3/4", "47.6%", "33.3%", "58.3%", "2", "6,200.00"],
        ["华北事业部", "0", "0/1", "0.0%", "—", "—", "0", "0.00"]]
    assert table_rows(document, "营业单位", "计划巡访") == [["华东事业部", "12", "7", "58.3%"],
                                                       ["华北事业部", "0", "0", "—"]]
    assert book.sheetnames[:2] == ["巡访明细", "各单位概况"]
    assert [row[1].value for row in book["各单位概况"].iter_rows(min_row=2)] == ["华东事业部", "华北事业部"]


def test_a_broken_template_tag_is_an_error_naming_it_and_keeps_the_previous_file(tmp_path):
    files = write_report(sample_report(), tmp_path)
    before = files.docx.read_bytes()
    broken = docx.Document(str(REPORTS_DIR / TEMPLATES["zh-CN"]))
    broken.add_paragraph("{{ kpi.no_such_figure }}")
    template = tmp_path / "broken.docx"
    broken.save(str(template))
    with pytest.raises(ReportRenderError, match="no_such_figure"):
        write_report(sample_report(), tmp_path, template=template)
    assert files.docx.read_bytes() == before
    assert not list(tmp_path.glob(".*.tmp"))


# --------------------------------------------------------------------------- the workbook


def test_the_workbook_has_one_row_per_visit_with_every_field(zh):
    _document, book, _files = zh
    w = words("zh-CN")
    sheet = book["巡访明细"]
    rows = list(sheet.iter_rows(values_only=True))
    assert list(rows[0]) == [w.column(name) for name in VISIT_FIELDS]
    visits = sample_report().visits
    assert len(rows) == 1 + len(visits)
    for row, visit in zip(rows[1:], visits):
        got = dict(zip(VISIT_FIELDS, row))
        assert got["rep"] == visit.rep and got["customer"] == visit.customer
        assert got["report_date"] == datetime.combine(visit.report_date, datetime.min.time())
        assert got["visited_at"] == visit.visited_at
        assert got["submitted_at"] == visit.submitted_at.replace(tzinfo=None)     # already China time
        assert got["customer_matched"] == visit.customer_matched
        assert got["tech_major"] == ("是" if visit.tech_major else "否")
        assert got["urgent"] == (None if visit.urgent is None else "本公司产品重大缺陷")
        assert got["cards"] == visit.cards
        for name in ("feedback", "market", "effect", "handled", "other", "stock", "products", "tech_issue"):
            assert (got[name] or "") == getattr(visit, name).replace("\x07", "")
    assert any(row[VISIT_FIELDS.index("feedback")] == LONG_TEXT for row in rows)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{column_letter(len(VISIT_FIELDS) - 1)}{len(visits) + 1}"


def test_the_workbook_has_a_sheet_for_each_list_section(zh):
    _document, book, _files = zh
    assert book.sheetnames == ["巡访明细", "日报纪律", "营销员巡访", "分级覆盖", "逾期客户", "技术问题", "紧急报告",
                               "礼品申请", "指定巡访人违规", "未匹配客户", "计划与实际"]
    urgent = list(book["紧急报告"].iter_rows(min_row=2, values_only=True))
    assert urgent[1] == ("VF-U-9", "同行新产品上市", "上海华联超市（浦东店）", "李雷", datetime(2026, 11, 10, 14, 0), None,
                         "未处理", "单位内")
    gifts = list(book["礼品申请"].iter_rows(min_row=2, values_only=True))
    assert [g[5] for g in gifts] == [1200, 5000, 800]


@pytest.mark.parametrize("index, letters", [(0, "A"), (25, "Z"), (26, "AA"), (51, "AZ"), (52, "BA"), (701, "ZZ"),
                                            (702, "AAA")])
def test_column_letters_count_like_excel(index, letters):
    assert column_letter(index) == letters


def test_the_xlsx_writer_keeps_types_and_makes_sheet_names_and_text_acceptable(tmp_path):
    path = tmp_path / "t.xlsx"
    book = XlsxWriter(path, title="测试")
    book.sheet("a/b:c*?[d]", ["text", "n", "x", "d", "t", "b", "money"], [
        ("<&>\x01 \"quoted\"", 3, 2.5, date(2026, 11, 30), datetime(2026, 11, 30, 9, 45), True, Decimal("12.50")),
        ("x" * (CELL_LIMIT + 10), None, None, None, None, False, None),
    ])
    book.sheet("a/b:c*?[d]", ["only"], [])
    book.close()
    wb = openpyxl.load_workbook(path)
    assert wb.sheetnames == ["a_b_c___d_", "a_b_c___d_ (2)"]
    first, second = list(wb["a_b_c___d_"].iter_rows(min_row=2, values_only=True))
    assert first == ('<&> "quoted"', 3, 2.5, datetime(2026, 11, 30), datetime(2026, 11, 30, 9, 45), True, 12.5)
    assert len(second[0]) == CELL_LIMIT and second[0].endswith("…")
    assert wb.properties.title == "测试"


def test_the_xlsx_writer_refuses_a_row_count_it_was_not_given(tmp_path):
    book = XlsxWriter(tmp_path / "t.xlsx")
    with pytest.raises(ValueError, match="2 rows written, 3 announced"):
        book.sheet("s", ["a"], iter([(1,), (2,)]), row_count=3)


# --------------------------------------------------------------------------- charts, model, catalogue


def test_the_charts_use_the_chinese_font_and_miss_no_glyph():
    assert cjk_font() == "Noto Sans CJK SC"
    report = sample_report()
    charts = Charts()
    w = words("zh-CN")
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # matplotlib warns of every glyph its fonts lack
        pngs = [charts.visits_per_day(w, 2026, 11, report.visits_per_day),
                charts.tier_coverage(w, report.tier_coverage),
                charts.plan_vs_actual(w, report.plan_vs_actual)]
    for png in pngs:
        image = Image.open(io.BytesIO(png))
        assert image.format == "PNG" and image.width == 945
        # Not blank: dark ink (labels, bars) on the white page.
        assert image.convert("L").getextrema()[0] < 80


@pytest.mark.parametrize("draw", [
    lambda c, w: c.visits_per_day(w, 2026, 11, [(date(2026, 10, 31), 4)]),    # another month only
    lambda c, w: c.tier_coverage(w, [TierCoverage("A", 0, 4, "month", 0)]),
    lambda c, w: c.plan_vs_actual(w, [PlanRow("李雷", 0, 0)]),
])
def test_a_chart_without_data_is_left_out(draw):
    assert draw(Charts(), words("zh-CN")) is None


def test_the_plan_chart_grows_with_the_reps_and_stops_at_forty():
    charts, w = Charts(), words("zh-CN")
    heights = [Image.open(io.BytesIO(charts.plan_vs_actual(w, [PlanRow(f"营销员{i}", 3, i % 4) for i in range(n)]))).height
               for n in (4, 40, 60)]
    assert heights[0] < heights[1] == heights[2]


@pytest.mark.parametrize("build, message", [
    (lambda: RepDiscipline("李雷", "", 21, 18, 1, 1), "is not due 21"),
    (lambda: Kpis(visits=-1), "negative"),
    (lambda: MonthlyReport.empty("2026-13", None, datetime(2026, 12, 1)), "2026-11"),
    (lambda: MonthlyReport.empty("2026-11", None, datetime(2026, 12, 1), language="fr"), "language"),
    (lambda: UrgentItem("VF-U-1", "other", None, "李雷", datetime(2026, 11, 1), None, "pending"), "state"),
    (lambda: GiftItem("VF-G-1", "客户", "李雷", "茶", "1", Decimal(1), "open", datetime(2026, 11, 1)), "state"),
    (lambda: TierCoverage("A", 1, 4, "week", 0), "required_period"),
])
def test_the_model_refuses_figures_that_cannot_be_right(build, message):
    with pytest.raises(ValueError, match=message):
        build()


def test_lists_given_to_the_model_are_kept_as_tuples_and_day_counts_as_pairs():
    report = sample_report()
    assert isinstance(report.discipline, tuple) and isinstance(report.visits, tuple)
    assert report.visits_per_day[0] == (date(2026, 11, 3), 2)
    assert report.visits_per_day[0].visits == 2


def test_both_catalogues_have_the_same_words():
    assert CATALOGUE["zh-CN"].keys() == CATALOGUE["en"].keys()


# --------------------------------------------------------------------------- the templates


def _load_template_script():
    spec = importlib.util.spec_from_file_location("make_report_templates", REPO / "scripts" / "make_report_templates.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_the_committed_template_is_what_the_script_builds(language):
    assert _load_template_script().build(language) == (REPORTS_DIR / TEMPLATES[language]).read_bytes()


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_every_template_style_names_a_chinese_font_and_no_theme_font(language):
    document = docx.Document(str(REPORTS_DIR / TEMPLATES[language]))
    styles = document.styles.element
    defaults = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr")).find(qn("w:rFonts"))
    assert defaults.get(qn("w:eastAsia")) == "Noto Sans CJK SC"
    for style in document.styles:
        if style.type is None or style.element.find(qn("w:rPr")) is None:
            continue
        rfonts = style.element.find(qn("w:rPr")).find(qn("w:rFonts"))
        assert rfonts is not None and rfonts.get(qn("w:eastAsia")) == "Noto Sans CJK SC", style.name
    assert "eastAsiaTheme" not in styles.xml and "asciiTheme" not in styles.xml
    for name in ("Normal", "Title", "Heading 1", "Heading 2", "Heading 3", "Table Grid", "Entry", "Group Heading"):
        assert document.styles[name].element.find(qn("w:rPr")) is not None, name
    font_table = next(rel.target_part.blob for rel in document.part.rels.values() if rel.reltype.endswith("/fontTable"))
    assert b'w:name="Noto Sans CJK SC"' in font_table and b'w:val="Microsoft YaHei"' in font_table


# --------------------------------------------------------------------------- what renders


@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftotext") is None,
                    reason="LibreOffice (soffice) or poppler-utils (pdftotext) is not installed; scripts/setup.sh installs them")
def test_libreoffice_renders_the_chinese_title_a_heading_and_a_table_value(zh, tmp_path):
    _document, _book, files = zh
    source = tmp_path / "report.docx"
    shutil.copyfile(files.docx, source)
    profile = (tmp_path / "profile").as_uri()
    subprocess.run(["soffice", "--headless", "--norestore", "--nologo", f"-env:UserInstallation={profile}",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "report.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout
    assert "每月巡访情况报告书" in text
    assert "二、日报纪律" in text
    assert "85.7%" in text                                  # 李雷's on-time rate
    assert "同行新产品上市" in text                          # an urgent report's category, in a table
    assert "第1页/共4页" in text.replace(" ", "")              # the footer's page fields, filled in


# LibreOffice opens .xlsx only with its Calc module, which scripts/setup.sh does not install
# (Writer is enough for the Word forms): Debian's libreoffice-calc-nogui.
CALC = shutil.which("soffice") is not None and Path("/usr/lib/libreoffice/program/libsclo.so").exists()


@pytest.mark.skipif(not CALC, reason="LibreOffice Calc is not installed (apt-get install libreoffice-calc-nogui)")
def test_libreoffice_opens_the_workbook_with_every_visit(zh, tmp_path):
    _document, _book, files = zh
    source = tmp_path / "visits.xlsx"
    shutil.copyfile(files.xlsx, source)
    profile = (tmp_path / "profile").as_uri()
    # The first sheet as UTF-8 CSV (filter options: comma, double quote, UTF-8).
    subprocess.run(["soffice", "--headless", "--norestore", "--nologo", f"-env:UserInstallation={profile}",
                    "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    rows = list(csv.reader((tmp_path / "visits.csv").read_text(encoding="utf-8").splitlines(keepends=True)))
    assert rows[0][:3] == ["营业单位", "地区", "营销员"]
    assert len(rows) == 1 + len(sample_report().visits)
    assert rows[1][VISIT_FIELDS.index("report_date")] == "2026-11-03"
    assert rows[1][VISIT_FIELDS.index("visited_at")] == "2026-11-03 09:30"
