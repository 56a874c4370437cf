"""The monthly report's life on the real Dovecot and Postfix: the head's review, sent up once (issue 11).

The month is ``tests/monthly_month.py``'s October 2026, its own mail long delivered; the
schedule's run is ``run_job(ctx, "monthly_report", 1 November 08:00)``. The unit head of east
(王芳) reviews by replying to the review mail as a mail client would; leadership (刘总) is
where the report must arrive – once.
"""

from __future__ import annotations

import io
import json
import time
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

import docx
import pytest
import yaml
from click.testing import CliRunner

from service.cli import cli
from service.config import load_config
from service.context import Context
from service.outbound import smtp
from service.scheduler import run_job
from service.store.db import transaction

from .conftest import FIXTURES, folder_messages, wait_for
from .monthly_month import CST, HEAD_EAST, LI, build_month, edit_config
from .test_gift_approvals_on_real_servers import cycle

pytestmark = pytest.mark.mail

SERVICE = "visits@visitflow.test"
HEAD = HEAD_EAST
HEAD_NORTH = "chen.jing@visitflow.test"
LEADER = "liu.zong@visitflow.test"
AT = datetime(2026, 11, 1, 8, 0, tzinfo=CST)       # October's scheduled run
EAST_REPORT = "每月巡访情况报告书 华东事业部 2026-10"
SUMMARY = "每月巡访情况报告书 公司汇总 2026-10"
DOCX_NAME = "每月巡访情况报告书-华东事业部-2026-10.docx"
XLSX_NAME = "每月巡访情况报告书-华东事业部-2026-10.xlsx"


@pytest.fixture
def cfg(config_file: Path):
    edit_config(config_file)
    return load_config(config_file)


@pytest.fixture
def october(ctx):
    """Put the generated October into the database, its own mail already delivered long ago."""
    build_month(ctx)
    with transaction(ctx.db):
        ctx.db.execute("UPDATE outbox SET state = 'sent', sent_at = created_at")
    return ctx


def send(ctx) -> None:
    smtp.send_due(ctx.db, ctx.cfg.smtp, ctx.cfg.service_address)


def inbox(box, user: str, subject: str = "") -> list:
    """Return user's mails whose subject holds ``subject`` (the unit's report: whose subject is it)."""
    if subject == EAST_REPORT:
        return [m for m in folder_messages(box, user) if m.subject == subject]
    return [m for m in folder_messages(box, user) if subject in m.subject]


def arrived(box, user: str, subject: str, count: int = 1) -> list:
    """Wait for ``count`` mails to user that ``inbox`` finds; return them."""
    return wait_for(lambda: (lambda found: found if len(found) >= count else None)(inbox(box, user, subject)),
                    timeout=30, what=f"{count} mail(s) '{subject}' for {user}")


def review_mail(box, ctx, user: str = HEAD):
    """Run October's schedule and return the review mail the head got."""
    assert run_job(ctx, "monthly_report", AT).endswith("2026-10: 2 review, 1 sent")
    send(ctx)
    (mail,) = arrived(box, user, "请审阅：每月巡访情况报告书")
    return mail


def reply(to_mail, *, sender: str, text: str, files=(), from_header: str | None = None) -> bytes:
    """Reply as a mail client would: threading headers, the words on top, the original quoted, files attached."""
    msg = EmailMessage()
    msg["From"] = from_header or sender
    msg["To"] = SERVICE
    msg["Subject"] = f"回复：{to_mail.subject}"
    msg["Message-ID"] = make_msgid(domain="client.test")
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg["In-Reply-To"] = msg["References"] = to_mail.headers["message-id"][0]
    quoted = "\n".join("> " + line for line in to_mail.text.splitlines())
    msg.set_content(f"{text}\n\n在 2026年11月1日 08:00，巡访服务 <{SERVICE}> 写道：\n{quoted}\n")
    for name, payload, mime in files:
        maintype, subtype = mime.split("/")
        msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes()


DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def edited(draft: bytes, words: str) -> bytes:
    """Return the draft with a paragraph added, saved by python-docx as Word would save it."""
    document = docx.Document(io.BytesIO(draft))
    document.add_paragraph(words)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def attached(mail) -> dict[str, bytes]:
    return {a.filename: a.payload for a in mail.attachments}


def east_row(ctx) -> dict:
    return next(ctx.db.query("SELECT * FROM monthly_reports WHERE unit = 'east' AND month = '2026-10'"))


