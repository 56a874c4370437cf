"""Reading a filled daily report Word form (service.reading.wordform) and the blank form itself.

Most forms here are filled at test time from templates/forms/daily_report.docx with python-docx,
the way Word leaves them (text typed into the existing empty paragraph of a cell). The files in
tests/fixtures/wordform/ are small hand-shaped inputs; rebuild them with
``.venv/bin/python -m tests.test_wordform``.
"""

from __future__ import annotations

import copy
import io
import random
import shutil
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import docx
import pytest
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from service.reading.wordform import (
    DAILY_COLUMNS,
    FormError,
    FormReport,
    is_daily_form,
    read_daily_form,
)

REPO = Path(__file__).resolve().parents[1]
TEMPLATE = REPO / "templates" / "forms" / "daily_report.docx"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "wordform"

EXPECTED_COLUMNS = [
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
]


# --------------------------------------------------------------------------- helpers


def _save(document, path: Path) -> bytes:
    document.save(path)
    return path.read_bytes()


def _type(cell, *lines: str) -> None:
    """Type text into a cell as Word does: first line into the existing empty paragraph."""
    first, *rest = lines
    cell.paragraphs[0].add_run(first)
    for line in rest:
        cell.add_paragraph(line)


def _fill_row(row, values: dict[str, object]) -> None:
    cells = row.cells
    for index, (name, _, _) in enumerate(EXPECTED_COLUMNS):
        if name in values:
            value = values[name]
            _type(cells[index], *(value if isinstance(value, tuple) else (value,)))


def _template():
    document = docx.Document(str(TEMPLATE))
    header, visits = document.tables
    return document, header, visits


def _form(tmp_path: Path, rows: list[dict[str, object]], *, date: str | None = "2026-11-26",
          visitor: str | None = "张伟", extra_rows: int = 0, name: str = "filled.docx") -> bytes:
    document, header, visits = _template()
    if date is not None:
        _type(header.rows[0].cells[1], date)
    if visitor is not None:
        _type(header.rows[1].cells[1], visitor)
    for _ in range(extra_rows):
        visits.add_row()
    data_rows = visits.rows[1:]
    for row, values in zip(data_rows, rows):
        _fill_row(row, values)
    return _save(document, tmp_path / name)


def _table_from_scratch(document, header: list[str], rows: list[list[str]]):
    table = document.add_table(rows=1 + len(rows), cols=len(header))
    for cell, text in zip(table.rows[0].cells, header):
        lines = text.split("\n")
        cell.paragraphs[0].add_run(lines[0])
        for line in lines[1:]:
            cell.add_paragraph(line)
    for row, values in zip(table.rows[1:], rows):
        for cell, text in zip(row.cells, values):
            if text:
                _type(cell, *text.split("\n"))
    return table


# --------------------------------------------------------------------------- the blank form


def test_template_is_a_daily_form_with_no_visits():
    payload = TEMPLATE.read_bytes()
    assert is_daily_form(payload)
    assert read_daily_form(payload) == FormReport(report_date_text=None, visitor_text=None, visits=[])


def test_template_layout():
    document, header, visits = _template()
    assert DAILY_COLUMNS == tuple(EXPECTED_COLUMNS)
    paragraphs = [p.text for p in document.paragraphs if p.text]
    assert paragraphs[:2] == ["巡访日报表", "Daily Visit Report"]
    assert any("每行填写一次巡访" in p for p in paragraphs)
    assert any(p.startswith("One row per visit") for p in paragraphs)

    assert [c.text.split("\n")[0] for c in header.columns[0].cells] == ["日期 / Date", "巡访人员 / Visitor"]
    assert [c.text for c in header.columns[1].cells] == ["", ""]

    head = visits.rows[0]
    assert [[p.text for p in cell.paragraphs] for cell in head.cells] == \
        [[zh, en] for _, zh, en in EXPECTED_COLUMNS]
    assert head._tr.trPr.find(qn("w:tblHeader")) is not None, "header row repeats on each page"
    assert len(visits.rows) == 6 and all(c.text == "" for r in visits.rows[1:] for c in r.cells)

    section = document.sections[0]
    assert section.orientation == docx.enum.section.WD_ORIENT.LANDSCAPE
    assert (round(section.page_width.mm), round(section.page_height.mm)) == (297, 210)
    usable = section.page_width - section.left_margin - section.right_margin
    assert abs(sum(c.width for c in visits.columns) - usable) < docx.shared.Mm(1)
    assert document.styles["Form Table Text"].font.size == docx.shared.Pt(9)
    assert all(p.style.name == "Form Table Text" for r in visits.rows for c in r.cells for p in c.paragraphs)


