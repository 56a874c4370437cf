"""Turn raw RFC 5322 bytes into decoded, normalised text fields.

The standard library's own decoding is not trusted for the mail this service gets:
mail labelled gb2312 routinely holds GBK-only characters, Chinese clients put raw 8-bit
GBK or UTF-8 into headers and file names, and a label may be wrong or unknown. So the
message is parsed once with the fast ``compat32`` policy (which keeps raw bytes
recoverable through surrogate escapes) and every header, parameter and body is decoded
here, with explicit fallbacks, and every lossy step recorded in ``problems``. The parse is
the standard feedparser without its per-mail boundary regex (``parser.parse_bytes``).
"""

from __future__ import annotations

import binascii
import re
import secrets
from dataclasses import dataclass, field, replace
from datetime import datetime
from email.message import Message
from urllib.parse import unquote

from .charsets import SEVEN_BIT_CODECS, codec_for, decode_text
from .headers import (
    addresses,
    b64decode_lenient,
    decode_header_value,
    message_ids,
    param_text,
    parse_date,
    parse_header_params,
)
from .html_text import html_to_text
from .parser import parse_bytes

__all__ = ["Attachment", "DecodedMessage", "decode_message"]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Attachment:
    """Carry one attached or inline file of a message, transfer encoding undone.

    ``inline`` only repeats what the sender's client said (Content-Disposition inline, or a
    Content-ID without a disposition); Apple Mail and iOS say it of every attached file, so it
    tells nothing about what the file is for. ``body_image`` is the decision that counts: an
    image the HTML body shows through ``cid:`` (RFC 2392), which is decoration, not a file.
    """

    filename: str
    content_type: str
    payload: bytes = field(repr=False)
    inline: bool = False
    content_id: str = ""  # the Content-ID without its <>
    body_image: bool = False
    # What went wrong undoing the transfer encoding ("" when nothing did): such a file is not
    # what the sender attached and is never kept (e.g. base64 that does not decode).
    damage: str = ""


@dataclass
class DecodedMessage:
    """Hold one message with every header and body decoded to text.

    ``msg`` is the parsed ``email.message.Message`` (compat32) for later use.
    """

    message_id: str = ""
    subject: str = ""
    from_name: str = ""
    from_addr: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    reply_to: str = ""
    date: datetime | None = None
    in_reply_to: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    text: str = ""
    html: str = ""
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    content_type: str = "text/plain"
    raw_size: int = 0
    # Larger than the limit given to decode_message: only the header was read.
    too_large: bool = False
    msg: Message | None = field(default=None, repr=False, compare=False)
    # Raw header values by lower-cased name, built once so header() lookups are cheap.
    _header_index: dict[str, list[str]] = field(default_factory=dict, repr=False, compare=False)
    # Charset declared by the body, used to read raw 8-bit bytes in headers.
    _hint: str | None = field(default=None, repr=False, compare=False)

    def header(self, name: str) -> str:
        """Return the first header called ``name`` decoded, or '' if there is none."""
        values = self._header_index.get(name.lower())
        if not values:
            return ""
        return decode_header_value(values[0], self._hint, None, "")

    def headers(self, name: str) -> list[str]:
        """Return every header called ``name``, decoded, in message order."""
        return [
            decode_header_value(v, self._hint, None, "")
            for v in self._header_index.get(name.lower(), ())
        ]


# --------------------------------------------------------------------------- bodies

# A cid: URL in an HTML attribute or CSS url(); it ends at a quote, space, bracket or paren.
_CID_REF = re.compile(r"""\bcid:([^\s"'<>()]+)""", re.I)
_HTML_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_UNSAFE_FILENAME = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')
_MAX_DEPTH = 40
_DEFECT_PHRASES = {
    "NoBoundaryInMultipartDefect": "multipart without a boundary",
    "StartBoundaryNotFoundDefect": "MIME boundary not found",
    "CloseBoundaryNotFoundDefect": "closing MIME boundary missing",
    "FirstHeaderLineIsContinuationDefect": "first header line is a continuation",
    "MisplacedEnvelopeHeaderDefect": "misplaced envelope 'From ' line",
    "MissingHeaderBodySeparatorDefect": "malformed header line",
    "MultipartInvariantViolationDefect": "multipart without parts",
    "InvalidMultipartContentTransferEncodingDefect": "multipart with a transfer encoding",
    "UndecodableBytesDefect": "undecodable bytes",
    "InvalidBase64PaddingDefect": "damaged base64",
    "InvalidBase64CharactersDefect": "damaged base64",
    "InvalidBase64LengthDefect": "damaged base64",
}


