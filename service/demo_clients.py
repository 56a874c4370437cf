"""Write mail as the demo's people's clients do: each function returns the raw bytes a client sends.

Foxmail (GBK text labelled gb2312, base64), iPhone Mail (multipart/alternative, the photo of a
customer card attached inline, "发自我的iPhone"), Outlook in English (multipart/alternative,
HTML from Word), QQ Mail (HTML only, GB18030), Outlook with the filled Word form
(``templates/forms/daily_report.docx``) attached, Outlook with a spreadsheet attached, and the
replies of Foxmail and iPhone Mail quoting the mail they answer. The shapes follow the golden
fixtures in ``tests/fixtures`` taken from those clients. Every function is pure: the same
arguments give the same mail (MIME boundaries derive from the Message-ID), except the Word
form, whose zip members carry the time they were written.
"""

from __future__ import annotations

import base64
import hashlib
import io
import quopri
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from email import message_from_bytes, policy
from email.utils import format_datetime
from html import escape
from pathlib import Path

from .reading.wordform import DAILY_COLUMNS

__all__ = ["Sender", "card_photo", "foxmail_gbk", "foxmail_reply", "iphone", "iphone_reply", "new_message_id",
           "outlook_attachment", "outlook_html_en", "outlook_word_form", "qq_html", "report_text", "word_form"]

FORM_TEMPLATE = Path(__file__).resolve().parents[1] / "templates" / "forms" / "daily_report.docx"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
WEEKDAYS_ZH = "一二三四五六日"


@dataclass(frozen=True)
class Sender:
    name: str
    email: str


def new_message_id(client: str, at: datetime, domain: str = "visitflow.test") -> str:
    """Return a fresh Message-ID (without <>) shaped as ``client`` makes them."""
    if client == "foxmail":
        return f"{at:%Y%m%d%H%M%S}{secrets.randbelow(10**7):07d}@{domain}"
    if client == "iphone":
        h = secrets.token_hex(16).upper()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}@{domain}"
    if client == "outlook":
        return f"000{secrets.token_hex(3)}01dd{secrets.token_hex(2)}${secrets.token_hex(4)}${secrets.token_hex(4)}$@{domain}"
    return f"tencent_{secrets.token_hex(16).upper()}@{domain}"  # QQ Mail


def report_text(visits: Sequence[Mapping[str, str]], *, english: bool = False, day: str | None = None) -> str:
    """Return a daily report's body as ``label: value`` lines, one block per visit (spec §4)."""
    lines = [f"Date: {day}" if english else f"日期：{day}", ""] if day else []
    for visit in visits:
        for name, zh, en in DAILY_COLUMNS:
            if visit.get(name):
                lines.append(f"{en}: {visit[name]}" if english else f"{zh}：{visit[name]}")
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# --------------------------------------------------------------------------- report mails


def foxmail_gbk(sender: Sender, to: str, subject: str, text: str, *, date: datetime, message_id: str,
                signature: str = "") -> bytes:
    """Return a Foxmail plain-text mail: GBK bytes labelled gb2312 (Foxmail's habit), base64."""
    body = text + (f"\n\n{signature}\n" if signature else "")
    head = [f"Date: {format_datetime(date)}", f'From: "{_word(sender.name, "gb2312")}" <{sender.email}>',
            f"To: {to}", f"Subject: {_word(subject, 'gb2312')}", "X-Priority: 3", "X-Has-Attach: no",
            "X-Mailer: Foxmail 7.2.25.375[cn]", "Mime-Version: 1.0", f"Message-ID: <{message_id}>",
            'Content-Type: text/plain;\r\n\tcharset="gb2312"', "Content-Transfer-Encoding: base64"]
    return _join(head, _b64(_crlf(body).encode("gbk")))


