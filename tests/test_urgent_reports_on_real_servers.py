"""Urgent reports and the daily digest, end to end on the real Dovecot and Postfix (Articles 10-11)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner

from service.cli import cli
from service.scheduler import run_job

from .conftest import REPO, drain_postfix, empty_mailboxes, folder_messages, make_mail
from .test_gift_approvals_on_real_servers import LEADER, cycle, mails, reply

pytestmark = pytest.mark.mail
REPO_CONFIG = REPO / "config.yaml"

REP = "li.lei@visitflow.test"          # east, head 王芳
REP2 = "han.meimei@visitflow.test"     # east
REP_NORTH = "tom.baker@visitflow.test"  # north, head Chen Jing (English)
HEAD = "wang.fang@visitflow.test"
HEAD_NORTH = "chen.jing@visitflow.test"
PRODUCTION = "production@visitflow.test"
TECH_DEPT = "tech@visitflow.test"
EVERYONE = (REP, REP2, REP_NORTH, HEAD, HEAD_NORTH, LEADER, PRODUCTION, TECH_DEPT)


def urgent_mail(sender: str, category: str, *, customer: str = "华联超市（浦东店）") -> bytes:
    return make_mail(sender=sender, subject="紧急", body=(
        f"类别：{category}\n客户名称：{customer}\n内容：竞品本周上市新口味，进场费全免\n建议：申请同等促销政策\n")).as_bytes()


def job(box, ctx, name: str, when: datetime) -> str:
    """Run a scheduled job as of ``when`` and send what it queued, as the daemon would."""
    summary = run_job(ctx, name, when)
    cycle(box, ctx)
    return summary


def inboxes(box) -> dict[str, list]:
    drain_postfix(box)
    return {user: folder_messages(box, user) for user in EVERYONE}


def receivers(box, *, subject_part: str) -> set[str]:
    return {user for user, msgs in inboxes(box).items() if any(subject_part in m.subject for m in msgs)}


@pytest.mark.parametrize("sender, category, expected", [
    (REP, "竞品新品", {HEAD}),
    (REP, "政策变化", {HEAD}),
    (REP, "同行销售或服务新动向", {HEAD}),
    (REP, "其他紧急事项", {HEAD}),
    (REP, "质量问题", {HEAD, LEADER, PRODUCTION, TECH_DEPT}),      # rep_direct: product_defect
    (HEAD, "新品上市", {LEADER}),
    (HEAD, "competitor_policy", {LEADER}),
    (HEAD, "Product defect", {LEADER, PRODUCTION, TECH_DEPT}),
    (LEADER, "产品缺陷", {PRODUCTION, TECH_DEPT}),
], ids=["rep-product", "rep-policy", "rep-trend", "rep-other", "rep-defect", "head-product", "head-policy",
        "head-defect", "leader-defect"])
def test_each_category_from_a_rep_or_a_head_reaches_exactly_the_right_people(
        mail_sandbox, mail_env, ctx, sender, category, expected):
    cycle(mail_sandbox, ctx, urgent_mail(sender, category))
    assert receivers(mail_sandbox, subject_part="[VF-U-1]") == expected
    receipt = [m for m in folder_messages(mail_sandbox, sender) if "U-1" in m.subject and "VF-U" not in m.subject]
    assert len(receipt) == 1


def test_a_report_without_details_or_with_an_unknown_category_is_rejected_listing_the_five(
        mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, make_mail(sender=REP, subject="紧急", body="类别：天气不好\n客户名称：华联超市\n").as_bytes())
    (rejection,) = mails(mail_sandbox, REP, 1)
    assert "同行销售政策重大变化" in rejection.text and "本公司产品重大缺陷" in rejection.text
    assert "内容" in rejection.text  # details missing
    assert ctx.db.execute("SELECT count(*) FROM urgent_reports").fetchone()[0] == 0


def head_mail(box, report: int = 1):
    return next(m for m in folder_messages(box, HEAD) if f"[VF-U-{report}]" in m.subject)


def test_the_head_reports_a_reps_report_up_with_a_comment_and_the_rep_is_told(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, urgent_mail(REP, "竞品新品"))
    cycle(mail_sandbox, ctx, reply(head_mail(mail_sandbox), sender=HEAD, text="上报，竞品动作很大，请领导关注"))
    row = ctx.db.execute("SELECT level, state, head_comment FROM urgent_reports").fetchone()
    assert row == ("leadership", "open", "竞品动作很大，请领导关注")
    to_leader = [m for m in mails(mail_sandbox, LEADER, 1) if "[VF-U-1]" in m.subject]
    assert "竞品动作很大，请领导关注" in to_leader[0].text
    assert any("已上报公司领导" in m.subject for m in folder_messages(mail_sandbox, REP))


def test_the_head_closes_a_reps_report_in_the_unit_and_the_rep_is_told(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, urgent_mail(REP, "竞品新品"))
    cycle(mail_sandbox, ctx, reply(head_mail(mail_sandbox), sender=HEAD, text="关闭 已处理，已与客户沟通"))
    assert ctx.db.execute("SELECT state, close_comment, closed_by FROM urgent_reports").fetchone() == (
        "closed", "已处理，已与客户沟通", HEAD)
    assert folder_messages(mail_sandbox, LEADER) == []
    told = [m for m in folder_messages(mail_sandbox, REP) if "已关闭" in m.subject]
    assert told and "已处理，已与客户沟通" in told[0].text


def test_a_recipient_acknowledges_and_then_closes(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, urgent_mail(HEAD, "新品上市"))
    (to_leader,) = [m for m in mails(mail_sandbox, LEADER, 1) if "[VF-U-1]" in m.subject]
    cycle(mail_sandbox, ctx, reply(to_leader, sender=LEADER, text="收到"))
    assert ctx.db.execute("SELECT state FROM urgent_reports").fetchone()[0] == "acknowledged"
    cycle(mail_sandbox, ctx, reply(to_leader, sender=LEADER, text="关闭 已安排市场部跟进"))
    assert ctx.db.execute("SELECT state, close_comment FROM urgent_reports").fetchone() == ("closed", "已安排市场部跟进")


@pytest.mark.parametrize("who", [REP2, HEAD_NORTH], ids=["colleague", "other-unit-head"])
def test_a_close_from_someone_who_did_not_receive_the_report_changes_nothing_and_is_audited(
        mail_sandbox, mail_env, ctx, who):
    cycle(mail_sandbox, ctx, urgent_mail(REP, "竞品新品"))
    cycle(mail_sandbox, ctx, reply(head_mail(mail_sandbox), sender=who, text="关闭 不用管"))
    assert ctx.db.execute("SELECT state, level FROM urgent_reports").fetchone() == ("open", "unit")
    reason = ctx.db.execute("SELECT reason FROM audit WHERE action = 'refused'").fetchone()[0]
    assert reason.startswith(f"not_recipient: {who}")
    assert any("未生效" in m.subject or "no effect" in m.subject for m in mails(mail_sandbox, who, 1))


def test_a_stranger_forging_the_head_with_a_second_author_changes_nothing(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, urgent_mail(REP, "竞品新品"))
    raw = reply(head_mail(mail_sandbox), sender=HEAD, text="关闭 不用管").replace(
        f"From: {HEAD}".encode(), f"From: {HEAD}, attacker@evil.test".encode())
    cycle(mail_sandbox, ctx, raw)
    assert ctx.db.execute("SELECT state FROM urgent_reports").fetchone()[0] == "open"


def test_unacknowledged_reports_are_reminded_once_per_period_until_acknowledged(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, urgent_mail(HEAD, "新品上市"))
    created = datetime.fromisoformat(ctx.db.execute("SELECT created_at FROM urgent_reports").fetchone()[0])
    hours = ctx.cfg.policy.urgent_reminder_hours
    zone = ctx.cfg.policy.zone
    for offset in (hours * 0.5, hours * 1.1, hours * 1.2, hours * 2.1):
        job(mail_sandbox, ctx, "urgent_reminders", (created + timedelta(hours=offset)).astimezone(zone))
    drain_postfix(mail_sandbox)
    reminders = [m for m in folder_messages(mail_sandbox, LEADER) if "提醒" in m.subject]
    assert len(reminders) == 2  # periods 1 and 2, each once
    (to_leader,) = [m for m in folder_messages(mail_sandbox, LEADER) if "[VF-U-1]" in m.subject and "提醒" not in m.subject]
    cycle(mail_sandbox, ctx, reply(to_leader, sender=LEADER, text="收到"))
    job(mail_sandbox, ctx, "urgent_reminders", (created + timedelta(hours=hours * 5.1)).astimezone(zone))
    drain_postfix(mail_sandbox)
    assert len([m for m in folder_messages(mail_sandbox, LEADER) if "提醒" in m.subject]) == 2


def test_status_lists_open_urgent_reports_with_age_state_and_acknowledgement(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, urgent_mail(HEAD, "新品上市"))
    result = CliRunner().invoke(cli, ["--config", str(ctx.cfg.path), "status"])
    assert "open urgent reports:" in result.output
    assert "U-1 competitor_product" in result.output and "acknowledged by nobody" in result.output


# --------------------------------------------------------------------------- the digest

DAY = "2026-11-26"  # a Thursday, a working day


def daily(sender: str, *, urgent: str | None = None, customer: str = "华联超市") -> bytes:
    body = f"日期：{DAY}\n客户名称：{customer}\n巡访时间：{DAY} 09:30\n客户意见：希望增加小包装规格\n"
    if urgent:
        body += f"紧急：{urgent}\n"
    return make_mail(sender=sender, subject="巡访日报", body=body).as_bytes()


def at(clock: str, day: str = DAY):
    from datetime import time
    return datetime.combine(datetime.fromisoformat(day).date(), time.fromisoformat(clock))


def test_a_day_with_a_silent_rep_reminds_only_that_rep_and_the_digest_says_so(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, daily(REP, urgent="竞品新品"), daily(REP_NORTH))
    empty_mailboxes(mail_sandbox, EVERYONE)
    zone = ctx.cfg.policy.zone
    job(mail_sandbox, ctx, "missing_reminders", at("17:00").replace(tzinfo=zone))
    drain_postfix(mail_sandbox)
    reminded = {u for u, msgs in inboxes(mail_sandbox).items() if any("请提交" in m.subject for m in msgs)}
    assert reminded == {REP2}
    job(mail_sandbox, ctx, "daily_digest", at("18:00").replace(tzinfo=zone))
    (digest,) = [m for m in mails(mail_sandbox, HEAD, 1) if "[VF-D-" in m.subject]
    assert "李雷：已报，1 条巡访" in digest.text
    assert "韩梅梅：未报" in digest.text
    assert "1. [同行新产品上市] 华联超市（李雷）" in digest.text
    (north,) = [m for m in mails(mail_sandbox, HEAD_NORTH, 1) if "[VF-D-" in m.subject]
    assert "Tom Baker: reported, 1 visit(s)" in north.text
    # 上报 1: an urgent report to leadership; again: refused politely, nothing new
    cycle(mail_sandbox, ctx, reply(digest, sender=HEAD, text="上报 1 竞品动作很大"))
    assert ctx.db.execute("SELECT origin, level, category, head_comment FROM urgent_reports").fetchall() == [
        ("digest", "leadership", "competitor_product", "竞品动作很大")]
    assert any("[VF-U-1]" in m.subject for m in mails(mail_sandbox, LEADER, 1))
    cycle(mail_sandbox, ctx, reply(digest, sender=HEAD, text="上报 1、7"))
    assert ctx.db.execute("SELECT count(*) FROM urgent_reports").fetchone()[0] == 1
    answers = [m for m in folder_messages(mail_sandbox, HEAD) if "未做改变" in m.subject]
    assert answers and "已经上报过" in answers[0].text and "本汇总没有这一项" in answers[0].text


def test_a_digest_or_reminder_runs_once_per_day_however_often_it_is_started(mail_sandbox, mail_env, ctx):
    zone = ctx.cfg.policy.zone
    first = run_job(ctx, "daily_digest", at("18:00").replace(tzinfo=zone))
    again = run_job(ctx, "daily_digest", at("18:05").replace(tzinfo=zone))
    assert "2 unit(s)" in first and "already done" in again
    assert ctx.db.execute("SELECT count(*) FROM digests").fetchone()[0] == 2


@pytest.mark.parametrize("day, expected", [
    ("2026-10-01", 0),   # National Day: a statutory holiday
    ("2026-10-10", 2),   # a Saturday made a working day (调休)
    ("2026-11-28", 0),   # an ordinary Saturday
])
def test_holidays_have_no_digest_and_make_up_saturdays_have_one(mail_sandbox, mail_env, ctx, day, expected):
    run_job(ctx, "daily_digest", at("18:00", day).replace(tzinfo=ctx.cfg.policy.zone))
    assert ctx.db.execute("SELECT count(*) FROM digests").fetchone()[0] == expected


def test_a_daemon_started_after_the_digest_time_sends_one_digest_per_unit_and_a_restart_none(
        mail_sandbox, mail_env, tmp_path):
    import yaml

    from service.config import load_config
    from service.context import Context

    from .conftest import DaemonProcess, base_config_data, wait_for

    data = base_config_data()
    zone = load_config(REPO_CONFIG).policy.zone
    now = datetime.now(zone)
    data["storage"] = {"database": str(tmp_path / "d.db"), "reports_dir": str(tmp_path / "r"),
                       "cards_dir": str(tmp_path / "c")}
    data["imap"]["port"], data["smtp"]["port"] = mail_sandbox.imap_port, mail_sandbox.smtp_port
    # The digest time passed a minute ago, and today is a working day whatever the calendar says.
    data["schedule"]["daily_digest"] = (now.replace(second=0, microsecond=0) - timedelta(minutes=1)).strftime("%H:%M")
    data["schedule"]["missing_report_reminder"] = "00:00"
    data["policy"]["extra_working_days"] = [now.date().isoformat()]
    if now.hour == 0 and now.minute < 2:
        pytest.skip("too close to midnight for a same-day catch-up")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    installed_yesterday(path)  # (a first start after the digest time makes up nothing)
    for round_ in range(2):
        proc = DaemonProcess(path, mail_env, tmp_path / f"daemon{round_}.log")
        try:
            wait_for(lambda: "IMAP connected" in proc.output(), what="the daemon to connect")
            wait_for(lambda: "job daily_digest" in proc.output() or round_ == 1, timeout=30, what="the catch-up")
            time.sleep(2)
        finally:
            assert proc.stop() == 0
    ctx = Context.open(load_config(path))
    try:
        assert ctx.db.execute("SELECT unit, day FROM digests ORDER BY unit").fetchall() == [
            ("east", now.date().isoformat()), ("north", now.date().isoformat())]
    finally:
        ctx.close()
    drain_postfix(mail_sandbox)
    assert len([m for m in folder_messages(mail_sandbox, HEAD) if "[VF-D-" in m.subject]) == 1


def installed_yesterday(config) -> None:
    """Create the config's database as if the service had been installed the day before."""
    from service.config import load_config
    from service.context import Context

    from service.scheduler import _previous_month

    ctx = Context.open(load_config(config))
    try:
        ctx.db.execute("UPDATE service_state SET value = ? WHERE key = 'installed_at'",
                       [(datetime.now(timezone.utc) - timedelta(days=1)).isoformat()])
        # On a monthly report day, the month that just ended is reported already: these tests
        # are about the daily jobs, whatever the calendar says.
        ctx.db.execute("INSERT INTO job_runs (job, run_key, done_at) VALUES ('monthly_report', ?, 'x')",
                       [_previous_month(datetime.now(ctx.cfg.policy.zone))])
        ctx.db.conn.commit()
    finally:
        ctx.close()


