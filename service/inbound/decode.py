"""Turn raw RFC 5322 bytes into decoded, normalised text fields.

The standard library's own decoding is not trusted for the mail this service gets:
mail labelled gb2312 routinely holds GBK-only characters, Chinese clients put raw 8-bit
GBK or UTF-8 into headers and file names, and a label may be wrong or unknown. So the
message is parsed once with the fast ``compat32`` policy (which keeps raw bytes
recoverable through surrogate escapes) and every header, parameter and body is decoded
here, with explicit fallbacks, and every lossy step recorded in ``problems``.
"""

from __future__ import annotations

import binascii
import codecs
import re
import urllib.parse
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email import policy as _email_policy
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape as _html_unescape

__all__ = [
    "HR_LINE",
    "Attachment",
    "DecodedMessage",
    "decode_bytes",
    "decode_message",
    "html_to_text",
]


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class Attachment:
    """Carry one attached or inline file of a message, transfer encoding undone."""

    filename: str
    content_type: str
    payload: bytes = field(repr=False)
    inline: bool = False


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
        return _decode_header_value(values[0], self._hint, None, "")

    def headers(self, name: str) -> list[str]:
        """Return every header called ``name``, decoded, in message order."""
        return [
            _decode_header_value(v, self._hint, None, "")
            for v in self._header_index.get(name.lower(), ())
        ]


# --------------------------------------------------------------------------- charsets

# Labels that real clients use for GB text. gb18030 is a superset of all of them, and
# Foxmail/Outlook label GBK text "gb2312", so decoding strictly as gb2312 loses 镕, 喆.
_LABEL_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "x-gbk": "gb18030",
    "gb-2312-80": "gb18030",
    "gb2312-80": "gb18030",
    "gb-2312": "gb18030",
    "x-gb2312": "gb18030",
    "cp936": "gb18030",
    "ms936": "gb18030",
    "windows-936": "gb18030",
    "euc-cn": "gb18030",
    "x-euc-cn": "gb18030",
    "csgb2312": "gb18030",
    "chinese": "gb18030",
    "gb18030-2000": "gb18030",
    "x-x-big5": "big5",
    "x-big5": "big5",
    "cn-big5": "big5",
    # Microsoft's supersets are what Korean/Japanese clients really send.
    "ks-c-5601-1987": "cp949",
    "ks-c-5601": "cp949",
    "euc-kr": "cp949",
    "shift-jis": "cp932",
    "sjis": "cp932",
    "x-sjis": "cp932",
    "windows-31j": "cp932",
    "unicode-1-1-utf-7": "utf-7",
    "windows-874": "cp874",
    "iso-8859-8-i": "iso8859-8",
    "iso-8859-6-i": "iso8859-6",
    # WHATWG: mail labelled latin-1 is in practice windows-1252 (curly quotes, €).
    "iso-8859-1": "cp1252",
    "latin1": "cp1252",
    "latin-1": "cp1252",
    "iso8859-1": "cp1252",
    "l1": "cp1252",
    "utf8": "utf-8",
}
# Codecs Python knows that are not text encodings a mail could be written in.
_NOT_MAIL_CODECS = frozenset(
    {
        "idna", "punycode", "raw-unicode-escape", "unicode-escape", "charmap", "undefined",
        "mbcs", "oem",
    }
)
# Codecs whose bytes are 7-bit but must still go through the codec (escape sequences).
_SEVEN_BIT_CODECS = frozenset(
    {
        "utf-7", "hz",
        "iso2022_jp", "iso2022_jp_1", "iso2022_jp_2", "iso2022_jp_2004", "iso2022_jp_3",
        "iso2022_jp_ext", "iso2022_kr",
        "utf-16", "utf-16-be", "utf-16-le", "utf-32", "utf-32-be", "utf-32-le",
    }
)
_CJK_CODECS = frozenset(
    {
        "gb18030", "gbk", "gb2312", "big5", "big5hkscs", "cp950", "cp949", "euc_kr",
        "cp932", "shift_jis", "shift_jis_2004", "shift_jisx0213", "euc_jp",
        "euc_jis_2004", "euc_jisx0213", "johab",
    }
)
# Tried, in order, when a known label fails to decode its own bytes.
_LABEL_FALLBACKS = {
    "big5": ("big5hkscs", "cp950"),
    "big5hkscs": ("cp950",),
    "cp1252": ("iso8859-1",),
    "iso2022_jp": ("iso2022_jp_ext", "iso2022_jp_2"),
    "shift_jis": ("cp932",),
    "euc_jp": ("euc_jis_2004",),
}
# For a missing, unknown or failing label (hint is inserted after utf-8).
_GUESS_CHAIN = ("utf-8", "gb18030", "big5", "big5hkscs")

