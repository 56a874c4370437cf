"""Reading visit plans (巡访计划, spec §4): periods, dates, header fields, problems by row, golden mails."""

from __future__ import annotations

import io
import json
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from service.classify import classify
from service.cli import cli
from service.config import parse_config
from service.inbound.mime import decode_message
from service.intake import read_message
from service.reading.periods import parse_period, parse_plan_date
from service.reading.plans import read_plan_file, read_plan_mail

from .conftest import FIXTURES, REPO, base_config_data, make_mail

GOLDEN = sorted((FIXTURES / "plans").glob("*.eml"))
HEAD = "wang.fang@visitflow.test"        # head of east
HEAD_NORTH = "chen.jing@visitflow.test"  # head of north, English
LEADER = "liu.zong@visitflow.test"
REP = "li.lei@visitflow.test"


@pytest.fixture(scope="module")
def config():
    return parse_config(base_config_data(), path=REPO / "config.yaml")


def csv_plan(config, text: str, **kwargs):
    return read_plan_file(text.encode("utf-8"), "plan.csv", config, **kwargs)


def xlsx(rows: list[list]) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


TABLE = "日期,客户名称,巡访人,目的\n2026-12-03,华联超市（浦东店）,李雷,推广新品\n"

# --------------------------------------------------------------------------- periods

@pytest.mark.parametrize("text, key, start, end", [
    ("2027", "2027", "2027-01-01", "2027-12-31"),
    ("2027年度", "2027", "2027-01-01", "2027-12-31"),
    ("2026-Q4", "2026-Q4", "2026-10-01", "2026-12-31"),
    ("2026q4", "2026-Q4", "2026-10-01", "2026-12-31"),
    ("Q1 2027", "2027-Q1", "2027-01-01", "2027-03-31"),
    ("2026年第四季度", "2026-Q4", "2026-10-01", "2026-12-31"),
    ("2027年一季度", "2027-Q1", "2027-01-01", "2027-03-31"),
    ("2027年第2季度", "2027-Q2", "2027-04-01", "2027-06-30"),
    ("2026-12", "2026-12", "2026-12-01", "2026-12-31"),
    ("2027/2", "2027-02", "2027-02-01", "2027-02-28"),
    ("2026年12月", "2026-12", "2026-12-01", "2026-12-31"),
    ("２０２６年１２月", "2026-12", "2026-12-01", "2026-12-31"),
    ("2028年二月", "2028-02", "2028-02-01", "2028-02-29"),
    ("December 2026", "2026-12", "2026-12-01", "2026-12-31"),
])
def test_a_period_reads_as_a_year_a_quarter_or_a_month_under_its_normalised_key(text, key, start, end):
    period = parse_period(text)
    assert (period.key, period.start.isoformat(), period.end.isoformat()) == (key, start, end)


@pytest.mark.parametrize("text", ["2026-13", "2026年第五季度", "12月", "下个月", "1999", "2026-12-03", ""])
def test_a_period_that_names_no_year_quarter_or_month_reads_as_nothing(text):
    assert parse_period(text) is None


# --------------------------------------------------------------------------- dates of visits

DECEMBER = parse_period("2026-12")


