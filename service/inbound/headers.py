"""Decode header values: RFC 5322 unfolding, RFC 2047 encoded words, RFC 2231 parameters.

compat32 keeps raw 8-bit header bytes as surrogate escapes; they are read back as bytes
and decoded with the body's charset as a hint. Every lossy step is recorded in the
caller's ``problems`` list, never raised.
"""

from __future__ import annotations

import binascii
import re
import urllib.parse
from datetime import datetime, timezone
from email.utils import getaddresses, parsedate_to_datetime

from .charsets import codec_for, decode_text

__all__ = [
    "addresses", "b64decode_lenient", "decode_header_value", "message_ids", "param_text",
    "parse_date", "parse_header_params",
]

# --------------------------------------------------------------------------- headers

_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([bBqQ])\?([^?]*)\?=")
_FOLD = re.compile(r"\r?\n[ \t]")
_NEWLINES = re.compile(r"[\r\n]+")
_BASE64_JUNK = re.compile(rb"[^A-Za-z0-9+/]")
_NOT_BASE64_TEXT = re.compile(rb"[^A-Za-z0-9+/=\r\n\t ]")
# The same set for bytes.translate, which deletes it in C at memory speed: what is left is
# junk (the regex search above took 150 µs for a 27 kB photo, this 11 µs).
_BASE64_TEXT = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n\t "


def b64decode_lenient(data: bytes | memoryview) -> tuple[bytes, bool]:
    """Decode base64 accepting bad padding and junk; return (bytes, clean).

    Missing '=' padding is not counted as damage: Apple Mail and others omit it
    and nothing is lost. Junk characters or a dangling sextet are. A memoryview is read
    in place when the text is clean (a large attachment is not copied first).
    """
    try:
        decoded = binascii.a2b_base64(data)
    except binascii.Error:
        pass
    else:
        # a2b_base64 skips characters outside the alphabet without a word: only text made of
        # the alphabet, padding and line breaks decoded cleanly.
        # A memoryview (a large mail's body, read in place) has no translate and is not copied.
        junk = _NOT_BASE64_TEXT.search(data) if isinstance(data, memoryview) else data.translate(None, _BASE64_TEXT)
        if not junk:
            return decoded, True
    data = bytes(data)
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
    text, lossless, _ = decode_text(raw, None, hint)
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
            text, lossless, unknown = decode_text(b"".join(group_bytes), group_label)
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
        codec = codec_for(label)
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
            data, clean = b64decode_lenient(encoded.replace(b" ", b""))
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


def decode_header_value(
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


def addresses(
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


def message_ids(value: str) -> list[str]:
    ids = [m.strip() for m in _MSGID.findall(value)]
    if not ids:
        ids = [part.strip("<>") for part in value.replace(",", " ").split()]
    seen: set[str] = set()
    return [i for i in ids if i and not (i in seen or seen.add(i))]


def parse_date(value: str) -> datetime | None:
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


def parse_header_params(value: str) -> tuple[str, dict[str, tuple[str, str | None]]]:
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


def param_text(
    item: tuple[str, str | None], hint: str | None, problems: list[str], where: str
) -> str:
    """Decode one parameter value from parse_header_params to text."""
    raw, charset = item
    if charset is not None:
        text, lossless, unknown = decode_text(raw.encode("latin-1"), charset or None, hint)
        if unknown and charset:
            problems.append(f"unknown charset {charset!r} in {where}")
        if not lossless:
            problems.append(f"undecodable bytes in {where} replaced")
        if "=?" in text:
            text = _decode_words(text, problems, where)
        return text.strip()
    return decode_header_value(raw, hint, problems, where)
