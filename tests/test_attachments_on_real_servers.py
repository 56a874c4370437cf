"""Attachments end to end on the real Dovecot and Postfix: an Apple Mail card marked inline is
kept, a body image is not, a .doc / WPS form is converted with LibreOffice and read, and a
form that cannot be converted is named in the rejection."""

from __future__ import annotations

import pytest


from .conftest import FIXTURES, folder_messages, smtp_send, wait_for
from .test_daily_reports_on_real_servers import REP, SHANGHAI_TECH, deliver_and_process, inbox_of
from .test_gift_approvals_on_real_servers import cycle

pytestmark = pytest.mark.mail

HERE = FIXTURES / "attachments"
HAN = "han.meimei@visitflow.test"


def raw(name: str) -> bytes:
    return (HERE / f"{name}.eml").read_bytes()


def test_an_apple_mail_card_marked_inline_is_stored_and_listed_in_the_receipt(mail_sandbox, mail_env, ctx):
    # Through Postfix, as the rep's client would send it.
    smtp_send(mail_sandbox, raw("apple_mail_inline_pdf_card"), sender=REP)
    wait_for(lambda: folder_messages(mail_sandbox, "visits@visitflow.test"), what="the report in the service inbox")
    cycle(mail_sandbox, ctx)  # poll the inbox and send what it caused

    cards = ctx.db.execute("SELECT filename, content_type, kept, sha256 FROM customer_cards").fetchall()
    assert [c[:3] for c in cards] == [("客户卡-华联超市.pdf", "application/pdf", 1)]
    stored = ctx.cfg.storage.cards_dir / cards[0][3][:2] / cards[0][3]
    assert stored.read_bytes() == (HERE / "files" / "customer_card.pdf").read_bytes()
    (receipt,) = inbox_of(mail_sandbox, REP)
    assert "客户卡-华联超市.pdf" in receipt.text and "已存为客户卡" in receipt.text


def test_an_image_the_html_shows_is_not_stored_as_a_card(mail_sandbox, mail_env, ctx):
    deliver_and_process(mail_sandbox, ctx, raw("apple_mail_html_photo_shown_by_cid"))
    assert ctx.db.execute("SELECT COUNT(*) FROM visits").fetchone()[0] == 1
    assert ctx.db.execute("SELECT COUNT(*) FROM customer_cards").fetchone()[0] == 0
    (receipt,) = inbox_of(mail_sandbox, REP)
    assert "客户卡" not in receipt.text


def test_a_form_saved_as_doc_is_converted_and_read_as_the_report(mail_sandbox, mail_env, ctx):
    deliver_and_process(mail_sandbox, ctx, raw("doc_form_word_97"))

    rows = ctx.db.execute("SELECT r.report_date, r.source, v.customer, v.visited_at, v.tech_major "
                          "FROM visits v JOIN reports r ON r.id = v.report ORDER BY v.seq").fetchall()
    assert rows == [
        ("2026-11-27", "巡访日报表-1127.doc", "华联超市（浦东店）", "2026-11-27T09:30:00", 0),
        ("2026-11-27", "巡访日报表-1127.doc", "联华便利（徐汇店）", "2026-11-27T14:30:00", 1),
    ]
    assert ctx.db.execute("SELECT COUNT(*) FROM customer_cards").fetchone()[0] == 0  # the form is no card
    receipt = inbox_of(mail_sandbox, REP)[0]
    assert "读取自附件 巡访日报表-1127.doc" in receipt.text
    assert "2. 联华便利（徐汇店） — 2026-11-27 14:30" in receipt.text
    (alert,) = inbox_of(mail_sandbox, SHANGHAI_TECH)
    assert "冷柜温控重大故障" in alert.text


def test_a_wps_form_without_subject_keyword_is_recognised_and_read(mail_sandbox, mail_env, ctx):
    deliver_and_process(mail_sandbox, ctx, raw("wps_form_without_subject_keyword"))
    assert ctx.db.execute("SELECT kind FROM messages").fetchone() == ("daily_report",)
    assert [r[0] for r in ctx.db.execute("SELECT customer FROM visits ORDER BY seq")] == [
        "世纪联华（杨浦店）", "罗森（静安寺店）", "全家（人民广场店）"]


def test_a_doc_that_libreoffice_cannot_read_is_named_in_the_rejection(mail_sandbox, mail_env, ctx):
    deliver_and_process(mail_sandbox, ctx, raw("broken_doc_damaged_word_stream"))
    assert ctx.db.execute("SELECT state FROM messages").fetchone() == ("rejected",)
    assert ctx.db.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 0
    (rejection,) = inbox_of(mail_sandbox, HAN)
    assert "日报未通过" in rejection.subject
    assert "附件“日报.doc”无法转换为 .docx（文件可能已损坏）" in rejection.text
    assert "另存为” .docx" in rejection.text