def test_template_sets_east_asian_font_everywhere():
    document, _, _ = _template()
    normal_fonts = document.styles["Normal"].element.rPr.rFonts
    assert normal_fonts.get(qn("w:eastAsia")) == "SimSun"
    assert normal_fonts.get(qn("w:eastAsiaTheme")) is None, "a theme font would override w:eastAsia"
    defaults = document.styles.element.find(qn("w:docDefaults")).find(f"{qn('w:rPrDefault')}/{qn('w:rPr')}")
    assert defaults.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "SimSun"
    assert defaults.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN"
    runs = list(document.element.body.iter(qn("w:r")))
    assert runs and all(r.find(f"{qn('w:rPr')}/{qn('w:rFonts')}").get(qn("w:eastAsia")) == "SimSun"
                        for r in runs)


def test_template_renders_chinese_in_libreoffice(tmp_path):
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None or shutil.which("pdftotext") is None:
        pytest.skip("libreoffice or pdftotext not installed")
    profile = tmp_path / "lo-profile"
    subprocess.run([office, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(TEMPLATE)],
                   check=True, capture_output=True, timeout=180)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "daily_report.pdf"), "-"],
                          check=True, capture_output=True, text=True).stdout
    assert "巡访日报表" in text
    assert "客户名称" in text and "Daily Visit Report" in text


# --------------------------------------------------------------------------- filled forms


def test_filled_form_is_read_field_by_field(tmp_path):
    payload = _form(tmp_path, [
        {"customer": "上海华联超市（浦东店）", "visited_at": "2026-11-26 09:30",
         "feedback": ("希望增加促销支持", "对交货期表示满意"), "market": "同行降价5%",
         "effect": "良好", "handled": "已安排补货，周五到货", "other": "无",
         "stock": "库存200箱，本周销售80箱", "products": "新款节能灯", "tech_issue": "重大：电源模块发热",
         "urgent": "同行销售政策重大变化"},
        {"customer": "  北京国美电器  ", "visited_at": "14:00", "handled": "处理退货3件"},
        {},  # an empty row between visits is skipped
        {"customer": "广州五金城", "visited_at": "2026/11/26 16:00-17:00", "market": "需求平稳"},
    ])
    report = read_daily_form(payload)
    assert report.report_date_text == "2026-11-26"
    assert report.visitor_text == "张伟"
    assert len(report.visits) == 3
    assert report.visits[0] == {
        "customer": "上海华联超市（浦东店）", "visited_at": "2026-11-26 09:30",
        "feedback": "希望增加促销支持\n对交货期表示满意", "market": "同行降价5%", "effect": "良好",
        "handled": "已安排补货，周五到货", "other": "无", "stock": "库存200箱，本周销售80箱",
        "products": "新款节能灯", "tech_issue": "重大：电源模块发热", "urgent": "同行销售政策重大变化",
    }
    assert list(report.visits[0]) == [name for name, _, _ in EXPECTED_COLUMNS]
    assert report.visits[1] == {"customer": "北京国美电器", "visited_at": "14:00", "handled": "处理退货3件"}
    assert report.visits[2] == {"customer": "广州五金城", "visited_at": "2026/11/26 16:00-17:00",
                                "market": "需求平稳"}
    assert is_daily_form(payload)


def test_line_breaks_and_tabs_inside_a_cell(tmp_path):
    document, _, visits = _template()
    cells = visits.rows[1].cells
    _type(cells[0], "客户甲")
    _type(cells[1], "10:00")
    run = cells[2].paragraphs[0].add_run("第一行")
    run.add_break()  # Shift+Enter
    run.add_text("第二行\t附注")
    cells[2].add_paragraph("")
    cells[2].add_paragraph("")
    cells[2].add_paragraph("")
    cells[2].add_paragraph("  第三段  ")
    cells[2].add_paragraph("")
    report = read_daily_form(_save(document, tmp_path / "breaks.docx"))
    assert report.visits == [{"customer": "客户甲", "visited_at": "10:00",
                              "feedback": "第一行\n第二行\t附注\n\n第三段"}]
    assert report.report_date_text is None and report.visitor_text is None


