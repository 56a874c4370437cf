"""Queue outgoing mail in the database, in the caller's transaction.

A mail is rendered and given its Message-ID when it is queued, and stored as the exact bytes
that will go over SMTP: a retry after a crash sends the same mail, recognisable as such.

The bytes are written here directly (RFC 5322, MIME: RFC 2045–2047, RFC 2231) instead of
through `email.message.EmailMessage`: its header objects and folding cost 2–4 ms a mail,
most of a backlog's processing time, for a mail whose shape never changes – text and HTML
alternatives, perhaps attachments. tests/test_outbox.py parses the output back with the
standard library, imap-tools and our own decoder.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import urllib.parse
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import format_datetime, formataddr

from sqlite_utils import Database

from ..store import answers
from ..store.db import now
from .render import RenderedMail

# RFC 3834: every mail the service sends says it is automatic, so well-behaved
# auto-responders never answer it and loops cannot start. Each also carries X-Loop with the
# service address (build_message's loop_marker), as procmail and RT do: mail that comes back
# with it is never answered.
AUTO_HEADERS = {
    "Auto-Submitted": "auto-generated",
    "X-Auto-Response-Suppress": "All",
}

LOOP_HEADER = "X-Loop"

MAX_LINE = 78  # RFC 5322 §2.1.1: lines SHOULD stay within 78 characters
# UTF-8 bytes per RFC 2047 encoded-word: "=?utf-8?B?" + 52 base64 characters + "?=" is 64
# characters, so a word fits after "Subject: " or inside ' filename="…";' within 78.
WORD_BYTES = 39
MAX_REFERENCES = 20

# A header value with a line break would end the header and start another one (header
# injection); other control characters have no business in a header either.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_HEADER_NAME = re.compile(r"[!-9;-~]+")
_ADDRESS = re.compile(r"[!-~]+@[!-~]+")
_MIME_TYPE = re.compile(r"[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*")
_MESSAGE_ID = re.compile(r"[!-;=?-~]+")  # printable ASCII without '<' and '>'
# ASCII a header can carry as it is; anything else (non-ASCII, something that would read as
# an encoded-word, space runs that folding could lose) is written as encoded-words instead.
_PLAIN_TEXT = re.compile(r"(?!.*=\?)(?!.*  )[!-~](?:[ -~]*[!-~])?", re.S)


@dataclass(frozen=True)
class FileAttachment:
    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"


@dataclass(frozen=True)
class OutgoingMail:
    message_id: str  # without angle brackets
    sender: str      # the From as a person reads it, e.g. "巡访服务 <visits@example.com>"
    subject: str
    raw: bytes       # the exact bytes to send: CRLF line ends, 7-bit


def new_message_id(service_address: str) -> str:
    """Return a fresh, globally unique Message-ID (without angle brackets) in the service's domain."""
    domain = service_address.rpartition("@")[2] or "visitflow.invalid"
    return f"vf.{uuid.uuid4().hex}@{domain}"


def build_message(*, mail: RenderedMail, sender: str, sender_name: str, to: Sequence[str],
                  cc: Sequence[str] = (), message_id: str, in_reply_to: str | None = None,
                  references: Sequence[str] = (), attachments: Iterable[FileAttachment] = (),
                  extra_headers: dict[str, str] | None = None) -> OutgoingMail:
    """Build the MIME message: text and HTML alternatives, attachments, threading headers.

    Every mail carries AUTO_HEADERS and ``X-Loop: <sender>`` (the loop marker).

    Raises ValueError for a header value that cannot be written safely (a line break in
    the subject or a name, an address that is not plain ASCII).
    """
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"not a usable Message-ID: {message_id!r}")
    if not to:
        raise ValueError("a mail needs at least one recipient")
    head = [
        _from_header(sender_name, sender),
        _header("To", _address_list(to)),
    ]
    if cc:
        head.append(_header("Cc", _address_list(cc)))
    head += [
        _header("Subject", _text_tokens(_checked(mail.subject, "subject"))),
        _date_header(datetime.now(timezone.utc).replace(microsecond=0)),
        f"Message-ID: <{message_id}>\r\n",
    ]
    # A reference we cannot write as a msg-id (inbound mail may carry anything) is left out
    # rather than failing the reply: threading is a courtesy, the reply is not.
    parent = in_reply_to if in_reply_to and _MESSAGE_ID.fullmatch(in_reply_to) else None
    refs = [r for r in references if r and _MESSAGE_ID.fullmatch(r)]
    if parent:
        head.append(_header("In-Reply-To", [f"<{parent}>"]))
        if parent not in refs:
            refs.append(parent)
    if refs:
        head.append(_header("References", [f"<{r}>" for r in refs[-MAX_REFERENCES:]]))
    for name, value in {**AUTO_HEADERS, LOOP_HEADER: sender, **(extra_headers or {})}.items():
        head.append(_text_header(name, value))
    head.append("MIME-Version: 1.0\r\n")

    # Boundaries come from the Message-ID: the same mail always has the same bytes. '_' is
    # not in the base64 alphabet, so no base64 line can contain one; 7-bit parts are checked.
    tag = hashlib.sha256(message_id.encode("ascii")).hexdigest()[:24]
    body = _alternative(mail, f"=_vf_{tag}_a", avoid=f"=_vf_{tag}_")
    files = list(attachments)
    if files:
        boundary = f"=_vf_{tag}_m"
        parts = [body] + [_attachment(item) for item in files]
        body = _multipart("mixed", boundary, parts)
    return OutgoingMail(
        message_id=message_id,
        sender=f"{sender_name} <{sender}>" if sender_name else sender,
        subject=mail.subject,
        raw="".join(head).encode("ascii") + body,
    )