@pytest.mark.parametrize("text, period, key, start, end", [
    ("2026-12-03", "2026-12", "2026-12-03", "2026-12-03", "2026-12-03"),
    ("2026/12/3", "2026-12", "2026-12-03", "2026-12-03", "2026-12-03"),
    ("2026年12月3日", "2026-12", "2026-12-03", "2026-12-03", "2026-12-03"),
    ("12月3日", "2027", "2027-12-03", "2027-12-03", "2027-12-03"),   # a year-less day is in the plan's year
    ("1/5", "2027", "2027-01-05", "2027-01-05", "2027-01-05"),
    ("3日", "2026-12", "2026-12-03", "2026-12-03", "2026-12-03"),    # a day alone: only in a monthly plan
    ("2026-W49", "2026-12", "2026-W49", "2026-11-30", "2026-12-06"),
    ("W49", "2026-Q4", "2026-W49", "2026-11-30", "2026-12-06"),
    ("2026年第50周", "2026", "2026-W50", "2026-12-07", "2026-12-13"),
    ("2026-12", "2026-Q4", "2026-12", "2026-12-01", "2026-12-31"),
    ("2026年11月", "2026-Q4", "2026-11", "2026-11-01", "2026-11-30"),
    ("十月", "2026-Q4", "2026-10", "2026-10-01", "2026-10-31"),
    ("Feb", "2028", "2028-02", "2028-02-01", "2028-02-29"),
])
def test_a_visit_date_is_a_day_a_week_or_a_month(text, period, key, start, end):
    span = parse_plan_date(text, parse_period(period))
    assert (span.key, span.start.isoformat(), span.end.isoformat()) == (key, start, end)


@pytest.mark.parametrize("text, period, code", [
    ("2026-12-32", "2026-12", "bad_date"),
    ("2026-W54", "2026-12", "bad_date"),
    ("2026-13", "2026", "bad_date"),
    ("3日", "2026-Q4", "unparseable"),        # which month of the quarter?
    ("下周三", "2026-12", "unparseable"),
    ("明天", "2026-12", "unparseable"),
    ("2026-12-03 或 12-05", "2026-12", "unparseable"),
    ("", "2026-12", "empty"),
])
def test_a_date_that_names_no_day_week_or_month_is_a_problem_code(text, period, code):
    assert parse_plan_date(text, parse_period(period)) == code



@pytest.mark.parametrize("text, period, key", [
    ("2026-12-03 09:30", "2026-12", "2026-12-03"),          # a datetime cell as tables.py writes it
    ("2026/12/3 9:30", "2026-12", "2026-12-03"),
    ("2026-12-03T14:00:00", "2026-12", "2026-12-03"),
    ("12月3日 下午2:00", "2026-12", "2026-12-03"),
    ("Dec 3 9:30 am", "2026-12", "2026-12-03"),
    ("2026年12月3日（周四）", "2026-12", "2026-12-03"),
    ("12月3日 星期四", "2026-12", "2026-12-03"),
    ("2026-12-03 周四", "2026-12", "2026-12-03"),
    ("12月3日礼拜四", "2026-Q4", "2026-12-03"),
    ("周四 2026-12-03", "2026-12", "2026-12-03"),
    ("Thu, Dec 3", "2026-12", "2026-12-03"),
    ("Thursday 3 December 2026", "2026", "2026-12-03"),
    ("2027-01-05 (Tue) 10:00", "2027-Q1", "2027-01-05"),
])
def test_a_day_with_its_time_or_its_weekday_reads_as_that_day(text, period, key):
    span = parse_plan_date(text, parse_period(period))
    assert (span.key, span.start.isoformat(), span.end.isoformat()) == (key, key, key)


@pytest.mark.parametrize("text, period, code", [
    ("2026-12-03 25:99", "2026-12", "unparseable"),   # no time of day
    ("2026-W49 周四", "2026-12", "unparseable"),       # a week with a weekday: which day?
    ("2026-12 星期一", "2026-12", "unparseable"),
    ("周四", "2026-12", "unparseable"),               # a weekday alone is relative: not in a plan
    ("2026-12-32 周四", "2026-12", "bad_date"),
])
def test_a_time_or_weekday_beside_no_readable_day_is_still_a_problem_code(text, period, code):
    assert parse_plan_date(text, parse_period(period)) == code