class _Walk:
    """Collect bodies, attachments and problems while walking the MIME tree once."""

    __slots__ = ("plains", "htmls", "attachments", "problems", "hint", "cids", "large")

    def __init__(self, large: "_LargeBodies | None" = None) -> None:
        self.plains: list[str] = []
        self.htmls: list[str] = []
        self.attachments: list[Attachment] = []
        self.problems: list[str] = []
        self.hint: str | None = None
        # Content-IDs that some HTML part (chosen alternative or not) refers to with cid:.
        self.cids: set[str] = set()
        self.large = large


# --------------------------------------------------------------------------- large bodies

# A mail above this size has its long base64 bodies taken out before parsing.
_LARGE_MESSAGE = 512 * 1024
# A run of base64 lines (any length – some clients write a whole file on one line – and
# trailing blanks allowed) of at least _LONG_RUN bytes is a long body worth taking out.
# Possessive repeats: the engine keeps no backtracking marks per line (a plain repeat held
# 50 MB of them for a 28 MB mail).
_BASE64_RUN = re.compile(rb"(?m)^(?:[A-Za-z0-9+/=]++[ \t]*+\r?\n)++")
_LONG_RUN = 80 * 1024


class _LargeBodyMisplaced(Exception):
    """A placeholder ended up elsewhere than as the whole body of a base64 leaf part."""


class _LargeBodies:
    """Long base64 bodies of a large mail, decoded straight from the raw bytes.

    The standard parser holds a body several times over (the message as text, its lines,
    the joined payload; then our bytes and the decoded file): a 28 MB mail cost 250 MB.
    So each long run of base64 lines is replaced by a short placeholder before parsing, and
    the part whose whole body is that placeholder is decoded from a view of the raw bytes
    (binascii reads the view in place): the only new copy is the decoded file itself.

    Whatever the parse does with a placeholder other than that (a run inside a text part,
    inside a forwarded message that is re-serialised …) makes decode_message parse the
    untouched bytes instead: the shortcut never changes a result.
    """

    __slots__ = ("raw", "spans", "used")

    def __init__(self, raw: bytes, spans: dict[str, tuple[int, int]]) -> None:
        self.raw = raw
        self.spans = spans  # placeholder -> (start, end) of the run in raw
        self.used: set[str] = set()

    @classmethod
    def split(cls, raw: bytes) -> tuple[bytes, "_LargeBodies | None"]:
        """Return raw with its long base64 runs replaced by placeholders, and the runs (None: none)."""
        if len(raw) < _LARGE_MESSAGE:
            return raw, None
        runs = [(m.start(), m.end()) for m in _BASE64_RUN.finditer(raw) if m.end() - m.start() >= _LONG_RUN]
        if not runs:
            return raw, None
        nonce = secrets.token_hex(12)  # a placeholder no mail can contain by chance
        pieces: list[bytes] = []
        spans: dict[str, tuple[int, int]] = {}
        position = 0
        for n, (start, end) in enumerate(runs):
            token = f"VisitflowLargeBody{nonce}N{n}"
            spans[token] = (start, end)
            pieces += [raw[position:start], token.encode("ascii"), b"\r\n" if raw[end - 2:end] == b"\r\n" else b"\n"]
            position = end
        pieces.append(raw[position:])
        return b"".join(pieces), cls(raw, spans)

    def body(self, payload: str) -> memoryview | None:
        """Return the raw run a part's whole payload stands for, or None if it is none."""
        span = self.spans.get(payload.strip())
        if span is None:
            if "VisitflowLargeBody" in payload:
                raise _LargeBodyMisplaced
            return None
        self.used.add(payload.strip())
        return memoryview(self.raw)[span[0]:span[1]]

    def check_all_used(self) -> None:
        """Raise _LargeBodyMisplaced unless every placeholder was decoded as a whole body."""
        if len(self.used) != len(self.spans):
            raise _LargeBodyMisplaced


def _part_headers(part: Message) -> dict[str, str]:
    # Only the first of each MIME header counts; building the small dict once per part
    # is cheaper than Message.get(), which scans and sanitises on every call.
    found: dict[str, str] = {}
    for name, value in part.raw_items():
        key = name.lower()
        if key.startswith("content-") and key not in found:
            found[key] = value
    return found


