"""Daily visit reports end to end on the real Dovecot and Postfix."""

from __future__ import annotations

import time

from service.inbound.imap import Connection
from service.intake import Intake
from service.outbound import smtp

from .conftest import FIXTURES, append_raw, folder_messages, make_mail, wait_for

REP = "li.lei@visitflow.test"          # unit east, region shanghai
SERVICE = "visits@visitflow.test"
SHANGHAI_TECH = "sun.li@visitflow.test"
PRODUCTION = "production@visitflow.test"
TECH_DEPT = "tech@visitflow.test"


def deliver_and_process(box, ctx, *raws: bytes) -> None:
    """Put mail in the service inbox, run one intake pass and send the outbox."""
    append_raw(box, SERVICE, list(raws))
    conn = Connection(ctx.cfg.imap)
    try:
        conn.ensure_folders(["Processed", "Quarantine"])
        result = Intake(ctx).poll(conn)
    finally:
        conn.close()
    assert result.failed == 0
    smtp.send_due(ctx.db, ctx.cfg.smtp, ctx.cfg.service_address)


def inbox_of(box, user: str, count: int = 1) -> list:
    return wait_for(lambda: (lambda m: m if len(m) >= count else None)(folder_messages(box, user)),
                    timeout=20, what=f"{count} mail(s) for {user}")


def test_a_reps_report_is_stored_and_the_receipt_lists_each_visit(mail_sandbox, mail_env, ctx):
    deliver_and_process(mail_sandbox, ctx, (FIXTURES / "daily" / "zh_plain_utf8.eml").read_bytes())

    visits = ctx.db.execute("SELECT r.rep, r.unit, r.region, r.report_date, v.seq, v.customer, v.visited_at "
                            "FROM visits v JOIN reports r ON r.id = v.report ORDER BY v.seq").fetchall()
    assert visits == [
        (REP, "east", "shanghai", "2026-11-26", 1, "华联超市（浦东店）", "2026-11-26T09:30:00"),
        (REP, "east", "shanghai", "2026-11-26", 2, "联华便利（徐汇店）", "2026-11-26T14:00:00"),
    ]
    (receipt,) = inbox_of(mail_sandbox, REP)
    assert "已收到 2026-11-26 日报，2 条巡访" in receipt.subject
    assert "1. 华联超市（浦东店） — 2026-11-26 09:30" in receipt.text
    assert "已读取：客户意见、市场行情、巡访效果、处理事项" in receipt.text
    assert "2. 联华便利（徐汇店） — 2026-11-26 14:00" in receipt.text
    assert "已读取：客户意见、库存销售、推广产品" in receipt.text
    assert receipt.headers["in-reply-to"] == ("<zh-plain@client.test>",)


def test_an_english_speaking_rep_gets_the_receipt_in_english(mail_sandbox, mail_env, ctx):
    mail = make_mail(sender="tom.baker@visitflow.test", subject="Daily report",
                     body="Customer: ACME\nVisit time: 2026-11-26 9:30-11:00\nEffect: trial order signed\n")
    deliver_and_process(mail_sandbox, ctx, mail.as_bytes())
    (receipt,) = inbox_of(mail_sandbox, "tom.baker@visitflow.test")
    assert "report of 2026-11-27 received, 1 visit(s)" in receipt.subject  # the mail's date
    assert "1. ACME — 2026-11-26 09:30–11:00" in receipt.text
    assert ctx.db.execute("SELECT visited_until FROM visits").fetchone() == ("2026-11-26T11:00:00",)


def test_a_broken_report_is_rejected_naming_each_problem_and_nothing_is_stored(mail_sandbox, mail_env, ctx):
    raw = (FIXTURES / "daily" / "missing_and_broken_fields.eml").read_bytes()
    deliver_and_process(mail_sandbox, ctx, raw)

    assert ctx.db.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 0
    assert ctx.db.execute("SELECT COUNT(*) FROM visits").fetchone()[0] == 0
    state, kind, stored = ctx.db.execute(
        "SELECT m.state, m.kind, r.bytes FROM messages m JOIN raw_messages r ON r.sha256 = m.raw_sha256").fetchone()
    # IMAP APPEND stored the mail with CRLF line ends: we keep exactly what the server holds.
    assert (state, kind, stored.replace(b"\r\n", b"\n")) == ("rejected", "daily_report", raw)
    (rejection,) = inbox_of(mail_sandbox, REP)
    assert "日报未通过" in rejection.subject
    for expected in ("1. 第 1 条巡访：“巡访时间 Visit time”无法识别：“明天吧”",
                     "2. 第 2 条巡访：缺少“巡访时间 Visit time”",
                     "3. 第 3 条巡访：客户意见、市场行情、巡访效果、处理事项至少要填写一项",
                     "4. 第 3 条巡访：“紧急”的类别无法识别：“外星人入侵”",
                     "客户名称：华联超市（浦东店）"):  # the correct example
        assert expected in rejection.text


def test_a_resend_for_the_same_date_replaces_the_first_which_stays_in_history(mail_sandbox, mail_env, ctx):
    first = make_mail(sender=REP, subject="巡访日报", body="日期：2026-11-26\n客户名称：甲\n巡访时间：9:00\n巡访效果：好\n")
    second = make_mail(sender=REP, subject="巡访日报（更正）",
                       body="日期：2026-11-26\n客户名称：乙\n巡访时间：10:00\n巡访效果：很好\n"
                            "客户名称：丙\n巡访时间：11:00\n处理事项：补货\n")
    deliver_and_process(mail_sandbox, ctx, first.as_bytes())
    deliver_and_process(mail_sandbox, ctx, second.as_bytes())

    reports = ctx.db.execute("SELECT id, current, superseded_by FROM reports ORDER BY id").fetchall()
    assert reports == [(1, 0, 2), (2, 1, None)]
    from service.store.reports import current_visits

    assert [v["customer"] for v in current_visits(ctx.db, REP, "2026-11-26")] == ["乙", "丙"]
    assert ctx.db.execute("SELECT customer FROM visits WHERE report = 1").fetchall() == [("甲",)]
    receipts = inbox_of(mail_sandbox, REP, 2)
    assert any("替换了您此前发送的同日日报" in r.text for r in receipts)


