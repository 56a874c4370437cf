"""Accepted visit plans: history, the visitors' .ics calendars, plan against actual, the `plans` commands."""

from __future__ import annotations

import email
from datetime import date
from email import policy

import icalendar
import pytest
from click.testing import CliRunner

from service.classify import classify
from service.cli import cli
from service.inbound.mime import decode_message
from service.reading.customers import Customer
from service.reading.plans import read_plan_file
from service.store import messages, reports
from service.store import plans as store
from service.store.customers import import_customers
from service.store.db import transaction
from service.workflows import Inbound
from service.workflows.visit_plan import accept, handle

from .conftest import FIXTURES

HEAD = "wang.fang@visitflow.test"
REP = "li.lei@visitflow.test"
REP2 = "han.meimei@visitflow.test"
SALES = "zhao.qiang@visitflow.test"
PLAN = "营业单位：east\n期间：2026年12月\n重点推销商品：小包装酱油\n日期,客户名称,巡访人,目的\n"
V1 = PLAN + ("2026-12-03,华联超市（浦东店）,李雷,推广新品\n2026-W49,联华便利（徐汇店）,韩梅梅,\n"
             "2026-12,家乐福（古北店）,赵强,月度巡访\n")


def record_message(ctx, n: int, sender: str = HEAD, raw: bytes = b"Subject: x\r\n\r\nx") -> int:
    with transaction(ctx.db):
        return messages.record(ctx.db, folder="INBOX", uidvalidity=1, uid=n, raw=raw + str(n).encode(),
                               message_id=f"<m{n}@client.test>", sender=sender, subject="x", sent_at=None).id


def accept_text(ctx, text: str, *, calendars: bool = True):
    plan = read_plan_file(text.encode("utf-8"), "plan.csv", ctx.cfg, sender=HEAD)
    assert plan.problems == []
    with transaction(ctx.db):
        return accept(ctx, plan, submitted_by=HEAD, message=None, calendars=calendars)


def outbox(ctx, template: str) -> list[email.message.EmailMessage]:
    rows = ctx.db.execute("SELECT raw FROM outbox WHERE template = ? ORDER BY id", [template]).fetchall()
    return [email.message_from_bytes(raw, policy=policy.default) for (raw,) in rows]


def calendar_of(mail) -> icalendar.Calendar | None:
    files = [p for p in mail.iter_attachments() if p.get_content_type() == "text/calendar"]
    # The bytes as a calendar program gets them: UTF-8, RFC 5545's charset.
    return icalendar.Calendar.from_ical(files[0].get_payload(decode=True)) if files else None


def events(cal) -> list[tuple[str, date, date, int]]:
    return sorted((str(e["summary"]), e.decoded("dtstart"), e.decoded("dtend"), int(e["sequence"]))
                  for e in cal.walk("VEVENT"))


def to(mail) -> str:
    return mail["To"].addresses[0].addr_spec


# --------------------------------------------------------------------------- the mailed plan

def test_a_heads_plan_mail_is_stored_answered_and_put_in_each_visitors_calendar(ctx):
    raw = (FIXTURES / "plans" / "outlook_xlsx_east_december.eml").read_bytes()
    message = record_message(ctx, 1, raw=raw)
    msg = decode_message(raw)
    with transaction(ctx.db):
        outcome = handle(ctx, Inbound(id=message, msg=msg, verdict=classify(msg, ctx.cfg)))
    assert outcome.state == "processed"
    (receipt,) = outbox(ctx, "plan_receipt")
    assert to(receipt) == HEAD and "巡访计划已受理：华东事业部 2026-12" in receipt["Subject"]
    text = receipt.get_body(("plain",)).get_content()
    for line in ("李雷：2 次", "韩梅梅：1 次", "赵强：1 次", "王芳：1 次", "本单位尚未导入客户名录"):
        assert line in text
    calendars = {to(m): calendar_of(m) for m in outbox(ctx, "plan_calendar")}
    assert set(calendars) == {REP, REP2, SALES, HEAD}
    assert str(calendars[REP]["method"]) == "PUBLISH"
    assert events(calendars[REP]) == [("巡访：华联超市（浦东店）", date(2026, 12, 3), date(2026, 12, 4), 0),
                                      ("巡访：华联超市（浦东店）", date(2026, 12, 10), date(2026, 12, 11), 0)]
    # A week is one all-day event over its days in the period, a month one over the month.
    assert events(calendars[REP2]) == [("巡访：联华便利（徐汇店）", date(2026, 12, 1), date(2026, 12, 7), 0)]
    assert events(calendars[SALES]) == [("巡访：家乐福（古北店）", date(2026, 12, 1), date(2027, 1, 1), 0)]
    stored = {v["uid"] for v in store.plan_visits(ctx.db, 1)}
    assert {str(e["uid"]) for cal in calendars.values() for e in cal.walk("VEVENT")} == stored