def test_rows_added_by_the_rep_are_read(tmp_path):
    rows = [{"customer": f"客户{i}", "visited_at": f"{8 + i}:00", "effect": "好"} for i in range(9)]
    report = read_daily_form(_form(tmp_path, rows, extra_rows=4))
    assert [v["customer"] for v in report.visits] == [f"客户{i}" for i in range(9)]


def test_blank_form_has_no_visits(tmp_path):
    report = read_daily_form(_form(tmp_path, [], date=None, visitor=None))
    assert report == FormReport(report_date_text=None, visitor_text=None, visits=[])


def test_header_values_only(tmp_path):
    report = read_daily_form(_form(tmp_path, [], date=" 2026年11月26日 ", visitor=None))
    assert report.report_date_text == "2026年11月26日"
    assert report.visitor_text is None
    assert report.visits == []
    # A value typed with its own label again.
    report = read_daily_form(_form(tmp_path, [], date="Date: 2026-11-30", visitor="巡访人员：赵敏"))
    assert (report.report_date_text, report.visitor_text) == ("2026-11-30", "赵敏")


# --------------------------------------------------------------------------- other layouts


def test_reordered_english_only_header_and_date_paragraph(tmp_path):
    document = docx.Document()
    document.add_paragraph("Daily report")
    document.add_paragraph("Date: 2026-11-27")
    document.add_paragraph("巡访人员：李娜")
    _table_from_scratch(document,
                        ["VISIT TIME", "customer", "Matters\nhandled", "Notes", "Customer  feedback"],
                        [["09:00", "ACME Ltd", "fixed the invoice", "ignored", ""],
                         ["", "", "", "only a note", ""],
                         ["15:30", "Globex", "", "", "wants a discount\nand faster delivery"]])
    payload = _save(document, tmp_path / "english.docx")
    assert is_daily_form(payload)
    report = read_daily_form(payload)
    assert report.report_date_text == "2026-11-27"
    assert report.visitor_text == "李娜"
    assert report.visits == [
        {"customer": "ACME Ltd", "visited_at": "09:00", "handled": "fixed the invoice"},
        {"customer": "Globex", "visited_at": "15:30", "feedback": "wants a discount\nand faster delivery"},
    ]


@pytest.mark.parametrize("labels", [
    ["Customer 客户名称", "巡访效果\nEffect", "巡访时间/Visit time", "紧急 Urgent"],
    ["客户名称*", "巡访效果（必填）", "Visit Time:", "urgent"],
    ["客 户 名 称", "effect", "visited_at", "紧急"],
])
def test_column_labels_in_any_form(tmp_path, labels):
    document = docx.Document()
    _table_from_scratch(document, labels, [["甲公司", "好", "9:00", ""]])
    report = read_daily_form(_save(document, tmp_path / "labels.docx"))
    assert report.visits == [{"customer": "甲公司", "visited_at": "9:00", "effect": "好"}]


def test_header_fields_in_a_four_column_row_and_inside_the_visit_table(tmp_path):
    document = docx.Document()
    _table_from_scratch(document, ["日期", "2026-11-28", "巡访人员 Visitor", "王强"], [])
    _table_from_scratch(document, ["客户名称", "巡访时间", "处理事项"], [["丙公司", "11:00", "签约"]])
    report = read_daily_form(_save(document, tmp_path / "four.docx"))
    assert (report.report_date_text, report.visitor_text) == ("2026-11-28", "王强")
    assert report.visits == [{"customer": "丙公司", "visited_at": "11:00", "handled": "签约"}]