_codec_cache: dict[str, str | None] = {}


def _codec_for(label: str | None) -> str | None:
    """Return the Python codec for a charset label; '' for no label, None if unknown."""
    if not label:
        return ""
    try:
        return _codec_cache[label]
    except KeyError:
        pass
    key = label.strip().strip("\"'").strip().lower().replace("_", "-").replace(" ", "-")
    key = key.split("*", 1)[0]  # RFC 2231 language suffix: utf-8*en
    codec: str | None
    if not key:
        codec = ""
    elif key in _LABEL_ALIASES:
        codec = _LABEL_ALIASES[key]
    else:
        try:
            info = codecs.lookup(key)
        except (LookupError, ValueError):
            codec = None
        else:
            codec = info.name
            if not getattr(info, "_is_text_encoding", True) or codec in _NOT_MAIL_CODECS:
                codec = None
            elif codec in ("gb2312", "gbk"):
                codec = "gb18030"
            elif codec == "ascii":
                # us-ascii is what clients write when they did not think about it; 8-bit
                # bytes under it are guessed exactly like unlabelled ones.
                codec = ""
            elif codec == "iso8859-1":
                codec = "cp1252"
    if len(_codec_cache) < 4096:  # labels come from untrusted mail: bound the cache
        _codec_cache[label] = codec
    return codec


def _try_decode(data: bytes, codec: str) -> str | None:
    try:
        return data.decode(codec)
    except (UnicodeDecodeError, LookupError):
        return None


def _is_plausible_cjk_utf8(text: str) -> bool:
    # GBK/Big5 bytes that happen to be valid UTF-8 nearly always produce 2-byte
    # sequences (Latin/Greek/Cyrillic letters); real Chinese UTF-8 only 3-byte ones.
    return all(ch < "\x80" or ch >= "\u2000" for ch in text)


def _undo_latin1_roundtrip(text: str, codec: str) -> str:
    # Some gateways read CJK bytes as latin-1 and re-encode them as UTF-8. If every
    # non-ASCII character is in U+0080..U+00FF and those characters, taken as bytes,
    # decode as the CJK charset the message declares into nothing but CJK text, that
    # is what the sender wrote. (A lone "ü" before a letter must stay "ü".)
    if codec not in _CJK_CODECS or not all(ch <= "\xff" for ch in text):
        return text
    try:
        fixed = text.encode("latin-1").decode(codec)
    except (UnicodeError, LookupError):
        return text
    high = [ch for ch in fixed if ch >= "\x80"]
    if len(high) >= 2 and all(ch >= "\u2000" and ch != "\ufffd" for ch in high):
        return fixed
    return text


def _in_gb2312(ch: str) -> bool:
    try:
        ch.encode("gb2312")
    except UnicodeEncodeError:
        return False
    return True


def _is_plausible_gb(text: str) -> bool:
    # gb18030 accepts almost any byte pair, so Latin-1 text ("här är") decodes as
    # rare CJK characters. Real Chinese is overwhelmingly in the GB2312 set (GBK-only
    # characters such as 镕 are the exception), so look at a sample.
    sample = [ch for ch in text[:4000] if ch >= "\x80"]
    if not sample:
        return True
    return 2 * sum(1 for ch in sample if _in_gb2312(ch)) >= len(sample)