def refusals(ctx) -> list[tuple[str, str]]:
    return [(actor, reason.split(":")[0]) for actor, reason in ctx.db.execute(
        "SELECT actor, reason FROM audit WHERE subject LIKE 'monthly:%' AND action = 'refused' ORDER BY id")]


# --------------------------------------------------------------------------- the head's review


def test_the_head_approves_and_leadership_gets_the_report_and_workbook_with_the_head_in_cc(
        mail_sandbox, mail_env, october):
    ctx = october
    review = review_mail(mail_sandbox, ctx)
    assert review.subject.startswith("[VF-M-") and "华东事业部 2026-10" in review.subject
    assert "巡访次数：17" in review.text and "48 小时内" in review.text
    files = attached(review)
    assert sorted(files) == sorted([DOCX_NAME, XLSX_NAME])
    (summary,) = arrived(mail_sandbox, LEADER, SUMMARY)
    assert {a.filename for a in summary.attachments} == {"每月巡访情况报告书-公司汇总-2026-10.docx",
                                                        "每月巡访情况报告书-公司汇总-2026-10.xlsx"}
    assert inbox(mail_sandbox, LEADER, EAST_REPORT) == []   # nothing goes up before the head answers

    cycle(mail_sandbox, ctx, reply(review, sender=HEAD, text="同意"))

    (report,) = arrived(mail_sandbox, LEADER, EAST_REPORT)
    assert report.to == (LEADER,) and report.cc == (HEAD,)
    assert "经营业单位主管 王芳 审阅同意后提交" in report.text
    assert attached(report) == files        # the draft the head saw, and its workbook
    assert (east_row(ctx)["state"], east_row(ctx)["sent_as"]) == ("sent", "approved")
    assert arrived(mail_sandbox, HEAD, EAST_REPORT)      # the head's copy, through CC


def test_the_head_replies_with_an_edited_docx_and_leadership_gets_exactly_that_file_archived(
        mail_sandbox, mail_env, october):
    ctx = october
    review = review_mail(mail_sandbox, ctx)
    draft = attached(review)[DOCX_NAME]
    mine = edited(draft, "主管补充：十月华联超市的投诉已于 11 月 2 日处理完毕。")

    cycle(mail_sandbox, ctx, reply(review, sender=HEAD, text="已修改，请发送", files=[("报告书（修改）.docx", mine,
                                                                                        DOCX_MIME)]))

    (report,) = arrived(mail_sandbox, LEADER, EAST_REPORT)
    assert attached(report)[DOCX_NAME] == mine      # the head's file, under the report's name
    assert attached(report)[XLSX_NAME] == attached(review)[XLSX_NAME]
    assert "审阅修改后提交" in report.text
    row = east_row(ctx)
    assert row["sent_as"] == "edited"
    archived = ctx.cfg.storage.reports_dir / row["sent_docx"]
    assert archived.read_bytes() == mine and archived.parent == (ctx.cfg.storage.reports_dir / row["draft_docx"]).parent
    assert (ctx.cfg.storage.reports_dir / row["draft_docx"]).read_bytes() == draft   # the draft is kept too
    assert "主管补充" in "\n".join(p.text for p in docx.Document(archived).paragraphs)


def test_without_an_answer_the_draft_goes_up_after_the_review_hours_saying_so(mail_sandbox, mail_env, october):
    ctx = october
    review = review_mail(mail_sandbox, ctx)
    now = AT    # the review hours count from the run's time, not the wall clock

    assert run_job(ctx, "monthly_reviews", now + timedelta(hours=47)).endswith("0 draft(s) sent after no answer")
    send(ctx)
    assert east_row(ctx)["state"] == "review"
    assert run_job(ctx, "monthly_reviews", now + timedelta(hours=48, minutes=5)).endswith(
        "2 draft(s) sent after no answer")      # east's and north's
    send(ctx)

    (report,) = arrived(mail_sandbox, LEADER, EAST_REPORT)
    assert "未在 48 小时内答复" in report.text and "未经审阅" in report.text
    assert attached(report) == attached(review)
    assert (east_row(ctx)["state"], east_row(ctx)["sent_as"]) == ("sent", "timeout")
    # The next run of the job finds nothing more to send.
    assert run_job(ctx, "monthly_reviews", now + timedelta(hours=60)).endswith("0 draft(s) sent after no answer")