def test_a_first_start_after_the_digest_time_makes_up_nothing(tmp_path):
    from service.config import parse_config
    from service.context import Context
    from service.scheduler import missed_today

    from .conftest import base_config_data

    data = base_config_data()  # config.yaml's times: reminder 17:00, digest 18:00
    data["storage"] = {"database": str(tmp_path / "m.db"), "reports_dir": str(tmp_path / "r"),
                       "cards_dir": str(tmp_path / "c")}
    ctx = Context.open(parse_config(data, path=tmp_path / "c.yaml"))
    try:
        # A Wednesday that is not the monthly report's day (config.yaml: the 1st, 08:00).
        late = datetime(2026, 11, 18, 23, 0, tzinfo=ctx.cfg.policy.zone)
        ctx.db.execute("UPDATE service_state SET value = ? WHERE key = 'installed_at'",
                       [late.replace(hour=0, minute=1).isoformat()])
        assert missed_today(ctx, late) == ["missing_reminders", "daily_digest"]  # installed in the morning
        ctx.db.execute("UPDATE service_state SET value = ? WHERE key = 'installed_at'",
                       [late.replace(hour=22).isoformat()])
        assert missed_today(ctx, late) == []  # installed at 22:00: the 17:00 and 18:00 runs were never due
    finally:
        ctx.close()


