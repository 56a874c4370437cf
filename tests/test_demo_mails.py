"""The demo's scenario (service/demo.py) and the mail it writes as each client does (service/demo_clients.py).

Every mail the demo sends has a golden ``.eml`` in tests/fixtures/demo beside the JSON
``visitflow parse --json`` prints for it (checked by hand): the week's fourteen reports of
2026-11-24 – 2026-11-30, 王芳's plan, 韩梅梅's gift request and the four deciding replies. The
demo must still write exactly those mails, so that what a newcomer sees is what was checked.
Rebuild the fixtures with ``.venv/bin/python -m tests.test_demo_mails`` (then check the JSON).
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from service import demo
from service import demo_clients as mail
from service.cli import cli
from service.config import parse_config
from service.demo_mailbox import DemoError, ServiceMailbox
from service.intake import read_message
from service.reading.customers import read_customers
from service.reading.plans import read_plan_file
from service.reading.tables import read_table
from service.sandbox import free_port
from service.store.customers import CustomerIndex
from service.workdays import WorkingDays

from .conftest import FIXTURES, REPO, base_config_data

HERE = FIXTURES / "demo"
CONFIG = parse_config(base_config_data(), path=REPO / "config.yaml")
ZONE = CONFIG.policy.zone
TODAY = date(2026, 11, 30)  # a Monday: the week is Tue 11-24 … Fri 11-27 and Mon 11-30
DAYS = demo.week(CONFIG.policy, TODAY)
SERVICE = "visits@visitflow.test"
# The week's reports by fixture name, in WEEK's order.
REPORT_NAMES = (
    "foxmail_gbk_labelled_gb2312_two_visits_by_alias", "iphone_alternative_with_photo_card",
    "outlook_html_english_with_signature", "outlook_word_form_two_visits", "qq_html_only_gb18030",
    "outlook_html_english_technical_issue", "iphone_photo_card_alias_of_a_processor",
    "outlook_html_english_date_line", "foxmail_gbk_customer_not_in_the_registry",
    "qq_html_visit_marked_urgent_competitor_product", "outlook_html_english_one_visit", "foxmail_gbk_one_visit",
    "iphone_text_without_photo", "outlook_html_english_products_promoted",
)
# Mails whose bytes carry the time they were made (zip members of .docx/.xlsx): compared as read.
NOT_BYTE_STABLE = {"outlook_word_form_two_visits", "plan_outlook_xlsx_east_this_month"}


def sender(email: str) -> mail.Sender:
    return mail.Sender(CONFIG.organisation.people()[email].name, email)


def original(subject: str, body: str, number: int) -> bytes:
    """Return a mail as the service sends it, for the replies to quote."""
    msg = EmailMessage()
    msg["From"] = "巡访服务 visitflow <visits@visitflow.test>"
    msg["To"] = "someone@visitflow.test"
    msg["Subject"] = subject
    msg["Date"] = "Fri, 27 Nov 2026 18:00:00 +0800"
    msg["Message-ID"] = f"<vf.{number:032x}@visitflow.test>"
    msg.set_content(body)
    return msg.as_bytes()


DIGEST = original("[VF-D-7] 华东事业部 巡访日报汇总 2026-11-27：2/2 人已报，1 项待处理",
                  "王芳，您好：\n\n【待处理事项】请回复本邮件：“上报 2、3”（可加意见）上报公司领导，“关闭 1 原因”在单位内处理。\n"
                  "  1. [同行新产品上市] 物美（西溪店）（韩梅梅）：店方询问我司是否有同类产品\n", 7)
GIFT_STEP = original("[VF-G-1] 礼品申请待审批：杭州西湖茶叶店 ¥6,800.00（韩梅梅）",
                     "请回复“同意”或“驳回”，第一个词表示决定。\n  预算金额：¥6,800.00\n", 8)
URGENT = original("[紧急][VF-U-1] 同行新产品上市：物美（西溪店）", "请回复“收到”确认；处理完毕后回复“关闭”。\n", 9)
REPLY_AT = datetime(2026, 11, 30, 20, 15, tzinfo=ZONE)


def build() -> dict[str, bytes]:
    """Return every golden demo mail by fixture name, made by the demo's own code."""
    built = {}
    for n, (name, report) in enumerate(zip(REPORT_NAMES, demo.WEEK)):
        day = DAYS[report.day]
        sent = datetime(day.year, day.month, day.day, *map(int, report.at.split(":")), tzinfo=ZONE)
        built[name] = demo.report_mail(report, day, sent, sender(report.rep), SERVICE, f"demo-{n:02d}@visitflow.test")
    plan = demo.plan_workbook(DAYS, TODAY, WorkingDays(CONFIG.policy))
    built["plan_outlook_xlsx_east_this_month"] = mail.outlook_attachment(
        sender(demo.HEAD), SERVICE, "2026年11月巡访计划", "各位好：\n\n附件是华东事业部本月巡访计划，请查收。\n\n王芳\n",
        date=REPLY_AT, message_id="demo-plan@visitflow.test", file=("华东事业部11月巡访计划.xlsx", plan))
    built["gift_iphone_above_the_leadership_threshold"] = mail.iphone(
        sender(demo.HAN), SERVICE, "礼品申请", demo.GIFT.format(day="2026-12-14"), date=REPLY_AT,
        message_id="demo-gift@visitflow.test")
    replies = {
        "reply_foxmail_escalates_digest_item_with_comment": (mail.foxmail_reply, demo.HEAD, DIGEST,
                                                             demo.ESCALATE.format(n=1)),
        "reply_foxmail_approves_gift_step": (mail.foxmail_reply, demo.HEAD, GIFT_STEP, demo.APPROVALS[0][1]),
        "reply_iphone_approves_with_comment": (mail.iphone_reply, demo.LEADER, GIFT_STEP, demo.APPROVALS[1][1]),
        "reply_iphone_acknowledges_urgent_report": (mail.iphone_reply, demo.LEADER, URGENT, "收到"),
    }
    for name, (write, who, to, text) in replies.items():
        built[name] = write(sender(who), to, text, date=REPLY_AT, message_id=f"demo-{name[:20]}@visitflow.test",
                            zone=ZONE)
    return built