def iphone(sender: Sender, to: str, subject: str, text: str, *, date: datetime, message_id: str,
           photo: tuple[str, bytes] | None = None) -> bytes:
    """Return an iPhone Mail message: text and HTML alternatives, the photo inline in the HTML one."""
    outer, inner = _boundaries(message_id, "Apple-Mail-", 2)
    plain = _crlf(text + "\n发自我的iPhone\n").encode("utf-8")
    html_lines = "".join(f"<div dir=\"ltr\">{escape(line) or '<br>'}</div>" for line in text.rstrip("\n").split("\n"))
    html = (f'<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
            f'<body dir="auto">{html_lines}</body></html>')
    tail = ('<html><head><meta http-equiv="content-type" content="text/html; charset=utf-8"></head>'
            '<body dir="auto"><div dir="ltr"><br></div><div dir="ltr">发自我的iPhone</div></body></html>')
    head = [f"From: {_word(sender.name, 'utf-8')} <{sender.email}>", f'Content-Type: multipart/alternative; boundary="{outer}"',
            "Mime-Version: 1.0 (1.0)", f"Date: {format_datetime(date)}", f"Subject: {_word(subject, 'utf-8')}",
            f"Message-Id: <{message_id}>", f"To: {to}", "X-Mailer: iPhone Mail (22B83)"]
    parts = [f"--{outer}", "Content-Type: text/plain;\r\n\tcharset=utf-8", "Content-Transfer-Encoding: quoted-printable",
             "", quopri.encodestring(plain).decode("ascii")]
    if photo is None:
        parts += [f"--{outer}", "Content-Type: text/html;\r\n\tcharset=utf-8", "Content-Transfer-Encoding: base64", "",
                  _b64(html.encode("utf-8"))]
    else:
        name, data = photo
        parts += [f"--{outer}", f'Content-Type: multipart/mixed;\r\n\tboundary="{inner}"', "",
                  f"--{inner}", "Content-Type: text/html;\r\n\tcharset=utf-8", "Content-Transfer-Encoding: base64", "",
                  _b64(html.encode("utf-8")),
                  f"--{inner}", "Content-Disposition: inline;\r\n\tfilename=" + name,
                  f"Content-Type: image/jpeg;\r\n\tname=\"{name}\"", "Content-Transfer-Encoding: base64", "",
                  _b64(data),
                  f"--{inner}", "Content-Type: text/html;\r\n\tcharset=utf-8", "Content-Transfer-Encoding: base64", "",
                  _b64(tail.encode("utf-8")), f"--{inner}--", ""]
    parts.append(f"--{outer}--")
    return _join(head, "\r\n".join(parts))


def outlook_html_en(sender: Sender, to: str, subject: str, text: str, *, date: datetime, message_id: str,
                    signature: Sequence[str] = ()) -> bytes:
    """Return an Outlook (Windows, English) mail: plain and Word-made HTML alternatives, quoted-printable."""
    (boundary,) = _boundaries(message_id, "----=_NextPart_000_", 1)
    lines = text.rstrip("\n").split("\n") + ([""] + list(signature) if signature else [])
    plain = _crlf("\n".join(lines) + "\n").encode("utf-8")
    paragraphs = "\r\n".join(f"<p class=MsoNormal>{escape(line) if line else '<o:p>&nbsp;</o:p>'}<o:p></o:p></p>"
                             for line in lines)
    html = ('<html xmlns:v="urn:schemas-microsoft-com:vml" xmlns:o="urn:schemas-microsoft-com:office:office" '
            'xmlns:w="urn:schemas-microsoft-com:office:word" xmlns="http://www.w3.org/TR/REC-html40"><head>'
            '<meta http-equiv=Content-Type content="text/html; charset=utf-8">'
            '<meta name=Generator content="Microsoft Word 15 (filtered medium)"><style><!--\r\n'
            '/* Style Definitions */\r\np.MsoNormal, li.MsoNormal, div.MsoNormal\r\n\t{margin:0cm;\r\n'
            '\tfont-size:11.0pt;\r\n\tfont-family:"Calibri",sans-serif;}\r\n--></style></head>'
            '<body lang=EN-US link="#0563C1" vlink="#954F72" style=\'word-wrap:break-word\'>'
            f'<div class=WordSection1>\r\n{paragraphs}\r\n</div></body></html>')
    head = [f"From: {_word(sender.name, 'utf-8') if not sender.name.isascii() else sender.name} <{sender.email}>",
            f"To: {to}", f"Subject: {subject if subject.isascii() else _word(subject, 'utf-8')}",
            f"Date: {format_datetime(date)}", f"Message-ID: <{message_id}>", "MIME-Version: 1.0",
            f'Content-Type: multipart/alternative;\r\n\tboundary="{boundary}"', "X-Mailer: Microsoft Outlook 16.0",
            f"Thread-Index: {base64.b64encode(hashlib.sha1(message_id.encode()).digest()[:16]).decode()}",
            "Content-Language: en-us"]
    parts = ["This is a multipart message in MIME format.", "",
             f"--{boundary}", 'Content-Type: text/plain;\r\n\tcharset="utf-8"', "Content-Transfer-Encoding: quoted-printable",
             "", quopri.encodestring(plain).decode("ascii"),
             f"--{boundary}", 'Content-Type: text/html;\r\n\tcharset="utf-8"', "Content-Transfer-Encoding: quoted-printable",
             "", quopri.encodestring(html.encode("utf-8")).decode("ascii"), f"--{boundary}--"]
    return _join(head, "\r\n".join(parts))