def _decode(data: bytes, label: str | None, hint: str | None = None) -> tuple[str, bool, bool]:
    """Decode ``data`` declared as ``label``; return (text, lossless, label_unknown)."""
    if not data:
        return "", True, False
    codec = _codec_for(label)
    if data.isascii() and codec not in _SEVEN_BIT_CODECS:
        # The common case: nothing for a charset to change.
        return data.decode("ascii"), True, False
    unknown = codec is None
    attempts: dict[str, str | None] = {}

    def attempt(candidate: str) -> str | None:
        if candidate not in attempts:
            attempts[candidate] = _try_decode(data, candidate)
        return attempts[candidate]

    if codec:
        if codec != "utf-8" and codec not in _SEVEN_BIT_CODECS:
            # Mislabelled UTF-8 is the commonest lie; valid UTF-8 with multi-byte
            # sequences is almost never an accident of another charset.
            text = attempt("utf-8")
            if text is not None and (codec not in _CJK_CODECS or _is_plausible_cjk_utf8(text)):
                return text, True, False
        for candidate in (codec, *_LABEL_FALLBACKS.get(codec, ())):
            text = attempt(candidate)
            if text is not None:
                return text, True, False
    hint_codec = _codec_for(hint) if hint else ""
    chain = [c for c in _GUESS_CHAIN if c != codec]
    if hint_codec and hint_codec not in chain:
        chain.insert(1, hint_codec)
    for candidate in chain:
        text = attempt(candidate)
        if text is not None:
            if candidate == "utf-8":
                text = _undo_latin1_roundtrip(text, codec or hint_codec or "")
            elif candidate == "gb18030" and not _is_plausible_gb(text):
                western = attempt("cp1252")
                if western is not None:
                    return western, True, unknown
            return text, True, unknown
    # Nothing decodes cleanly: keep every byte visible as U+FFFD in whichever reading
    # loses least, and let the caller report it.
    best = None
    for candidate in (codec or "utf-8", "utf-8", "gb18030"):
        try:
            text = data.decode(candidate, "replace")
        except LookupError:
            continue
        if best is None or text.count("\ufffd") < best.count("\ufffd"):
            best = text
    return best or data.decode("utf-8", "replace"), False, unknown


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, bool]:
    """Decode ``data`` labelled ``charset``; return the text and whether no byte was lost.

    gb2312/gbk labels are read as gb18030, big5 falls back to big5hkscs, a missing,
    wrong or unknown label is guessed (utf-8, gb18030, big5) and, if nothing fits,
    bytes are replaced by U+FFFD and ``lossless`` is False.
    """
    text, lossless, _ = _decode(bytes(data or b""), charset)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, lossless


# --------------------------------------------------------------------------- headers

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]")
_NEWLINES = re.compile(r"[\r\n]+")
_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")


def _b64decode_lenient(data: bytes) -> tuple[bytes, bool]:
    """Decode base64 accepting bad padding and junk; return (bytes, clean).

    Missing '=' padding is not counted as damage: Apple Mail and others omit it
    and nothing is lost. Junk characters or a dangling sextet are.
    """
    try:
        return binascii.a2b_base64(data), True
    except binascii.Error:
        pass
    cleaned = _BASE64_JUNK.sub(b"", data)
    clean = len(cleaned) == len(data.rstrip(b"=").translate(None, b" \t\r\n"))
    rest = len(cleaned) % 4
    if rest == 1:
        cleaned = cleaned[:-1]  # a lone sextet cannot carry a byte
        clean = False
    elif rest:
        cleaned += b"=" * (4 - rest)
    try:
        return binascii.a2b_base64(cleaned), clean
    except binascii.Error:
        return b"", False


def _raw_header_text(value: str, hint: str | None, problems: list[str] | None, where: str) -> str:
    # compat32 keeps raw 8-bit header bytes as surrogate escapes; read them back
    # as bytes and decode them (utf-8, the body's charset, gb18030, big5).
    try:
        raw = value.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        return value
    text, lossless, _ = _decode(raw, None, hint)
    if not lossless and problems is not None:
        problems.append(f"undecodable bytes in {where} replaced")
    return text


def _decode_words(value: str, problems: list[str] | None, where: str) -> str:
    """Decode RFC 2047 encoded words, joining adjacent words of one charset as bytes."""
    out: list[str] = []
    pos = 0
    group_codec: str | None = None
    group_label = ""
    group_bytes: list[bytes] = []

    def flush() -> None:
        nonlocal group_bytes
        if group_bytes:
            text, lossless, unknown = _decode(b"".join(group_bytes), group_label)
            if problems is not None:
                if unknown:
                    problems.append(f"unknown charset {group_label!r} in {where}")
                if not lossless:
                    problems.append(f"undecodable bytes in {where} replaced")
            out.append(text)
            group_bytes = []

    for match in _ENCODED_WORD.finditer(value):
        between = value[pos : match.start()]
        label, kind, payload = match.groups()
        codec = _codec_for(label)
        key = codec if codec is not None else label.lower()
        if between and (not group_bytes or between.strip(" \t")):
            flush()
            out.append(between)
        elif group_bytes and key != group_codec:
            # Whitespace between encoded words is dropped (RFC 2047 §6.2).
            flush()
        # Words hold ASCII; anything else came from raw 8-bit bytes decoded above.
        encoded = payload.encode("utf-8", "surrogateescape")
        if kind in "bB":
            data, clean = _b64decode_lenient(encoded.replace(b" ", b""))
            if not clean and problems is not None:
                problems.append(f"damaged base64 encoded word in {where}")
        else:
            data = binascii.a2b_qp(encoded, header=True)
        group_codec, group_label = key, label
        group_bytes.append(data)
        pos = match.end()
    flush()
    out.append(value[pos:])
    return "".join(out)