@pytest.mark.parametrize("installed, expected", [
    ("2026-12-01T00:01:00+08:00", ["monthly_report", "missing_reminders", "daily_digest"]),  # before 08:00
    ("2026-12-01T09:00:00+08:00", ["missing_reminders", "daily_digest"]),  # after the report's time
    ("2026-12-01T22:00:00+08:00", []),                                     # after every time of the day
    ("2026-11-20T10:00:00+08:00", ["monthly_report", "missing_reminders", "daily_digest"]),
])
def test_on_the_monthly_report_day_only_runs_due_after_installation_are_made_up(tmp_path, installed, expected):
    from service.config import parse_config
    from service.context import Context
    from service.scheduler import missed_today

    from .conftest import base_config_data

    data = base_config_data()  # config.yaml's times: monthly report the 1st 08:00, reminder 17:00, digest 18:00
    data["storage"] = {"database": str(tmp_path / "m.db"), "reports_dir": str(tmp_path / "r"),
                       "cards_dir": str(tmp_path / "c")}
    ctx = Context.open(parse_config(data, path=tmp_path / "c.yaml"))
    try:
        ctx.db.execute("UPDATE service_state SET value = ? WHERE key = 'installed_at'", [installed])
        late = datetime(2026, 12, 1, 23, 0, tzinfo=ctx.cfg.policy.zone)
        assert missed_today(ctx, late) == expected
        ctx.db.execute("INSERT INTO job_runs (job, run_key, done_at) VALUES ('monthly_report', '2026-11', 'x')")
        assert "monthly_report" not in missed_today(ctx, late)  # November's run is done
    finally:
        ctx.close()