def _payload_bytes(part: Message, cte: str, walk: _Walk, label: str) -> tuple[bytes, str]:
    """Return the part's bytes with the transfer encoding undone, and what went wrong ('' if nothing)."""
    payload = part._payload  # str from the parser; raw bytes kept as surrogate escapes
    if not isinstance(payload, str):
        return b"", ""
    if walk.large is not None:
        body = walk.large.body(payload)
        if body is not None:
            if cte != "base64":
                raise _LargeBodyMisplaced
            return _b64_payload(body, walk, label)
    try:
        data = payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        data = payload.encode("utf-8", "surrogateescape")
    if cte in ("7bit", "8bit", "binary", ""):
        return data, ""
    if cte == "base64":
        return _b64_payload(data, walk, label)
    if cte == "quoted-printable":
        return binascii.a2b_qp(data), ""
    if cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
        decoded = part.get_payload(decode=True)
        return (decoded, "") if isinstance(decoded, bytes) else (data, "its uuencoding does not decode")
    walk.problems.append(f"unknown transfer encoding {cte!r} in {label}")
    return data, f"its transfer encoding {cte!r} is unknown"


def _b64_payload(data: bytes | memoryview, walk: _Walk, label: str) -> tuple[bytes, str]:
    decoded, clean = b64decode_lenient(data)
    if not clean:
        walk.problems.append(f"damaged base64 in {label}")
        if not decoded or len(decoded) * 2 < len(bytes(data).strip()) // 4 * 3:
            # Most of it did not decode: what is left is not the file that was sent.
            return decoded, "its base64 encoding is damaged and does not decode"
    return decoded, ""