@pytest.mark.parametrize("cell, language, sentence", [
    ("2026-12-03 周五", "zh-CN", "第 4 行：“日期 Date”的星期与日期不符：“2026-12-03 周五”——2026-12-03 是星期四，不是星期五。"),
    ("12月7日（星期日）", "zh-CN", "第 4 行：“日期 Date”的星期与日期不符：“12月7日（星期日）”——2026-12-07 是星期一，不是星期日。"),
    ("Wed, Dec 3", "en", 'Row 4: "Date" names the wrong weekday: "Wed, Dec 3" – 2026-12-03 is a Thursday, '
                         "not a Wednesday."),
])
def test_a_weekday_the_day_does_not_fall_on_is_a_problem_naming_both(config, cell, language, sentence):
    text = f"营业单位,east\n期间,2026-12\n日期,客户名称,巡访人\n\"{cell}\",华联超市,李雷\n"
    plan = read_plan_file(text.encode(), "plan.csv", config)
    assert [p.text(language) for p in plan.problems] == [sentence] and plan.visits[0].span is None


# --------------------------------------------------------------------------- header fields

@pytest.mark.parametrize("header", [
    "营业单位：east\n期间：2026年12月\n重点推销商品：小包装酱油、低盐生抽\n重点调查项目：竞品价格\n特别调查项目：春节备货\n",
    "营业单位 | 华东事业部\n期间 | 2026-12\n重点推销商品 | 小包装酱油；低盐生抽\n重点调查项目|竞品价格\n特别调查项目｜春节备货\n",
    "营业单位,华东事业部\n期间,2026-12\n重点推销商品,小包装酱油,低盐生抽\n重点调查项目,竞品价格\n特别调查项目,春节备货\n",
    "Unit: east\nPeriod: December 2026\nKey products: 小包装酱油, 低盐生抽\nKey survey items: 竞品价格\n"
    "Special survey items: 春节备货\n",
    "巡访计划（华东事业部）\nUnit | 华东事业部\nPlan period | 2026年12月\nKey products,小包装酱油,低盐生抽\n"
    "Key surveys: 竞品价格\nSpecial surveys: 春节备货\n",
], ids=["chinese-colon", "chinese-pipe", "chinese-cells", "english-colon", "english-mixed-after-a-title"])
def test_header_fields_above_the_table_read_as_label_value_rows(config, header):
    plan = csv_plan(config, header + TABLE)
    assert plan.problems == []
    assert (plan.unit, plan.period.key) == ("east", "2026-12")
    assert (plan.key_products, plan.key_surveys, plan.special_surveys) == (["小包装酱油", "低盐生抽"], ["竞品价格"], ["春节备货"])
    assert [(v.row, v.span.key, v.customer, v.visitor) for v in plan.visits] == [
        (header.count("\n") + 2, "2026-12-03", "华联超市（浦东店）", REP)]


def test_an_english_visits_table_reads_like_a_chinese_one(config):
    plan = csv_plan(config, "Unit: north\nPeriod: 2027-Q1\nDate,Customer,Visitor,Purpose\n"
                            "2027-W03,Wumart,tom.baker@visitflow.test,Follow-up\n2027-02,Jingkelong,郑爽,\n")
    assert plan.problems == []
    assert [(v.span.key, v.customer, v.visitor, v.purpose) for v in plan.visits] == [
        ("2027-W03", "Wumart", "tom.baker@visitflow.test", "Follow-up"),
        ("2027-02", "Jingkelong", "zheng.shuang@visitflow.test", "")]


def test_a_week_running_over_the_period_keeps_the_days_inside_it(config):
    plan = csv_plan(config, "营业单位：east\n期间：2026-12\n日期,客户名称,巡访人\n2026-W49,联华便利,李雷\n"
                            "2026-W53,联华便利,李雷\n")
    assert [(v.span.start, v.span.end) for v in plan.visits] == [
        (date(2026, 12, 1), date(2026, 12, 6)), (date(2026, 12, 28), date(2026, 12, 31))]


def test_a_notes_row_under_the_table_is_no_visit(config):
    plan = csv_plan(config, "营业单位：east\n期间：2026-12\n" + TABLE + "合计,,,\n备注：节假日顺延,,,\n")
    assert plan.problems == [] and len(plan.visits) == 1


# --------------------------------------------------------------------------- problems by row

