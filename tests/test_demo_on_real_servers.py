"""`visitflow demo` against the real Dovecot and Postfix, processed by a running daemon."""

from __future__ import annotations

from datetime import datetime

import docx
import pytest
from click.testing import CliRunner

from service.cli import cli
from service.demo import HAN, HEAD, LEADER, LI, REGISTRY, TOM, WEEK, ZHAO, month_of_week, week

from .conftest import folder_messages, wait_for

pytestmark = pytest.mark.mail


def run_demo(config_file) -> str:
    result = CliRunner().invoke(cli, ["--config", str(config_file), "demo"])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_demo_plays_a_week_that_the_daemon_turns_into_every_workflow_and_runs_again_without_duplicates(
        mail_sandbox, mail_env, config_file, cfg, ctx, daemon):
    proc = daemon()
    wait_for(lambda: "IMAP connected" in proc.output(), what="the daemon's IMAP connection")
    today = datetime.now(cfg.policy.zone).date()
    days = week(cfg.policy, today)

    output = run_demo(config_file)

    assert "processing it here" not in output  # the daemon did the work
    db = ctx.db
    # Every mail the demo sent was processed; none rejected or quarantined.
    assert dict(db.execute("SELECT state, count(*) FROM messages GROUP BY state").fetchall()) == {"processed": 20}
    # The reports, stored per rep and day, with their visits; 李雷 silent on the middle day.
    stored = {(rep, day): n for rep, day, n in db.execute(
        "SELECT r.rep, r.report_date, count(v.id) FROM reports r JOIN visits v ON v.report = r.id "
        "WHERE r.current = 1 GROUP BY r.id")}
    assert stored == {(r.rep, days[r.day].isoformat()): len(r.visits) for r in WEEK}
    assert (LI, days[2].isoformat()) not in stored
    # They count as on time: received (INTERNALDATE) on their own day.
    delivered = db.execute("SELECT m.delivered_at, r.report_date FROM reports r JOIN messages m ON m.id = r.message")
    assert all(datetime.fromisoformat(at).astimezone(cfg.policy.zone).date().isoformat() == day
               for at, day in delivered)
    # The registry, the flagged designated visitor, and the one visit to a customer not in it.
    assert db.execute("SELECT count(*), sum(salesperson_flag) FROM customers").fetchone() == (len(REGISTRY), 1)
    assert [r[0] for r in db.execute("SELECT customer FROM visits WHERE customer_id IS NULL")] == ["永辉超市（张江店）"]
    # 王芳's plan is east's current plan for this month; each visitor got a calendar.
    assert db.execute("SELECT unit, period, submitted_by, version FROM plans WHERE current = 1").fetchall() == [
        ("east", f"{today:%Y-%m}", HEAD, 1)]
    for visitor in (LI, HAN, ZHAO):
        assert any(a.filename.endswith(".ics") for m in folder_messages(mail_sandbox, visitor) for a in m.attachments)
    # The gift request above the threshold, approved by both steps in order.
    assert db.execute("SELECT requester, amount, state FROM gift_requests").fetchall() == [(HAN, "6800.00", "approved")]
    assert db.execute("SELECT seq, approver, state, comment FROM gift_steps ORDER BY seq").fetchall() == [
        (1, HEAD, "approved", ""), (2, LEADER, "approved", "注意控制预算")]
    # The visit marked 紧急, escalated from the digest by 王芳 and acknowledged by 刘总.
    assert db.execute("SELECT origin, reporter, category, level, state, head_comment FROM urgent_reports").fetchall() \
        == [("digest", HAN, "competitor_product", "leadership", "acknowledged", "竞品动作很快，请领导关注")]
    assert db.execute("SELECT person FROM urgent_recipients WHERE acknowledged_at IS NOT NULL").fetchall() == [(LEADER,)]
    # A digest per unit and working day, and the silent day's reminder.
    assert db.execute("SELECT count(*) FROM digests").fetchone()[0] == 2 * len(days)
    assert db.execute("SELECT rep, day FROM report_reminders").fetchall() == [(LI, days[2].isoformat())]
    # Nothing left unsent, and the mail reached the people.
    assert db.execute("SELECT count(*) FROM outbox WHERE state != 'sent'").fetchone()[0] == 0
    assert any("[紧急][VF-U-" in m.subject for m in folder_messages(mail_sandbox, LEADER))
    assert sum("daily digest" in m.subject for m in folder_messages(mail_sandbox, "chen.jing@visitflow.test")) \
        == len(days)
    # The month's reports, written and readable.
    reports = cfg.storage.reports_dir / "demo" / month_of_week(days)  # the month the week mostly fell in
    written = sorted(reports.glob("*/*.docx"))
    assert [p.parent.name for p in written] == ["company", "east", "north"]
    east = docx.Document(str(next(p for p in written if p.parent.name == "east")))
    assert "每月巡访情况报告书" in "\n".join(p.text for p in east.paragraphs)
    assert all(p.name in output for p in written)  # where to look
    assert f"Tom Baker <{TOM}>" in output

    again = run_demo(config_file)

    assert "0 added, 0 changed, 11 unchanged" in again
    assert db.execute("SELECT count(*) FROM customers").fetchone()[0] == len(REGISTRY)
    assert db.execute("SELECT count(*), max(version) FROM plans WHERE current = 1 AND unit = 'east'").fetchone() == (1, 2)
    assert db.execute("SELECT count(*) FROM reports WHERE current = 1").fetchone()[0] == len(WEEK)
    assert db.execute("SELECT count(*) FROM reports WHERE current = 0").fetchone()[0] == len(WEEK)  # kept as history
    assert db.execute("SELECT count(*) FROM digests").fetchone()[0] == 2 * len(days)  # once per unit and day
    assert db.execute("SELECT state, count(*) FROM gift_requests GROUP BY state").fetchall() == [("approved", 2)]
    assert db.execute("SELECT count(*) FROM messages WHERE state != 'processed'").fetchone()[0] == 0


def test_without_a_daemon_the_demo_processes_the_mail_itself_and_says_so(mail_sandbox, mail_env, config_file, ctx):
    result = CliRunner().invoke(cli, ["--config", str(config_file), "demo", "--wait", "0.5"])

    assert result.exit_code == 0, result.output
    assert result.output.count("no daemon processed the mail within 0.5 s: processing it here") == 1
    db = ctx.db
    assert dict(db.execute("SELECT state, count(*) FROM messages GROUP BY state").fetchall()) == {"processed": 20}
    assert db.execute("SELECT state FROM gift_requests").fetchall() == [("approved",)]
    assert db.execute("SELECT level, state FROM urgent_reports").fetchall() == [("leadership", "acknowledged")]
    assert db.execute("SELECT count(*) FROM outbox WHERE state != 'sent'").fetchone()[0] == 0
