"""Decode bytes under the charset label a mail gives them, distrusting the label.

Mail labelled gb2312 routinely holds GBK-only characters (镕, 喆), Chinese clients put raw
8-bit GBK or UTF-8 where no label applies, and a label may be wrong or unknown. Decoding
here follows the WHATWG Encoding Standard's label table where mail agrees with it, reads
every GB label as gb18030, tries the commonest lies first and never drops a byte silently.
"""

from __future__ import annotations

import codecs

__all__ = ["SEVEN_BIT_CODECS", "codec_for", "decode_bytes", "decode_text"]

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
SEVEN_BIT_CODECS = frozenset(
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


def codec_for(label: str | None) -> str | None:
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


def decode_text(data: bytes, label: str | None, hint: str | None = None) -> tuple[str, bool, bool]:
    """Decode ``data`` declared as ``label``; return (text, lossless, label_unknown)."""
    if not data:
        return "", True, False
    codec = codec_for(label)
    if data.isascii() and codec not in SEVEN_BIT_CODECS:
        # The common case: nothing for a charset to change.
        return data.decode("ascii"), True, False
    unknown = codec is None
    attempts: dict[str, str | None] = {}

    def attempt(candidate: str) -> str | None:
        if candidate not in attempts:
            attempts[candidate] = _try_decode(data, candidate)
        return attempts[candidate]

    if codec:
        if codec != "utf-8" and codec not in SEVEN_BIT_CODECS:
            # Mislabelled UTF-8 is the commonest lie; valid UTF-8 with multi-byte
            # sequences is almost never an accident of another charset.
            text = attempt("utf-8")
            if text is not None and (codec not in _CJK_CODECS or _is_plausible_cjk_utf8(text)):
                return text, True, False
        for candidate in (codec, *_LABEL_FALLBACKS.get(codec, ())):
            text = attempt(candidate)
            if text is not None:
                return text, True, False
    hint_codec = codec_for(hint) if hint else ""
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
    text, lossless, _ = decode_text(bytes(data or b""), charset)
    if text.startswith("\ufeff"):
        text = text[1:]
    return text, lossless
