"""Filling the gift budget application Word template (service.documents.docx_forms) and the template.

Each rendered form is opened again with python-docx and read cell by cell, the way a reader
would see it in Word.
"""

from __future__ import annotations

import importlib.util
import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import docx
import pytest
from docx.enum.section import WD_ORIENT
from docx.oxml.ns import qn
from docx.shared import Mm
from docxtpl import DocxTemplate

from service.documents.docx_forms import GIFT_TEMPLATE, FormRenderError, render_gift_form

REPO = Path(__file__).resolve().parents[1]

# (data name, Chinese label, English label) in the order of the field table.
FIELDS = [
    ("number", "申请编号", "No."),
    ("requester_name", "申请人", "Applicant"),
    ("unit_name", "事业部", "Unit"),
    ("region_name", "地区", "Region"),
    ("customer", "客户名称", "Customer"),
    ("items", "礼品", "Gift"),
    ("quantity", "数量", "Quantity"),
    ("amount", "预算金额", "Amount"),
    ("reason", "事由", "Reason"),
    ("planned_date", "赠送日期", "Date"),
    ("applied_at", "申请日期", "Applied"),
    ("budget_remaining", "本期预算余额", "Remaining budget"),
]
TRAIL_KEYS = ["step", "approver", "decision", "comment", "time"]
TRAIL_HEADER = ["步骤\nStep", "审批人\nApprover", "结果\nDecision", "意见\nComment", "时间\nTime"]
NO_TRAIL = "尚无审批记录"


def _data(**changes) -> dict:
    data = {
        "number": "LP-2026-0042",
        "requester_name": "张伟",
        "unit_name": "华东事业部",
        "region_name": "上海",
        "customer": "上海华联超市（浦东店）",
        "items": "茶叶礼盒（西湖龙井 250g）",
        "quantity": "2",
        "amount": "1,200.00",
        "reason": "年末答谢老客户，配合新款节能灯推广",
        "planned_date": "2026-12-05",
        "applied_at": "2026-11-26 10:15",
        "budget_remaining": "¥8,800.00",
        "status": "已批准 / Approved",
        "trail": [
            {"step": "1 事业部长", "approver": "李娜", "decision": "同意",
             "comment": "可以，注意控制数量", "time": "2026-11-26 14:02"},
            {"step": "2 公司领导", "approver": "王强", "decision": "批准",
             "comment": "", "time": "2026-11-27 09:30"},
        ],
    }
    data.update(changes)
    return data


def _open(payload: bytes):
    return docx.Document(io.BytesIO(payload))


def _fields(document) -> dict[str, str]:
    """The field table as {Chinese label: value cell text}."""
    table = document.tables[0]
    result = {}
    for row in table.rows:
        label, value = row.cells
        result[label.text.split("\n")[0]] = value.text
    return result


def _trail(document) -> list[list[str]]:
    return [[cell.text for cell in row.cells] for row in document.tables[1].rows]