@pytest.mark.parametrize("rows, sentence", [
    ([["2027-01-05", "华联超市（浦东店）", "李雷"]],
     "第 4 行：日期“2027-01-05”不在计划期间 2026-12（2026-12-01 至 2026-12-31）内。"),
    ([["2026-12-03", "华联超市（浦东店）", "李雷"], ["2026-11-30", "联华便利", "李雷"]],
     "第 5 行：日期“2026-11-30”不在计划期间 2026-12（2026-12-01 至 2026-12-31）内。"),
    ([["2026-12-03", "华联超市（浦东店）", "张三"]], "第 4 行：巡访人“张三”不是系统中的人员，请写配置中的姓名或邮箱。"),
    ([["2026-12-03", "华联超市（浦东店）", "nobody@visitflow.test"]],
     "第 4 行：巡访人“nobody@visitflow.test”不是系统中的人员，请写配置中的姓名或邮箱。"),
    ([["2026-12-03", "京客隆", "Tom Baker"]], "第 4 行：巡访人“Tom Baker”不属于营业单位 east。"),
    ([["2026-12-32", "华联超市（浦东店）", "李雷"]], "第 4 行：“日期 Date”不存在：“2026-12-32”。"),
    ([["12月初", "华联超市（浦东店）", "李雷"]],
     "第 4 行：“日期 Date”无法识别：“12月初”。请写一天（2026-12-03）、一周（2026-W49）或一个月（2026-12）。"),
    ([["2026-12-03", "", "李雷"]], "第 4 行：缺少“客户名称 Customer”。"),
    ([["", "华联超市（浦东店）", "李雷"]], "第 4 行：缺少“日期 Date”。"),
], ids=["next-month", "second-row-before-the-month", "unknown-name", "unknown-email", "other-unit", "bad-day",
        "unreadable", "no-customer", "no-date"])
def test_each_bad_visit_is_a_problem_naming_its_spreadsheet_row(config, rows, sentence):
    data = xlsx([["营业单位：east"], ["期间：2026年12月"], ["日期", "客户名称", "巡访人"], *rows])
    plan = read_plan_file(data, "计划.xlsx", config)
    assert [p.text("zh-CN") for p in plan.problems] == [sentence]


def test_problems_read_in_english_for_an_english_reader(config):
    plan = csv_plan(config, "Unit: east\nPeriod: 2026-12\nDate,Customer,Visitor\n2027-01-05,Lianhua,Nobody\n")
    assert [p.text("en") for p in plan.problems] == [
        "Row 4: The date \"2027-01-05\" is outside the plan's period 2026-12 (2026-12-01 to 2026-12-31).",
        "Row 4: The visitor \"Nobody\" is not a person the service knows; write a configured name or email."]


@pytest.mark.parametrize("text, sentence", [
    ("营业单位：east\n" + TABLE, "缺少“期间 Period”。请写成 2027（全年）、2026-Q4 或 2026年第四季度（季度）、2026-12 或 "
                                "2026年12月（月份）。"),
    ("营业单位：east\n期间：明年\n" + TABLE, "“期间 Period”无法识别：“明年”。请写成 2027（全年）、2026-Q4 或 "
                                          "2026年第四季度（季度）、2026-12 或 2026年12月（月份）。"),
    ("营业单位：south\n期间：2026-12\n" + TABLE, "营业单位“south”不存在。可选：east（华东事业部）、north（华北事业部）。"),
    ("营业单位：east\n期间：2026-12\n", "找不到巡访安排表：表头需要“日期”“客户名称”“巡访人”三列（可加“目的”）。"),
    ("营业单位：east\n期间：2026-12\n日期,客户名称,目的\n2026-12-03,华联,新品\n", "第 3 行：巡访安排表缺少“巡访人 Visitor”列。"),
    ("营业单位：east\n期间：2026-12\n日期,客户名称,巡访人\n", "计划中没有任何巡访安排。"),
    ("期间：2026-12\n" + TABLE, "请在计划中写明营业单位，例如第一行写“营业单位：east”。可选：east（华东事业部）、north（华北事业部）。"),
], ids=["no-period", "bad-period", "unknown-unit", "no-table", "no-visitor-column", "no-visits", "no-unit"])
def test_a_plan_without_what_it_needs_says_what_is_missing(config, text, sentence):
    assert [p.text("zh-CN") for p in csv_plan(config, text).problems] == [sentence]