@pytest.mark.parametrize("clock, done, expected", [
    ("16:59", [], []),                                             # before both times: nothing to make up
    ("18:30", [], ["missing_reminders", "daily_digest"]),           # after both: both, in time order
    ("18:30", ["daily_digest"], ["missing_reminders"]),             # what ran today is not run again
    ("17:30", [], ["missing_reminders"]),
])
def test_only_todays_missed_daily_runs_are_made_up_at_start(tmp_path, clock, done, expected):
    from service.config import parse_config
    from service.context import Context
    from service.scheduler import missed_today

    from .conftest import base_config_data

    data = base_config_data()  # config.yaml's times: reminder 17:00, digest 18:00
    data["storage"] = {"database": str(tmp_path / "m.db"), "reports_dir": str(tmp_path / "r"),
                       "cards_dir": str(tmp_path / "c")}
    ctx = Context.open(parse_config(data, path=tmp_path / "c.yaml"))
    ctx.db.execute("UPDATE service_state SET value = '2026-01-01T00:00:00+00:00' WHERE key = 'installed_at'")
    ctx.db.execute("INSERT INTO job_runs (job, run_key, done_at) VALUES ('monthly_report', '2026-10', 'x')")
    when = at(clock).replace(tzinfo=ctx.cfg.policy.zone)
    for name in done:
        ctx.db.execute("INSERT INTO job_runs (job, run_key, done_at) VALUES (?, ?, 'x')", [name, DAY])
    # A run yesterday does not count for today, and yesterday's missed run is never made up.
    ctx.db.execute("INSERT INTO job_runs (job, run_key, done_at) VALUES ('daily_digest', '2026-11-25', 'x')")
    try:
        assert missed_today(ctx, when) == expected
    finally:
        ctx.close()