def test_word_table_features(tmp_path):
    """Merged cells, a row inside a content control, tracked changes, a split table."""
    document, header, visits = _template()
    _type(header.rows[0].cells[1], "2026-11-29")
    rows = visits.rows
    # Customer cell merged over two visits to the same customer.
    merged = rows[1].cells[0].merge(rows[2].cells[0])
    _type(merged, "丁公司")
    _fill_row(rows[1], {"visited_at": "9:00", "feedback": "上午拜访"})
    _fill_row(rows[2], {"visited_at": "15:00", "feedback": "下午复访"})
    # Feedback and market merged into one wide cell: read under the first column's name.
    wide = rows[3].cells[2].merge(rows[3].cells[3])
    _type(rows[3].cells[0], "戊公司")
    _type(rows[3].cells[1], "10:00")
    _type(wide, "宽单元格")
    # A tracked deletion and insertion in the effect cell.
    _type(rows[3].cells[4], "好")
    p = rows[3].cells[4].paragraphs[0]._p
    deletion = OxmlElement("w:del")
    deleted_run = OxmlElement("w:r")
    deleted_text = OxmlElement("w:delText")
    deleted_text.text = "差"
    deleted_run.append(deleted_text)
    deletion.append(deleted_run)
    insertion = OxmlElement("w:ins")
    inserted = copy.deepcopy(p.r_lst[0])
    inserted.find(qn("w:t")).text = "很"
    insertion.append(inserted)
    p.r_lst[0].addprevious(deletion)
    p.r_lst[0].addprevious(insertion)
    # A row wrapped in a content control (Word's repeating section).
    _fill_row(rows[4], {"customer": "己公司", "visited_at": "17:00", "market": "平稳"})
    tr = rows[4]._tr
    sdt, content = OxmlElement("w:sdt"), OxmlElement("w:sdtContent")
    tr.addprevious(sdt)
    sdt.append(content)
    content.append(tr)
    # The table split in two (Word: Ctrl+Shift+Enter); the second part has no header row.
    tbl = visits._tbl
    second = copy.deepcopy(tbl)
    for extra in [*second.findall(qn("w:tr"))[:-1], *second.findall(qn("w:sdt"))]:
        second.remove(extra)
    last = second.findall(qn("w:tr"))[-1]
    for tc, text in zip(last.findall(qn("w:tc")), ["庚公司", "18:00", "晚间电话"]):
        tc.find(qn("w:p")).append(copy.deepcopy(p.r_lst[-1]))
        tc.find(qn("w:p")).r_lst[-1].find(qn("w:t")).text = text
    spacer = OxmlElement("w:p")
    tbl.addnext(spacer)
    spacer.addnext(second)

    report = read_daily_form(_save(document, tmp_path / "features.docx"))
    assert report.report_date_text == "2026-11-29"
    assert report.visits == [
        {"customer": "丁公司", "visited_at": "9:00", "feedback": "上午拜访"},
        {"customer": "丁公司", "visited_at": "15:00", "feedback": "下午复访"},
        {"customer": "戊公司", "visited_at": "10:00", "feedback": "宽单元格", "effect": "很好"},
        {"customer": "己公司", "visited_at": "17:00", "market": "平稳"},
        {"customer": "庚公司", "visited_at": "18:00", "feedback": "晚间电话"},
    ]


def test_large_form_is_read_quickly(tmp_path):
    rows = [{"customer": f"客户{i}", "visited_at": "9:00", "feedback": "意见一\n意见二"} for i in range(600)]
    payload = _form(tmp_path, [], name="big.docx", extra_rows=600)
    document = docx.Document(io.BytesIO(payload))
    for row, values in zip(document.tables[1].rows[1:], rows):
        _fill_row(row, {k: tuple(v.split("\n")) for k, v in values.items()})
    payload = _save(document, tmp_path / "big.docx")
    started = time.perf_counter()
    report = read_daily_form(payload)
    elapsed = time.perf_counter() - started
    assert len(report.visits) == 600 and report.visits[-1]["feedback"] == "意见一\n意见二"
    assert elapsed < 3, f"reading 600 rows took {elapsed:.1f} s"


# --------------------------------------------------------------------------- not a form / bad input


def test_docx_without_the_table_is_not_a_form():
    payload = (FIXTURES / "letter.docx").read_bytes()
    assert not is_daily_form(payload)
    with pytest.raises(FormError, match="no visit table"):
        read_daily_form(payload)


def test_customer_card_is_not_a_form():
    """A card with a 客户名称 label cell is not a report: the header row needs a second column."""
    payload = (FIXTURES / "customer_card.docx").read_bytes()
    assert not is_daily_form(payload)
    with pytest.raises(FormError):
        read_daily_form(payload)


