"""Visit plans end to end on the real Dovecot and Postfix: receipt, calendars, refusal, plan against actual."""

from __future__ import annotations

import icalendar
import pytest
from click.testing import CliRunner

from service.cli import cli
from service.store import plans as store

from .conftest import FIXTURES, folder_messages, make_mail
from .test_gift_approvals_on_real_servers import cycle, mails

pytestmark = pytest.mark.mail

HEAD = "wang.fang@visitflow.test"
REP = "li.lei@visitflow.test"
REP2 = "han.meimei@visitflow.test"
SALES = "zhao.qiang@visitflow.test"
PLAN_MAIL = FIXTURES / "plans" / "outlook_xlsx_east_december.eml"


def calendar(message) -> icalendar.Calendar:
    (ics,) = [a for a in message.attachments if a.filename.endswith(".ics")]
    assert ics.content_type == "text/calendar"
    return icalendar.Calendar.from_ical(ics.payload)


def daily_report(rep: str, day: str, customer: str) -> bytes:
    return make_mail(sender=rep, subject=f"巡访日报 {day}", body=(
        f"日期：{day}\n客户名称：{customer}\n巡访时间：{day} 10:00\n客户意见：希望增加小包装规格\n")).as_bytes()


def test_a_heads_xlsx_plan_is_answered_and_each_visitor_gets_a_valid_calendar(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, PLAN_MAIL.read_bytes())

    head_mails = mails(mail_sandbox, HEAD, 2)
    (receipt,) = [m for m in head_mails if "巡访计划已受理" in m.subject]
    assert receipt.subject == "回复：2026年12月巡访计划【巡访计划已受理：华东事业部 2026-12】"
    assert "李雷：2 次" in receipt.text and "韩梅梅：1 次" in receipt.text and "已给 4 位巡访人" in receipt.text
    uids = {v["uid"]: v for v in store.plan_visits(ctx.db, 1)}
    expected = {REP: [("2026-12-03", "2026-12-04"), ("2026-12-10", "2026-12-11")],
                REP2: [("2026-12-01", "2026-12-07")],      # 2026-W49, its December days
                SALES: [("2026-12-01", "2027-01-01")],     # the month
                HEAD: [("2026-12-15", "2026-12-16")]}
    for visitor, spans in expected.items():
        (mail,) = [m for m in mails(mail_sandbox, visitor, 1) if m.subject.startswith("巡访计划 华东事业部 2026-12")]
        cal = calendar(mail)
        assert str(cal["method"]) == "PUBLISH"
        found = sorted((e.decoded("dtstart").isoformat(), e.decoded("dtend").isoformat()) for e in cal.walk("VEVENT"))
        assert found == spans
        for event in cal.walk("VEVENT"):
            assert uids[str(event["uid"])]["visitor"] == visitor and int(event["sequence"]) == 0


def test_the_same_plan_mailed_by_a_rep_is_refused(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, (FIXTURES / "plans" / "outlook_xlsx_from_a_rep_is_refused.eml").read_bytes())
    (rejection,) = mails(mail_sandbox, REP, 1)
    assert "巡访计划未通过" in rejection.subject
    assert "只有营业单位主管或公司领导可以提交巡访计划" in rejection.text
    assert ctx.db.execute("SELECT count(*) FROM plans").fetchone()[0] == 0
    assert folder_messages(mail_sandbox, HEAD) == [] and folder_messages(mail_sandbox, REP2) == []


def test_plans_list_shows_scheduled_against_visited_after_daily_reports(mail_sandbox, mail_env, ctx, config_file):
    cycle(mail_sandbox, ctx, PLAN_MAIL.read_bytes())
    cycle(mail_sandbox, ctx, daily_report(REP, "2026-12-03", "华联超市（浦东店）"),
          daily_report(REP2, "2026-12-02", "联华便利 (徐汇店)"),
          daily_report(REP, "2026-12-09", "别的客户"))  # a customer the plan does not have
    assert ctx.db.execute("SELECT count(*) FROM reports").fetchone()[0] == 3

    result = CliRunner().invoke(cli, ["--config", str(config_file), "plans", "list", "--period", "2026-12"])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].endswith("2026-12-01 – 2026-12-31: scheduled 5, visited 2")
    assert f"  李雷 <{REP}>: scheduled 2, visited 1" in lines
    assert f"  韩梅梅 <{REP2}>: scheduled 1, visited 1" in lines
    assert f"  赵强 <{SALES}>: scheduled 1, visited 0" in lines
    assert f"  王芳 <{HEAD}>: scheduled 1, visited 0" in lines


def test_a_resent_plan_updates_the_visitors_events_instead_of_adding_copies(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, PLAN_MAIL.read_bytes())
    first = calendar([m for m in mails(mail_sandbox, REP2, 1) if m.attachments][0])
    resent = PLAN_MAIL.read_bytes().replace(b"<plan-outlook-1@visitflow.test>", b"<plan-outlook-1b@visitflow.test>")
    cycle(mail_sandbox, ctx, resent)
    second = calendar([m for m in mails(mail_sandbox, REP2, 2) if m.attachments][-1])
    uid = lambda cal: [(str(e["uid"]), int(e["sequence"])) for e in cal.walk("VEVENT")]
    [(uid1, seq1)], [(uid2, seq2)] = uid(first), uid(second)
    assert uid1 == uid2 and (seq1, seq2) == (0, 1)
    assert ctx.db.execute("SELECT version, current FROM plans ORDER BY id").fetchall() == [(1, 0), (2, 1)]
