"""Tests for service.outbound.outbox: the MIME bytes it writes read back as they were meant.

Each mail is parsed by three readers: the standard library (policy default), imap-tools (as
the mail tests read a mailbox) and our own decoder.
"""

from __future__ import annotations

import base64
import email
import email.policy
import re
from email.utils import getaddresses

import pytest
from imap_tools import MailMessage

from service.inbound.mime import decode_message
from service.outbound import outbox
from service.outbound.outbox import FileAttachment, build_message, new_message_id, queue
from service.outbound.render import RenderedMail
from service.store.db import open_db

SERVICE = "visits@visitflow.test"
LONG_NAME = "二〇二六年第四季度华东事业部上海地区重点客户巡访情况汇总及技术问题跟踪说明（最终稿）.pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

MAILS = [
    pytest.param(RenderedMail(
        subject="回复：巡访日报 2026-11-26【已收到 2026-11-26 日报，2 条巡访】",
        text="李雷，您好：\n\n您 2026-11-26 的巡访日报已收到并保存，共 2 条巡访：\n"
             "1. 无锡喆诚自动化设备有限公司 — 2026-11-26 09:15\n",
        html="<html><body><p>李雷，您好：</p>"
             "<p>天津镕鑫钢铁贸易有限公司 &amp; 合肥昇达</p></body></html>\n"),
        "巡访服务 visitflow", [], id="chinese"),
    pytest.param(RenderedMail(
        subject="Re: Daily report 2026-11-26 [received, 1 visit]",
        text="Dear Chen Jing,\n\nYour daily report was received.\n",
        html="<html><body><p>Dear Chen Jing,</p></body></html>\n"),
        "Visits, Service", [], id="english-with-comma-in-name"),
    pytest.param(RenderedMail(
        subject="[VF-G-12] 礼品申请待审批：华联超市（浦东店） ¥1,200.00 🎁 " + "很长的标题" * 12,
        text="审批码：G-12-abc\n" + "一行很长的文字" * 80 + "\n",
        html="<p>" + "长" * 500 + "</p>"),
        "巡访服务", [
            FileAttachment("赠送礼品预算申请表-G-12.docx", b"PK\x03\x04" + bytes(range(256)) * 40, DOCX),
            FileAttachment(LONG_NAME, b"%PDF-1.4\n" + b"\xff" * 3000, "application/pdf"),
            FileAttachment('plain "quoted" name.txt', b"hello\r\n", "text/plain"),
        ],
        id="attachments-long-subject-emoji"),
]


def build(mail: RenderedMail, name: str, attachments, **kwargs):
    return build_message(mail=mail, sender=SERVICE, sender_name=name, to=["li.lei@visitflow.test"],
                         cc=["wang.fang@visitflow.test", "sun.li@visitflow.test"],
                         message_id=kwargs.pop("message_id", new_message_id(SERVICE)),
                         in_reply_to="20261126173000.0000001.li.lei@client.visitflow.test",
                         references=["first@client.test"], attachments=attachments, **kwargs)


def unfold(text: str) -> str:
    return text.replace("\r\n", "\n")


@pytest.mark.parametrize("mail, name, attachments", MAILS)
def test_the_standard_library_reads_back_every_header_body_and_attachment(mail, name, attachments):
    out = build(mail, name, attachments)
    parsed = email.message_from_bytes(out.raw, policy=email.policy.default)

    assert not parsed.defects and all(not p.defects for p in parsed.walk())
    assert parsed["Subject"] == mail.subject
    assert getaddresses([str(parsed["From"])]) == [(name, SERVICE)]
    assert [a.addr_spec for a in parsed["To"].addresses] == ["li.lei@visitflow.test"]
    assert [a.addr_spec for a in parsed["Cc"].addresses] == ["wang.fang@visitflow.test", "sun.li@visitflow.test"]
    assert parsed["Message-ID"] == f"<{out.message_id}>"
    assert parsed["In-Reply-To"] == "<20261126173000.0000001.li.lei@client.visitflow.test>"
    assert parsed["References"].split() == ["<first@client.test>",
                                            "<20261126173000.0000001.li.lei@client.visitflow.test>"]
    assert parsed["Auto-Submitted"] == "auto-generated"
    assert unfold(parsed.get_body(("plain",)).get_content()) == mail.text
    assert unfold(parsed.get_body(("html",)).get_content()) == mail.html
    files = [(p.get_filename(), p.get_content_type(), p.get_content()) for p in parsed.iter_attachments()]
    assert files == [(a.filename, a.mime_type, a.content if "text" not in a.mime_type else a.content.decode())
                     for a in attachments]


@pytest.mark.parametrize("mail, name, attachments", MAILS)
def test_imap_tools_and_our_own_decoder_read_it_back_too(mail, name, attachments):
    raw = build(mail, name, attachments).raw
    files = [(a.filename, a.content) for a in attachments]
    tools = MailMessage.from_bytes(raw)
    assert (tools.subject, tools.from_, tools.to) == (mail.subject, SERVICE, ("li.lei@visitflow.test",))
    assert [(a.filename, a.payload) for a in tools.attachments] == files
    ours = decode_message(raw)
    assert ours.problems == []
    assert (ours.subject, ours.from_name, ours.from_addr) == (mail.subject, name, SERVICE)
    assert (ours.text, ours.html) == (mail.text, mail.html)
    assert ours.in_reply_to == ["20261126173000.0000001.li.lei@client.visitflow.test"]
    assert [(a.filename, a.payload) for a in ours.attachments] == files