# --------------------------------------------------------------------------- found by attacking it

def test_an_urgent_visit_in_a_report_that_missed_its_digest_is_in_the_next_one(mail_sandbox, mail_env, ctx):
    zone = ctx.cfg.policy.zone
    job(mail_sandbox, ctx, "daily_digest", at("18:00").replace(tzinfo=zone))
    cycle(mail_sandbox, ctx, daily(REP, urgent="竞品新品"))  # too late for the 26th's digest
    empty_mailboxes(mail_sandbox, EVERYONE)
    job(mail_sandbox, ctx, "daily_digest", at("18:00", "2026-11-27").replace(tzinfo=zone))
    (digest,) = [m for m in mails(mail_sandbox, HEAD, 1) if "[VF-D-" in m.subject]
    assert "1. [同行新产品上市] 华联超市（李雷，2026-11-26）" in digest.text
    cycle(mail_sandbox, ctx, reply(digest, sender=HEAD, text="关闭 1 已处理"))
    empty_mailboxes(mail_sandbox, EVERYONE)
    job(mail_sandbox, ctx, "daily_digest", at("18:00", "2026-11-30").replace(tzinfo=zone))
    (later,) = [m for m in mails(mail_sandbox, HEAD, 1) if "[VF-D-" in m.subject]
    assert "【待处理事项】无" in later.text