def test_a_name_two_people_share_needs_the_email(config):
    data = base_config_data()
    data["organisation"]["reps"].append({"name": "李雷", "email": "li.lei2@visitflow.test", "unit": "east",
                                          "region": "hangzhou"})
    twin = parse_config(data, path=REPO / "config.yaml")
    plan = csv_plan(twin, "营业单位：east\n期间：2026-12\n" + TABLE + "2026-12-04,联华,li.lei2@visitflow.test\n")
    assert [p.text("zh-CN") for p in plan.problems] == ["第 4 行：巡访人“李雷”有多位同名人员，请写邮箱。"]


def test_a_yaml_plan_names_the_line_of_each_bad_visit(config):
    text = ("unit: east\nperiod: 2026-12\nvisits:\n"
            "  - {date: 2026-12-03, customer: 华联超市, visitor: 李雷}\n"
            "  - date: 2027-01-04\n    customer: 联华\n    visitor: 李雷\n"
            "  - a note\n")
    plan = read_plan_file(text.encode(), "plan.yaml", config)
    assert [p.text("en") for p in plan.problems] == [
        "Row 5: The date \"2027-01-04\" is outside the plan's period 2026-12 (2026-12-01 to 2026-12-31).",
        "Row 8: Each visit must be a set of fields: date, customer, visitor, purpose."]


def test_a_broken_yaml_file_is_one_problem_with_its_line(config):
    plan = read_plan_file(b"unit: east\nperiod: [2026-12\nvisits:\n", "plan.yaml", config)
    assert len(plan.problems) == 1 and plan.problems[0].code == "bad_yaml" and plan.problems[0].row == 3


@pytest.mark.parametrize("data, filename", [(b"%PDF-1.7 ...", "plan.xlsx"), (b"PK\x03\x04broken", "plan.xlsx"),
                                            (b"", "plan.csv")])
def test_a_file_that_is_no_table_is_refused_with_the_readers_reason(config, data, filename):
    [problem] = read_plan_file(data, filename, config).problems
    assert problem.code == "unreadable" and filename in problem.text("zh-CN")


# --------------------------------------------------------------------------- who may submit

def plan_mail(sender: str, text: str, *, filename: str = "plan.csv", subject: str = "巡访计划"):
    mail = make_mail(sender=sender, subject=subject, body="见附件")
    mail.add_attachment(text.encode("utf-8"), maintype="text", subtype="csv", filename=filename)
    return decode_message(mail.as_bytes())


@pytest.mark.parametrize("sender, header, unit, problem", [
    (HEAD, "期间：2026-12\n", "east", None),                                   # the head's own unit
    (HEAD, "营业单位：华东事业部\n期间：2026-12\n", "east", None),
    (HEAD, "营业单位：north\n期间：2026-12\n", "north", "您不是“华北事业部”的主管：只有该单位的主管或公司领导可以提交它的巡访计划。"),
    (LEADER, "营业单位：north\n期间：2026-12\n", "north", None),
    (LEADER, "期间：2026-12\n", None, "请在计划中写明营业单位，例如第一行写“营业单位：east”。可选：east（华东事业部）、north（华北事业部）。"),
    (REP, "营业单位：east\n期间：2026-12\n", None,
     "只有营业单位主管或公司领导可以提交巡访计划（主管提交本单位的计划）；li.lei@visitflow.test 不能提交。"),
    ("sun.li@visitflow.test", "营业单位：east\n期间：2026-12\n", None,
     "只有营业单位主管或公司领导可以提交巡访计划（主管提交本单位的计划）；sun.li@visitflow.test 不能提交。"),
], ids=["head-own-unit-unnamed", "head-own-unit-by-name", "head-other-unit", "leader-names-unit", "leader-no-unit",
        "rep", "technical-staff"])
