"""Gift approvals decided by email reply, end to end on the real Dovecot and Postfix."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

import docx
import pytest
from click.testing import CliRunner

from service.cli import cli
from service.inbound.imap import Connection
from service.intake import Intake
from service.outbound import smtp

from .conftest import FIXTURES, append_raw, folder_messages, make_mail, wait_for

REP = "li.lei@visitflow.test"            # unit east, head 王芳
HEAD = "wang.fang@visitflow.test"
LEADER = "liu.zong@visitflow.test"
COLLEAGUE = "han.meimei@visitflow.test"
SERVICE = "visits@visitflow.test"
PLACEHOLDER_ID = b"vf.0123456789abcdef0123456789abcdef@visitflow.test"


def cycle(box, ctx, *raws: bytes) -> None:
    """Deliver mail to the service inbox, process it and send what it caused."""
    if raws:
        append_raw(box, SERVICE, list(raws))
    conn = Connection(ctx.cfg.imap)
    try:
        conn.ensure_folders(["Processed", "Quarantine"])
        assert Intake(ctx).poll(conn).failed == 0
    finally:
        conn.close()
    smtp.send_due(ctx.db, ctx.cfg.smtp, ctx.cfg.service_address)


def mails(box, user: str, count: int) -> list:
    return wait_for(lambda: (lambda m: m if len(m) >= count else None)(folder_messages(box, user)),
                    timeout=20, what=f"{count} mail(s) for {user}")


def gift_request(amount: str = "¥1,200", customer: str = "华联超市（浦东店）") -> EmailMessage:
    return make_mail(sender=REP, subject="礼品申请", body=(
        f"客户名称：{customer}\n礼品：中秋月饼礼盒\n数量：10 盒\n预算金额：{amount}\n"
        "事由：年度重点客户维护\n赠送日期：2026-12-05\n"))


def reply(to_mail, *, sender: str, text: str, keep_references: bool = True, subject: str | None = None,
          keep_code: bool = True) -> bytes:
    """Reply as a mail client would: threading headers, the decision on top, the original quoted."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = SERVICE
    msg["Subject"] = subject or f"回复：{to_mail.subject}"
    msg["Message-ID"] = make_msgid(domain="client.test")
    msg["Date"] = "Fri, 27 Nov 2026 11:00:00 +0800"
    if keep_references:
        msg["In-Reply-To"] = to_mail.headers["message-id"][0]
        msg["References"] = to_mail.headers["message-id"][0]
    quoted = "\n".join("> " + line for line in to_mail.text.splitlines() if keep_code or "审批码" not in line)
    msg.set_content(f"{text}\n\n在 2026年11月27日 10:00，巡访服务 <{SERVICE}> 写道：\n{quoted}\n")
    return msg.as_bytes()


def states(ctx) -> tuple:
    request = ctx.db.execute("SELECT state FROM gift_requests").fetchone()[0]
    steps = ctx.db.execute("SELECT approver, state, comment FROM gift_steps ORDER BY seq").fetchall()
    return request, steps


def test_a_one_level_request_is_routed_to_the_unit_head_and_approved_by_reply(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, gift_request().as_bytes())

    (request_mail,) = mails(mail_sandbox, HEAD, 1)
    assert request_mail.subject.startswith("[VF-G-1] 礼品申请待审批：华联超市（浦东店） ¥1,200.00")
    assert "本期礼品预算余额：¥20,000.00" in request_mail.text
    assert "超过本期剩余预算" not in request_mail.text
    (form,) = request_mail.attachments
    assert form.filename == "赠送礼品预算申请表-G-1.docx"
    cells = [c.text for t in docx.Document(io.BytesIO(form.payload)).tables for r in t.rows for c in r.cells]
    assert "华联超市（浦东店）" in cells and "中秋月饼礼盒" in cells
    (receipt,) = mails(mail_sandbox, REP, 1)
    assert "已受理 G-1" in receipt.subject

    cycle(mail_sandbox, ctx, reply(request_mail, sender=HEAD, text="同意\n请控制在预算内"))

    assert states(ctx) == ("approved", [(HEAD, "approved", "请控制在预算内")])
    outcome = mails(mail_sandbox, REP, 2)[-1]
    assert "礼品申请已批准" in outcome.subject and "审批意见：请控制在预算内" in outcome.text
    assert outcome.cc == () or HEAD not in outcome.to
    (final_form,) = outcome.attachments
    trail = [c.text for t in docx.Document(io.BytesIO(final_form.payload)).tables for r in t.rows for c in r.cells]
    assert "请控制在预算内" in trail and any("同意" in c for c in trail)
    # The approved amount now counts against the unit's budget.
    assert ctx.db.execute("SELECT amount FROM gift_requests WHERE state = 'approved'").fetchone() == ("1200.00",)


