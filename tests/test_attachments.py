"""Attachments as real clients send them: cards marked inline, forms without a .docx name, forms
saved as .doc / WPS / .odt and converted with LibreOffice, and what `parse --json` says of each.

The golden mails in tests/fixtures/attachments/ are made by its build.py; each .json beside
them is what `visitflow parse --json` must print, checked by hand.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import json
import tempfile
import zipfile
from email.message import EmailMessage
from pathlib import Path

import pytest
from click.testing import CliRunner

from service.cli import cli
from service.config import parse_config
from service.documents.convert import to_docx
from service.inbound.mime import decode_message
from service.intake import read_message
from service.reading.daily import find_form, read_daily_report
from service.reading.doctype import CLAIMED, DOC, DOCX, ODT, RTF, sniff
from service.reading.wordform import is_daily_form

from .conftest import FIXTURES, REPO, base_config_data, wait_for

HERE = FIXTURES / "attachments"
FILES = HERE / "files"
GOLDEN = sorted(HERE.glob("*.eml"))
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


@pytest.fixture(scope="module")
def config():
    return parse_config(base_config_data(), path=REPO / "config.yaml")


def decoded(name: str):
    return decode_message((HERE / f"{name}.eml").read_bytes())


def with_policy(config, **changes):
    return dataclasses.replace(config, policy=dataclasses.replace(config.policy, **changes))


def never_convert(*args, **kwargs):
    raise AssertionError("LibreOffice must not run here")


# --------------------------------------------------------------------------- golden mails


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_each_attachment_mail_parses_to_its_golden_json(config, eml):
    expected = json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))
    assert read_message(eml.read_bytes(), config).as_json() == expected


RULES = [
    # (fixture, rule that classifies it): forms are found by content when nothing else names the mail.
    ("word_form_named_without_suffix", "daily_report_form"),
    ("word_form_octet_stream_attachment_bin", "daily_report_form"),
    ("word_form_without_any_name", "daily_report_form"),
    ("word_form_docx_content_named_doc", "daily_report_form"),
    ("wps_form_without_subject_keyword", "daily_report_form"),
    ("odt_form_octet_stream_en", "daily_report_form"),
    ("doc_form_word_97", "subject_daily_report"),
    ("apple_mail_inline_pdf_card", "subject_daily_report"),
    ("iphone_mail_photo_with_unused_content_id_card", "subject_daily_report"),
]


@pytest.mark.parametrize("name, rule", RULES)
def test_a_form_without_subject_keyword_is_classified_by_its_content(config, name, rule):
    assert read_message((HERE / f"{name}.eml").read_bytes(), config).rule == rule


def test_parse_json_prints_chinese_as_characters_and_lists_the_attachments():
    eml = HERE / "apple_mail_inline_pdf_card.eml"
    result = CliRunner().invoke(cli, ["--config", str(REPO / "config.yaml"), "parse", str(eml), "--json"])
    assert result.exit_code == 0, result.output
    assert "\\u" not in result.output
    assert '"filename": "客户卡-华联超市.pdf"' in result.output
    printed = json.loads(result.output)
    assert printed["attachments"] == [{"filename": "客户卡-华联超市.pdf", "content_type": "application/pdf",
                                       "bytes": (FILES / "customer_card.pdf").stat().st_size,
                                       "use": "card", "reason": None}]


def test_attachments_of_a_mail_no_workflow_keeps_are_listed_as_ignored(config):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "li.lei@visitflow.test", "visits@visitflow.test", "礼品申请"
    msg.set_content("客户名称：甲\n礼品：茶叶\n数量：2\n预算金额：800\n事由：年节\n赠送日期：2026-12-20\n")
    msg.add_attachment(b"%PDF-1.4 quote", maintype="application", subtype="pdf", filename="报价.pdf")
    listed = read_message(msg.as_bytes(), config).as_json()["attachments"]
    assert listed == [{"filename": "报价.pdf", "content_type": "application/pdf", "bytes": 14, "use": "ignored",
                       "reason": "only daily reports keep attachments; this mail is gift_request"}]


def test_an_oversized_card_and_a_zip_bomb_are_listed_as_refused_with_the_reason(config):
    small = with_policy(config, max_attachment_bytes=5000, max_unzipped_bytes=100_000)
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("zeros.bin", b"\0" * 2_000_000)
    assert len(bomb.getvalue()) < 5000
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "li.lei@visitflow.test", "visits@visitflow.test", "巡访日报"
    msg.set_content("客户名称：甲\n巡访时间：9:00\n巡访效果：好\n")
    msg.add_attachment(b"x" * 5001, maintype="image", subtype="jpeg", filename="big.jpg", disposition="inline")
    msg.add_attachment(bomb.getvalue(), maintype="application", subtype="zip", filename="cards.zip")
    listed = read_message(msg.as_bytes(), small).as_json()["attachments"]
    assert [(a["filename"], a["bytes"], a["use"], a["reason"]) for a in listed] == [
        ("big.jpg", 5001, "refused", "larger than the 5,000-byte attachment limit"),
        ("cards.zip", len(bomb.getvalue()), "refused", "would unpack beyond the 100,000-byte limit (suspected zip bomb)"),
    ]


# --------------------------------------------------------------------------- body images


def _html_mail(*, html: str, image_cid: str | None, ctype: str = "image/png", disposition: str | None = "inline") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "li.lei@visitflow.test", "visits@visitflow.test", "日报"
    msg.set_content("客户名称：甲\n巡访时间：9:00\n巡访效果：好\n")
    msg.add_alternative(html, subtype="html")
    maintype, subtype = ctype.split("/")
    msg.get_payload()[1].add_related(b"\x89PNG\r\n\x1a\n....", maintype=maintype, subtype=subtype,
                                     cid=f"<{image_cid}>" if image_cid else None, filename="pic.png",
                                     disposition=disposition)
    return msg.as_bytes()


BODY_IMAGES = [
    # (html, Content-ID of the image, its type, body image?)
    ('<img src="cid:logo@x">', "logo@x", "image/png", True),
    ('<img src="CID:Logo@X">', "logo@x", "image/png", True),                 # case differs
    ('<img src="cid:logo%40x">', "logo@x", "image/png", True),              # percent-encoded (RFC 2392)
    ("<td style=\"background:url(cid:logo@x)\">", "logo@x", "image/png", True),
    ('<img src="cid:other@x">', "logo@x", "image/png", False),             # refers to another part
    ("<p>no image shown</p>", "logo@x", "image/png", False),                # Content-ID alone decides nothing
    ('<img src="cid:logo@x">', None, "image/png", False),                   # no Content-ID to match
    ('<img src="cid:card@x">', "card@x", "application/pdf", False),         # a document stays a file
]


@pytest.mark.parametrize("html, cid, ctype, body_image", BODY_IMAGES)
def test_only_an_image_the_html_shows_through_cid_is_a_body_image(html, cid, ctype, body_image):
    (attachment,) = decode_message(_html_mail(html=html, image_cid=cid, ctype=ctype)).attachments
    assert attachment.body_image is body_image


def test_an_inline_file_without_content_id_is_a_file_whatever_its_disposition():
    (card,) = decoded("apple_mail_inline_pdf_card").attachments
    assert (card.inline, card.body_image, card.content_id) == (True, False, "")


def test_a_body_image_is_not_kept_as_a_card_but_a_file_beside_it_is(config):
    report = read_daily_report(decoded("outlook_signature_logo_by_cid_and_photo_card_en"), config)
    assert [a.filename for a in report.body_images] == ["image001.png"]
    assert [a.filename for a in report.cards] == ["hualian card.jpg"]


# --------------------------------------------------------------------------- knowing a document by its content


def _payload(name: str) -> bytes:
    return (FILES / name).read_bytes()


SNIFFED = [
    # (file, name the sender gave, content type, kind)
    ("form_1201.docx", "巡访日报", DOCX_TYPE, DOCX),
    ("form_1201.docx", "attachment.bin", "application/octet-stream", DOCX),
    ("form_1201.docx", "", "", DOCX),
    ("form_1201.docx", "巡访日报.doc", "application/msword", DOCX),     # WPS writes .docx content as .doc
    ("form_1127.doc", "巡访日报表.doc", "application/msword", DOC),
    ("form_1127.doc", "attachment.bin", "application/octet-stream", DOC),
    ("form_1129.wps", "巡访记录.wps", "application/vnd.ms-works", DOC),
    ("form_1128.odt", "report", "application/octet-stream", ODT),
    ("broken_truncated.doc", "巡访日报表.doc", "application/msword", CLAIMED),
    ("broken_text.doc", "report.doc", "application/octet-stream", CLAIMED),
    ("broken_text.doc", "report", "application/msword", CLAIMED),
    ("broken_text.doc", "report.txt", "text/plain", None),
    ("customer_card.pdf", "客户卡.pdf", "application/pdf", None),
    ("card_photo.jpg", "IMG_0412.jpeg", "image/jpeg", None),
]


@pytest.mark.parametrize("file, filename, ctype, kind", SNIFFED)
def test_a_document_is_known_by_its_content_before_its_name_or_type(file, filename, ctype, kind):
    assert sniff(_payload(file), filename, ctype) == kind


def test_rtf_and_a_zip_of_photos_are_told_apart_by_content():
    photos = io.BytesIO()
    with zipfile.ZipFile(photos, "w") as archive:
        archive.writestr("IMG_1.jpg", _payload("card_photo.jpg"))
    assert sniff(b"{\\rtf1\\ansi\\deff0 {\\fonttbl}}", "a.txt", "text/plain") == RTF
    assert sniff(photos.getvalue(), "cards.zip", "application/zip") is None


def test_a_filled_form_is_recognised_within_the_zip_limits_only():
    form = _payload("form_1201.docx")
    assert is_daily_form(form)
    assert not is_daily_form(form, max_unzipped_bytes=10_000)


# --------------------------------------------------------------------------- converting with LibreOffice


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Point tempfile at an empty folder, to see that a conversion leaves nothing there."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


LIMITS = dict(max_bytes=10 * 1024 * 1024, max_unzipped_bytes=50 * 1024 * 1024)


@pytest.mark.parametrize("file, kind, customers", [
    ("form_1127.doc", DOC, ["华联超市（浦东店）", "联华便利（徐汇店）"]),
    ("form_1128.odt", ODT, ["银泰百货（武林店）"]),
    ("form_1129.wps", DOC, ["世纪联华（杨浦店）", "罗森（静安寺店）", "全家（人民广场店）"]),
])
def test_a_form_saved_as_doc_wps_or_odt_converts_to_a_readable_docx_leaving_nothing_behind(
        private_tmp, file, kind, customers):
    from service.reading.wordform import read_daily_form

    result = to_docx(_payload(file) + b"", kind, timeout=120, **LIMITS)  # + b"": its own cache entry
    assert result.failure == "" and result.docx is not None, result.detail
    assert [v["customer"] for v in read_daily_form(result.docx).visits] == customers
    assert list(private_tmp.iterdir()) == []


def _processes_mentioning(text: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def test_a_conversion_that_takes_too_long_is_killed_with_its_whole_process_group(private_tmp):
    result = to_docx(_payload("form_1127.doc") + b"\0", DOC, timeout=0.2, **LIMITS)
    assert (result.docx, result.failure) == (None, "timeout")
    assert "longer than 0.2 s" in result.detail
    # SIGKILL is final, but the kernel may take a moment to tear the processes down.
    wait_for(lambda: not _processes_mentioning(str(private_tmp)), timeout=10, what="LibreOffice to be gone")
    assert list(private_tmp.iterdir()) == []


@pytest.mark.parametrize("payload, kind, options, failure, words", [
    (b"x" * 2001, DOC, dict(max_bytes=2000), "too_large", "more than the 2,000-byte attachment limit"),
    (b"x", DOC, dict(soffice="/nonexistent/soffice"), "unavailable", "is not installed"),
    (b"x", "xls", {}, "failed", "no LibreOffice import filter"),
])
def test_a_conversion_that_cannot_start_says_why_without_running_libreoffice(payload, kind, options, failure, words):
    result = to_docx(payload, kind, **{**LIMITS, **options})
    assert (result.docx, result.failure) == (None, failure)
    assert words in result.detail


def test_a_damaged_doc_fails_in_libreoffice_instead_of_being_read_as_text():
    result = to_docx(_payload("broken_stream.doc"), DOC, timeout=120, **LIMITS)
    assert (result.docx, result.failure) == (None, "failed")
    assert "source file could not be loaded" in result.detail


def test_the_same_file_is_converted_once_for_classifying_and_reading():
    payload = _payload("form_1128.odt") + b"\0\0"
    first = to_docx(payload, ODT, timeout=120, **LIMITS)
    assert to_docx(payload, ODT, timeout=120, **LIMITS) is first


# --------------------------------------------------------------------------- the reply names the failure


def _report_mail(payload: bytes, filename: str, ctype: str = "application/msword", sender: str = "li.lei@visitflow.test",
                 body: str = "日报见附件。\n") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "visits@visitflow.test", "巡访日报"
    msg.set_content(body)
    maintype, subtype = ctype.split("/")
    msg.add_attachment(payload, maintype=maintype, subtype=subtype, filename=filename)
    return msg.as_bytes()


FAILURES = [
    # (converter, language of the sender, words the problem must hold)
    (functools.partial(to_docx, timeout=0.2), "li.lei@visitflow.test", ["周报.doc", "转换超时", ".docx"]),
    (functools.partial(to_docx, soffice="/nonexistent/soffice"), "li.lei@visitflow.test",
     ["周报.doc", "无法转换", ".docx"]),
    (functools.partial(to_docx, soffice="/nonexistent/soffice"), "tom.baker@visitflow.test",
     ["周报.doc", "cannot convert", "save it as .docx"]),
]


@pytest.mark.parametrize("convert, sender, words", FAILURES)
def test_a_form_that_cannot_be_converted_is_named_in_the_rejection_with_the_reason(config, convert, sender, words):
    msg = decode_message(_report_mail(_payload("form_1127.doc") + b"\0\0\0", "周报.doc", sender=sender))
    report = read_daily_report(msg, config, convert=convert)
    assert report.visits == [] and len(report.problems) == 1
    text = report.problems[0].text(config.language_for(sender))
    for word in words:
        assert word in text, text


def test_a_doc_over_the_attachment_limit_is_refused_before_libreoffice_runs(config):
    small = with_policy(config, max_attachment_bytes=10_000)
    report = read_daily_report(decode_message(_report_mail(_payload("form_1127.doc"), "巡访日报.doc")), small,
                               convert=never_convert)
    assert [p.code for p in report.problems] == ["convert_too_large"]
    assert "巡访日报.doc" in report.problems[0].text("zh-CN")


def test_an_odt_that_would_unpack_beyond_the_limit_is_refused_before_libreoffice_runs(config):
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.text", zipfile.ZIP_STORED)
        archive.writestr("content.xml", b" " * 3_000_000)
    search = find_form([decode_message(_report_mail(bomb.getvalue(), "日报.odt")).attachments[0]],
                       with_policy(config, max_unzipped_bytes=1_000_000).policy, convert=never_convert)
    assert search.form is None
    assert [(r.code, "limit" in r.detail) for r in search.refused] == [("too_large", True)]


def test_a_doc_beside_a_text_report_is_a_card_and_is_never_converted(config):
    body = "客户名称：甲\n巡访时间：9:00\n巡访效果：好\n"
    msg = decode_message(_report_mail(_payload("form_1127.doc"), "客户资料.doc", body=body))
    report = read_daily_report(msg, config, convert=never_convert)
    assert report.problems == [] and report.source == "text"
    assert [a.filename for a in report.cards] == ["客户资料.doc"]


def test_a_converted_doc_that_is_not_the_form_is_kept_as_a_card(config):
    # LibreOffice's part is stood in for: the .doc "converts" to a customer card, not the form.
    def fake(payload, kind, **limits):
        from service.documents.convert import Conversion

        return Conversion((FIXTURES / "wordform" / "customer_card.docx").read_bytes())

    msg = decode_message(_report_mail(_payload("form_1127.doc"), "客户卡.doc"))
    search = find_form(msg.attachments, config.policy, convert=fake)
    assert (search.form, search.refused) == (None, [])
    report = read_daily_report(msg, config, convert=fake)
    assert [a.filename for a in report.cards] == ["客户卡.doc"]
    assert [p.code for p in report.problems] == ["no_visits"]


def test_the_form_is_read_from_the_docx_first_and_a_failing_doc_beside_it_is_a_card(config):
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "li.lei@visitflow.test", "visits@visitflow.test", "巡访日报"
    msg.set_content("见附件\n")
    msg.add_attachment(_payload("broken_text.doc"), maintype="application", subtype="msword", filename="旧.doc")
    msg.add_attachment(_payload("form_1201.docx"), maintype="application", subtype="octet-stream", filename="x")
    report = read_daily_report(decode_message(msg.as_bytes()), config, convert=never_convert)
    assert report.problems == [] and report.source == "x"
    assert [v.values["customer"] for v in report.visits] == ["大润发（闵行店）"]
    assert [a.filename for a in report.cards] == ["旧.doc"]