def qq_html(sender: Sender, to: str, subject: str, text: str, *, date: datetime, message_id: str,
            signature: str = "") -> bytes:
    """Return a QQ Mail (web) message: HTML only, GB18030, base64, one <div> per line."""
    lines = text.rstrip("\n").split("\n") + (["", signature] if signature else [])
    divs = "".join(f"<div>{escape(line) if line else '<br>'}</div>" for line in lines)
    html = ('<meta http-equiv="Content-Type" content="text/html; charset=GB18030">'
            f'<div style="font-family: 微软雅黑; font-size: 14px;">{divs}</div>')
    qq_mid = hashlib.sha1(message_id.encode()).hexdigest()[:24]
    head = [f'From: "{_word(sender.name, "gb18030")}" <{sender.email}>', f'To: "{_word("巡访服务", "gb18030")}" <{to}>',
            f"Subject: {_word(subject, 'gb18030')}", "Mime-Version: 1.0",
            'Content-Type: text/html;\r\n\tcharset="gb18030"', "Content-Transfer-Encoding: base64",
            f"Date: {format_datetime(date)}", "X-Priority: 3", f"Message-ID: <{message_id}>",
            "X-QQ-MIME: TCMime 1.0 by Tencent", "X-Mailer: QQMail 2.x", "X-QQ-Mailer: QQMail 2.x",
            f"X-QQ-mid: xmsza{qq_mid[:2]}-0t{int(date.timestamp())}t{qq_mid[2:]}"]
    return _join(head, _b64(html.encode("gb18030")))


def outlook_word_form(sender: Sender, to: str, subject: str, text: str, *, date: datetime, message_id: str,
                      form: tuple[str, bytes]) -> bytes:
    """Return an Outlook (Chinese) mail with a filled Word form attached."""
    return outlook_attachment(sender, to, subject, text, date=date, message_id=message_id, file=form, content_type=DOCX)


def outlook_attachment(sender: Sender, to: str, subject: str, text: str, *, date: datetime, message_id: str,
                       file: tuple[str, bytes], content_type: str = XLSX) -> bytes:
    """Return an Outlook (Chinese) mail: a short text and one file, its name in RFC 2047 (Outlook's habit)."""
    (boundary,) = _boundaries(message_id, "----=_NextPart_000_", 1)
    name, data = file
    encoded = _word(name, "utf-8")
    head = [f"From: {_word(sender.name, 'utf-8')} <{sender.email}>", f"To: {to}", f"Subject: {_word(subject, 'utf-8')}",
            f"Date: {format_datetime(date)}", f"Message-ID: <{message_id}>", "MIME-Version: 1.0",
            f'Content-Type: multipart/mixed;\r\n\tboundary="{boundary}"', "X-Mailer: Microsoft Outlook 16.0",
            "Content-Language: zh-cn"]
    parts = ["This is a multipart message in MIME format.", "",
             f"--{boundary}", 'Content-Type: text/plain;\r\n\tcharset="utf-8"', "Content-Transfer-Encoding: base64", "",
             _b64(_crlf(text).encode("utf-8")),
             f"--{boundary}", f'Content-Type: {content_type};\r\n\tname="{encoded}"', "Content-Transfer-Encoding: base64",
             f'Content-Disposition: attachment;\r\n\tfilename="{encoded}"', "", _b64(data), f"--{boundary}--"]
    return _join(head, "\r\n".join(parts))