def _decode_header_value(
    value: str, hint: str | None, problems: list[str] | None, where: str
) -> str:
    """Decode one raw header value: unfold, 8-bit bytes, RFC 2047 words."""
    if not isinstance(value, str):  # a Header object set by code, not by the parser
        value = str(value)
    if "\n" in value:
        value = _FOLD.sub(" ", value)
    if not value.isascii():
        value = _raw_header_text(value, hint, problems, where)
    if "=?" in value:
        value = _decode_words(value, problems, where)
    if "\n" in value or "\r" in value:
        value = _NEWLINES.sub(" ", value)
    return value.strip()


# --------------------------------------------------------------------------- addresses, ids, dates

_MSGID = re.compile(r"<([^<>]*)>")
_COMMENT = re.compile(r"\([^()]*\)")
_ADDR_OK = re.compile(r"[^@\s<>(),;:\"]+@[^@\s<>(),;:\"]+")
# One list element in the forms real clients write: "Name" <a@b>, Name <a@b>, <a@b>,
# a@b. Anything else (comments, groups, escapes) goes to email.utils.getaddresses,
# which is correct but several times slower.
_SIMPLE_ADDRESS = re.compile(
    r'[\s,]*(?:(?:"([^"\\]*)"|([^",<>()\\;:]*?))\s*<([^<>"()\\\s,;:]*)>'
    r'|([^\s",<>()\\;:]+))\s*(?=,|$)'
)


def _simple_addresses(value: str) -> list[tuple[str, str]] | None:
    pairs = []
    pos, end = 0, len(value)
    while pos < end:
        match = _SIMPLE_ADDRESS.match(value, pos)
        if match is None:
            if not value[pos:].strip(" \t,"):
                break
            return None
        quoted, bare, angle, plain = match.groups()
        if plain is not None:
            pairs.append(("", plain))
        else:
            pairs.append((quoted if quoted is not None else bare.strip(), angle))
        pos = match.end()
    return pairs


def _addresses(
    values: list[str], hint: str | None, problems: list[str], where: str
) -> list[tuple[str, str]]:
    """Return (decoded name, lower-cased address) pairs from raw address headers."""
    texts = []
    for value in values:
        if "\n" in value:
            value = _FOLD.sub(" ", value)
        if not value.isascii():
            value = _raw_header_text(value, hint, problems, where)
        texts.append(value)
    result = []
    pairs: list[tuple[str, str]] = []
    for text in texts:
        simple = _simple_addresses(text)
        if simple is None:
            try:
                simple = getaddresses([text])
            except Exception:  # the address parser has raised on hostile input before
                simple = []
        pairs.extend(simple)
    for name, addr in pairs:
        if "=?" in name:
            name = _decode_words(name, problems, where)
        addr = addr.strip().strip("<>").lower()
        if not _ADDR_OK.fullmatch(addr):
            addr = ""
        if name or addr:
            result.append((name.strip(), addr))
    return result


def _message_ids(value: str) -> list[str]:
    ids = [m.strip() for m in _MSGID.findall(value)]
    if not ids:
        ids = [part.strip("<>") for part in value.replace(",", " ").split()]
    seen: set[str] = set()
    return [i for i in ids if i and not (i in seen or seen.add(i))]


def _parse_date(value: str) -> datetime | None:
    if "(" in value:
        # "00:19:00 (EDT) -0400": a comment before the zone hides it from the parser.
        value = _COMMENT.sub(" ", value)
    try:
        # Not parsedate_tz(): it reports a missing zone as +0000.
        when = parsedate_to_datetime(value)
    except Exception:  # unparseable, out-of-range fields, overflow
        return None
    if when.tzinfo is None and "-0000" in value:
        # RFC 5322 §3.3: -0000 is UTC with no claim about the sender's zone.
        return when.replace(tzinfo=timezone.utc)
    return when