def test_a_rep_mailing_the_same_plan_is_refused_and_nothing_is_stored(ctx):
    raw = (FIXTURES / "plans" / "outlook_xlsx_from_a_rep_is_refused.eml").read_bytes()
    msg = decode_message(raw)
    with transaction(ctx.db):
        outcome = handle(ctx, Inbound(id=record_message(ctx, 1, REP, raw), msg=msg, verdict=classify(msg, ctx.cfg)))
    assert outcome.state == "rejected"
    (rejection,) = outbox(ctx, "plan_rejected")
    assert "只有营业单位主管或公司领导可以提交巡访计划" in rejection.get_body(("plain",)).get_content()
    assert ctx.db.execute("SELECT count(*) FROM plans").fetchone()[0] == 0 and outbox(ctx, "plan_calendar") == []


def test_a_plan_whose_sender_is_not_its_from_decides_nothing(ctx):
    raw = (FIXTURES / "plans" / "outlook_xlsx_east_december.eml").read_bytes().replace(
        b"To: visits@visitflow.test", b"To: visits@visitflow.test\nSender: li.lei@visitflow.test", 1)
    msg = decode_message(raw)
    with transaction(ctx.db):
        outcome = handle(ctx, Inbound(id=record_message(ctx, 1, raw=raw), msg=msg, verdict=classify(msg, ctx.cfg)))
    assert outcome.state == "rejected" and "ambiguous_sender" in outcome.reason
    assert ctx.db.execute("SELECT count(*) FROM plans").fetchone()[0] == 0


# --------------------------------------------------------------------------- versions

def test_a_new_plan_for_the_period_replaces_the_old_one_which_stays_in_history(ctx):
    first = accept_text(ctx, V1)
    second = accept_text(ctx, V1.replace("2026-12-03", "2026-12-04"))
    rows = ctx.db.execute("SELECT id, version, current, replaced_by, superseded_at IS NOT NULL FROM plans "
                          "ORDER BY id").fetchall()
    assert rows == [(first.saved.id, 1, 0, second.saved.id, 1), (second.saved.id, 2, 1, None, 0)]
    assert (second.saved.version, second.saved.replaced) == (2, first.saved.id)
    assert store.current_plan(ctx.db, "east", "2026-12")["id"] == second.saved.id
    assert len(store.plan_visits(ctx.db, first.saved.id)) == 3  # history keeps its visits


def test_a_resent_plan_updates_the_same_events_with_a_higher_sequence_and_lists_what_it_dropped(ctx):
    accept_text(ctx, V1)
    v1 = {to(m): calendar_of(m) for m in outbox(ctx, "plan_calendar")}
    # Version 2: 李雷's day moves, 韩梅梅 keeps hers, 赵强's month is dropped.
    accept_text(ctx, PLAN + "2026-12-04,华联超市（浦东店）,李雷,推广新品\n2026-W49,联华便利（徐汇店）,韩梅梅,\n")
    v2_mails = outbox(ctx, "plan_calendar")[3:]
    v2 = {to(m): calendar_of(m) for m in v2_mails}
    assert set(v2) == {REP, REP2, SALES}
    uid = lambda cal: [str(e["uid"]) for e in cal.walk("VEVENT")]
    assert uid(v2[REP2]) == uid(v1[REP2]) and events(v2[REP2])[0][3] == 1
    assert uid(v2[REP]) != uid(v1[REP])  # another day is another visit
    assert v2[SALES] is None  # nothing left to put in a calendar …
    dropped = next(m for m in v2_mails if to(m) == SALES)
    assert "您的巡访安排已取消" in dropped["Subject"]
    assert "2026-12 家乐福（古北店）" in dropped.get_body(("plain",)).get_content()  # … but told what to delete
    moved = next(m for m in v2_mails if to(m) == REP).get_body(("plain",)).get_content()
    assert "新计划不再包括以下巡访" in moved and "2026-12-03 华联超市（浦东店）" in moved