def test_a_two_level_request_goes_to_leadership_after_the_unit_head_and_can_be_rejected_there(
        mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, gift_request(amount="8000元").as_bytes())
    (to_head,) = mails(mail_sandbox, HEAD, 1)
    assert "第 1 步，共 2 步" in to_head.text

    cycle(mail_sandbox, ctx, reply(to_head, sender=HEAD, text="批准"))
    (to_leader,) = mails(mail_sandbox, LEADER, 1)
    assert "第 2 步，共 2 步" in to_leader.text
    step_news = mails(mail_sandbox, REP, 2)[-1]
    assert "第 1 步已同意" in step_news.subject and "现转 刘总 审批" in step_news.text

    cycle(mail_sandbox, ctx, reply(to_leader, sender=LEADER, text="驳回，预算太高"))

    assert states(ctx) == ("rejected", [(HEAD, "approved", ""), (LEADER, "rejected", "预算太高")])
    outcome = mails(mail_sandbox, REP, 3)[-1]
    assert "已驳回" in outcome.subject and "审批意见：预算太高" in outcome.text
    assert HEAD in outcome.cc


def gift_decision_fixtures() -> list:
    """Return the golden client replies to a gift request: decisions and traps that decide nothing."""
    found = []
    for eml in sorted((FIXTURES / "replies").glob("*.eml")):
        decision = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))["decision"]
        if decision in ("approve", "reject") or eml.stem.startswith("trap_"):
            found.append(eml)
    return found


@pytest.mark.parametrize("fixture", gift_decision_fixtures(), ids=lambda p: p.stem)
def test_replies_in_every_client_style_decide_as_their_words_say(mail_sandbox, mail_env, ctx, fixture):
    expected = json.loads(fixture.with_suffix(".json").read_text(encoding="utf-8"))
    cycle(mail_sandbox, ctx, gift_request().as_bytes())
    (request_mail,) = mails(mail_sandbox, HEAD, 1)
    real_id = request_mail.headers["message-id"][0].strip("<>").encode()
    raw = fixture.read_bytes().replace(PLACEHOLDER_ID, real_id).replace(b"[VF-G-12]", b"[VF-G-1]")
    raw = re.sub(rb"(?im)^From:.*(\r?\n[ \t].*)*", b"From: " + HEAD.encode(), raw, count=1)

    cycle(mail_sandbox, ctx, raw)

    if expected["decision"] is None:
        assert states(ctx) == ("pending", [(HEAD, "pending", None)])
        assert "请回复“同意”或“驳回”" in mails(mail_sandbox, HEAD, 2)[-1].subject
        return
    want = "approved" if expected["decision"] == "approve" else "rejected"
    assert states(ctx) == (want, [(HEAD, want, expected["comment"])])


