"""Large mail is decoded without copies of itself, and a mail above the limit is not decoded (issue 8.6).

The decoder takes long base64 bodies out before the standard parser sees them and decodes
them from the raw bytes; these tests hold it to giving exactly what the plain parse gives,
and to its memory bound, measured with tracemalloc (allocations, not timings).
"""

from __future__ import annotations

import base64
import hashlib
import os
import tracemalloc
from email import policy
from email.message import EmailMessage

import pytest

from service.inbound import mime
from service.inbound.mime import decode_message
from service.intake import fetch_batches

from .conftest import FIXTURES
from .test_decode import corpus_files

MB = 1024 * 1024


def report(*attachments: tuple[str, str, bytes], html: str | None = None) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "李雷 <li.lei@visitflow.test>"
    msg["To"] = "visits@visitflow.test"
    msg["Subject"] = "巡访日报 照片"
    msg["Message-ID"] = "<large-1@visitflow.test>"
    msg.set_content("日期：2026-11-26\n客户名称：华联超市（浦东店）\n巡访时间：09:30\n巡访效果：好\n")
    if html is not None:
        msg.add_alternative(html, subtype="html")
    for filename, ctype, data in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return msg


def photo(size: int, seed: int = 1) -> bytes:
    """Return size photo-like (incompressible, reproducible) bytes."""
    block = hashlib.sha256(str(seed).encode()).digest()
    out = bytearray()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block * 64
    return bytes(out[:size])


def crlf(msg: EmailMessage) -> bytes:
    """Return msg as it travels over SMTP and IMAP: CRLF line ends."""
    return msg.as_bytes(policy=policy.SMTP)


def two_photos() -> bytes:
    return crlf(report(("a.jpg", "image/jpeg", photo(900_000, 1)), ("b.png", "image/png", photo(700_000, 2))))


def with_lf_line_ends() -> bytes:
    return report(("客户卡.jpg", "image/jpeg", photo(1_200_000))).as_bytes()


def html_with_a_body_image() -> bytes:
    msg = report(html='<p>见图</p><img src="cid:pic1@x">')
    html_part = msg.get_payload()[1]
    html_part.add_related(photo(800_000, 3), maintype="image", subtype="jpeg", cid="<pic1@x>")
    msg.add_attachment(photo(600_000, 4), maintype="application", subtype="pdf", filename="客户卡.pdf")
    return crlf(msg)


def base64_lines_in_a_text_part() -> bytes:
    # Someone pastes a long run of base64 lines into the text body: it is text, not a file.
    pasted = base64.encodebytes(photo(700_000, 5)).decode()
    msg = EmailMessage()
    msg["From"] = "li.lei@visitflow.test"
    msg["Subject"] = "粘贴"
    msg.set_content("日期：2026-11-26\n" + pasted, cte="8bit")
    return msg.as_bytes()


def a_forwarded_mail_with_a_large_attachment() -> bytes:
    inner = report(("inner.jpg", "image/jpeg", photo(800_000, 6)))
    outer = report()
    outer.add_attachment(inner)
    return outer.as_bytes()


def a_damaged_line_inside_a_large_body() -> bytes:
    raw = crlf(report(("broken.jpg", "image/jpeg", photo(1_000_000, 7))))
    lines = raw.split(b"\r\n")
    middle = len(lines) // 2
    lines[middle] = lines[middle][:30] + b"*%" + lines[middle][32:]
    return b"\r\n".join(lines)


def a_large_attachment_without_padding_and_a_short_last_line() -> bytes:
    raw = crlf(report(("odd.bin", "application/octet-stream", photo(1_000_001, 8))))
    return raw.replace(b"=\r\n\r\n--", b"\r\n\r\n--")


VARIANTS = {
    "two photos, CRLF": two_photos,
    "one photo, LF line ends": with_lf_line_ends,
    "HTML with a cid: image and an Apple-style PDF": html_with_a_body_image,
    "base64 lines pasted into a text part": base64_lines_in_a_text_part,
    "a forwarded mail carrying a large attachment": a_forwarded_mail_with_a_large_attachment,
    "a damaged line in the middle of a large body": a_damaged_line_inside_a_large_body,
    "no padding and a short last line": a_large_attachment_without_padding_and_a_short_last_line,
}


def summary(msg) -> dict:
    return {
        "subject": msg.subject, "from": msg.from_addr, "message_id": msg.message_id, "text": msg.text,
        "html": msg.html, "problems": msg.problems, "content_type": msg.content_type, "raw_size": msg.raw_size,
        "attachments": [(a.filename, a.content_type, len(a.payload), hashlib.sha256(a.payload).hexdigest(),
                         a.inline, a.content_id, a.body_image, a.damage) for a in msg.attachments],
    }


