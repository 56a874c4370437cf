"""Loops, floods and forged approvals, replayed against the real Dovecot and Postfix (issue 8).

Each test plays the attacker or the misbehaving client as it behaved when the service was
attacked, round after round, and counts what reached its mailbox.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from click.testing import CliRunner

from service.cli import cli

from .conftest import append_raw, drain_postfix, folder_messages, make_mail, wait_for
from .test_gift_approvals_on_real_servers import (
    HEAD, LEADER, REP, SERVICE, cycle, gift_request, mails, reply, states,
)

pytestmark = pytest.mark.mail


def bot_answer(to_mail, *, bot: str, keep_subject: bool = False, threading: bool = True,
               extra_headers: dict[str, str] | None = None) -> bytes:
    """Answer one service mail the way a non-RFC-3834 auto-responder does: at once, no Auto-Submitted."""
    msg = EmailMessage()
    msg["From"] = bot
    msg["To"] = SERVICE
    msg["Subject"] = to_mail.subject if keep_subject else f"Re: {to_mail.subject}"
    msg["Message-ID"] = make_msgid(domain="bot.test")
    msg["Date"] = "Fri, 27 Nov 2026 11:00:00 +0800"
    if threading:
        msg["In-Reply-To"] = to_mail.headers["message-id"][0]
        msg["References"] = to_mail.headers["message-id"][0]
    for name, value in (extra_headers or {}).items():
        msg[name] = value
    msg.set_content("Thank you for your message. I will answer it as soon as I can.\n")
    return msg.as_bytes()


def run_bot(box, ctx, *, bot: str, rounds: int, **answer_options) -> int:
    """Let the bot answer every new service mail for ``rounds`` rounds; return how many mails it got."""
    seen: set[str] = set()
    for _ in range(rounds):
        drain_postfix(box)  # everything the last round sent has reached the bot's mailbox
        new = [m for m in folder_messages(box, bot) if m.headers["message-id"][0] not in seen]
        if not new:
            break
        seen.update(m.headers["message-id"][0] for m in new)
        cycle(box, ctx, *(bot_answer(m, bot=bot, **answer_options) for m in new))
    drain_postfix(box)
    return len({m.headers["message-id"][0] for m in folder_messages(box, bot)})


def withheld(ctx) -> list[tuple[str, str]]:
    return ctx.db.execute("SELECT correspondent, reason FROM withheld_answers ORDER BY id").fetchall()


# --------------------------------------------------------------------------- loops

def test_an_auto_responder_that_answers_every_mail_gets_the_help_reply_and_one_note_then_silence(
        mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, make_mail(sender=REP, subject="hello").as_bytes())
    received = run_bot(mail_sandbox, ctx, bot=REP, rounds=8)
    assert received == 2  # the help reply, then one note on the first bot answer
    templates = [t for (t,) in ctx.db.execute("SELECT template FROM outbox ORDER BY id")]
    assert templates == ["help", "no_decision_needed"]
    # Every bot mail is still recorded, the held-back ones with the reason.
    rows = ctx.db.execute("SELECT state, reason FROM messages ORDER BY id").fetchall()
    assert len(rows) == 3
    assert "no no_decision_needed answer" in rows[-1][1]
    assert "a note was already sent in this conversation" in rows[-1][1]


def test_a_bot_that_keeps_the_subject_unchanged_also_stops_after_one_note(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, make_mail(sender=REP, subject="hello").as_bytes())
    assert run_bot(mail_sandbox, ctx, bot=REP, rounds=8, keep_subject=True) == 2


def test_a_bot_without_threading_headers_is_answered_at_most_per_thread_times(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, make_mail(sender=REP, subject="hello").as_bytes())
    received = run_bot(mail_sandbox, ctx, bot=REP, rounds=10, keep_subject=True, threading=False)
    assert received == ctx.cfg.policy.auto_reply_limit.per_thread == 3
    assert "this conversation already had 3 automatic answers" in withheld(ctx)[-1][1]


def test_mail_that_comes_back_with_our_loop_marker_is_never_answered(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, make_mail(sender=REP, subject="hello").as_bytes())
    (help_mail,) = mails(mail_sandbox, REP, 1)
    assert help_mail.headers["x-loop"] == (SERVICE,)
    # A forwarder that copies every header of our mail back, X-Loop included.
    cycle(mail_sandbox, ctx, bot_answer(help_mail, bot=REP, threading=False, extra_headers={"X-Loop": SERVICE}))
    assert ctx.db.execute("SELECT kind, state FROM messages ORDER BY id DESC LIMIT 1").fetchone() == (
        "ignored", "ignored")
    assert len(folder_messages(mail_sandbox, REP)) == 1


def test_every_mail_the_service_sends_carries_the_loop_marker_and_auto_submitted(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, gift_request().as_bytes())
    for user in (REP, HEAD):
        for mail in mails(mail_sandbox, user, 1):
            assert mail.headers["x-loop"] == (SERVICE,)
            assert mail.headers["auto-submitted"] == ("auto-generated",)


# --------------------------------------------------------------------------- floods

def test_a_burst_of_200_mails_from_one_sender_is_recorded_whole_and_answered_at_most_count_times(
        mail_sandbox, mail_env, ctx):
    burst = [make_mail(sender=REP, subject=f"question {i}").as_bytes() for i in range(200)]
    append_raw(mail_sandbox, SERVICE, burst)
    cycle(mail_sandbox, ctx)
    assert ctx.db.execute("SELECT count(*) FROM messages").fetchone()[0] == 200
    limit = ctx.cfg.policy.auto_reply_limit.count
    assert ctx.db.execute("SELECT count(*) FROM outbox").fetchone()[0] == limit
    assert len(withheld(ctx)) == 200 - limit
    assert len(mails(mail_sandbox, REP, limit)) == limit
    result = CliRunner().invoke(cli, ["--config", str(ctx.cfg.path), "status"])
    assert result.exit_code == 0, result.output
    assert f"{REP}: {200 - limit} held back" in result.output


def test_mails_forged_from_the_leader_cost_the_leader_at_most_count_answers(mail_sandbox, mail_env, ctx):
    forged = [make_mail(sender=LEADER, subject=f"你好 {i}").as_bytes() for i in range(50)]
    append_raw(mail_sandbox, SERVICE, forged)
    cycle(mail_sandbox, ctx)
    limit = ctx.cfg.policy.auto_reply_limit.count
    wait_for(lambda: len(folder_messages(mail_sandbox, LEADER)) >= limit, what="the leader's answers")
    assert len(folder_messages(mail_sandbox, LEADER)) == limit


def test_receipts_for_real_reports_are_not_throttled(mail_sandbox, mail_env, ctx):
    reports = [make_mail(sender=REP, subject="巡访日报", body=(
        f"日期：2026-11-{day:02d}\n客户名称：华联超市\n巡访时间：09:30\n客户意见：希望增加小包装规格\n")).as_bytes()
        for day in range(1, 9)]
    append_raw(mail_sandbox, SERVICE, reports)
    cycle(mail_sandbox, ctx)
    assert len(mails(mail_sandbox, REP, 8)) == 8
    assert withheld(ctx) == []


def test_a_huge_subject_is_echoed_shortened(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, make_mail(sender=REP, subject="很长的主题" * 2000).as_bytes())
    (answer,) = mails(mail_sandbox, REP, 1)
    assert len(answer.subject) < 200
    assert "…" in answer.subject


# --------------------------------------------------------------------------- forged approvals

def test_a_reply_naming_the_approver_and_an_attacker_decides_nothing_and_the_approver_is_told(
        mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, gift_request().as_bytes())
    (to_head,) = mails(mail_sandbox, HEAD, 1)
    raw = reply(to_head, sender=HEAD, text="同意")
    raw = raw.replace(f"From: {HEAD}".encode(), f"From: {HEAD}, attacker@evil.test\nSender: attacker@evil.test".encode())
    cycle(mail_sandbox, ctx, raw)
    assert states(ctx)[0] == "pending"
    reason = ctx.db.execute("SELECT reason FROM audit WHERE action = 'refused'").fetchone()[0]
    assert reason.startswith("ambiguous_sender: From names 2 mailboxes")
    told = mails(mail_sandbox, HEAD, 2)
    assert any("不止一位发件人" in m.text for m in told)


def test_a_sender_other_than_the_single_from_mailbox_decides_nothing(mail_sandbox, mail_env, ctx):
    cycle(mail_sandbox, ctx, gift_request().as_bytes())
    (to_head,) = mails(mail_sandbox, HEAD, 1)
    raw = reply(to_head, sender=HEAD, text="同意").replace(
        f"From: {HEAD}".encode(), f"From: {HEAD}\nSender: {REP}".encode())
    cycle(mail_sandbox, ctx, raw)
    assert states(ctx)[0] == "pending"
    reason = ctx.db.execute("SELECT reason FROM audit WHERE action = 'refused'").fetchone()[0]
    assert reason == f"ambiguous_sender: Sender {REP} is not the From mailbox {HEAD}"


TRUSTED = "mx.visitflow.test"


@pytest.mark.parametrize("results, decided", [
    # the attacker's own envelope domain passes SPF
    ([f"{TRUSTED}; spf=pass smtp.mailfrom=attacker@evil.test"], False),
    # a DKIM signature of the attacker's domain
    ([f"{TRUSTED}; dkim=pass header.d=evil.test header.i=@evil.test"], False),
    # the word only inside a reason text
    ([f'{TRUSTED}; dkim=fail reason="dkim=pass faked" header.d=visitflow.test'], False),
    # an attacker-added pass below the trusted server's own fail
    ([f"{TRUSTED}; dkim=fail header.d=visitflow.test", f"{TRUSTED}; dkim=pass header.d=visitflow.test"], False),
    # unreadable
    ([f"{TRUSTED}; dkim=pass header.d=visitflow.test; ;;; ===="], False),
    # a pass from a server we do not trust, and no Authentication-Results at all
    (["evil.example; dkim=pass header.d=visitflow.test; spf=pass"], False),
    ([], False),
    # aligned passes still decide
    ([f"{TRUSTED}; dkim=pass header.d=visitflow.test header.s=s1"], True),
    ([f"{TRUSTED}; spf=pass smtp.mailfrom=wang.fang@visitflow.test"], True),
    ([f"{TRUSTED}; dmarc=pass header.from=visitflow.test"], True),
], ids=["spf_attacker_domain", "dkim_attacker_domain", "pass_in_reason", "pass_below_fail", "unreadable",
        "untrusted_server", "none",
        "dkim_aligned", "spf_aligned", "dmarc_pass"])
def test_only_a_pass_aligned_with_the_from_domain_from_the_trusted_server_decides(
        mail_sandbox, mail_env, tmp_path, results, decided):
    import yaml

    from service.config import load_config
    from service.context import Context

    from .conftest import base_config_data

    data = base_config_data()
    data["storage"] = {"database": str(tmp_path / "auth.db"), "reports_dir": str(tmp_path / "r"),
                       "cards_dir": str(tmp_path / "c")}
    data["imap"]["port"], data["smtp"]["port"] = mail_sandbox.imap_port, mail_sandbox.smtp_port
    data["policy"]["trusted_authserv_id"] = TRUSTED
    path = tmp_path / "auth.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    ctx = Context.open(load_config(path))
    try:
        cycle(mail_sandbox, ctx, gift_request().as_bytes())
        (to_head,) = mails(mail_sandbox, HEAD, 1)
        raw = "".join(f"Authentication-Results: {r}\n" for r in results).encode() + reply(
            to_head, sender=HEAD, text="同意")
        cycle(mail_sandbox, ctx, raw)
        assert states(ctx)[0] == ("approved" if decided else "pending")
        if not decided:
            reason = ctx.db.execute("SELECT reason FROM audit WHERE action = 'refused'").fetchone()[0]
            assert reason.startswith("unauthenticated: ")
    finally:
        ctx.close()


# --------------------------------------------------------------------------- resends

def test_two_senders_at_once_send_every_mail_exactly_once(mail_sandbox, mail_env, ctx):
    import threading

    from service.context import Context
    from service.outbound import smtp

    for i in range(60):
        ctx.send("help", to=[REP], problem=None, original_subject=f"question {i}", sender_name="李雷",
                 kind_names={})
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def sender():
        c = Context.open(ctx.cfg)  # each sender its own connection, as two processes would have
        try:
            barrier.wait()
            smtp.send_due(c.db, c.cfg.smtp, c.cfg.service_address)
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            c.close()

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    drain_postfix(mail_sandbox)
    ids = [m.headers["message-id"][0] for m in folder_messages(mail_sandbox, REP)]
    assert len(ids) == 60 and len(set(ids)) == 60
    assert ctx.db.execute("SELECT count(*) FROM outbox WHERE state = 'sent' AND claimed_by IS NULL").fetchone()[0] == 60


def test_a_dead_senders_claims_are_released_and_its_mail_sent_again(mail_sandbox, mail_env, ctx):
    from service.outbound import smtp

    ctx.send("help", to=[REP], problem=None, original_subject="claimed by the dead", sender_name="李雷",
             kind_names={})
    # A sender that claimed the row and was killed before it could send (PID 2**22+1 never runs).
    ctx.db.execute("UPDATE outbox SET claimed_by = ?, claimed_at = ?", [str(2**22 + 1), "2026-11-30T00:00:00.000+00:00"])
    assert smtp.send_due(ctx.db, ctx.cfg.smtp, ctx.cfg.service_address) == 1
    assert len(mails(mail_sandbox, REP, 1)) == 1


def test_a_report_of_5000_visits_gets_a_receipt_that_lists_50_and_counts_the_rest(mail_sandbox, mail_env, ctx):
    visits = "".join(f"客户名称：客户{i}\n巡访时间：2026-11-26 09:30\n客户意见：希望增加小包装规格\n\n" for i in range(5000))
    cycle(mail_sandbox, ctx, make_mail(sender=REP, subject="巡访日报", body="日期：2026-11-26\n" + visits).as_bytes())
    assert ctx.db.execute("SELECT count(*) FROM visits").fetchone()[0] == 5000
    (receipt,) = mails(mail_sandbox, REP, 1)
    assert "另有 4950 条巡访未列出" in receipt.text
    assert "5000 条巡访" in receipt.subject
    assert len(receipt.obj.as_bytes()) < 100_000