def test_forged_colleague_replayed_and_late_replies_change_nothing_and_are_audited(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, gift_request(amount="8000").as_bytes())
    (to_head,) = mails(mail_sandbox, HEAD, 1)

    # A colleague answers the head's mail; a stranger forges the head's reply without the token.
    cycle(mail_sandbox, ctx, reply(to_head, sender=COLLEAGUE, text="同意"))
    cycle(mail_sandbox, ctx, reply(to_head, sender=HEAD, text="同意", keep_references=False,
                                   subject="回复：[VF-G-1] 礼品申请", keep_code=False))
    assert states(ctx)[1][0][1] == "pending"

    # The real approval, then the same mail again (a replay), then the leader answers the head's mail.
    approval = reply(to_head, sender=HEAD, text="同意")
    cycle(mail_sandbox, ctx, approval)
    cycle(mail_sandbox, ctx, approval.replace(b"Message-ID: <", b"Message-ID: <again."))
    cycle(mail_sandbox, ctx, reply(to_head, sender=LEADER, text="同意"))
    assert states(ctx) == ("pending", [(HEAD, "approved", ""), (LEADER, "pending", None)])

    (to_leader,) = [m for m in mails(mail_sandbox, LEADER, 2) if m.subject.startswith("[VF-G-1]")]
    cycle(mail_sandbox, ctx, reply(to_leader, sender=LEADER, text="驳回"))
    cycle(mail_sandbox, ctx, reply(to_leader, sender=LEADER, text="同意"))  # a second decision
    assert states(ctx)[0] == "rejected"

    refusals = ctx.db.execute("SELECT actor, reason FROM audit WHERE action = 'refused' ORDER BY id").fetchall()
    assert [(actor, reason.split(":")[0]) for actor, reason in refusals] == [
        (COLLEAGUE, "not_approver"), (HEAD, "no_token"), (HEAD, "old_step"), (LEADER, "old_step"),
        (LEADER, "decided")]
    colleague_note = mails(mail_sandbox, COLLEAGUE, 1)[0]
    assert "只有当前步骤的审批人才能审批" in colleague_note.text
    # The real approvers were asked once each; refusal notes went to the repliers only.
    for approver in (HEAD, LEADER):
        assert len([m for m in folder_messages(mail_sandbox, approver) if m.subject.startswith("[VF-G-1] 礼品申请待审批")]) == 1
    assert len([m for m in folder_messages(mail_sandbox, HEAD) if "未生效" in m.subject]) == 2


def test_an_auto_reply_to_the_request_changes_nothing(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, gift_request().as_bytes())
    (to_head,) = mails(mail_sandbox, HEAD, 1)
    auto = reply(to_head, sender=HEAD, text="同意").replace(b"Subject:", b"Auto-Submitted: auto-replied\nSubject:", 1)
    cycle(mail_sandbox, ctx, auto)
    assert states(ctx) == ("pending", [(HEAD, "pending", None)])
    assert ctx.db.execute("SELECT state FROM messages ORDER BY id DESC LIMIT 1").fetchone() == ("ignored",)


def test_a_reply_that_decides_nothing_gets_a_short_please_answer(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, gift_request().as_bytes())
    (to_head,) = mails(mail_sandbox, HEAD, 1)
    cycle(mail_sandbox, ctx, reply(to_head, sender=HEAD, text="我再想想"))
    assert states(ctx) == ("pending", [(HEAD, "pending", None)])
    note = mails(mail_sandbox, HEAD, 2)[-1]
    assert "请回复“同意”或“驳回”" in note.subject


def test_a_broken_request_gets_a_reply_naming_each_problem(mail_sandbox, mail_env, ctx):
    broken = make_mail(sender=REP, subject="礼品申请", body="客户名称：甲\n预算金额：很多钱\n")
    cycle(mail_sandbox, ctx, broken.as_bytes())
    (answer,) = mails(mail_sandbox, REP, 1)
    assert "礼品申请未受理" in answer.subject
    for expected in ("缺少“礼品 Gift”", "缺少“事由 Reason”", "“预算金额 Amount”无法识别：“很多钱”"):
        assert expected in answer.text
    assert ctx.db.execute("SELECT COUNT(*) FROM gift_requests").fetchone()[0] == 0


def test_the_budget_warning_appears_exactly_when_the_request_exceeds_what_remains(mail_sandbox, mail_env, ctx):
    # East's budget is 20,000: approve 19,000 first, then ask for 1,000 (fits) and 1,000.01 (does not).
    cycle(mail_sandbox, ctx, gift_request(amount="19000").as_bytes())
    (first,) = mails(mail_sandbox, HEAD, 1)
    cycle(mail_sandbox, ctx, reply(first, sender=HEAD, text="同意"))
    (to_leader,) = mails(mail_sandbox, LEADER, 1)
    cycle(mail_sandbox, ctx, reply(to_leader, sender=LEADER, text="同意"))
    assert ctx.db.execute("SELECT state FROM gift_requests").fetchone() == ("approved",)

    cycle(mail_sandbox, ctx, gift_request(amount="1000", customer="甲").as_bytes(),
          gift_request(amount="1000.01", customer="乙").as_bytes())
    requests = {m.subject.split("：")[1].split()[0]: m for m in mails(mail_sandbox, HEAD, 3)
                if "待审批" in m.subject and "19,000" not in m.subject}
    assert "本期礼品预算余额：¥1,000.00" in requests["甲"].text
    assert "超过本期剩余预算" not in requests["甲"].text
    assert "超过本期剩余预算" in requests["乙"].text