@pytest.mark.parametrize("again", [
    "2026/12/3,华联超市(浦东店),li.lei@visitflow.test,另一个目的\n",
    "12月3日,华联超市 （浦东店）,李雷,\n",
], ids=["slashes-and-half-width-brackets", "chinese-date-and-spaces"])
def test_the_same_visit_written_another_way_keeps_its_uid(ctx, again):
    accept_text(ctx, PLAN + "2026-12-03,华联超市（浦东店）,李雷,推广新品\n")
    accept_text(ctx, PLAN + again)
    first, second = (store.plan_visits(ctx.db, plan)[0]["uid"] for plan in (1, 2))
    assert first == second


def test_the_same_visit_planned_twice_is_two_events(ctx):
    accept_text(ctx, PLAN + "2026-12,华联超市（浦东店）,李雷,\n2026-12,华联超市（浦东店）,李雷,\n")
    (mail,) = outbox(ctx, "plan_calendar")
    assert len({str(e["uid"]) for e in calendar_of(mail).walk("VEVENT")}) == 2


def test_customers_outside_the_units_registry_are_named_only_when_it_has_one(ctx):
    assert accept_text(ctx, V1, calendars=False).unknown_customers == []
    import_customers(ctx.db, [Customer(id="C1", name="上海华联超市（浦东店）有限公司", aliases=("华联超市（浦东店）",),
                                       type="retailer", region="shanghai", unit="east", tier="A",
                                       designated_visitor=None)])
    accepted = accept_text(ctx, V1, calendars=False)
    assert (accepted.has_registry, accepted.unknown_customers) == (True, ["联华便利（徐汇店）", "家乐福（古北店）"])
    assert [v["customer_id"] for v in store.plan_visits(ctx.db, accepted.saved.id)] == ["C1", None, None]


# --------------------------------------------------------------------------- plan against actual

def daily(ctx, n: int, rep: str, day: str, *customers: str) -> None:
    message = record_message(ctx, 100 + n, rep)
    with transaction(ctx.db):
        reports.save_report(ctx.db, message=message, rep=rep, unit="east", region="shanghai", report_date=day,
                            source="text", visits=[{"seq": i, "customer": c, "visited_at": f"{day}T10:00:00"}
                                                   for i, c in enumerate(customers, 1)])


def test_plan_against_actual_counts_the_visitors_own_visits_to_the_planned_customer_in_the_period(ctx):
    import_customers(ctx.db, [Customer(id="C1", name="华联超市（浦东店）", aliases=("浦东华联",), type="retailer",
                                       region="shanghai", unit="east", tier="A", designated_visitor=None)])
    accepted = accept_text(ctx, PLAN + "2026-12-03,华联超市（浦东店）,李雷,\n2026-12-10,华联超市（浦东店）,李雷,\n"
                                       "2026-12-17,华联超市（浦东店）,李雷,\n2026-W49,联华便利有限公司,韩梅梅,\n"
                                       "2026-12,家乐福（古北店）,赵强,\n", calendars=False)
    daily(ctx, 1, REP, "2026-12-03", "浦东华联")                     # by the registry's alias
    daily(ctx, 2, REP, "2026-12-11", "华联超市 (浦东店)")              # by normalised name
    daily(ctx, 3, REP, "2026-11-28", "华联超市（浦东店）")             # before the period
    daily(ctx, 4, REP2, "2026-12-02", "联华便利", "华联超市（浦东店）")  # 华联 is 李雷's, not hers
    daily(ctx, 5, REP2, "2026-12-20", "联华便利")                    # a replaced report does not count …
    daily(ctx, 6, REP2, "2026-12-20", "别的客户")                     # … its replacement does
    counts = [(c.visitor, c.customer, c.scheduled, c.visited) for c in store.plan_vs_actual(ctx.db, accepted.saved.id)]
    assert counts == [
        (REP2, "联华便利有限公司", 1, 1),
        (REP, "华联超市（浦东店）", 3, 2),
        (SALES, "家乐福（古北店）", 1, 0),
    ]
    december_first_week = store.plan_vs_actual(ctx.db, accepted.saved.id, start=date(2026, 12, 1), end=date(2026, 12, 7))
    assert [(c.visitor, c.scheduled, c.visited) for c in december_first_week] == [(REP2, 1, 1), (REP, 1, 1), (SALES, 1, 0)]


