"""A rejection names the real problem: refused attachments, damaged and deeply nested mail (issue 8)."""

from __future__ import annotations

import io
import zipfile
from email.message import EmailMessage

import pytest

from service.inbound.mime import decode_message

from .conftest import FIXTURES
from .test_gift_approvals_on_real_servers import REP, cycle, mails

pytestmark = pytest.mark.mail


def filled_form() -> bytes:
    msg = decode_message((FIXTURES / "daily" / "word_form_attached.eml").read_bytes())
    return next(a.payload for a in msg.attachments if a.filename.endswith(".docx"))


def with_member(docx: bytes, name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(docx)) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            target.writestr(item, source.read(item))
        target.writestr(name, data)
    return out.getvalue()


def report_mail(attachment: bytes, filename: str = "巡访日报.docx") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = REP, "visits@visitflow.test", "巡访日报"
    msg.set_content("日报见附件")
    msg.add_attachment(attachment, maintype="application",
                       subtype="vnd.openxmlformats-officedocument.wordprocessingml.document", filename=filename)
    return msg.as_bytes()


@pytest.mark.parametrize("member", [b"\0" * (200 * 1024 * 1024), b"\0" * (60 * 1024 * 1024)],
                         ids=["200MiB-zeros", "60MiB-zeros"])
def test_a_filled_form_carrying_a_zip_bomb_is_rejected_as_such_not_as_no_visit_found(
        mail_sandbox, mail_env, ctx, member):
    cycle(mail_sandbox, ctx, report_mail(with_member(filled_form(), "word/media/pad.bin", member)))
    (answer,) = mails(mail_sandbox, REP, 1)
    assert "疑似压缩炸弹" in answer.text and "巡访日报.docx" in answer.text
    assert "没有找到巡访记录" not in answer.text
    assert ctx.db.execute("SELECT count(*) FROM reports").fetchone()[0] == 0


@pytest.mark.parametrize("depth", [200, 45])
def test_a_report_nested_deeper_than_the_decoder_reads_is_rejected_saying_so(mail_sandbox, mail_env, ctx, depth):
    raw = "Content-Type: text/plain; charset=utf-8\n\n客户名称：华联超市\n巡访时间：09:30\n客户意见：好\n"
    for i in range(depth):
        raw = f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n{raw}\n--b{i}--\n'
    raw = f"From: {REP}\nTo: visits@visitflow.test\nSubject: =?utf-8?b?5beh6K6/5pel5oql?=\nMIME-Version: 1.0\n" + raw
    cycle(mail_sandbox, ctx, raw.encode())
    (answer,) = mails(mail_sandbox, REP, 1)
    assert "嵌套过深" in answer.text


def test_an_attachment_whose_base64_does_not_decode_is_refused_not_kept_as_an_empty_card(mail_sandbox, mail_env, ctx):
    raw = (f"From: {REP}\nTo: visits@visitflow.test\nSubject: =?utf-8?b?5beh6K6/5pel5oql?=\nMIME-Version: 1.0\n"
           "Content-Type: multipart/mixed; boundary=x\n\n--x\nContent-Type: text/plain; charset=utf-8\n\n"
           "客户名称：华联超市\n巡访时间：09:30\n客户意见：好\n--x\nContent-Type: application/pdf; name=card.pdf\n"
           "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; filename=card.pdf\n\n"
           "!!!!@@@@####$$$$\n--x--\n").encode()
    cycle(mail_sandbox, ctx, raw)
    row = ctx.db.execute("SELECT filename, kept, size, sha256, reason FROM customer_cards").fetchone()
    assert row[:2] == ("card.pdf", 0) and row[3] is None and row[4] == "damaged"
    (receipt,) = mails(mail_sandbox, REP, 1)
    assert "card.pdf" in receipt.text and "传输编码已损坏" in receipt.text


@pytest.mark.parametrize("raw_subject, shown", [
    (b"\xe5\xb7\xa1\xe8\xae\xbf\xff\xfe \xe6\x97\xa5\xe6\x8a\xa5", "巡访\ufffd\ufffd 日报"),
    (b"=?utf-8?b?5beh6K6/?= \xff \xe6\x97\xa5\xe6\x8a\xa5", "巡访 \ufffd 日报"),
])
def test_invalid_utf8_in_a_subject_shows_replacement_characters_and_the_rest_intact(raw_subject, shown):
    msg = decode_message(b"From: a@b.test\nSubject: " + raw_subject + b"\n\nhello\n")
    assert msg.subject == shown