# --------------------------------------------------------------------------- MIME parameters

# name=value or name="quoted \" value" after a ';'. Unquoted values may hold spaces
# because clients write filename=my report.docx.
_PARAM = re.compile(r';\s*([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)', re.S)
_QUOTED_PAIR = re.compile(r"\\(.)", re.S)
_SECTION = re.compile(r"^(.*?)\*(\d+)(\*?)$")


def _parse_header_params(value: str) -> tuple[str, dict[str, tuple[str, str | None]]]:
    """Split a Content-Type/Disposition value into (main value, params).

    Params map a lower-case name to (value, rfc2231_charset): for RFC 2231 values the
    text still holds percent-decoded bytes as latin-1 code points (or surrogates).
    """
    if "\n" in value:
        value = _FOLD.sub(" ", value)
    main, sep, rest = value.partition(";")
    params: dict[str, tuple[str, str | None]] = {}
    if not sep:
        return main.strip().lower(), params
    sections: dict[str, dict[int, tuple[str, bool]]] = {}
    for match in _PARAM.finditer(";" + rest):
        name = match.group(1).lower()
        raw = match.group(2).strip()
        if raw.startswith('"'):
            raw = raw[1:-1] if raw.endswith('"') and len(raw) > 1 else raw[1:]
            if "\\" in raw:
                raw = _QUOTED_PAIR.sub(r"\1", raw)
        section = _SECTION.match(name)
        if section:
            base, index, star = section.groups()
            sections.setdefault(base, {})[int(index)] = (raw, bool(star))
        elif name.endswith("*"):
            sections.setdefault(name[:-1], {})[0] = (raw, True)
        elif name not in params:
            params[name] = (raw, None)
    for base, parts in sections.items():
        charset: str | None = None
        chunks: list[bytes] = []
        for i, (raw, encoded) in enumerate(parts[k] for k in sorted(parts)):
            if encoded and i == 0 and raw.count("'") >= 2:
                charset, _lang, raw = raw.split("'", 2)
            data = raw.encode("utf-8", "surrogateescape")  # raw 8-bit bytes come back as they were
            chunks.append(urllib.parse.unquote_to_bytes(data) if encoded else data)
        # An RFC 2231 value replaces a plain one of the same name (RFC 2231 §4 says
        # clients may send both; the encoded one is the better).
        params[base] = (b"".join(chunks).decode("latin-1"), charset or "")
    return main.strip().lower(), params


def _param_text(
    item: tuple[str, str | None], hint: str | None, problems: list[str], where: str
) -> str:
    """Decode one parameter value from _parse_header_params to text."""
    raw, charset = item
    if charset is not None:
        text, lossless, unknown = _decode(raw.encode("latin-1"), charset or None, hint)
        if unknown and charset:
            problems.append(f"unknown charset {charset!r} in {where}")
        if not lossless:
            problems.append(f"undecodable bytes in {where} replaced")
        if "=?" in text:
            text = _decode_words(text, problems, where)
        return text.strip()
    return _decode_header_value(raw, hint, problems, where)


# --------------------------------------------------------------------------- bodies

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

    __slots__ = ("plains", "htmls", "attachments", "problems", "hint")

    def __init__(self) -> None:
        self.plains: list[str] = []
        self.htmls: list[str] = []
        self.attachments: list[Attachment] = []
        self.problems: list[str] = []
        self.hint: str | None = None


def _part_headers(part: Message) -> dict[str, str]:
    # Only the first of each MIME header counts; building the small dict once per part
    # is cheaper than Message.get(), which scans and sanitises on every call.
    found: dict[str, str] = {}
    for name, value in part.raw_items():
        key = name.lower()
        if key.startswith("content-") and key not in found:
            found[key] = value
    return found


def _payload_bytes(part: Message, cte: str, walk: _Walk, label: str) -> bytes:
    payload = part._payload  # str from the parser; raw bytes kept as surrogate escapes
    if not isinstance(payload, str):
        return b""
    try:
        data = payload.encode("ascii", "surrogateescape")
    except UnicodeEncodeError:
        data = payload.encode("utf-8", "surrogateescape")
    if cte in ("7bit", "8bit", "binary", ""):
        return data
    if cte == "base64":
        decoded, clean = _b64decode_lenient(data)
        if not clean:
            walk.problems.append(f"damaged base64 in {label}")
        return decoded
    if cte == "quoted-printable":
        return binascii.a2b_qp(data)
    if cte in ("x-uuencode", "uuencode", "uue", "x-uue"):
        decoded = part.get_payload(decode=True)
        return decoded if isinstance(decoded, bytes) else data
    walk.problems.append(f"unknown transfer encoding {cte!r} in {label}")
    return data