def test_only_a_unit_head_for_their_unit_or_leadership_may_submit_a_plan(config, sender, header, unit, problem):
    visitors = "2026-12-03,京客隆,郑爽\n" if unit == "north" else "2026-12-03,华联超市,李雷\n"
    plan = read_plan_mail(plan_mail(sender, header + "日期,客户名称,巡访人\n" + visitors), config)
    assert [p.text("zh-CN") for p in plan.problems] == ([problem] if problem else [])
    if problem is None:
        assert plan.unit == unit


def test_a_plan_mail_without_a_plan_file_says_to_attach_one(config):
    msg = decode_message(make_mail(sender=HEAD, subject="巡访计划", body="计划如下：12月3日 华联超市").as_bytes())
    assert (classify(msg, config).rule, [p.code for p in read_plan_mail(msg, config).problems]) == (
        "subject_visit_plan_no_file", ["no_plan_file"])


@pytest.mark.parametrize("subject, body, attach, kind, rule", [
    ("2026年12月巡访计划", "见附件", True, "visit_plan", "subject_visit_plan"),
    ("Visit plan Q1", "attached", True, "visit_plan", "subject_visit_plan"),
    ("巡访计划", "见附件", False, "visit_plan", "subject_visit_plan_no_file"),
    ("巡访计划执行情况", "客户名称：华联超市\n巡访时间：9:30\n客户意见：好", False, "daily_report", "daily_report_labels"),
    ("巡访计划日报", "见附件", True, "daily_report", "subject_daily_report"),
], ids=["chinese-with-file", "english-with-file", "no-file", "daily-labels-without-file", "daily-report-subject"])
def test_a_plan_is_a_mail_with_the_plan_subject_and_a_file(config, subject, body, attach, kind, rule):
    mail = make_mail(sender=HEAD, subject=subject, body=body)
    if attach:
        mail.add_attachment(b"x", maintype="text", subtype="csv", filename="plan.csv")
    verdict = classify(decode_message(mail.as_bytes()), config)
    assert (verdict.kind, verdict.rule) == (kind, rule)


# --------------------------------------------------------------------------- golden mails

def expected_for(eml: Path) -> dict:
    return json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))


def test_there_are_golden_plan_mails_of_each_file_kind_with_variants():
    stems = {eml.stem for eml in GOLDEN}
    assert sum("xlsx" in s for s in stems) >= 3 and sum("csv" in s for s in stems) >= 3
    assert sum("yaml" in s for s in stems) >= 3
    assert {"outlook_xlsx_east_december", "foxmail_csv_gbk_east_fourth_quarter", "thunderbird_yaml_english_keys",
            "outlook_xlsx_from_a_rep_is_refused", "foxmail_xlsx_rows_with_problems"} <= stems
    assert all(eml.with_suffix(".json").exists() for eml in GOLDEN)


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_the_plan_mail_reads_as_its_golden_json(config, eml):
    assert read_message(eml.read_bytes(), config).as_json() == expected_for(eml)


@pytest.mark.parametrize("stem", ["outlook_xlsx_east_december", "foxmail_csv_gbk_east_fourth_quarter",
                                  "gmail_yaml_leadership_names_the_unit"])
def test_parse_json_on_the_command_line_prints_the_plan(stem):
    eml = FIXTURES / "plans" / f"{stem}.eml"
    result = CliRunner().invoke(cli, ["--config", str(REPO / "config.yaml"), "parse", str(eml), "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.output)
    assert printed == expected_for(eml)
    assert printed["kind"] == "visit_plan" and printed["problems"] == [] and printed["visits"]
    assert set(printed) >= {"period", "key_products", "key_surveys", "special_surveys", "visits"}