def queue(db: Database, *, template: str, msg: OutgoingMail, recipients: Sequence[str],
          cause_message: int | None = None, thread: str | None = None, answer: str | None = None,
          correspondent: str | None = None) -> int:
    """Store msg in the outbox for the sender thread; returns the outbox row id.

    ``thread`` is the conversation the mail belongs to (its own Message-ID when None);
    ``answer`` (receipt | auto | note) and ``correspondent`` mark a mail that answers someone,
    counted by the answer guard (store/answers.py).
    """
    stamp = now()
    # A plain INSERT: sqlite-utils' insert() reads the table's schema on every call.
    cursor = db.execute(
        "INSERT INTO outbox (message_id, template, cause_message, sender, recipients, subject, raw, "
        "state, attempts, next_attempt_at, created_at, thread, answer, correspondent, topic) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?, ?, ?, ?)",
        [msg.message_id, template, cause_message, msg.sender,
         json.dumps(sorted(set(r.lower() for r in recipients))), msg.subject, msg.raw, stamp, stamp,
         thread or f"mid:{msg.message_id}", answer, correspondent,
         answers.conversation_subject(msg.subject) if answer else None])
    return cursor.lastrowid


# -- headers --------------------------------------------------------------------------------

# The From, Date and automatic headers repeat from mail to mail (Date within a second): each
# is written once and kept, which was a quarter of the writer's time in a backlog (issue 12).
# Pure functions of their arguments; a ValueError is raised again each time (never cached).

@functools.lru_cache(maxsize=16)
def _from_header(sender_name: str, sender: str) -> str:
    return _header("From", _mailbox(sender_name, sender))


@functools.lru_cache(maxsize=1)
def _date_header(second: datetime) -> str:
    return f"Date: {format_datetime(second)}\r\n"  # whole seconds: the microseconds never showed


@functools.lru_cache(maxsize=64)
def _text_header(name: str, value: str) -> str:
    if not _HEADER_NAME.fullmatch(name):
        raise ValueError(f"not a header name: {name!r}")
    return _header(name, _text_tokens(_checked(value, name)))


def _checked(value: str, what: str) -> str:
    if _CONTROL.search(value):
        raise ValueError(f"{what} must not contain line breaks or control characters: {value!r}")
    return value


def _header(name: str, tokens: Sequence[str]) -> str:
    """Return 'Name: token token …' + CRLF, folded before any token that would pass MAX_LINE.

    Folding puts CRLF before a space that separates two tokens, so unfolding restores the
    value exactly (between two encoded-words the space is not part of the text anyway).
    """
    lines: list[str] = []
    line = name + ":"
    first = True
    for token in tokens:
        if not first and len(line) + 1 + len(token) > MAX_LINE:
            lines.append(line)
            line = " " + token
        else:
            line += " " + token
        first = False
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _encoded_words(text: str, size: int = WORD_BYTES) -> list[str]:
    """Return text as RFC 2047 'B' encoded-words of UTF-8, never splitting a character."""
    data = text.encode("utf-8", "replace")  # a lone surrogate becomes '?', never an exception
    words = []
    start = 0
    while start < len(data):
        end = min(start + size, len(data))
        while end < len(data) and 0x80 <= data[end] < 0xC0:  # a continuation byte: back up
            end -= 1
        words.append(f"=?utf-8?B?{base64.b64encode(data[start:end]).decode('ascii')}?=")
        start = end
    return words


def _text_tokens(text: str) -> list[str]:
    """Return the tokens of an unstructured header value (RFC 5322 §3.2.5)."""
    if not text:
        return []
    if _PLAIN_TEXT.fullmatch(text):
        words = text.split(" ")
        if max(map(len, words)) <= MAX_LINE - 2:  # longer words could not be folded: encode them
            return words
    return _encoded_words(text)