# --------------------------------------------------------------------------- replies


def foxmail_reply(sender: Sender, original: bytes, text: str, *, date: datetime, message_id: str,
                  zone: tzinfo) -> bytes:
    """Return a Foxmail reply: ``text`` on top, the original below its 原始邮件 header block (GBK)."""
    orig = message_from_bytes(original, policy=policy.default)
    sent = _original_date(orig, zone)
    block = ("\n\n\n \n------------------ 原始邮件 ------------------\n"
             f"发件人: \"{orig['from'].addresses[0].display_name}\"<{orig['from'].addresses[0].addr_spec}>;\n"
             f"发送时间: {sent:%Y年%m月%d日}(星期{WEEKDAYS_ZH[sent.weekday()]}) "
             f"{'上午' if sent.hour < 12 else '下午'}{sent.hour % 12 or 12}:{sent:%M}\n"
             f"收件人: \"{sender.name}\"<{sender.email}>;\n\n主题: {orig['subject']}\n\n \n\n{_plain(orig)}")
    body = text + block
    charset = "GBK" if _fits(body, "gbk") else "utf-8"  # Foxmail's choice when GBK cannot hold the quote
    head = [f"Date: {format_datetime(date)}", f'From: "{_word(sender.name, "gbk")}" <{sender.email}>',
            f"To: {_address(orig, 'gbk')}", f"Subject: {_word('回复: ' + str(orig['subject']), 'gbk')}",
            *_threading(orig), "X-Priority: 3", "X-Has-Attach: no", "X-Mailer: Foxmail 7.2.25.375[cn]",
            "Mime-Version: 1.0", f"Message-ID: <{message_id}>",
            f'Content-Type: text/plain;\r\n\tcharset="{charset}"', "Content-Transfer-Encoding: base64"]
    return _join(head, _b64(_crlf(body).encode(charset)))


def iphone_reply(sender: Sender, original: bytes, text: str, *, date: datetime, message_id: str,
                 zone: tzinfo) -> bytes:
    """Return an iPhone Mail reply: ``text``, 发自我的iPhone, then the original quoted with "> "."""
    orig = message_from_bytes(original, policy=policy.default)
    sent = _original_date(orig, zone)
    author = orig["from"].addresses[0]
    attribution = (f"在 {sent:%Y年%m月%d日}周{WEEKDAYS_ZH[sent.weekday()]} {sent:%H:%M}，"
                   f"{author.display_name} <{author.addr_spec}> 写道：")
    quoted = "\n".join(f"> {line}".rstrip() for line in [attribution, "", *_plain(orig).splitlines()])
    body = f"{text}\n\n发自我的iPhone\n\n{quoted}\n"
    head = ["Content-Type: text/plain;\r\n\tcharset=utf-8", "Content-Transfer-Encoding: quoted-printable",
            f"From: {_word(sender.name, 'utf-8')} <{sender.email}>", "Mime-Version: 1.0 (1.0)",
            f"Subject: {_word('回复：' + str(orig['subject']), 'utf-8')}", f"Date: {format_datetime(date)}",
            f"Message-Id: <{message_id}>", *_threading(orig), f"To: {_address(orig, 'utf-8')}",
            "X-Mailer: iPhone Mail (22B83)"]
    return _join(head, quopri.encodestring(_crlf(body).encode("utf-8")).decode("ascii"))


# --------------------------------------------------------------------------- files