def plain_decode(raw: bytes, monkeypatch) -> dict:
    with monkeypatch.context() as patch:
        patch.setattr(mime, "_LARGE_MESSAGE", 1 << 62)  # never take bodies out
        return summary(decode_message(raw))


@pytest.mark.parametrize("make", VARIANTS.values(), ids=VARIANTS.keys())
def test_a_large_mail_decodes_exactly_as_the_plain_parse_does(make, monkeypatch):
    raw = make()
    assert len(raw) > mime._LARGE_MESSAGE
    assert summary(decode_message(raw)) == plain_decode(raw, monkeypatch)


def test_the_attachment_taken_out_is_byte_for_byte_the_one_attached():
    data = photo(3 * MB, 9)
    msg = decode_message(crlf(report(("客户卡.jpg", "image/jpeg", data))))
    assert [(a.filename, a.payload == data, a.damage) for a in msg.attachments] == [("客户卡.jpg", True, "")]
    assert msg.text.startswith("日期：2026-11-26") and msg.problems == []


def test_a_damaged_large_body_is_still_reported_as_damaged():
    msg = decode_message(a_damaged_line_inside_a_large_body())
    assert "damaged base64 in image/jpeg part" in msg.problems


def test_decoding_a_28_mb_mail_allocates_little_more_than_its_attachment():
    data = os.urandom(20 * MB)
    raw = crlf(report(("客户卡.jpg", "image/jpeg", data)))
    tracemalloc.start()
    try:
        msg = decode_message(raw)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert msg.attachments[0].payload == data
    # The plain parse peaked at 248 MB for this mail: its text, its lines, the joined payload…
    assert peak < 1.2 * len(data), f"decoding allocated {peak / MB:.0f} MB for a {len(data) / MB:.0f} MB file"


@pytest.fixture
def small_threshold(monkeypatch):
    """Take bodies out of every mail, from 16 base64 lines on, so the corpus exercises the path."""
    monkeypatch.setattr(mime, "_LARGE_MESSAGE", 0)
    monkeypatch.setattr(mime, "_LONG_RUN", 16 * 60)


# The shared corpus of real-world mail and our own golden fixtures.
CORPUS_MAIL = [*corpus_files(), *sorted(FIXTURES.rglob("*.eml"))]


def test_the_corpus_exercises_the_large_body_path(small_threshold):
    taken = sum(1 for p in CORPUS_MAIL if mime._LargeBodies.split(p.read_bytes())[1] is not None)
    assert len(CORPUS_MAIL) > 150 and taken > 30, (len(CORPUS_MAIL), taken)


def test_every_corpus_mail_decodes_the_same_with_bodies_taken_out(small_threshold, monkeypatch):
    differ = []
    for path in CORPUS_MAIL:
        raw = path.read_bytes()
        taken = summary(decode_message(raw))
        with monkeypatch.context() as patch:
            patch.setattr(mime, "_LARGE_MESSAGE", 1 << 62)
            plain = summary(decode_message(raw))
        if taken != plain:
            differ.append(path.name)
    assert differ == []


def test_a_mail_above_the_limit_has_only_its_header_decoded():
    raw = report(("客户卡.jpg", "image/jpeg", photo(2 * MB))).as_bytes()
    msg = decode_message(raw, max_bytes=MB)
    assert (msg.too_large, msg.raw_size, msg.subject, msg.from_addr, msg.message_id, msg.text, msg.attachments) \
        == (True, len(raw), "巡访日报 照片", "li.lei@visitflow.test", "large-1@visitflow.test", "", [])
    assert decode_message(raw, max_bytes=len(raw)).too_large is False


@pytest.mark.parametrize(("sizes", "count", "max_bytes", "batches"), [
    ({1: 10, 2: 10, 3: 10}, 2, 100, [[1, 2], [3]]),                   # the count bounds a batch
    ({1: 40, 2: 40, 3: 40, 4: 10}, 100, 100, [[1, 2], [3, 4]]),       # the bytes bound it
    ({1: 10, 2: 500, 3: 10}, 100, 100, [[1], [2], [3]]),              # a large mail goes alone
    ({7: 500}, 100, 100, [[7]]),
    ({}, 100, 100, []),
], ids=["by count", "by bytes", "a large mail alone", "one large mail", "nothing"])
def test_fetch_batches_are_bounded_by_count_and_bytes(sizes, count, max_bytes, batches):
    assert fetch_batches(sizes, count, max_bytes) == batches