def _normalise_text(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _decode_text_part(data: bytes, label: str | None, ctype: str, walk: _Walk) -> str:
    text, lossless, unknown = decode_text(data, label)
    if unknown:
        walk.problems.append(f"unknown charset {label!r} in {ctype} body")
    if not lossless:
        walk.problems.append(f"undecodable bytes in {ctype} body replaced")
    return _normalise_text(text)


def _message_bytes(inner: object) -> bytes:
    if not isinstance(inner, Message):
        return b""
    try:
        return inner.as_bytes()
    except Exception:  # the generator can choke on what the parser accepted
        try:
            return str(inner).encode("utf-8", "surrogateescape")
        except Exception:
            return b""


def _safe_filename(name: str) -> str:
    name = _UNSAFE_FILENAME.sub("_", name).strip(" ._")
    return name[:120]


def _attach_message(
    part: Message, ctype: str, filename: str, inline: bool, cte: str, walk: _Walk
) -> None:
    payload = part._payload
    inners = payload if isinstance(payload, list) else []
    if ctype in ("message/rfc822", "message/global") or not ctype.startswith("message/"):
        inner = inners[0] if inners and isinstance(inners[0], Message) else None
        data = _message_bytes(inner)
        if cte in ("base64", "quoted-printable") and data:
            # Forbidden by RFC 2046 but sent anyway: the parser took the encoded text
            # for a header-less message, so undo the encoding and read the headers.
            if cte == "base64":
                data = b64decode_lenient(data)[0]
            else:
                data = binascii.a2b_qp(data)
            inner = parse_bytes(data, headersonly=True)
        if not filename:
            subject = ""
            if inner is not None:
                raw_subject = next((v for k, v in inner.raw_items() if k.lower() == "subject"), "")
                subject = decode_header_value(raw_subject, walk.hint, None, "")
            subject = _safe_filename(subject)
            filename = f"{subject}.eml" if subject else "forwarded.eml"
    else:
        # message/delivery-status and friends: blocks of fields, kept as they came.
        data = b"\n".join(_message_bytes(inner) for inner in inners)
    walk.attachments.append(Attachment(filename, ctype, data, inline))


def _walk(part: Message, walk: _Walk, depth: int) -> None:
    for defect in part.defects:
        name = type(defect).__name__
        walk.problems.append(_DEFECT_PHRASES.get(name, name))
    heads = _part_headers(part)
    raw_ctype = heads.get("content-type")
    if raw_ctype is not None:
        ctype, params = parse_header_params(raw_ctype)
        if ctype.count("/") != 1 or " " in ctype:
            # RFC 2045 §5.2: an invalid type means text/plain (params are kept for the charset).
            ctype = "text/plain"
    else:
        ctype, params = part.get_default_type(), {}
    payload = part._payload
    maintype = ctype.partition("/")[0]

    if isinstance(payload, list):
        if depth >= _MAX_DEPTH:
            walk.problems.append("MIME parts nested too deeply; inner parts skipped")
            return
        if maintype == "multipart":
            if ctype == "multipart/alternative" and len(payload) > 1:
                _walk_alternative(payload, walk, depth)
            else:
                for sub in payload:
                    _walk(sub, walk, depth + 1)
            return
        disposition, dparams = parse_header_params(heads.get("content-disposition", ""))
        filename = _filename(dparams, params, walk)
        cte = heads.get("content-transfer-encoding", "").strip().lower()
        _attach_message(part, ctype, filename, disposition == "inline", cte, walk)
        return

    if maintype == "multipart":
        # A multipart the parser could not split (no or wrong boundary): its body
        # is whatever the sender typed, so read it as text.
        ctype = "text/plain"
    cte = heads.get("content-transfer-encoding", "").strip().lower()
    disposition, dparams = parse_header_params(heads.get("content-disposition", ""))
    charset_item = params.get("charset")
    label = charset_item[0].strip() if charset_item else None
    if label and not walk.hint:
        codec = codec_for(label)
        if codec and codec != "utf-8" and codec not in SEVEN_BIT_CODECS:
            walk.hint = label
    filename = _filename(dparams, params, walk, label)
    data, damage = _payload_bytes(part, cte, walk, ctype + " part")

    if (
        (ctype == "text/plain" or ctype == "text/html")
        and not filename
        and disposition != "attachment"
    ):
        if ctype == "text/plain":
            walk.plains.append(_decode_text_part(data, label, ctype, walk))
        else:
            if not label:
                meta = _HTML_META_CHARSET.search(data, 0, 4096)
                label = meta.group(1).decode("ascii") if meta else None
            html = _decode_text_part(data, label, ctype, walk)
            walk.htmls.append(html)
            walk.cids.update(_cid_key(unquote(ref)) for ref in _CID_REF.findall(html))
        return
    inline = disposition == "inline" or (not disposition and "content-id" in heads)
    if not filename and ctype in ("message/rfc822", "message/global"):
        filename = "forwarded.eml"
    content_id = heads.get("content-id", "").strip().strip("<>").strip()
    walk.attachments.append(Attachment(filename, ctype, data, inline, content_id, damage=damage))


def _cid_key(value: str) -> str:
    """Return a Content-ID or cid: reference as one comparable key (no <>, no space, lower case)."""
    return value.strip().strip("<>").strip().lower()


def _mark_body_images(walk: _Walk) -> list[Attachment]:
    """Return the attachments with body_image set on each image the HTML shows through cid:.

    Only these are decoration. Everything else is a file the sender attached, whatever its
    disposition says – Apple Mail sends PDFs and photos as ``inline; filename=…`` without a
    Content-ID. A non-image that the HTML refers to (Apple Mail can show a PDF's first page)
    is still a file.
    """
    if not walk.cids:
        return walk.attachments
    return [replace(a, body_image=True)
            if a.content_id and _cid_key(a.content_id) in walk.cids and a.content_type.startswith("image/")
            else a
            for a in walk.attachments]


def _walk_alternative(parts: list, walk: _Walk, depth: int) -> None:
    # Each alternative is walked on its own; text/plain wins for the text, the
    # last HTML alternative for the html, and every alternative's files are kept.
    subs = []
    for sub in parts:
        sub_walk = _Walk(walk.large)
        sub_walk.hint = walk.hint
        _walk(sub, sub_walk, depth + 1)
        walk.problems.extend(sub_walk.problems)
        walk.attachments.extend(sub_walk.attachments)
        walk.cids.update(sub_walk.cids)
        if not walk.hint and sub_walk.hint:
            walk.hint = sub_walk.hint
        subs.append(sub_walk)
    plain = next((s for s in subs if any(p.strip() for p in s.plains)), None)
    html = next((s for s in reversed(subs) if s.htmls), None)
    if plain is not None:
        walk.plains.extend(plain.plains)
    if html is not None:
        walk.htmls.extend(html.htmls)


def _filename(
    dparams: dict[str, tuple[str, str | None]],
    ctparams: dict[str, tuple[str, str | None]],
    walk: _Walk,
    label: str | None = None,
) -> str:
    item = dparams.get("filename") or ctparams.get("name")
    if item is None:
        return ""
    hint = label if label and codec_for(label) not in ("", None, "utf-8") else walk.hint
    return param_text(item, hint, walk.problems, "attachment file name")


# --------------------------------------------------------------------------- message


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [i for i in items if not (i in seen or seen.add(i))]


_HEADER_END = re.compile(rb"\r?\n\r?\n")


def decode_message(raw: bytes, *, max_bytes: int | None = None) -> DecodedMessage:
    """Parse and decode one raw RFC 5322 message; never raises, reporting trouble in ``problems``.

    A message longer than ``max_bytes`` has only its header section decoded (sender,
    subject, Message-ID …): ``too_large`` is set, and it has no text and no attachments.
    """
    if max_bytes is not None and isinstance(raw, bytes) and len(raw) > max_bytes:
        end = _HEADER_END.search(raw, 0, 1024 * 1024)
        result = decode_message(raw[:end.end()] if end else raw[:64 * 1024])
        result.raw_size, result.too_large, result.text, result.html = len(raw), True, "", ""
        result.attachments = []
        return result
    if raw is None:
        raw = b""
    elif isinstance(raw, str):
        raw = raw.encode("utf-8", "surrogateescape")
    elif not isinstance(raw, bytes):
        try:
            raw = bytes(raw)
        except Exception:
            return DecodedMessage(problems=["input is not bytes"])
    result = DecodedMessage(raw_size=len(raw))
    try:
        stripped, large = _LargeBodies.split(raw)
        try:
            _fill(result, stripped, large)
        except _LargeBodyMisplaced:
            result = DecodedMessage(raw_size=len(raw))
            _fill(result, raw, None)
    except Exception as exc:  # last line of defence: the daemon must keep running
        result.problems.append(f"message could not be decoded ({type(exc).__name__})")
    result.problems = _dedupe(result.problems)
    return result


def _fill(result: DecodedMessage, raw: bytes, large: _LargeBodies | None) -> None:
    if not raw or raw.isspace():
        result.problems.append("empty message")
    msg = parse_bytes(raw)
    result.msg = msg
    walk = _Walk(large)
    try:
        _walk(msg, walk, 0)
    except RecursionError:
        walk.problems.append("MIME parts nested too deeply")
    if large is not None:
        large.check_all_used()
    index: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        index.setdefault(name.lower(), []).append(value)
    if "content-type" in index:
        ctype = parse_header_params(index["content-type"][0])[0]
        if ctype.count("/") == 1 and " " not in ctype:
            result.content_type = ctype
    result._header_index = index
    result._hint = hint = walk.hint
    problems = result.problems

    def first(name: str) -> str:
        values = index.get(name)
        return values[0] if values else ""

    result.subject = decode_header_value(first("subject"), hint, problems, "Subject")
    senders = addresses(index.get("from", [])[:1], hint, problems, "From")
    if senders:
        result.from_name, result.from_addr = senders[0]
        if not result.from_addr and not result.from_name:
            result.from_name = decode_header_value(first("from"), hint, None, "")
    elif first("from"):
        result.from_name = decode_header_value(first("from"), hint, None, "")
    result.to = [a for _, a in addresses(index.get("to", []), hint, problems, "To") if a]
    result.cc = [a for _, a in addresses(index.get("cc", []), hint, problems, "Cc") if a]
    reply_to = addresses(index.get("reply-to", [])[:1], hint, problems, "Reply-To")
    result.reply_to = next((a for _, a in reply_to if a), "")
    ids = message_ids(decode_header_value(first("message-id"), hint, None, ""))
    result.message_id = ids[0] if ids else ""
    result.in_reply_to = message_ids(" ".join(index.get("in-reply-to", [])))
    result.references = message_ids(" ".join(index.get("references", [])))
    date = first("date")
    result.date = parse_date(date) if date else None

    result.html = "\n".join(walk.htmls)
    if walk.htmls and not any(p.strip() for p in walk.plains):
        # HTML-only mail, or an empty text/plain alternative (QQ Mail sends those).
        result.text = html_to_text(result.html)
    else:
        result.text = "\n".join(walk.plains)
    result.attachments = _mark_body_images(walk)
    problems.extend(walk.problems)