def word_form(day: str, visitor: str, visits: Sequence[Mapping[str, str]]) -> bytes:
    """Return templates/forms/daily_report.docx filled as Word leaves it (text typed into each cell)."""
    import docx

    document = docx.Document(str(FORM_TEMPLATE))
    header, table = document.tables
    _type(header.rows[0].cells[1], day)
    _type(header.rows[1].cells[1], visitor)
    while len(table.rows) - 1 < len(visits):
        table.add_row()
    for row, visit in zip(table.rows[1:], visits):
        for index, (name, _, _) in enumerate(DAILY_COLUMNS):
            if visit.get(name):
                _type(row.cells[index], visit[name])
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def card_photo(seed: str) -> bytes:
    """Return a small JPEG standing for a rep's photo of a customer's card or shop front."""
    from PIL import Image, ImageDraw

    tint = hashlib.sha1(seed.encode()).digest()
    image = Image.new("RGB", (480, 300), (236, 231, 220))
    draw = ImageDraw.Draw(image)
    draw.rectangle([24, 24, 456, 276], outline=(120, 110, 95), width=4)
    draw.rectangle([48, 60, 200, 220], fill=(150 + tint[0] % 100, 40 + tint[1] % 60, 40 + tint[2] % 60))
    for n, y in enumerate(range(80, 240, 30)):
        draw.line([230, y, 430 - 20 * ((n + tint[3]) % 5), y], fill=(70, 70, 70), width=6)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


# --------------------------------------------------------------------------- helpers


def _type(cell, text: str) -> None:
    first, *rest = text.split("\n")
    cell.paragraphs[0].add_run(first)
    for line in rest:
        cell.add_paragraph(line)


def _word(text: str, charset: str) -> str:
    """Return ``text`` as one RFC 2047 encoded word (B encoding); gb2312 means GBK bytes, as clients
    send. Text the charset cannot hold (¥ in GBK) goes as UTF-8, as Foxmail does then."""
    charset = charset if _fits(text, charset) else "utf-8"
    codec = "gbk" if charset.lower() == "gb2312" else charset
    return f"=?{charset}?B?{base64.b64encode(text.encode(codec)).decode('ascii')}?="


def _fits(text: str, charset: str) -> bool:
    try:
        text.encode("gbk" if charset.lower() == "gb2312" else charset)
    except UnicodeEncodeError:
        return False
    return True


def _b64(data: bytes) -> str:
    return base64.encodebytes(data).decode("ascii").replace("\n", "\r\n").rstrip("\r\n")


def _crlf(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\n", "\r\n")


def _join(head: Sequence[str], body: str) -> bytes:
    return ("\r\n".join(head) + "\r\n\r\n" + body + "\r\n").encode("ascii")


def _boundaries(message_id: str, prefix: str, count: int) -> list[str]:
    digest = hashlib.sha1(message_id.encode()).hexdigest().upper()
    return [f"{prefix}{digest[8 * n:8 * n + 8]}-{digest[32 - 4 * n:36 - 4 * n]}" for n in range(count)]


def _threading(orig) -> list[str]:
    ids = [f"<{orig['message-id'].strip().strip('<>')}>"]
    references = (orig.get("references") or "").split() + ids
    return [f"In-Reply-To: {ids[0]}", f"References: {' '.join(dict.fromkeys(references))}"]


def _address(orig, charset: str) -> str:
    """Return the original's author as a To header value, the name as an encoded word."""
    author = orig["from"].addresses[0]
    return f'"{_word(author.display_name, charset)}" <{author.addr_spec}>' if author.display_name else author.addr_spec


def _plain(orig) -> str:
    body = orig.get_body(preferencelist=("plain", "html"))
    return body.get_content().replace("\r\n", "\n").strip("\n") if body else ""


def _original_date(orig, zone: tzinfo) -> datetime:
    """Return when the original was sent, in the replier's time zone (a client shows it so)."""
    try:
        return orig["date"].datetime.astimezone(zone)
    except (AttributeError, TypeError, ValueError):
        return datetime.now(zone)