def test_a_major_technical_issue_reaches_the_regions_technical_staff_and_both_departments(
        mail_sandbox, mail_env, ctx):
    raw = (FIXTURES / "daily" / "multipart_alternative_major_tech_issue.eml").read_bytes()
    deliver_and_process(mail_sandbox, ctx, raw)

    for person in (SHANGHAI_TECH, PRODUCTION, TECH_DEPT):
        (alert,) = inbox_of(mail_sandbox, person)
        assert "重大技术问题" in alert.subject and "永辉超市（福州店）" in alert.subject
        assert "冷柜控制器批量故障" in alert.text
    # Hangzhou's technical staff are not disturbed.
    time.sleep(0.5)
    assert folder_messages(mail_sandbox, "zhou.min@visitflow.test") == []


def test_a_minor_technical_issue_goes_to_the_regions_technical_staff_only(mail_sandbox, mail_env, ctx):
    mail = make_mail(sender=REP, subject="日报", body="客户名称：甲\n巡访时间：9:00\n巡访效果：好\n技术问题：标签打印偏移\n")
    deliver_and_process(mail_sandbox, ctx, mail.as_bytes())
    (alert,) = inbox_of(mail_sandbox, SHANGHAI_TECH)
    assert alert.to == (SHANGHAI_TECH,) and alert.cc == ()
    assert "标签打印偏移" in alert.text
    assert folder_messages(mail_sandbox, PRODUCTION) == []


def test_an_oversized_attachment_is_refused_while_the_report_is_still_stored(mail_sandbox, mail_env, ctx):
    mail = make_mail(sender=REP, subject="巡访日报", body="客户名称：甲\n巡访时间：9:00\n巡访效果：好\n")
    small = b"%PDF-1.4 customer card\n"
    mail.add_attachment(small, maintype="application", subtype="pdf", filename="客户卡-甲.pdf")
    mail.add_attachment(b"\0" * (ctx.cfg.policy.max_attachment_bytes + 1), maintype="application",
                        subtype="octet-stream", filename="huge.bin")
    deliver_and_process(mail_sandbox, ctx, mail.as_bytes())

    cards = ctx.db.execute("SELECT filename, kept, reason, sha256 FROM customer_cards ORDER BY id").fetchall()
    assert [(c[0], c[1], c[2]) for c in cards] == [("客户卡-甲.pdf", 1, ""), ("huge.bin", 0, "too_large")]
    stored = ctx.cfg.storage.cards_dir / cards[0][3][:2] / cards[0][3]
    assert stored.read_bytes() == small
    assert ctx.db.execute("SELECT COUNT(*) FROM visits").fetchone()[0] == 1
    (receipt,) = inbox_of(mail_sandbox, REP)
    assert "客户卡-甲.pdf" in receipt.text and "已存为客户卡" in receipt.text
    assert "huge.bin" in receipt.text and "未保存：超过大小限制" in receipt.text


def test_a_zip_bomb_attachment_is_refused_without_being_expanded(mail_sandbox, mail_env, ctx, tmp_path):
    import zipfile

    bomb = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("zeros.bin", "w", force_zip64=True) as member:
            chunk = b"\0" * (1024 * 1024)
            for _ in range(ctx.cfg.policy.max_unzipped_bytes // len(chunk) + 1):
                member.write(chunk)
    mail = make_mail(sender=REP, subject="巡访日报", body="客户名称：甲\n巡访时间：9:00\n巡访效果：好\n")
    mail.add_attachment(bomb.read_bytes(), maintype="application", subtype="zip", filename="cards.zip")
    deliver_and_process(mail_sandbox, ctx, mail.as_bytes())

    assert ctx.db.execute("SELECT filename, kept, reason FROM customer_cards").fetchall() == [
        ("cards.zip", 0, "archive_too_large")]
    (receipt,) = inbox_of(mail_sandbox, REP)
    assert "cards.zip" in receipt.text and "压缩炸弹" in receipt.text


def test_an_attached_word_form_is_read_as_the_report(mail_sandbox, mail_env, ctx):
    deliver_and_process(mail_sandbox, ctx, (FIXTURES / "daily" / "word_form_attached.eml").read_bytes())

    rows = ctx.db.execute("SELECT r.report_date, r.source, v.customer, v.visited_at, v.urgent "
                          "FROM visits v JOIN reports r ON r.id = v.report ORDER BY v.seq").fetchall()
    assert rows == [
        ("2026-11-25", "巡访日报表-1125.docx", "大润发（闵行店）", "2026-11-25T09:00:00", None),
        ("2026-11-25", "巡访日报表-1125.docx", "家乐福（古北店）", "2026-11-25T15:00:00", "competitor_trend"),
    ]
    # The form is the report, not a customer card.
    assert ctx.db.execute("SELECT COUNT(*) FROM customer_cards").fetchone()[0] == 0
    receipts = inbox_of(mail_sandbox, REP)
    assert "读取自附件 巡访日报表-1125.docx" in receipts[0].text
    assert "2. 家乐福（古北店） — 2026-11-25 15:00" in receipts[0].text
    (alert,) = inbox_of(mail_sandbox, SHANGHAI_TECH)
    assert "标签机卡纸" in alert.text