def test_a_visit_replaced_by_a_corrected_report_is_not_escalated_from_an_old_digest(mail_sandbox, mail_env, ctx):
    zone = ctx.cfg.policy.zone
    cycle(mail_sandbox, ctx, daily(REP, urgent="质量问题"))
    job(mail_sandbox, ctx, "daily_digest", at("18:00").replace(tzinfo=zone))
    (digest,) = [m for m in mails(mail_sandbox, HEAD, 1) if "[VF-D-" in m.subject]
    cycle(mail_sandbox, ctx, daily(REP))  # the rep corrects the report: no 紧急 any more
    cycle(mail_sandbox, ctx, reply(digest, sender=HEAD, text="上报 1"))
    assert ctx.db.execute("SELECT count(*) FROM urgent_reports").fetchone()[0] == 0
    assert any("已被营销员更新的日报替换" in m.text for m in folder_messages(mail_sandbox, HEAD))


def test_a_sole_leaders_urgent_report_is_theirs_to_close_not_nobodys(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, urgent_mail(LEADER, "竞品新品"))
    assert ctx.db.execute("SELECT person FROM urgent_recipients").fetchall() == [(LEADER,)]
    (own,) = [m for m in mails(mail_sandbox, LEADER, 2) if "[VF-U-1]" in m.subject]
    cycle(mail_sandbox, ctx, reply(own, sender=LEADER, text="关闭 已安排"))
    assert ctx.db.execute("SELECT state FROM urgent_reports").fetchone()[0] == "closed"


def test_a_vacation_reply_does_not_acknowledge_and_a_number_stays_in_the_comment(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, urgent_mail(HEAD, "新品上市"))
    (to_leader,) = [m for m in mails(mail_sandbox, LEADER, 1) if "[VF-U-1]" in m.subject]
    cycle(mail_sandbox, ctx, reply(to_leader, sender=LEADER, text="收到您的邮件，我正在休假，12月1日回来。"))
    assert ctx.db.execute("SELECT state FROM urgent_reports").fetchone()[0] == "open"
    cycle(mail_sandbox, ctx, reply(to_leader, sender=LEADER, text="关闭 2 家门店已下架，3月起恢复"))
    assert ctx.db.execute("SELECT close_comment FROM urgent_reports").fetchone()[0] == "2 家门店已下架，3月起恢复"


def test_a_bot_echoing_the_help_example_stores_no_report(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, make_mail(sender=REP, subject="hello").as_bytes())
    (help_mail,) = mails(mail_sandbox, REP, 1)
    echo = make_mail(sender=REP, subject=f"Re: {help_mail.subject}", body=help_mail.text)
    cycle(mail_sandbox, ctx, echo.as_bytes())
    assert ctx.db.execute("SELECT count(*) FROM reports").fetchone()[0] == 0
    reason = ctx.db.execute("SELECT reason FROM messages ORDER BY id DESC").fetchone()[0]
    assert "only the example from one of our mails" in reason


def test_a_report_sent_as_a_reply_to_the_reminder_is_stored(mail_sandbox, mail_env, ctx):
    job(mail_sandbox, ctx, "missing_reminders", at("17:00").replace(tzinfo=ctx.cfg.policy.zone))
    (reminder,) = [m for m in mails(mail_sandbox, REP, 1) if "请提交" in m.subject]
    body = f"日期：{DAY}\n客户名称：联华超市\n巡访时间：{DAY} 10:00\n客户意见：要求延长账期"
    cycle(mail_sandbox, ctx, reply(reminder, sender=REP, text=body))
    assert ctx.db.execute("SELECT customer FROM visits").fetchall() == [("联华超市",)]