# --------------------------------------------------------------------------- commands

def run(config_file, *args):
    return CliRunner().invoke(cli, ["--config", str(config_file), *args])


@pytest.fixture
def plan_file(tmp_path):
    path = tmp_path / "东区12月计划.csv"
    path.write_bytes(V1.encode("gbk"))
    return path


def test_plans_import_dry_run_shows_the_plan_and_stores_nothing(config_file, plan_file, ctx):
    result = run(config_file, "plans", "import", str(plan_file), "--dry-run")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "dry run, nothing stored or sent: 东区12月计划.csv is a plan for east 华东事业部 2026-12 (2026-12-01 – 2026-12-31)"
        ", 3 visit(s)",
        f"  李雷 <{REP}>: 1 visit(s)", f"  韩梅梅 <{REP2}>: 1 visit(s)", f"  赵强 <{SALES}>: 1 visit(s)",
        "the unit has no customer registry yet: customer names were not checked"]
    assert ctx.db.execute("SELECT count(*) FROM plans").fetchone()[0] == 0


def test_plans_import_stores_the_plan_and_queues_the_calendars(config_file, plan_file, ctx):
    result = run(config_file, "plans", "import", str(plan_file))
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == ("imported 东区12月计划.csv as plan P-1 for east 华东事业部 2026-12 "
                                             "(2026-12-01 – 2026-12-31), version 1, 3 visit(s)")
    assert "calendar mails queued for 3 visitor(s)" in result.output
    assert {to(m) for m in outbox(ctx, "plan_calendar")} == {REP, REP2, SALES}
    assert store.current_plan(ctx.db, "east", "2026-12")["submitted_by"] == "cli"


def test_plans_import_of_a_bad_plan_names_each_row_and_exits_2(config_file, tmp_path, ctx):
    path = tmp_path / "plan.csv"
    path.write_text(PLAN + "2027-01-03,华联超市,李雷,\n2026-12-04,华联超市,张三,\n", encoding="utf-8")
    result = run(config_file, "plans", "import", str(path))
    assert result.exit_code == 2
    assert "第 5 行：日期“2027-01-03”不在计划期间" in result.output and "第 6 行：巡访人“张三”" in result.output
    assert ctx.db.execute("SELECT count(*) FROM plans").fetchone()[0] == 0


@pytest.mark.parametrize("args, error", [
    (["--unit", "south"], "unknown unit 'south'"),
    (["--unit", "north"], "计划写的营业单位是“east”，与指定的 north 不一致。"),
])
def test_plans_import_checks_the_unit_it_is_given(config_file, plan_file, args, error):
    result = run(config_file, "plans", "import", str(plan_file), *args)
    assert result.exit_code == 2 and error in result.output


def test_plans_list_shows_scheduled_against_visited_per_visitor_and_customer(config_file, plan_file, ctx):
    assert run(config_file, "plans", "import", str(plan_file), "--no-mail").exit_code == 0
    daily(ctx, 1, REP, "2026-12-03", "华联超市（浦东店）")
    result = run(config_file, "plans", "list", "--period", "2026年12月", "--unit", "华东事业部")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("P-1 east 华东事业部 2026-12, version 1 from cli (")
    assert lines[0].endswith("; 2026-12-01 – 2026-12-31: scheduled 3, visited 1")
    assert lines[1:] == [
        f"  韩梅梅 <{REP2}>: scheduled 1, visited 0", "    联华便利（徐汇店）: scheduled 1, visited 0",
        f"  李雷 <{REP}>: scheduled 1, visited 1", "    华联超市（浦东店）: scheduled 1, visited 1",
        f"  赵强 <{SALES}>: scheduled 1, visited 0", "    家乐福（古北店）: scheduled 1, visited 0",
        "1 current plan(s) for 2026年12月 of unit east"]
    assert run(config_file, "plans", "list", "--period", "2027-Q1").output == "0 current plan(s) for 2027-Q1\n"
    assert run(config_file, "plans", "list", "--period", "soon").exit_code == 2