def _document_xml(payload: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        return archive.read("word/document.xml").decode("utf-8")


# --------------------------------------------------------------------------- rendering


def test_every_value_lands_in_its_cell():
    data = _data()
    document = _open(render_gift_form(data))

    table = document.tables[0]
    assert [row.cells[0].text for row in table.rows] == [f"{zh}\n{en}" for _, zh, en in FIELDS]
    fields = _fields(document)
    for name, zh, _en in FIELDS:
        expected = f"¥{data[name]}" if name == "amount" else data[name]
        assert fields[zh] == expected, f"{name} ({zh})"

    assert _trail(document) == [
        TRAIL_HEADER,
        ["1 事业部长", "李娜", "同意", "可以，注意控制数量", "2026-11-26 14:02"],
        ["2 公司领导", "王强", "批准", "", "2026-11-27 09:30"],
    ]
    texts = [p.text for p in document.paragraphs]
    assert texts[:2] == ["赠送礼品预算申请表", "Gift Budget Application"]
    assert "审批记录 / Approval trail" in texts
    assert "状态 / Status：已批准 / Approved" in texts
    assert not any(NO_TRAIL in text for text in texts)

    xml = _document_xml(render_gift_form(data))
    assert "{{" not in xml and "{%" not in xml and "}}" not in xml and "%}" not in xml
    # Filled text keeps the template run's fonts: SimSun for East Asian text on every run.
    runs = list(document.element.body.iter(qn("w:r")))
    assert runs and all(r.find(f"{qn('w:rPr')}/{qn('w:rFonts')}").get(qn("w:eastAsia")) == "SimSun"
                        for r in runs)


@pytest.mark.parametrize("text", [
    "<script>&\"'",
    "月报 <2026-03> & 汇总",
    "A&B <b>bold</b> &amp; &lt; ]]> <w:p/>",
    "{{ 7*7 }} {% if true %}x{% endif %} {%tr for x in y %}",
    "{_{ docxtpl }_} {_% tag %_}",
])
def test_customer_text_comes_out_literally(text):
    trail = [{"step": "1", "approver": text, "decision": "驳回", "comment": text, "time": "2026-11-26"}]
    payload = render_gift_form(_data(customer=text, items=text, status=text, trail=trail))
    document = _open(payload)
    fields = _fields(document)
    assert fields["客户名称"] == text
    assert fields["礼品"] == text
    assert _trail(document)[1] == ["1", text, "驳回", text, "2026-11-26"]
    assert f"状态 / Status：{text}" in [p.text for p in document.paragraphs]
    if "<" in text:
        assert "&lt;" in _document_xml(payload)


def test_newlines_become_line_breaks():
    payload = render_gift_form(_data(reason="年末答谢\r\n配合新品推广\n\n第三行", items="礼盒A\n礼盒B",
                                     trail=[{"step": "1", "approver": "李娜", "decision": "同意",
                                             "comment": "第一点\n第二点", "time": "2026-11-26"}]))
    document = _open(payload)
    fields = _fields(document)
    assert fields["事由"] == "年末答谢\n配合新品推广\n\n第三行"
    assert fields["礼品"] == "礼盒A\n礼盒B"
    assert _trail(document)[1][3] == "第一点\n第二点"
    reason_cell = document.tables[0].rows[8].cells[1]
    assert len(reason_cell.paragraphs) == 1  # line breaks inside one paragraph, not new paragraphs
    assert len(reason_cell._tc.findall(f".//{qn('w:br')}")) == 3


def test_characters_xml_cannot_hold_and_other_breaks():
    document = _open(render_gift_form(_data(customer="甲\x00乙\x07丙\x0c丁\x0b戊\t己")))
    assert _fields(document)["客户名称"] == "甲\ufffd乙\n丙\n丁\n戊\t己"


def test_values_that_are_not_strings():
    document = _open(render_gift_form(_data(quantity=3, amount=None)))
    fields = _fields(document)
    assert fields["数量"] == "3"
    assert fields["预算金额"] == "¥"


def test_empty_trail_leaves_the_header_row_and_says_so():
    document = _open(render_gift_form(_data(trail=[], status="待审批 / Pending")))
    assert _trail(document) == [TRAIL_HEADER]
    texts = [p.text for p in document.paragraphs]
    assert any(text.startswith(NO_TRAIL) for text in texts)
    assert "状态 / Status：待审批 / Pending" in texts
    assert not any("{%" in text for text in texts)


@pytest.mark.parametrize("missing", [name for name, _, _ in FIELDS] + ["status", "trail"])
def test_missing_key_is_an_error_naming_it(missing):
    data = _data()
    del data[missing]
    with pytest.raises(FormRenderError, match=f"'{missing}' is undefined"):
        render_gift_form(data)


def test_missing_key_in_a_trail_entry_is_an_error_naming_it():
    data = _data()
    del data["trail"][1]["comment"]
    with pytest.raises(FormRenderError, match="'comment'"):
        render_gift_form(data)


def test_rendering_leaves_the_template_untouched():
    before = GIFT_TEMPLATE.read_bytes()
    render_gift_form(_data())
    assert GIFT_TEMPLATE.read_bytes() == before


# --------------------------------------------------------------------------- other templates


def _custom_template(tmp_path: Path, *lines: str) -> Path:
    document = docx.Document()
    for line in lines:
        document.add_paragraph(line)
    path = tmp_path / "custom.docx"
    document.save(path)
    return path


def test_a_customer_edited_template(tmp_path):
    path = _custom_template(tmp_path, "礼品申请 {{ number }}", "客户：{{ customer|upper }}",
                            "{% for s in trail %}{{ s.approver }}:{{ s.decision }};{% endfor %}")
    document = _open(render_gift_form(_data(customer="acme <ltd> & co"), template=path))
    assert [p.text for p in document.paragraphs] == [
        "礼品申请 LP-2026-0042", "客户：ACME <LTD> & CO", "李娜:同意;王强:批准;"]


@pytest.mark.parametrize("line, words", [
    ("{{ budget_total }}", "'budget_total' is undefined"),
    ("{{ customer }", "unexpected '}'"),
    ("{% if customer %}never closed", "if"),
    ("{{ customer.__class__.__mro__ }}", "__class__"),
])
def test_broken_templates_raise_form_render_error(tmp_path, line, words):
    path = _custom_template(tmp_path, "标题", line)
    with pytest.raises(FormRenderError, match=re.escape(words)) as caught:
        render_gift_form(_data(), template=path)
    assert "custom.docx" in str(caught.value)


def test_unreadable_template(tmp_path):
    with pytest.raises(FormRenderError, match="could not be read"):
        render_gift_form(_data(), template=tmp_path / "missing.docx")


# --------------------------------------------------------------------------- the template


def test_template_variables_and_tags_in_single_runs():
    template = DocxTemplate(str(GIFT_TEMPLATE))
    assert template.get_undeclared_template_variables() == {
        name for name, _, _ in FIELDS} | {"status", "trail"}
    document = docx.Document(str(GIFT_TEMPLATE))
    tags = []
    for run in document.element.body.iter(qn("w:r")):
        text = "".join(t.text or "" for t in run.iter(qn("w:t")))
        tags += re.findall(r"\{\{.*?\}\}|\{%.*?%\}", text)
        # A tag never starts in one run and ends in another.
        assert text.count("{{") == text.count("}}") and text.count("{%") == text.count("%}"), text
    assert "{%tr for step in trail %}" in tags and "{%tr endfor %}" in tags
    assert {f"{{{{ step.{key} }}}}" for key in TRAIL_KEYS} <= set(tags)
    assert "¥{{ amount }}" in [
        "".join(t.text or "" for t in r.iter(qn("w:t"))) for r in document.element.body.iter(qn("w:r"))]


def test_template_fonts_and_page():
    document = docx.Document(str(GIFT_TEMPLATE))
    normal = document.styles["Normal"].element
    assert normal.find(f"{qn('w:rPr')}/{qn('w:rFonts')}").get(qn("w:eastAsia")) == "SimSun"
    defaults = document.styles.element.find(f"{qn('w:docDefaults')}/{qn('w:rPrDefault')}/{qn('w:rPr')}")
    assert defaults.find(qn("w:rFonts")).get(qn("w:eastAsia")) == "SimSun"
    assert defaults.find(qn("w:lang")).get(qn("w:eastAsia")) == "zh-CN"
    runs = list(document.element.body.iter(qn("w:r")))
    assert runs and all(r.find(f"{qn('w:rPr')}/{qn('w:rFonts')}").get(qn("w:eastAsia")) == "SimSun"
                        for r in runs)
    section = document.sections[0]
    assert (section.page_width.twips, section.page_height.twips) == (Mm(210).twips, Mm(297).twips)
    assert section.orientation == WD_ORIENT.PORTRAIT
    assert document.core_properties.title.startswith("赠送礼品预算申请表")


@pytest.mark.parametrize("builder, committed", [
    ("build_daily_report", "daily_report.docx"),
    ("build_gift_request", "gift_request.docx"),
])
def test_each_committed_form_is_what_the_script_builds(builder, committed):
    spec = importlib.util.spec_from_file_location("make_forms", REPO / "scripts" / "make_forms.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = getattr(module, builder)()
    with zipfile.ZipFile(io.BytesIO(built)) as fresh, \
            zipfile.ZipFile(REPO / "templates" / "forms" / committed) as on_disk:
        assert fresh.namelist() == on_disk.namelist()
        for name in fresh.namelist():
            assert fresh.read(name) == on_disk.read(name), \
                f"{committed}: {name} differs: run .venv/bin/python scripts/make_forms.py"


def test_filled_form_renders_chinese_in_libreoffice(tmp_path):
    office = shutil.which("libreoffice") or shutil.which("soffice")
    if office is None or shutil.which("pdftotext") is None:
        pytest.skip("libreoffice or pdftotext not installed")
    source = tmp_path / "gift.docx"
    source.write_bytes(render_gift_form(_data(customer="月报 <2026-03> & 汇总")))
    profile = tmp_path / "lo-profile"
    subprocess.run([office, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=180)
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "gift.pdf"), "-"],
                          check=True, capture_output=True, text=True).stdout
    assert "赠送礼品预算申请表" in text
    assert "月报 <2026-03> & 汇总" in text and "李娜" in text