@pytest.mark.parametrize("name, payload, words", [
    ("truncated download", None, "not a valid zip"),
    ("empty", b"", "empty"),
    ("text", "客户名称：甲公司\n巡访时间：9:00".encode(), "not a valid zip"),
    ("old .doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "Word 97-2003"),
])
def test_bad_files_raise_form_error(name, payload, words):
    if payload is None:
        payload = (FIXTURES / "corrupt.docx").read_bytes()
    assert not is_daily_form(payload)
    with pytest.raises(FormError, match=words):
        read_daily_form(payload)


def test_zip_that_is_not_a_docx_and_broken_xml(tmp_path):
    plain = io.BytesIO()
    with zipfile.ZipFile(plain, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(FormError, match="could not be opened as a Word"):
        read_daily_form(plain.getvalue())

    broken = io.BytesIO()
    with zipfile.ZipFile(TEMPLATE) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            target.writestr(info.filename, data[: len(data) // 2] if info.filename == "word/document.xml" else data)
    with pytest.raises(FormError):
        read_daily_form(broken.getvalue())
    assert not is_daily_form(broken.getvalue())


def test_damaged_bytes_only_ever_raise_form_error():
    original = TEMPLATE.read_bytes()
    rng = random.Random(20261126)
    outcomes = set()
    for _ in range(150):
        damaged = bytearray(original)
        for _ in range(rng.randint(1, 8)):
            damaged[rng.randrange(len(damaged))] = rng.randrange(256)
        if rng.random() < 0.2:
            damaged = damaged[: rng.randrange(len(damaged))]
        try:
            read_daily_form(bytes(damaged))
            outcomes.add("read")
        except FormError:
            outcomes.add("FormError")
        is_daily_form(bytes(damaged))  # never raises
    assert "FormError" in outcomes


def _zip_bomb(path: Path, size: int) -> bytes:
    """A docx-shaped zip whose document.xml is `size` zero bytes, written in 1 MB chunks."""
    chunk = bytes(1024 * 1024)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with zipfile.ZipFile(TEMPLATE) as source:
            archive.writestr("[Content_Types].xml", source.read("[Content_Types].xml"))
            archive.writestr("_rels/.rels", source.read("_rels/.rels"))
        with archive.open("word/document.xml", "w", force_zip64=True) as member:
            for _ in range(size // len(chunk)):
                member.write(chunk)
    return path.read_bytes()


def test_zip_bomb_is_refused_without_unpacking(tmp_path):
    payload = _zip_bomb(tmp_path / "bomb.docx", 200 * 1024 * 1024)
    assert len(payload) < 1024 * 1024
    started = time.perf_counter()
    with pytest.raises(FormError, match=r"unpack to 200\.0 MB .*50\.0 MB"):
        read_daily_form(payload)
    assert not is_daily_form(payload)
    assert time.perf_counter() - started < 0.5


def test_highly_compressed_member_is_refused_even_under_the_size_limit(tmp_path):
    payload = _zip_bomb(tmp_path / "small_bomb.docx", 8 * 1024 * 1024)
    with pytest.raises(FormError, match=r"zip bomb.*word/document\.xml.*8\.0 MB"):
        read_daily_form(payload)
    with pytest.raises(FormError, match="limit"):
        read_daily_form(TEMPLATE.read_bytes(), max_unzipped_bytes=100_000)


# --------------------------------------------------------------------------- fixtures


def build_fixtures(folder: Path = FIXTURES) -> None:
    """Write the static inputs in tests/fixtures/wordform/ (run this module to rebuild them)."""
    folder.mkdir(parents=True, exist_ok=True)
    letter = docx.Document()
    letter.add_paragraph("客户名称：甲公司")
    letter.add_paragraph("巡访时间：2026-11-26 09:30")
    letter.add_paragraph("Dear colleague, please find the brochure attached.")
    letter.save(folder / "letter.docx")

    card = docx.Document()
    card.add_paragraph("客户卡 Customer card")
    _table_from_scratch(card, ["客户名称", "甲公司"], [["联系人", "赵六"], ["电话", "021-5555 0101"]])
    card.save(folder / "customer_card.docx")

    template = TEMPLATE.read_bytes()
    (folder / "corrupt.docx").write_bytes(template[: len(template) // 2])  # a cut-off download


def test_fixtures_are_present():
    for name in ("letter.docx", "customer_card.docx", "corrupt.docx"):
        assert (FIXTURES / name).is_file(), f"missing fixture {name}: run .venv/bin/python -m tests.test_wordform"


if __name__ == "__main__":
    build_fixtures(Path(sys.argv[1]) if len(sys.argv) > 1 else FIXTURES)
    print(f"wrote fixtures to {FIXTURES}")