BUILT = build()
GOLDEN = sorted(HERE.glob("*.eml"))


def parsed(raw: bytes) -> dict:
    return read_message(raw, CONFIG).as_json()


def without_sizes(result: dict) -> dict:
    """Return ``result`` without attachment sizes (a zip's size follows the time in its members)."""
    return {**result, "attachments": [{k: v for k, v in a.items() if k != "bytes"} for a in result["attachments"]]}


def expected(name: str) -> dict:
    return json.loads((HERE / f"{name}.json").read_text(encoding="utf-8"))


# --------------------------------------------------------------------------- golden mails


def test_every_mail_the_demo_sends_has_a_golden_fixture():
    assert sorted(p.stem for p in GOLDEN) == sorted(BUILT)
    assert all(p.with_suffix(".json").is_file() for p in GOLDEN)


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_each_golden_demo_mail_reads_as_its_json(eml):
    assert parsed(eml.read_bytes()) == expected(eml.stem)


@pytest.mark.parametrize("name", sorted(BUILT))
def test_the_demo_still_writes_each_golden_mail(name):
    if name in NOT_BYTE_STABLE:
        assert without_sizes(parsed(BUILT[name])) == without_sizes(expected(name))
    else:
        assert BUILT[name] == (HERE / f"{name}.eml").read_bytes()


@pytest.mark.parametrize("name, client_header", [
    ("foxmail_gbk_one_visit", b'charset="gb2312"'),
    ("iphone_alternative_with_photo_card", b"multipart/alternative"),
    ("iphone_alternative_with_photo_card", b"Content-Type: image/jpeg"),
    ("outlook_html_english_one_visit", b"Microsoft Word 15"),
    ("qq_html_only_gb18030", b'Content-Type: text/html;\r\n\tcharset="gb18030"'),
    ("outlook_word_form_two_visits", b"wordprocessingml.document"),
])
def test_each_client_writes_its_own_shape(name, client_header):
    assert client_header in BUILT[name]


# --------------------------------------------------------------------------- the scenario


@pytest.mark.parametrize("today, first, last", [
    (date(2026, 11, 30), date(2026, 11, 24), date(2026, 11, 30)),   # Monday: back over the weekend
    (date(2026, 11, 29), date(2026, 11, 23), date(2026, 11, 27)),   # Sunday: today is no working day
    (date(2026, 10, 9), date(2026, 9, 28), date(2026, 10, 9)),      # after the National Day holidays
    (date(2026, 10, 12), date(2026, 9, 30), date(2026, 10, 12)),    # Saturday 10-10 is a 调休 working day
])
def test_the_week_is_the_last_five_working_days_up_to_today(today, first, last):
    days = demo.week(CONFIG.policy, today)
    assert (days[0], days[-1], len(days)) == (first, last, 5)
    assert all(WorkingDays(CONFIG.policy).is_working_day(d) for d in days)


def test_every_report_of_the_week_reads_as_the_day_it_stands_for():
    for name, report in zip(REPORT_NAMES, demo.WEEK):
        result = parsed(BUILT[name])
        assert (result["kind"], result["problems"], result["report_date"]) == (
            "daily_report", [], DAYS[report.day].isoformat()), name
        assert [v["customer"] for v in result["visits"]] == [v["customer"] for v in report.visits]