def test_replies_that_may_not_decide_are_refused_and_the_draft_waits(mail_sandbox, mail_env, october):
    ctx = october
    review = review_mail(mail_sandbox, ctx)
    pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"

    cycle(mail_sandbox, ctx,
          reply(review, sender=LI, text="同意"),                                       # a rep
          reply(review, sender=HEAD, text="修改版见附件", files=[("报告书.pdf", pdf, "application/pdf")]),
          reply(review, sender=HEAD, text="同意",                                      # two authors
                from_header=f"王芳 <{HEAD}>, 刘总 <{LEADER}>"))

    assert refusals(ctx) == [(LI, "not_head"), (HEAD, "not_docx"), (HEAD, "ambiguous_sender")]
    assert east_row(ctx)["state"] == "review"
    assert inbox(mail_sandbox, LEADER, EAST_REPORT) == []
    rep_note = arrived(mail_sandbox, LI, "未处理")[0]
    assert "只有该营业单位的主管可以审阅" in rep_note.text
    head_note = arrived(mail_sandbox, HEAD, "未处理")[0]
    assert "附件中没有（或不止一个）Word .docx 文件" in head_note.text

    cycle(mail_sandbox, ctx, reply(review, sender=HEAD, text="同意"))
    arrived(mail_sandbox, LEADER, EAST_REPORT)
    late = edited(attached(review)[DOCX_NAME], "太晚的修改")
    cycle(mail_sandbox, ctx, reply(review, sender=HEAD, text="再改一下", files=[("报告书.docx", late, DOCX_MIME)]))

    assert refusals(ctx)[-1] == (HEAD, "already_sent")
    assert east_row(ctx)["sent_as"] == "approved"
    assert len(inbox(mail_sandbox, LEADER, EAST_REPORT)) == 1


def test_approving_twice_sends_one_mail_to_leadership(mail_sandbox, mail_env, october):
    ctx = october
    review = review_mail(mail_sandbox, ctx)
    first, second = reply(review, sender=HEAD, text="同意"), reply(review, sender=HEAD, text="同意，谢谢")

    cycle(mail_sandbox, ctx, first, second)
    cycle(mail_sandbox, ctx, first)         # the same mail delivered once more

    arrived(mail_sandbox, LEADER, EAST_REPORT)
    assert len(inbox(mail_sandbox, LEADER, EAST_REPORT)) == 1
    assert refusals(ctx) == [(HEAD, "already_sent")]
    assert ctx.db.execute("SELECT COUNT(*) FROM outbox WHERE template = 'monthly_report'").fetchone() == (1,)


# --------------------------------------------------------------------------- once per unit and month


def test_the_schedule_twice_and_a_manual_send_make_one_report_per_unit_and_month(
        mail_sandbox, mail_env, october, config_file):
    ctx = october
    first = run_job(ctx, "monthly_report", AT)
    assert first.endswith("2026-10: 2 review, 1 sent")
    assert "already done" in run_job(ctx, "monthly_report", AT + timedelta(days=3))
    # A crash after the reports were made but before the run was written down: the rerun makes none.
    with transaction(ctx.db):
        ctx.db.execute("DELETE FROM job_runs WHERE job = 'monthly_report'")
    assert run_job(ctx, "monthly_report", AT + timedelta(hours=1)).endswith("2026-10: 3 exists")
    manual = CliRunner().invoke(cli, ["--config", str(config_file), "report", "monthly", "--month", "2026-10",
                                      "--send"])
    assert manual.exit_code == 0, manual.output
    assert "east: already made for 2026-10, not sent again" in manual.output
    assert "company summary: already made for 2026-10, not sent again" in manual.output
    send(ctx)

    assert len(arrived(mail_sandbox, HEAD, "请审阅")) == 1
    assert len(arrived(mail_sandbox, HEAD_NORTH, "Please review")) == 1
    assert len(arrived(mail_sandbox, LEADER, SUMMARY)) == 1
    assert ctx.db.execute("SELECT unit, COUNT(*) FROM monthly_reports GROUP BY unit ORDER BY unit").fetchall() == [
        ("*", 1), ("east", 1), ("north", 1)]
    assert ctx.db.execute("SELECT COUNT(*) FROM outbox WHERE template LIKE 'monthly_%'").fetchone() == (3,)