def _normalise_text(text: str) -> str:
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _decode_text_part(data: bytes, label: str | None, ctype: str, walk: _Walk) -> str:
    text, lossless, unknown = _decode(data, label)
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
                data = _b64decode_lenient(data)[0]
            else:
                data = binascii.a2b_qp(data)
            inner = BytesParser(policy=_email_policy.compat32).parsebytes(data, headersonly=True)
        if not filename:
            subject = ""
            if inner is not None:
                raw_subject = next((v for k, v in inner.raw_items() if k.lower() == "subject"), "")
                subject = _decode_header_value(raw_subject, walk.hint, None, "")
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
        ctype, params = _parse_header_params(raw_ctype)
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
        disposition, dparams = _parse_header_params(heads.get("content-disposition", ""))
        filename = _filename(dparams, params, walk)
        cte = heads.get("content-transfer-encoding", "").strip().lower()
        _attach_message(part, ctype, filename, disposition == "inline", cte, walk)
        return

    if maintype == "multipart":
        # A multipart the parser could not split (no or wrong boundary): its body
        # is whatever the sender typed, so read it as text.
        ctype = "text/plain"
    cte = heads.get("content-transfer-encoding", "").strip().lower()
    disposition, dparams = _parse_header_params(heads.get("content-disposition", ""))
    charset_item = params.get("charset")
    label = charset_item[0].strip() if charset_item else None
    if label and not walk.hint:
        codec = _codec_for(label)
        if codec and codec != "utf-8" and codec not in _SEVEN_BIT_CODECS:
            walk.hint = label
    filename = _filename(dparams, params, walk, label)
    data = _payload_bytes(part, cte, walk, ctype + " part")

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
            walk.htmls.append(_decode_text_part(data, label, ctype, walk))
        return
    inline = disposition == "inline" or (not disposition and "content-id" in heads)
    if not filename and ctype in ("message/rfc822", "message/global"):
        filename = "forwarded.eml"
    walk.attachments.append(Attachment(filename, ctype, data, inline))


def _walk_alternative(parts: list, walk: _Walk, depth: int) -> None:
    # Each alternative is walked on its own; text/plain wins for the text, the
    # last HTML alternative for the html, and every alternative's files are kept.
    subs = []
    for sub in parts:
        sub_walk = _Walk()
        sub_walk.hint = walk.hint
        _walk(sub, sub_walk, depth + 1)
        walk.problems.extend(sub_walk.problems)
        walk.attachments.extend(sub_walk.attachments)
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
    hint = label if label and _codec_for(label) not in ("", None, "utf-8") else walk.hint
    return _param_text(item, hint, walk.problems, "attachment file name")


# --------------------------------------------------------------------------- message


def _dedupe(items: list[str]) -> list[str]:
    seen: set[str] = set()
    return [i for i in items if not (i in seen or seen.add(i))]


def decode_message(raw: bytes) -> DecodedMessage:
    """Parse and decode one raw message; never raises, reporting trouble in ``problems``."""
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
        _fill(result, raw)
    except Exception as exc:  # last line of defence: the daemon must keep running
        result.problems.append(f"message could not be decoded ({type(exc).__name__})")
    result.problems = _dedupe(result.problems)
    return result