def _address(address: str) -> str:
    if not _ADDRESS.fullmatch(address) or any(c in address for c in '<>,;"()'):
        raise ValueError(f"not a plain ASCII mail address: {address!r}")
    return address


def _mailbox(name: str, address: str) -> list[str]:
    """Return the tokens of 'Name <address>', the name quoted or encoded as needed."""
    _address(address)
    if not name:
        return [address]
    _checked(name, "sender name")
    if name.isascii() and "=?" not in name:
        return formataddr((name, address)).rsplit(" ", 1)  # quotes the name where RFC 5322 needs it
    return [*_encoded_words(name), f"<{address}>"]


def _address_list(addresses: Sequence[str]) -> list[str]:
    tokens = [_address(a) + "," for a in addresses]
    tokens[-1] = tokens[-1][:-1]
    return tokens


# -- bodies ---------------------------------------------------------------------------------

def _multipart(subtype: str, boundary: str, parts: Sequence[bytes]) -> bytes:
    """Return the Content-Type header, the blank line and the parts between boundaries."""
    delimiter = b"\r\n--" + boundary.encode("ascii") + b"\r\n"
    return b"".join((
        f'Content-Type: multipart/{subtype};\r\n boundary="{boundary}"\r\n\r\n'.encode("ascii"),
        b"--", boundary.encode("ascii"), b"\r\n",
        delimiter.join(parts),
        b"\r\n--", boundary.encode("ascii"), b"--\r\n",
    ))


def _alternative(mail: RenderedMail, boundary: str, *, avoid: str) -> bytes:
    return _multipart("alternative", boundary, [_text_part("plain", mail.text, avoid=avoid),
                                                _text_part("html", mail.html, avoid=avoid)])


def _text_part(subtype: str, text: str, *, avoid: str) -> bytes:
    """Return a text part in UTF-8: 7-bit as it is when it can be, else base64.

    `avoid` is what every boundary of the mail starts with: a 7-bit part must not contain it.
    """
    # RFC 2046 §4.1.1: text travels with CRLF line ends, whatever the template wrote.
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\r\n")
    data = text.encode("utf-8", "replace")
    if (data.isascii() and avoid not in text and "\0" not in text
            and max(map(len, text.split("\r\n"))) <= 998):
        cte, payload = "7bit", data
    else:
        cte, payload = "base64", _base64(data)
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            f"Content-Transfer-Encoding: {cte}\r\n\r\n").encode("ascii") + payload


def _base64(data: bytes) -> bytes:
    # 76 characters a line (RFC 2045 §6.8); the CRLF before the next boundary ends the last.
    encoded = base64.b64encode(data)
    return b"\r\n".join([encoded[i:i + 76] for i in range(0, len(encoded), 76)])


def _attachment(item: FileAttachment) -> bytes:
    if not _MIME_TYPE.fullmatch(item.mime_type):
        raise ValueError(f"not a MIME type: {item.mime_type!r}")
    name = _checked(item.filename, "attachment file name")
    head = [f"Content-Type: {item.mime_type.lower()}"]
    disposition = ["Content-Disposition: attachment"]
    if name.isascii() and "=?" not in name:
        quoted = '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'
        head.append(f" name={quoted}")
        disposition.append(f" filename={quoted}")
    elif name:
        # Outlook and Foxmail read the RFC 2047 form, standard readers prefer RFC 2231's
        # filename* when both are there (as RFC 6266 recommends for the same header in
        # HTTP); the name in Content-Type is the legacy one, read in RFC 2047 form only.
        words = "\r\n ".join(_encoded_words(name))
        head.append(f' name="{words}"')
        disposition.append(f' filename="{words}"')
        disposition.extend(_rfc2231("filename", name))
    return "".join((
        ";\r\n".join(head), "\r\n",
        ";\r\n".join(disposition), "\r\n",
        "Content-Transfer-Encoding: base64\r\n\r\n",
    )).encode("ascii") + _base64(item.content)


def _rfc2231(param: str, value: str) -> list[str]:
    """Return ' param*=utf-8''…' lines, split into numbered sections if one would be too long."""
    pieces = [urllib.parse.quote(ch, safe="") for ch in value]  # per character: sections never split one
    encoded = "".join(pieces)
    if len(param) + len(encoded) + 11 <= MAX_LINE:
        return [f" {param}*=utf-8''{encoded}"]
    sections: list[str] = []
    current = "utf-8''"
    for piece in pieces:
        if len(current) + len(piece) > MAX_LINE - len(param) - 10:
            sections.append(current)
            current = ""
        current += piece
    sections.append(current)
    return [f" {param}*{i}*={text}" for i, text in enumerate(sections)]