def test_a_daemon_started_after_the_due_time_catches_up_once_and_an_empty_month_says_so(
        mail_sandbox, daemon, config_file):
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    data["schedule"]["monthly_report"] = {"day": 1, "time": "00:00"}     # already past this month
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    cfg = load_config(config_file)
    now = datetime.now(cfg.policy.zone)
    before = now.date().replace(day=1) - timedelta(days=1)
    month = f"{before.year:04d}-{before.month:02d}"
    context = Context.open(cfg)
    try:
        # Installed early last month, before this month's due time: the run was missed, not
        # before our time (and no earlier month is owed: each one would be made up too).
        with transaction(context.db):
            context.db.execute("UPDATE service_state SET value = ? WHERE key = 'installed_at'",
                               [f"{month}-01T00:00:00+00:00"])
    finally:
        context.close()

    first = daemon()
    reviews = arrived(mail_sandbox, HEAD, f"请审阅：每月巡访情况报告书 华东事业部 {month}")
    arrived(mail_sandbox, HEAD_NORTH, "Please review")
    arrived(mail_sandbox, LEADER, f"公司汇总 {month}")
    first.stop()
    (draft,) = [a.payload for a in reviews[0].attachments if a.filename.endswith(".docx")]
    lines = [p.text for p in docx.Document(io.BytesIO(draft)).paragraphs]
    for words in ("本月无紧急报告。", "本月无礼品申请。", "本月无客户意见。", "本月无巡访计划。"):
        assert words in lines

    second = daemon()
    wait_for(lambda: second.output().count("IMAP connected") >= 2, what="the second daemon to connect")
    wait_for(lambda: "job monthly_report" in second.output(), what="the first daemon's run in the log")
    time.sleep(3)   # long enough for a catch-up to have started
    second.stop()
    log = second.output()
    # Only the first daemon made up the month (late in the day the daily jobs are made up too).
    assert log.count("job monthly_report: today's run was missed while the daemon was down") == 1, log
    assert len(inbox(mail_sandbox, HEAD, "请审阅")) == 1
    assert len(inbox(mail_sandbox, LEADER, "公司汇总")) == 1


# --------------------------------------------------------------------------- the command