def _fill(result: DecodedMessage, raw: bytes) -> None:
    if not raw or raw.isspace():
        result.problems.append("empty message")
    msg = BytesParser(policy=_email_policy.compat32).parsebytes(raw)
    result.msg = msg
    walk = _Walk()
    try:
        _walk(msg, walk, 0)
    except RecursionError:
        walk.problems.append("MIME parts nested too deeply")
    index: dict[str, list[str]] = {}
    for name, value in msg.raw_items():
        index.setdefault(name.lower(), []).append(value)
    if "content-type" in index:
        ctype = _parse_header_params(index["content-type"][0])[0]
        if ctype.count("/") == 1 and " " not in ctype:
            result.content_type = ctype
    result._header_index = index
    result._hint = hint = walk.hint
    problems = result.problems

    def first(name: str) -> str:
        values = index.get(name)
        return values[0] if values else ""

    result.subject = _decode_header_value(first("subject"), hint, problems, "Subject")
    senders = _addresses(index.get("from", [])[:1], hint, problems, "From")
    if senders:
        result.from_name, result.from_addr = senders[0]
        if not result.from_addr and not result.from_name:
            result.from_name = _decode_header_value(first("from"), hint, None, "")
    elif first("from"):
        result.from_name = _decode_header_value(first("from"), hint, None, "")
    result.to = [a for _, a in _addresses(index.get("to", []), hint, problems, "To") if a]
    result.cc = [a for _, a in _addresses(index.get("cc", []), hint, problems, "Cc") if a]
    reply_to = _addresses(index.get("reply-to", [])[:1], hint, problems, "Reply-To")
    result.reply_to = next((a for _, a in reply_to if a), "")
    message_ids = _message_ids(_decode_header_value(first("message-id"), hint, None, ""))
    result.message_id = message_ids[0] if message_ids else ""
    result.in_reply_to = _message_ids(" ".join(index.get("in-reply-to", [])))
    result.references = _message_ids(" ".join(index.get("references", [])))
    date = first("date")
    result.date = _parse_date(date) if date else None

    result.html = "\n".join(walk.htmls)
    if walk.htmls and not any(p.strip() for p in walk.plains):
        # HTML-only mail, or an empty text/plain alternative (QQ Mail sends those).
        result.text = html_to_text(result.html)
    else:
        result.text = "\n".join(walk.plains)
    result.attachments = walk.attachments
    problems.extend(walk.problems)


# --------------------------------------------------------------------------- HTML to text

# html.parser.HTMLParser is not used: on Python 3.11 it rescans the rest of the input
# for every '<' it cannot close, so 100 KB of hostile markup ('<a x=">"' repeated)
# takes minutes. This tokenizer looks at each character a bounded number of times.
_BLOCK_TAGS = frozenset(
    {
        "p", "div", "tr", "li", "ul", "ol", "table", "h1", "h2", "h3", "h4", "h5", "h6",
        "dl", "dt", "dd", "section", "article", "header", "footer", "nav", "aside", "form",
        "center", "address", "fieldset", "figure", "figcaption", "main", "caption",
        "tbody", "thead", "tfoot", "body", "html",
    }
)
# Elements whose content is never shown; script and style hold raw text that may
# contain '<', so their content is skipped up to the closing tag.
_RAW_TEXT_TAGS = frozenset({"script", "style", "title", "textarea", "xmp"})
_HIDDEN_TAGS = frozenset({"head", "template", "noscript"})
# A tag cannot contain '<' or '>' here (attribute values holding them are rare and
# only cost a little stray text), which keeps every match attempt short.
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][^\s/<>]*)([^<>]*)>")
_HTML_DECLARATION = re.compile(r"<[!?][^<>]*>")
_ANY_TAG = re.compile(r"<[^<>]*>")
_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")
_MAX_QUOTE_PREFIX = 10
# What html_to_text writes for <hr>: the line Outlook itself puts in its plain-text
# alternative above a quoted original, so a reply parser needs one marker for both.
HR_LINE = "_" * 32