@pytest.mark.parametrize("mail, name, attachments", MAILS)
def test_the_bytes_are_seven_bit_with_crlf_line_ends_and_folded_headers(mail, name, attachments):
    raw = build(mail, name, attachments).raw
    assert raw.isascii()
    assert b"\n" not in raw.replace(b"\r\n", b"") and b"\r" not in raw.replace(b"\r\n", b"")
    # RFC 2047 §5: each encoded-word holds whole characters (Outlook decodes them one by one).
    for word in re.findall(rb"=\?utf-8\?B\?([A-Za-z0-9+/=]*)\?=", raw):
        base64.b64decode(word).decode("utf-8")
    long_lines = [line for line in raw.split(b"\r\n") if len(line) > 78]
    # Only a MIME type longer than a line can pass 78 characters (it cannot be folded).
    assert all(line.startswith(b"Content-Type: " + DOCX.encode()) for line in long_lines), long_lines
    assert all(len(line) <= 76 for line in raw.split(b"\r\n\r\n", 1)[1].split(b"\r\n")
               if re.fullmatch(rb"[A-Za-z0-9+/=]+", line))


def test_an_ascii_mail_travels_as_readable_seven_bit_text():
    mail = RenderedMail(subject="Your report", text="Line one\nLine two\n", html="<p>Hi</p>\n")
    raw = build(mail, "visitflow", []).raw
    assert b"Subject: Your report\r\n" in raw and b'From: visitflow <visits@visitflow.test>\r\n' in raw
    assert b"Content-Transfer-Encoding: 7bit\r\n\r\nLine one\r\nLine two\r\n\r\n--" in raw


def test_the_same_message_id_gives_the_same_bytes_apart_from_the_date():
    mail, name, attachments = MAILS[2].values
    first, second = (build(mail, name, attachments, message_id="vf.fixed@visitflow.test") for _ in range(2))
    without_date = [re.sub(rb"\r\nDate: [^\r]*", b"", m.raw) for m in (first, second)]
    assert without_date[0] == without_date[1]
    assert b"\r\nDate: " in first.raw and first.message_id == "vf.fixed@visitflow.test"


@pytest.mark.parametrize("subject", [
    "Re: =?utf-8?B?notreally?= an encoded word",  # ASCII that would read as an encoded-word
    "two  spaces and a trailing one ",
    " leading space",
    "A long English subject line that certainly goes past the seventy-eight column limit of RFC 5322",
    "𠀀𠀁 four-byte characters 🎁🎁🎁🎁🎁🎁🎁🎁🎁🎁🎁🎁🎁🎁 never split",
    "tab\there",
    "x" * 1200,  # one word longer than a line: encoded, so it can be folded
    "",
])
def test_unusual_subjects_come_back_exactly(subject):
    raw = build(RenderedMail(subject=subject, text="x\n", html="<p>x</p>"), "visitflow", []).raw
    assert max(len(line) for line in raw.split(b"\r\n")) <= 78
    assert email.message_from_bytes(raw, policy=email.policy.default)["Subject"] == subject
    assert decode_message(raw).subject == subject.strip()  # our decoder trims the ends


@pytest.mark.parametrize("field, value", [
    ("subject", "Hello\r\nBcc: victim@example.com"),
    ("subject", "Hello\nX-Injected: yes"),
    ("sender_name", "巡访服务\r\nBcc: victim@example.com"),
    ("to", "li.lei@visitflow.test\r\nBcc: victim@example.com"),
    ("to", "李雷@visitflow.test"),
    ("to", "Li Lei <li.lei@visitflow.test>"),
    ("filename", "report\r\nContent-Type: text/html.pdf"),
    ("extra", "value\nX-Injected: yes"),
])
def test_a_line_break_or_unsafe_address_in_a_header_is_refused(field, value):
    mail = RenderedMail(subject=value if field == "subject" else "ok", text="x\n", html="<p>x</p>")
    with pytest.raises(ValueError):
        build_message(mail=mail, sender=SERVICE, sender_name=value if field == "sender_name" else "svc",
                      to=[value if field == "to" else "li.lei@visitflow.test"], message_id="vf.1@visitflow.test",
                      attachments=[FileAttachment(value, b"x")] if field == "filename" else (),
                      extra_headers={"X-Test": value} if field == "extra" else None)


def test_an_unwritable_reference_from_inbound_mail_is_left_out_not_fatal():
    raw = build_message(mail=RenderedMail(subject="ok", text="x\n", html="<p>x</p>"), sender=SERVICE,
                        sender_name="svc", to=["li.lei@visitflow.test"], message_id="vf.1@visitflow.test",
                        in_reply_to="bad id\r\nBcc: victim@example.com", references=["good@x", "has space@x"]).raw
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["In-Reply-To"] is None and parsed["References"] == "<good@x>"
    assert b"victim" not in raw


def test_queue_stores_the_exact_bytes_under_the_message_id(tmp_path):
    db = open_db(tmp_path / "visitflow.db")
    mail, name, attachments = MAILS[0].values
    out = build(mail, name, attachments)
    row_id = queue(db, template="daily_receipt", msg=out,
                   recipients=["Li.Lei@visitflow.test", "li.lei@visitflow.test"], cause_message=None)
    row = db.execute("SELECT message_id, raw, subject, sender, recipients, state FROM outbox WHERE id = ?",
                     [row_id]).fetchone()
    assert row == (out.message_id, out.raw, mail.subject, f"{name} <{SERVICE}>", '["li.lei@visitflow.test"]',
                   "queued")
    assert outbox.AUTO_HEADERS["Auto-Submitted"] == "auto-generated"