def test_report_monthly_with_out_writes_the_files_and_sends_nothing(config_file, cfg, tmp_path):
    out = tmp_path / "made"
    result = CliRunner().invoke(cli, ["--config", str(config_file), "report", "monthly", "--month", "2026-11",
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written == ["company/每月巡访情况报告书-公司汇总-2026-11.docx", "company/每月巡访情况报告书-公司汇总-2026-11.xlsx",
                       "east/每月巡访情况报告书-华东事业部-2026-11.docx", "east/每月巡访情况报告书-华东事业部-2026-11.xlsx",
                       "north/monthly-visit-report-north-2026-11.docx", "north/monthly-visit-report-north-2026-11.xlsx"]
    context = Context.open(cfg)
    try:
        assert context.db.execute("SELECT COUNT(*) FROM outbox").fetchone() == (0,)
        assert context.db.execute("SELECT COUNT(*) FROM monthly_reports").fetchone() == (0,)
    finally:
        context.close()
    assert not (cfg.storage.reports_dir / "2026-11").exists()


@pytest.mark.parametrize("args, message", [
    (["--month", "2026-11", "--unit", "nope"], "visitflow: --unit: no unit 'nope' in config (known: east, north)"),
    (["--month", "2026-11", "--unit", "east", "--unit", "nope"],
     "visitflow: --unit: no unit 'nope' in config (known: east, north)"),
    (["--month", "2026-13"], "visitflow: --month: '2026-13' is not a month such as 2026-11 (YYYY-MM, a four-digit year)"),
    (["--month", "November"], "visitflow: --month: 'November' is not a month such as 2026-11 (YYYY-MM, a four-digit year)"),
    (["--month", "26-11"], "visitflow: --month: '26-11' is not a month such as 2026-11 (YYYY-MM, a four-digit year)"),
    (["--month", "２０２６-１１"],
     "visitflow: --month: '２０２６-１１' is not a month such as 2026-11 (YYYY-MM, a four-digit year)"),
    (["--month", "9999-12"], "visitflow: --month: '9999-12' is outside the years 0002–9998 a report can cover"),
    (["--month", "2099-01", "--send"], "visitflow: --send: 2099-01 is not over yet (its last day is 2099-01-31); "
                                       "it can be sent from 2099-02-01, without --send only a preview is written"),
])
def test_an_unknown_unit_or_month_is_one_clear_line_and_exit_status_2(config_file, args, message):
    result = CliRunner().invoke(cli, ["--config", str(config_file), "report", "monthly", *args])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [message]


# --------------------------------------------------------------------------- what mail clients attach to a reply

PLACEHOLDER_ID = b"vf.0123456789abcdef0123456789abcdef@visitflow.test"
GOLDEN = sorted((FIXTURES / "monthly").glob("*.eml"))


@pytest.mark.parametrize("fixture", GOLDEN, ids=lambda p: p.stem)
def test_a_review_reply_decides_by_its_words_and_report_files_not_by_what_else_the_client_attached(
        mail_sandbox, mail_env, ctx, fixture):
    expected = json.loads(fixture.with_suffix(".json").read_text(encoding="utf-8"))
    review = review_mail(mail_sandbox, ctx)
    real_id = review.headers["message-id"][0].strip("<>").encode()
    raw = fixture.read_bytes().replace(PLACEHOLDER_ID, real_id)

    cycle(mail_sandbox, ctx, raw)

    row = east_row(ctx)
    assert (row["state"], row["sent_as"]) == (expected["state"], expected["sent_as"])
    assert [code for _, code in refusals(ctx)] == ([expected["refusal"]] if expected["refusal"] else [])
    if expected["state"] == "sent":
        (report,) = arrived(mail_sandbox, LEADER, EAST_REPORT)
        assert attached(report) == attached(review)
    else:
        assert "附件中没有（或不止一个）Word .docx 文件" in arrived(mail_sandbox, HEAD, "未处理")[0].text
        assert inbox(mail_sandbox, LEADER, EAST_REPORT) == []


@pytest.mark.parametrize("words, sent_as", [("同意", "approved"), ("看过了，没问题", None)])
def test_the_unchanged_draft_sent_back_is_no_edit(mail_sandbox, mail_env, ctx, words, sent_as):
    review = review_mail(mail_sandbox, ctx)
    files = [(name, payload, DOCX_MIME if name.endswith(".docx") else "application/octet-stream")
             for name, payload in attached(review).items()]

    cycle(mail_sandbox, ctx, reply(review, sender=HEAD, text=words, files=files))

    assert east_row(ctx)["sent_as"] == sent_as
    if sent_as is None:   # neither 同意 nor an edited report: the head is asked again
        assert "既没有“同意”，也没有附上修改后的 Word 报告书" in arrived(mail_sandbox, HEAD, "请回复")[0].text


# --------------------------------------------------------------------------- the archive stays what was reviewed and sent

def preview(config_file: Path, *args: str) -> None:
    result = CliRunner().invoke(cli, ["--config", str(config_file), "report", "monthly", "--month", "2026-10", *args])
    assert result.exit_code == 0, result.output


def late_report(ctx, box) -> None:
    """A report for 29 October that comes in after the draft was made: the figures change."""
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = LI, SERVICE, "巡访日报 2026-10-29"
    msg["Message-ID"] = make_msgid(domain="client.test")
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg.set_content("日期：2026-10-29\n客户名称：松江建材\n巡访时间：10:00\n客户意见：补报的日报\n")
    cycle(box, ctx, msg.as_bytes())


@pytest.mark.parametrize("args", [(), ("--unit", "east")], ids=["every unit", "one unit"])
def test_a_preview_made_while_the_head_reviews_does_not_change_what_goes_up(
        mail_sandbox, mail_env, october, config_file, args):
    ctx = october
    review = review_mail(mail_sandbox, ctx)
    late_report(ctx, mail_sandbox)

    preview(config_file, *args)
    cycle(mail_sandbox, ctx, reply(review, sender=HEAD, text="同意"))

    (report,) = arrived(mail_sandbox, LEADER, EAST_REPORT)
    assert attached(report) == attached(review)
    row = east_row(ctx)
    assert (ctx.cfg.storage.reports_dir / row["draft_docx"]).read_bytes() == attached(review)[DOCX_NAME]


def test_a_preview_after_the_report_was_sent_leaves_the_archive_as_sent(mail_sandbox, mail_env, october, config_file):
    ctx = october
    review = review_mail(mail_sandbox, ctx)
    cycle(mail_sandbox, ctx, reply(review, sender=HEAD, text="同意"))
    archive = ctx.cfg.storage.reports_dir / "2026-10"
    before = {p: p.read_bytes() for p in archive.rglob("*") if p.is_file()}
    late_report(ctx, mail_sandbox)

    preview(config_file)

    assert {p: p.read_bytes() for p in archive.rglob("*") if p.is_file() and p in before} == before


# --------------------------------------------------------------------------- replies to the mails leadership got

def test_replies_to_the_reports_leadership_got_are_not_review_attempts(mail_sandbox, mail_env, october):
    ctx = october
    review = review_mail(mail_sandbox, ctx)
    cycle(mail_sandbox, ctx, reply(review, sender=HEAD, text="同意"))
    (report,) = arrived(mail_sandbox, LEADER, EAST_REPORT)
    (summary,) = arrived(mail_sandbox, LEADER, SUMMARY)
    (head_copy,) = arrived(mail_sandbox, HEAD, EAST_REPORT)

    cycle(mail_sandbox, ctx, reply(report, sender=LEADER, text="收到，谢谢"))
    cycle(mail_sandbox, ctx, reply(summary, sender=LEADER, text="同意"))
    cycle(mail_sandbox, ctx, reply(head_copy, sender=HEAD, text="请各位领导审阅，有问题随时找我"))

    assert refusals(ctx) == []
    for user in (LEADER, HEAD):
        notes = arrived(mail_sandbox, user, "回复：")
        assert all("不需要审批或决定" in n.text for n in notes if "未处理" not in n.subject)
        assert not [n for n in notes if "未处理" in n.subject]
    assert len(inbox(mail_sandbox, LEADER, EAST_REPORT)) == 1


# --------------------------------------------------------------------------- more ways in and out

@pytest.mark.parametrize("at", [
    datetime(2026, 11, 30, 17, 30, tzinfo=timezone.utc),
    datetime(2026, 12, 1, 1, 30, tzinfo=CST),
    datetime(2026, 11, 30, 12, 30, tzinfo=timezone(timedelta(hours=-5))),
], ids=["utc", "shanghai", "new york"])
def test_the_monthly_run_is_keyed_by_the_month_it_reports_on_in_the_policy_zone(ctx, at):
    # 1 December 01:30 in Shanghai, however it is written: November's run.
    assert run_job(ctx, "monthly_report", at).startswith("monthly_report 2026-11: 2026-11: ")
    assert "already done" in run_job(ctx, "monthly_report", datetime(2026, 12, 1, 8, 0, tzinfo=CST))
    assert ctx.db.execute("SELECT run_key FROM job_runs WHERE job = 'monthly_report'").fetchall() == [("2026-11",)]


@pytest.mark.parametrize("with_code", [True, False], ids=["with the review code", "without it"])
def test_a_new_mail_with_the_tag_reviews_only_with_the_review_code(mail_sandbox, mail_env, ctx, with_code):
    review = review_mail(mail_sandbox, ctx)
    token = east_row(ctx)["token"]
    msg = EmailMessage()
    msg["From"], msg["To"] = HEAD, SERVICE
    msg["Subject"] = "[VF-M-1] 月报"
    msg["Message-ID"] = make_msgid(domain="client.test")
    msg["Date"] = format_datetime(datetime.now(timezone.utc))
    msg.set_content("同意" + (f"\n审阅代码：{token}" if with_code else ""))

    cycle(mail_sandbox, ctx, msg.as_bytes())

    if with_code:
        assert attached(arrived(mail_sandbox, LEADER, EAST_REPORT)[0]) == attached(review)
    else:
        assert refusals(ctx) == [(HEAD, "no_token")] and east_row(ctx)["state"] == "review"


@pytest.mark.policy(monthly={"review": False, "review_hours": 48})
def test_without_review_the_unit_report_goes_to_leadership_at_once(mail_sandbox, mail_env, october):
    ctx = october
    assert run_job(ctx, "monthly_report", AT).endswith("2026-10: 3 sent")
    send(ctx)
    (report,) = arrived(mail_sandbox, LEADER, EAST_REPORT)
    assert "未设置主管审阅" in report.text and report.cc == (HEAD,)
    assert inbox(mail_sandbox, HEAD, "请审阅") == []
    assert (east_row(ctx)["state"], east_row(ctx)["sent_as"]) == ("sent", "draft")