def test_the_week_has_a_silent_day_an_unknown_customer_an_urgent_visit_and_a_technical_issue():
    registry = read_customers(read_table(demo.registry_csv(), "客户名录.csv"), CONFIG).customers
    reps = CONFIG.organisation.reps
    unknown, urgent, technical = [], [], []
    for name, report in zip(REPORT_NAMES, demo.WEEK):
        index = CustomerIndex([c for c in registry if c.unit == reps[report.rep].unit])
        for visit, written in zip(parsed(BUILT[name])["visits"], report.visits):
            assert index.match(visit["customer"]) == written["id"], visit["customer"]
            unknown += [visit["customer"]] if written["id"] is None else []
            urgent += [visit["urgent"]] if visit["urgent"] else []
            technical += [visit["tech_issue"]] if visit["tech_issue"] else []
    assert unknown == ["永辉超市（张江店）"]
    assert urgent == ["competitor_product"]
    assert len(technical) == 1
    silent = [(day, rep) for day in range(5) for rep in (demo.LI, demo.HAN, demo.TOM)
              if not any(r.day == day and r.rep == rep for r in demo.WEEK)]
    assert silent == [(2, demo.LI)]
    assert {r.client for r in demo.WEEK} == set(demo.CLIENTS)


def test_the_registry_is_a_gbk_csv_with_chinese_headers_that_flags_one_designated_visitor():
    data = demo.registry_csv()
    assert data.decode("gbk").startswith("客户编号,客户名称,别名")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    read = read_customers(read_table(data, "客户名录.csv"), CONFIG)
    assert read.problems == []
    assert {c.unit for c in read.customers} == {"east", "north"}
    assert [(c.id, c.designated_visitor) for c in read.customers if c.salesperson_flag] == [
        ("SH-004", "zhao.qiang@visitflow.test")]


@pytest.mark.parametrize("today, visits, last_row", [
    (date(2026, 11, 30), 12 + 2, "2026-W49"),    # the week's 12 registry visits in November; nothing ahead
    (date(2026, 12, 1), 2 + 3, "2026-12-31"),    # the week spans two months: only 12-01's two visits count
    (date(2026, 12, 10), 12 + 3, "2026-12-31"),  # mid-month: the month's last working day is still ahead
])
def test_the_plan_is_for_unit_east_and_this_month_with_every_customer_in_the_registry(today, visits, last_row):
    plan = read_plan_file(demo.plan_workbook(demo.week(CONFIG.policy, today), today, WorkingDays(CONFIG.policy)),
                          "plan.xlsx", CONFIG)
    assert plan.problems == []
    assert (plan.unit, plan.period.key, len(plan.visits)) == ("east", f"{today:%Y-%m}", visits)
    assert plan.visits[-1].date == last_row
    registry = CustomerIndex(read_customers(read_table(demo.registry_csv(), "r.csv"), CONFIG).customers)
    assert all(registry.match(v.customer) for v in plan.visits)
    assert {v.visitor for v in plan.visits} == {demo.LI, demo.HAN, demo.ZHAO}


# --------------------------------------------------------------------------- refusing to run


def test_the_demo_refuses_a_mail_server_off_this_machine():
    data = base_config_data()
    data["imap"]["host"] = "imap.example.com"
    cfg = parse_config(data, path=REPO / "config.yaml")
    box = ServiceMailbox(type("Ctx", (), {"cfg": cfg})(), say=print, patience=0)
    with pytest.raises(DemoError, match="imap.host is imap.example.com, not this machine"):
        box.check()


def test_the_demo_refuses_a_config_without_the_sample_people(tmp_path):
    data = base_config_data()
    data["organisation"]["reps"] = [r for r in data["organisation"]["reps"] if r["name"] != "Tom Baker"]
    data["storage"] = {"database": str(tmp_path / "v.db"), "reports_dir": str(tmp_path / "r"),
                       "cards_dir": str(tmp_path / "c")}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    result = CliRunner().invoke(cli, ["--config", str(path), "demo"])
    assert result.exit_code == 2
    assert result.output.strip().endswith(f"{path} lacks tom.baker@visitflow.test")


@pytest.mark.parametrize("password, words", [
    (None, "no sandbox password"),
    ("secret", "the mail sandbox is not reachable"),
])
def test_without_a_running_sandbox_the_demo_says_how_to_start_it(tmp_path, monkeypatch, password, words):
    data = base_config_data()
    data["imap"]["port"], data["smtp"]["port"] = free_port(), free_port()  # nothing listens there
    data["storage"] = {"database": str(tmp_path / "v.db"), "reports_dir": str(tmp_path / "r"),
                       "cards_dir": str(tmp_path / "c")}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    if password:
        monkeypatch.setenv("VISITFLOW_IMAP_PASSWORD", password)
    else:
        monkeypatch.delenv("VISITFLOW_IMAP_PASSWORD", raising=False)
    result = CliRunner().invoke(cli, ["--config", str(path), "demo"])
    assert result.exit_code == 2
    (line,) = result.output.strip().splitlines()
    assert words in line and line.endswith("start it with: bash scripts/run.sh --demo (or .venv/bin/visitflow "
                                           "sandbox start)")


def write_fixtures(folder: Path = HERE) -> None:
    """Write every golden .eml and the JSON `parse --json` prints for it (check the JSON by hand)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in BUILT.items():
        (folder / f"{name}.eml").write_bytes(raw)
        (folder / f"{name}.json").write_text(json.dumps(parsed(raw), ensure_ascii=False, indent=2) + "\n",
                                             encoding="utf-8")
        print(f"wrote {name}")


if __name__ == "__main__":
    write_fixtures(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