class _TextBuilder:
    """Collect text lines with their blockquote depth from a stream of HTML events."""

    def __init__(self) -> None:
        self.lines: list[tuple[int, str]] = []
        self.parts: list[str] = []
        self.depth_at_start: int | None = None
        self.quote = 0
        self.hidden = 0
        self.pre = 0
        self.space_before = True  # the next collapsible space would be redundant

    def _push(self, text: str) -> None:
        if self.depth_at_start is None:
            self.depth_at_start = self.quote
        self.parts.append(text)

    def _end_line(self, force: bool = False) -> None:
        if self.parts or force:
            depth = self.depth_at_start if self.depth_at_start is not None else self.quote
            self.lines.append((depth, "".join(self.parts)))
        self.parts = []
        self.depth_at_start = None
        self.space_before = True

    def start(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self.hidden += 1
            return
        if tag == "body" and self.hidden:
            self.hidden = 0  # an unclosed <head> must not swallow the body
        if self.hidden:
            return
        if tag == "br":
            self._end_line(force=True)
        elif tag in ("td", "th"):
            if self.parts:
                self.parts[-1] = self.parts[-1].rstrip(" ")
                self.parts.append("\t")
                self.space_before = True
        elif tag == "blockquote":
            self._end_line()
            self.quote += 1
        elif tag == "hr":
            self._end_line()
            self._push(HR_LINE)
            self._end_line()
        elif tag == "pre":
            self._end_line()
            self.pre += 1
        elif tag in _BLOCK_TAGS:
            self._end_line()

    def end(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            if self.hidden:
                self.hidden -= 1
            return
        if self.hidden:
            return
        if tag == "br":
            self._end_line(force=True)  # browsers read </br> as <br>
        elif tag == "blockquote":
            self._end_line()
            if self.quote:
                self.quote -= 1
        elif tag == "pre":
            self._end_line()
            if self.pre:
                self.pre -= 1
        elif tag in _BLOCK_TAGS:
            self._end_line()

    def data(self, raw: str) -> None:
        if self.hidden or not raw:
            return
        data = _html_unescape(raw) if "&" in raw else raw
        if self.pre:
            lines = data.replace("\r\n", "\n").replace("\r", "\n").split("\n")
            for i, line in enumerate(lines):
                if i:
                    self._end_line(force=True)
                if line:
                    self._push(line.replace("\xa0", " "))
            return
        data = _HTML_SPACE.sub(" ", data)
        if self.space_before and data.startswith(" "):
            data = data[1:]
        if not data:
            return
        self.space_before = data.endswith(" ")
        self._push(data.replace("\xa0", " "))

    def result(self) -> str:
        self._end_line()
        out: list[str] = []
        blank_run = True  # drops leading blank lines
        for depth, text in self.lines:
            # Hostile markup can open thousands of blockquotes; deep prefixes would
            # grow the output quadratically and carry no information.
            depth = min(depth, _MAX_QUOTE_PREFIX)
            text = text.rstrip()
            if not text:
                if not blank_run:
                    blank_run = True
                    out.append(("> " * depth).rstrip())
                continue
            blank_run = False
            out.append(("> " * depth) + text if depth else text)
        if blank_run and out:
            out.pop()  # the single trailing blank line the loop kept
        return "\n".join(out)


def _feed_html(html: str, builder: _TextBuilder) -> None:
    pos, size = 0, len(html)
    lower: str | None = None  # lower-cased copy, made only if raw text must be skipped
    while pos < size:
        lt = html.find("<", pos)
        if lt < 0:
            builder.data(html[pos:])
            return
        if lt > pos:
            builder.data(html[pos:lt])
        if html.startswith("<!--", lt):
            end = html.find("-->", lt + 4)
            pos = size if end < 0 else end + 3
            continue
        tag = _HTML_TAG.match(html, lt)
        if tag is None:
            declaration = _HTML_DECLARATION.match(html, lt)
            if declaration is not None:  # <!DOCTYPE>, <![if ...]>, <?xml?>
                pos = declaration.end()
            else:
                # A '<' that starts no tag is text, up to the next '<'.
                nxt = html.find("<", lt + 1)
                pos = size if nxt < 0 else nxt
                builder.data(html[lt:pos])
            continue
        closing, name, rest = tag.groups()
        name = name.lower()
        pos = tag.end()
        if closing:
            builder.end(name)
        elif name in _RAW_TEXT_TAGS:
            if rest.rstrip().endswith("/"):
                continue  # <script/>: nothing inside
            if lower is None:
                lower = html.lower()
            end = lower.find("</" + name, pos)
            if end < 0:
                return  # unclosed: the rest is script/style, not text
            close = html.find(">", end)
            pos = size if close < 0 else close + 1
        else:
            builder.start(name)


def html_to_text(html: str) -> str:
    """Convert an HTML body to plain text lines, quoting <blockquote> content with '> '.

    Block elements end lines, <td> cells are tab-separated, <hr> becomes HR_LINE,
    script/style/head are dropped, entities decoded, blank lines collapsed and
    trailing spaces stripped. Runs in time linear in the input.
    """
    if not html:
        return ""
    builder = _TextBuilder()
    try:
        _feed_html(html, builder)
        return builder.result()
    except Exception:  # nothing here should raise; degrade rather than fail a mail
        text = _html_unescape(_ANY_TAG.sub(" ", html)).replace("\xa0", " ")
        lines = (" ".join(line.split()) for line in text.splitlines())
        return "\n".join(line for line in lines if line)

