"""The customer registry from the command line: import, export, list (spec §5, Articles 2 and 4)."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from service.cli import cli
from service.intake import Intake, PollResult
from service.store import customers as store
from service.store.db import open_db

from .conftest import FIXTURES, make_mail

REGISTRY = FIXTURES / "customers" / "registry.csv"
FLAG_WARNING = ("警告：第 6 行 C005“联华便利（徐汇店）”的指定巡访人 赵强 是上海地区的业务员"
                "（第四条：原则上不能由本地区的负责业务员担任）")
# What registry.csv is stored as: id → the row of the customers table.
EXPECTED = {
    "C001": ("上海华联超市有限公司", '["华联超市 浦东店", "华联浦东"]', "retailer", "shanghai", "east", "A",
             "li.lei@visitflow.test", "张经理", "021-58880000", "上海市浦东新区张杨路1号", 0),
    "C002": ("杭州西湖茶叶店", '["西湖茶叶", "龙井茶庄"]', "dealer", "hangzhou", "east", "B",
             "han.meimei@visitflow.test", "王五", "0571-88888888", "杭州市西湖区龙井路1号", 0),
    "C003": ("北京喆镕商贸有限责任公司", '["Zherong Trading"]', "processor", "beijing", "north", "C",
             "tom.baker@visitflow.test", "Li Na", "13800138000", "北京市朝阳区建国路8号", 0),
    "C004": ("ACME Co.，Ltd.", '["Acme Beijing"]', "dealer", "beijing", "north", "D",
             "tom.baker@visitflow.test", "", "010-66668888", "", 0),
    "C005": ("联华便利（徐汇店）", "[]", "retailer", "shanghai", "east", "B",
             "zhao.qiang@visitflow.test", "", "", "", 1),
}


def run(config_file: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(config_file), "customers", *args])


def stored(config_file: Path) -> dict[str, tuple]:
    db = open_db(config_file.parent / "visitflow.db")  # migrated, also when no command opened it yet
    try:
        return {row[0]: row[1:] for row in db.execute(
            "SELECT id, name, aliases, type, region, unit, tier, designated_visitor, contact, phone, address, "
            "salesperson_flag FROM customers ORDER BY id")}
    finally:
        db.close()


def registry_rows() -> list[list[str]]:
    return list(csv.reader(io.StringIO(REGISTRY.read_text(encoding="utf-8"))))


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8", delimiter: str = ",") -> Path:
    out = io.StringIO()
    csv.writer(out, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode(encoding))
    return path


def imported(config_file: Path, path: Path) -> None:
    result = run(config_file, "import", str(path))
    assert result.exit_code == 0, result.output


# ----------------------------------------------------------------------------- import


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030"])
def test_a_csv_registry_with_chinese_headers_imports_in_each_encoding(config_file, tmp_path, encoding):
    path = write_csv(tmp_path / "客户名录.csv", registry_rows(), encoding)

    result = run(config_file, "import", str(path))

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [FLAG_WARNING, "imported 客户名录.csv: 5 added, 0 changed, 0 unchanged"]
    assert stored(config_file) == EXPECTED


def test_an_xlsx_with_english_headers_in_another_order_below_a_title_imports_the_same(config_file, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Customer registry, December 2026"])
    sheet.append([])
    sheet.append(["Tier", "Customer ID", "Name", "Type", "Region", "Designated visitor", "Aliases", "Contact",
                  "Phone", "Address"])
    for r in registry_rows()[1:]:
        ident, name, aliases, kind, region, tier, visitor, contact, phone, address, _note = r
        # Excel keeps a phone typed without a dash as a number.
        sheet.append([tier.lower(), ident, name, kind, region, visitor, aliases, contact,
                      int(phone) if phone.isdigit() else phone, address])
    path = tmp_path / "customers.xlsx"
    book.save(path)

    result = run(config_file, "import", str(path))

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [FLAG_WARNING.replace("第 6 行", "第 8 行"),
                                          "imported customers.xlsx: 5 added, 0 changed, 0 unchanged"]
    assert stored(config_file) == EXPECTED


def test_a_semicolon_separated_csv_with_english_type_and_tier_words_imports(config_file, tmp_path):
    rows = [["id", "name", "type", "region", "tier", "designated visitor"],
            ["N1", "Great Wall Foods", "Retailer", "Beijing", "A类", "Tom Baker"],
            ["N2", "长城食品（朝阳店）", "委托加工工厂", "beijing", "ｂ", ""]]
    result = run(config_file, "import", str(write_csv(tmp_path / "n.csv", rows, delimiter=";")))

    assert result.exit_code == 0, result.output
    assert [(k, v[2], v[3], v[5], v[6]) for k, v in stored(config_file).items()] == [
        ("N1", "retailer", "beijing", "A", "tom.baker@visitflow.test"), ("N2", "processor", "beijing", "B", None)]


def test_every_bad_row_is_named_by_row_and_column_and_nothing_is_written(config_file, tmp_path):
    imported(config_file, REGISTRY)
    rows = registry_rows()[:2] + [
        ["C010", "苏州好又多", "", "零售商", "苏州", "A", "", "", "", "", ""],       # row 3: unknown region
        ["C011", "杭州联华", "", "零售商", "杭州", "E", "", "", "", "", ""],         # row 4: tier E
        ["C001", "上海华联二店", "", "零售商", "上海", "B", "", "", "", "", ""],     # row 5: duplicate id
        ["C012", "", "", "经销商", "上海", "C", "", "", "", "", ""],                # row 6: missing name
        ["C013", "北京物美", "", "批发商", "北京", "C", "", "", "", "", ""],        # row 7: bad type
        ["C014", "北京超市发", "", "零售商", "北京", "C", "王小明", "", "", "", ""],  # row 8: unknown visitor
    ]
    changed = [rows[0], [*rows[1][:8], "021-00000000", *rows[1][9:]], *rows[2:]]  # row 2 alone would change

    result = run(config_file, "import", str(write_csv(tmp_path / "bad.csv", changed)))

    assert result.exit_code == 2
    assert result.output.splitlines() == [
        "visitflow: bad.csv 未导入（全部不写入）：6 处问题，请改正后重新导入",
        "  第 3 行 E 列“地区”：未知地区“苏州”，配置中的地区有：上海（shanghai）、杭州（hangzhou）、北京（beijing）",
        "  第 4 行 F 列“等级”：等级“E”无效，应为 A、B、C、D 之一",
        "  第 5 行 A 列“客户编号”：客户编号“C001”与第 2 行重复",
        "  第 6 行 B 列“客户名称”：缺少客户名称",
        ("  第 7 行 D 列“类型”：无法识别的客户类型“批发商”，应为 经销商（dealer）、零售商（retailer）、"
         "委托加工厂（processor）、消费者（consumer） 之一"),
        "  第 8 行 G 列“指定巡访人”：指定巡访人“王小明”不是配置中的人员（请写配置中的姓名或邮箱）",
    ]
    assert stored(config_file) == EXPECTED  # the good row 2 was not written either


@pytest.mark.parametrize("rows, line", [
    ([["序号", "公司", "城市"], ["1", "华联", "上海"]],
     "  找不到表头行：表头应含 客户编号 客户名称 类型 地区 等级（或英文 id, name, type, region, tier）"),
    ([["客户编号", "客户名称", "地区"], ["C1", "华联", "上海"]], "  第 1 行：表头缺少 “类型 type”、“等级 tier” 列"),
])
def test_a_file_without_the_registry_header_says_which_columns_it_needs(config_file, tmp_path, rows, line):
    result = run(config_file, "import", str(write_csv(tmp_path / "x.csv", rows)))
    assert result.exit_code == 2
    assert result.output.splitlines()[1:] == [line]


@pytest.mark.parametrize("rows, problem", [
    ([["C1", "上海华联超市", "", "零售商", "上海", "A"], ["C2", "华联超市有限公司", "上海华联", "零售商", "杭州", "B"],
      ["C3", "华联超市", "", "零售商", "上海", "B"]],
     "  第 4 行：客户“华联超市”的名称或别名与第 3 行客户 C2“华联超市有限公司”在同一事业部内无法区分"),
    ([["C1", "上海华联超市", "", "零售商", "上海", "A"], ["C2", "上海 华联超市 有限公司", "", "零售商", "杭州", "B"]],
     "  第 3 行：客户“上海 华联超市 有限公司”的名称或别名与第 2 行客户 C1“上海华联超市”在同一事业部内无法区分"),
])
def test_two_customers_a_visit_could_not_tell_apart_in_one_unit_are_refused(config_file, tmp_path, rows, problem):
    header = ["客户编号", "客户名称", "别名", "类型", "地区", "等级"]
    result = run(config_file, "import", str(write_csv(tmp_path / "x.csv", [header, *rows])))
    assert result.exit_code == 2
    assert result.output.splitlines()[1].startswith(problem)
    assert stored(config_file) == {}


def test_a_name_clashing_with_a_stored_customer_the_file_leaves_alone_is_refused(config_file, tmp_path):
    imported(config_file, REGISTRY)
    rows = [["客户编号", "客户名称", "类型", "地区", "等级"], ["C099", "西湖茶叶", "零售商", "杭州", "C"]]
    result = run(config_file, "import", str(write_csv(tmp_path / "x.csv", rows)))
    assert result.exit_code == 2
    assert result.output.splitlines()[1].startswith(
        "  第 2 行：客户“西湖茶叶”的名称或别名与名录中已有的客户 C002“杭州西湖茶叶店”在同一事业部内无法区分")


def test_the_same_name_in_two_units_is_two_customers(config_file, tmp_path):
    rows = [["客户编号", "客户名称", "类型", "地区", "等级"], ["E1", "物美超市", "零售商", "上海", "A"],
            ["N1", "物美超市", "零售商", "北京", "A"]]
    imported(config_file, write_csv(tmp_path / "x.csv", rows))
    assert list(stored(config_file)) == ["E1", "N1"]


@pytest.mark.parametrize("content, line", [
    (b"", "visitflow: 文件 x.xlsx 是空的"),
    (b"PK\x03\x04broken", "visitflow: 文件 x.xlsx 已损坏（不是完整的 .xlsx），请重新保存后再试"),
])
def test_a_file_that_is_no_table_is_one_line_and_exit_2(config_file, tmp_path, content, line):
    (tmp_path / "x.xlsx").write_bytes(content)
    result = run(config_file, "import", str(tmp_path / "x.xlsx"))
    assert (result.exit_code, result.output.splitlines()) == (2, [line])


def test_reimporting_updates_by_id_and_says_how_many_were_added_changed_and_unchanged(config_file, tmp_path):
    imported(config_file, REGISTRY)
    rows = registry_rows()
    rows[2][5] = "A"  # C002 from tier B to A
    rows[4][8] = "010-66660000"  # C004's phone
    rows.append(["C006", "杭州解百", "", "零售商", "杭州", "C", "", "", "", "", ""])

    result = run(config_file, "import", str(write_csv(tmp_path / "v2.csv", rows[:1] + rows[2:])))  # C001 not named

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "imported v2.csv: 1 added, 2 changed, 2 unchanged"
    after = stored(config_file)
    assert after["C001"] == EXPECTED["C001"]  # a customer the file does not name stays
    assert after["C002"][5] == "A" and after["C004"][8] == "010-66660000"
    assert after["C006"][0] == "杭州解百"


def test_a_dry_run_says_what_would_change_and_writes_nothing(config_file, tmp_path):
    imported(config_file, REGISTRY)
    rows = registry_rows()
    rows[3][1] = "北京喆镕商贸股份有限公司"
    rows.append(["C006", "杭州解百", "", "零售商", "杭州", "C", "", "", "", "", ""])

    result = run(config_file, "import", str(write_csv(tmp_path / "v2.csv", rows)), "--dry-run")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[1:] == ["dry run, nothing written: v2.csv would give 1 added, 1 changed, 4 unchanged",
                                              "  would add: C006", "  would change: C003"]
    assert stored(config_file) == EXPECTED


# ----------------------------------------------------------------------------- export


@pytest.mark.parametrize("suffix", [".csv", ".xlsx"])
def test_an_export_imports_back_with_nothing_added_or_changed(config_file, tmp_path, suffix):
    imported(config_file, REGISTRY)
    out = tmp_path / f"导出{suffix}"

    exported = run(config_file, "export", str(out))
    again = run(config_file, "import", str(out))

    assert exported.output.strip() == f"exported 5 customer(s) to {out}"
    assert again.exit_code == 0, again.output
    assert again.output.splitlines()[-1] == f"imported 导出{suffix}: 0 added, 0 changed, 5 unchanged"
    assert stored(config_file) == EXPECTED


def test_the_csv_export_has_excels_bom_and_the_chinese_headers(config_file, tmp_path):
    imported(config_file, REGISTRY)
    run(config_file, "export", str(tmp_path / "out.csv"))
    data = (tmp_path / "out.csv").read_bytes()
    assert data.startswith("客户编号,客户名称,别名,类型,地区,等级,指定巡访人,联系人,电话,地址\r\n".encode("utf-8-sig"))
    assert "C002,杭州西湖茶叶店,西湖茶叶；龙井茶庄,经销商,杭州,B,han.meimei@visitflow.test,王五" in data.decode("utf-8-sig")


def test_an_export_to_another_kind_of_file_is_one_clear_line(config_file, tmp_path):
    result = run(config_file, "export", str(tmp_path / "out.ods"))
    assert (result.exit_code, result.output.strip()) == (2, "visitflow: cannot export to out.ods: name a .csv or .xlsx file")


# ----------------------------------------------------------------------------- Article 4 and list


def test_a_designated_visitor_who_is_the_regions_salesperson_is_flagged_listed_and_queryable(config_file, cfg, ctx):
    imported(config_file, REGISTRY)

    listing = run(config_file, "list").output.splitlines()

    assert "C005\t联华便利（徐汇店）\tB\tretailer\t上海\t赵强 !\tnever visited" in listing
    assert "C003\t北京喆镕商贸有限责任公司\tC\tprocessor\t北京\tTom Baker\tnever visited" in listing
    assert listing[-1] == "5 customer(s); 1 with the region's salesperson as designated visitor (!, Article 4)"
    assert [c.id for c in store.salesperson_flags(ctx.db, "east")] == ["C005"]
    assert store.salesperson_flags(ctx.db, "north") == []


@pytest.mark.parametrize("tier, ids", [("A", ["C001"]), ("b", ["C002", "C005"]), ("D", ["C004"])])
def test_list_by_tier_shows_only_that_tier(config_file, tier, ids):
    imported(config_file, REGISTRY)
    lines = run(config_file, "list", "--tier", tier).output.splitlines()
    assert [line.split("\t")[0] for line in lines[:-1]] == ids


def deliver(ctx, uid: int, sender: str, body: str, subject: str = "巡访日报") -> None:
    """Record and process one mail as the intake would, without a mail server."""
    intake = Intake(ctx)
    recorded, msg = intake.record("INBOX", 1, uid, make_mail(sender=sender, subject=subject, body=body).as_bytes())
    assert intake.process(recorded.id, PollResult(), msg=msg) == "processed"


def test_overdue_lists_days_since_the_last_visit_or_since_import_when_never_visited(config_file, ctx):
    deliver(ctx, 1, "li.lei@visitflow.test", "日期：2026-11-26\n客户名称：上海华联超市\n巡访时间：09:30\n巡访效果：下单\n"
                                              "客户名称：联华便利(徐汇店)\n巡访时间：14:00\n巡访效果：补货\n")
    deliver(ctx, 2, "tom.baker@visitflow.test", "Date: 2026-12-10\nCustomer: ACME\nVisit time: 10:00\nEffect: ok\n",
            subject="Daily report")
    imported(config_file, REGISTRY)  # after the visits: they still count
    ctx.db.execute("UPDATE customers SET imported_at = '2026-09-01T02:00:00+00:00'")

    result = run(config_file, "list", "--overdue", "--as-of", "2026-12-15")

    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "C001\t上海华联超市有限公司\tA\t上海\tlast visit 2026-11-26\t19 days since last visit (limit 10)",
        "C002\t杭州西湖茶叶店\tB\t杭州\tlast visit never\t105 days since import (limit 20)",
        "C003\t北京喆镕商贸有限责任公司\tC\t北京\tlast visit never\t105 days since import (limit 40)",
        "3 customer(s) overdue as of 2026-12-15",
    ]
    # C005 (B: 20 days) was visited 19 days before, C004 (D: 100 days) 5 days before: not overdue.
    # A later day makes C001 only more overdue.
    later = run(config_file, "list", "--overdue", "--tier", "A", "--as-of", "2026-12-20").output.splitlines()
    assert later == ["C001\t上海华联超市有限公司\tA\t上海\tlast visit 2026-11-26\t24 days since last visit (limit 10)",
                     "1 customer(s) overdue as of 2026-12-20"]
    assert [o.customer.id for o in store.overdue(ctx.db, ctx.cfg, date(2026, 9, 5))] == []  # just imported


def test_a_visit_after_the_as_of_day_does_not_count_for_it(config_file, ctx):
    imported(config_file, REGISTRY)
    deliver(ctx, 1, "li.lei@visitflow.test", "日期：2026-12-20\n客户名称：华联浦东\n巡访时间：09:30\n巡访效果：下单\n")
    ctx.db.execute("UPDATE customers SET imported_at = '2026-09-01T02:00:00+00:00'")
    assert "C001" in [o.customer.id for o in store.overdue(ctx.db, ctx.cfg, date(2026, 12, 15))]
    assert "C001" not in [o.customer.id for o in store.overdue(ctx.db, ctx.cfg, date(2026, 12, 21))]


@pytest.mark.parametrize("args, line", [
    (["--as-of", "15.12.2026"], "visitflow: --as-of '15.12.2026' is not a date: write it as 2026-12-15"),
    (["--unit", "south"], "visitflow: unknown unit 'south': the units are east, north"),
])
def test_a_bad_list_option_is_one_clear_line(config_file, args, line):
    result = run(config_file, "list", "--overdue", *args)
    assert (result.exit_code, result.output.strip()) == (2, line)


# ----------------------------------------------------------------------------- matching visits


def test_a_registry_imported_after_the_visits_matches_them_and_a_reimport_moving_a_customer_unmatches(
        config_file, ctx, tmp_path):
    deliver(ctx, 1, "li.lei@visitflow.test", "日期：2026-11-26\n客户名称：西湖茶叶\n巡访时间：09:30\n巡访效果：下单\n")
    assert ctx.db.execute("SELECT customer_id FROM visits").fetchall() == [(None,)]

    imported(config_file, REGISTRY)
    assert ctx.db.execute("SELECT customer, customer_id FROM visits").fetchall() == [("西湖茶叶", "C002")]

    rows = registry_rows()
    rows[2][4] = "北京"  # C002 moves to the north unit: 李雷 (east) did not visit a customer of his unit
    imported(config_file, write_csv(tmp_path / "moved.csv", rows))
    assert ctx.db.execute("SELECT customer, customer_id FROM visits").fetchall() == [("西湖茶叶", None)]


# --------------------------------------------------------------------------- ids and visitors as people type them

ID_HEADER = ["客户编号", "客户名称", "类型", "地区", "等级"]


@pytest.mark.parametrize("typed", ["kh-001", "ＫＨ－００１", "Kh-001 "], ids=["lower case", "full width", "mixed"])
def test_an_id_in_another_width_or_case_updates_the_customer_and_keeps_the_stored_spelling(config_file, tmp_path,
                                                                                           typed):
    assert run(config_file, "import", str(write_csv(tmp_path / "a.csv", [ID_HEADER, ["KH-001", "华联超市", "零售商",
                                                                                    "上海", "A"]]))).exit_code == 0
    result = run(config_file, "import", str(write_csv(tmp_path / "b.csv", [ID_HEADER, [typed, "华联超市", "零售商",
                                                                                     "上海", "C"]])))
    assert result.exit_code == 0 and "0 added, 1 changed, 0 unchanged" in result.output, result.output
    assert {cid: row[5] for cid, row in stored(config_file).items()} == {"KH-001": "C"}


def test_a_full_width_id_is_stored_in_half_width(config_file, tmp_path):
    assert run(config_file, "import", str(write_csv(tmp_path / "a.csv", [ID_HEADER, ["Ｃ０２１", "华联超市", "零售商",
                                                                                   "上海", "A"]]))).exit_code == 0
    assert list(stored(config_file)) == ["C021"]


@pytest.mark.parametrize("first, second", [("A001", "a001"), ("A001", "Ａ００１")])
def test_two_rows_whose_ids_differ_only_in_case_or_width_are_one_id_twice(config_file, tmp_path, first, second):
    rows = [ID_HEADER, [first, "甲超市", "零售商", "上海", "A"], [second, "乙超市", "零售商", "上海", "A"]]
    result = run(config_file, "import", "--dry-run", str(write_csv(tmp_path / "a.csv", rows)))
    assert result.exit_code == 2
    assert f"第 3 行 A 列“客户编号”：客户编号“{second}”与第 2 行重复（全角半角、大小写不同也算同一编号）" in result.output


@pytest.mark.parametrize("written, found", [("Ａ００１", "A001"), ("a001", "A001"), ("华联超市", "A001"),
                                            ("B002", None), ("联华便利", "C1")])
def test_a_visit_naming_a_customer_by_its_id_finds_it_after_names_and_aliases(written, found):
    from service.reading.customers import Customer

    def customer(cid: str, name: str, *aliases: str) -> Customer:
        return Customer(id=cid, name=name, aliases=aliases, type="retailer", region="shanghai", unit="east",
                        tier="A", designated_visitor=None)

    # "C1"'s alias is another customer's id: a name or alias always wins over an id.
    index = store.CustomerIndex([customer("A001", "华联超市"), customer("C1", "联华便利", "a001x"),
                                 customer("a001x", "家乐福")])
    assert index.match(written) == found


VISITOR_FORMS = ["李雷 <li.lei@visitflow.test>", '"李雷" <LI.LEI@visitflow.test>', "李雷（li.lei@visitflow.test）",
                 "Li Lei <li.lei@visitflow.test>", "李雷 li.lei＠visitflow.test", "“李雷”", " 李 雷 ", "LI.LEI@visitflow.test"]


@pytest.mark.parametrize("written", VISITOR_FORMS)
@pytest.mark.parametrize("reader", ["registry", "plan"])
def test_a_person_written_as_name_address_or_both_is_found_alike_by_registry_and_plans(cfg, reader, written):
    assert _visitor_as_read(cfg, reader, written) == ("li.lei@visitflow.test", [])


@pytest.mark.parametrize("written, registry_says, plan_code", [
    ("李雷 <li.lei@visitflow.test>; 韩梅梅 <han.meimei@visitflow.test>", "写了多个邮箱", "several_visitors"),
    ("王小明 <wang.xm@visitflow.test>", "不是配置中的人员", "unknown_visitor"),
    ("王小明", "不是配置中的人员", "unknown_visitor"),
], ids=["two people", "unknown address", "unknown name"])
def test_a_cell_naming_no_one_person_is_the_same_problem_in_registry_and_plans(cfg, written, registry_says, plan_code):
    assert _visitor_as_read(cfg, "registry", written)[1] and registry_says in _visitor_as_read(cfg, "registry",
                                                                                                written)[1][0]
    assert _visitor_as_read(cfg, "plan", written) == (None, [plan_code])


def _visitor_as_read(cfg, reader: str, written: str) -> tuple[str | None, list[str]]:
    """Return (the email read, the problems) for ``written`` as a registry's or a plan's visitor."""
    from service.reading.customers import read_customers
    from service.reading.plans import read_plan_file
    from service.reading.tables import Row

    if reader == "registry":
        rows = [Row(1, ("客户编号", "客户名称", "类型", "地区", "等级", "指定巡访人")),
                Row(2, ("C1", "华联超市", "零售商", "上海", "A", written))]
        read = read_customers(rows, cfg)
        return (read.customers[0].designated_visitor if read.customers else None), [p.text() for p in read.problems]
    out = io.StringIO()
    csv.writer(out).writerows([["营业单位", "east"], ["期间", "2026-12"], ["日期", "客户名称", "巡访人"],
                               ["2026-12-03", "华联超市", written]])
    plan = read_plan_file(out.getvalue().encode(), "plan.csv", cfg)
    return (plan.visits[0].visitor if plan.visits else None), [p.code for p in plan.problems]