def test_reminder_and_escalation_happen_once_each_at_the_configured_times(mail_sandbox, mail_env, ctx, config_file,
                                                                         daemon):
    cycle(mail_sandbox, ctx, gift_request().as_bytes())
    mails(mail_sandbox, HEAD, 1)
    sent = datetime.now(ctx.cfg.policy.zone)
    gift = ctx.cfg.policy.gift

    def job(name: str, hours: float) -> str:
        at = (sent + timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M")
        result = CliRunner().invoke(cli, ["--config", str(config_file), "jobs", "run", name, "--at", at])
        assert result.exit_code == 0, result.output
        smtp.send_due(ctx.db, ctx.cfg.smtp, ctx.cfg.service_address)
        return result.output

    assert "0 reminder(s)" in job("gift_reminders", gift.reminder_hours - 1)
    assert "1 reminder(s)" in job("gift_reminders", gift.reminder_hours + 0.1)
    assert "0 reminder(s)" in job("gift_reminders", gift.reminder_hours + 1)  # once only
    # A daemon started and stopped in between does not make it happen again.
    proc = daemon()
    wait_for(lambda: "IMAP connected" in proc.output(), what="the daemon to connect")
    assert proc.stop() == 0
    assert "0 reminder(s)" in job("gift_reminders", gift.reminder_hours + 2)
    reminder = mails(mail_sandbox, HEAD, 2)[-1]
    assert "【提醒】" in reminder.subject

    assert "0 request(s) escalated" in job("gift_escalations", gift.escalate_hours - 1)
    assert "1 request(s) escalated" in job("gift_escalations", gift.escalate_hours + 0.1)
    assert "0 request(s) escalated" in job("gift_escalations", gift.escalate_hours + 2)
    (to_leader,) = mails(mail_sandbox, LEADER, 1)
    assert "待审批" in to_leader.subject
    told = mails(mail_sandbox, REP, 2)[-1]
    assert "已超时上报" in told.subject
    assert states(ctx) == ("pending", [(HEAD, "escalated", None), (LEADER, "pending", None)])

    # The head's late answer to the reminder no longer decides; the leader's does.
    cycle(mail_sandbox, ctx, reply(reminder, sender=HEAD, text="同意"))
    cycle(mail_sandbox, ctx, reply(to_leader, sender=LEADER, text="同意 special case"))
    assert states(ctx) == ("approved", [(HEAD, "escalated", None), (LEADER, "approved", "special case")])


def test_status_lists_pending_approvals_with_their_age_and_current_approver(mail_sandbox, mail_env, ctx, config_file):
    cycle(mail_sandbox, ctx, gift_request().as_bytes())
    result = CliRunner().invoke(cli, ["--config", str(config_file), "status"])
    assert "pending gift approvals:" in result.output
    assert f"G-1 华联超市（浦东店） ¥1200.00 from {REP}: waiting for {HEAD} (step 1)" in result.output


def test_parse_json_on_a_reply_prints_its_decision_and_comment():
    eml = FIXTURES / "replies" / "outlook_zh_desktop_gb2312_rejected.eml"
    result = CliRunner().invoke(cli, ["--config", "config.yaml", "parse", str(eml), "--json"])
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.output)
    expected = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
    assert parsed == {"kind": "reply", "problems": [], "attachments": [], **expected}


def test_parse_json_on_a_gift_request_prints_the_amount_as_a_decimal_string():
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gift.eml"
        path.write_bytes(gift_request(amount="RMB 1,200").as_bytes())
        result = CliRunner().invoke(cli, ["--config", "config.yaml", "parse", str(path), "--json"])
    assert json.loads(result.output) == {
        "kind": "gift_request", "problems": [], "customer": "华联超市（浦东店）", "items": "中秋月饼礼盒",
        "quantity": "10 盒", "amount": "1200.00", "reason": "年度重点客户维护", "planned_date": "2026-12-05",
        "attachments": []}
