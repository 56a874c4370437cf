"""Read the decision in a reply to the service's mail (spec §4 "Replies that decide").

The replier's own words - quoted original and signature cut away - decide by the word
they start with; everything after that word is the comment. The service's own mail asks
for "同意" or "驳回", so a parser that strays into the quoted original would find both:
the quote is cut by the client's own markers before any word is read, and the rules are
strict. The first word decides (greetings are not skipped), a question decides nothing,
"不同意" is a rejection, and an English word must end where the word ends.

    >>> read_decision(decode_message(raw))
    Decision(decision='reject', numbers=[], comment='预算太高', own_text='驳回，预算太高')
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html import unescape

from ..inbound.html_text import html_to_text
from ..inbound.mime import DecodedMessage
from .quotes import own_text

__all__ = ["Decision", "own_words", "read_decision"]

# How much of a reply is read: the decision is on the first line, comments are short.
MAX_LINES = 50
MAX_CHARS = 10_000
# Text and HTML beyond this are never a reply's own words (top-posted or below a quote).
_MAX_SOURCE_CHARS = 400_000


@dataclass(frozen=True)
class Decision:
    """What a reply decides.

    ``decision`` is 'approve', 'reject', 'escalate', 'ack', 'close' or None; ``numbers`` the
    digest items of an escalation or a close (else []); ``comment`` the replier's words after
    the decision word and the item numbers; ``remainder`` everything after the decision word,
    numbers included (the comment of a reply to a mail that has no numbered items, where
    "关闭 2 家门店已下架" means two shops); ``own_text`` the replier's own words that were read.
    """

    decision: str | None
    numbers: list[int]
    comment: str
    own_text: str
    remainder: str = ""


# --------------------------------------------------------------------------- own words

# Where an HTML reply's quoted original starts: everything from the first match on is
# someone else's. Blockquotes need no entry: html_to_text prefixes their lines with '> ',
# which own_text drops, so words written below them (Thunderbird, Apple Mail) survive.
_HTML_QUOTE_STARTS = re.compile(
    # Every repetition stops at the next '<' or is bounded, so hostile markup cannot make
    # the search quadratic.
    r"""
    # Outlook on the web / new Outlook / Outlook mobile: header block of the original
    <div\b[^<>]*\bid\s*=\s*["']?(?:divRplyFwdMsg|appendonsend|mail-editor-reference-message-container
        |ms-outlook-mobile-signature)\b
    # Outlook desktop (Word): the header block's top border; Foxmail uses the same
  | <div\b[^<>]*\bstyle\s*=\s*["']?\s*border\s*:\s*none\s*;?\s*border-top\s*:\s*solid
    # Gmail (attribution and blockquote in one div), Proton, Yahoo, Zoho, NetEase Mail Master
  | <div\b[^<>]*\bclass\s*=\s*["']?[^"'<>]*\b(?:gmail_quote|gmail_attr|protonmail_quote|yahoo_quoted
        |zmail_extra|ntes-mailmaster-quote)\b
    # 163/126 forwards, 139.com, sina; Hotmail/Zimbra/139 rules above the header block
  | <[a-z]{1,10}\b[^<>]*\bid\s*=\s*["']?(?:isForwardContent|reply139content|origbody|replySplit
        |stopSpelling|zwchr)\b
    # QQ Mail, Foxmail: "------------------&nbsp;原始邮件&nbsp;------------------"
  | -{3,40}(?:\s|&nbsp;|&\#160;|\xa0){0,8}(?:原始邮件|原始郵件|Original(?:(?:\s|&nbsp;){1,8}Message)?|邮件原件
        |回复的原邮件|Replied(?:\s|&nbsp;){1,8}Message)(?:\s|&nbsp;|&\#160;|\xa0){0,8}-{3}
    # QQ Mail (newer): <div …>原始邮件</div><hr> above a From / Sent Time table
  | <div\b[^<>]*>\s{0,200}(?:原始邮件|Original)\s{0,200}</div>\s{0,200}<hr\b
    """,
    re.I | re.X,
)


def own_words(msg: DecodedMessage) -> str:
    """Return the replier's own text, at most the first ~50 lines.

    From the text/plain part when there is one (format=flowed undone, character references
    a webmail left in it decoded), else from the HTML, cut where the client's quote starts
    (Outlook's divRplyFwdMsg, Gmail's gmail_quote, QQ's 原始邮件 line …; blockquotes, Apple's
    cite included, are dropped line by line). What is left goes through
    ``quotes.own_text``, which cuts attributions, header blocks and signatures.
    """
    text, from_html, flowed = _source(msg)
    words = own_text(text[:_MAX_SOURCE_CHARS], strict=not (from_html or flowed))
    lines = words.split("\n")[:MAX_LINES]
    return "\n".join(lines)[:MAX_CHARS].strip()


def _source(msg: DecodedMessage) -> tuple[str, bool, bool]:
    """Return (text to read, whether it came from HTML, whether it was format=flowed)."""
    text = msg.text or ""
    html = msg.html or ""
    if html and (not text.strip() or text == html_to_text(html)):
        match = _HTML_QUOTE_STARTS.search(html, 0, _MAX_SOURCE_CHARS)
        cut = html[: match.start()] if match else html[:_MAX_SOURCE_CHARS]
        return html_to_text(cut), True, False
    # Entities are decoded after unflowing: an "&nbsp;" at a line's end is no soft break.
    flowed = _flowed(msg)
    if flowed is not None:
        return decode_entities(_unflow(text, delsp=flowed)), False, True
    return decode_entities(text), False, False


# A complete character reference ("&nbsp;", "&amp;", "&#39;", "&#x4E2D;"). Without its ';'
# it is left alone: "R&D", "AT&T" and "&copy2026" are a person's own text.
_ENTITY = re.compile(r"&(?:[A-Za-z][A-Za-z0-9]{1,31}|#[0-9]{1,7}|#[xX][0-9A-Fa-f]{1,6});")


def decode_entities(text: str) -> str:
    """Return plain text with the HTML character references a client left in it decoded.

    Webmail that builds its text/plain part from the HTML (QQ Mail, some Coremail
    versions) leaves "&nbsp;", "&amp;", "&lt;" or "&#39;" in it. Each reference is decoded
    once, so "&amp;lt;" becomes "&lt;", not "<"; a no-break space becomes a space, as
    html_to_text makes it, so text and HTML part read the same. Unknown names stay.
    """
    if "&" not in text:
        return text

    def one(match: re.Match) -> str:
        decoded = unescape(match.group(0))
        return " " if decoded == "\xa0" else decoded

    return _ENTITY.sub(one, text)


def _flowed(msg: DecodedMessage) -> bool | None:
    """Return None unless the mail's text/plain body is format=flowed; else its DelSp=yes."""
    root = msg.msg
    if root is None:
        return None
    try:
        for part in root.walk():
            if part.get_content_type() != "text/plain" or part.is_multipart():
                continue
            disposition = str(part.get("content-disposition") or "").lower()
            if part.get_filename() or disposition.startswith("attachment"):
                continue
            if str(part.get_param("format", "") or "").lower() != "flowed":
                return None
            return str(part.get_param("delsp", "") or "").lower() == "yes"
    except Exception:  # a header the parser cannot split: read the text as it is
        return None
    return None


def _unflow(text: str, *, delsp: bool) -> str:
    """Join the soft line breaks of format=flowed text (RFC 3676 §4.2), keeping quote depth."""
    out: list[str] = []
    buf: str | None = None
    buf_depth = 0

    def emit(depth: int, content: str) -> None:
        out.append(">" * depth + " " + content if depth else content)

    for raw in text.split("\n"):
        depth = len(raw) - len(raw.lstrip(">"))
        content = raw[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        if buf is not None and depth != buf_depth:
            emit(buf_depth, buf)  # a flowed line must not run into another depth
            buf = None
        buf = content if buf is None else buf + content
        buf_depth = depth
        if content.endswith(" ") and content != "-- ":
            if delsp:
                buf = buf[:-1]
            continue
        emit(depth, buf)
        buf = None
    if buf is not None:
        emit(buf_depth, buf)
    return "\n".join(out)


# --------------------------------------------------------------------------- the decision

_CJK_WORDS = (
    # Longest first: "不同意" must be read before "同意".
    ("不同意", "reject"),
    ("同意", "approve"),
    ("批准", "approve"),
    ("驳回", "reject"),
    ("駁回", "reject"),
    ("拒绝", "reject"),
    ("拒絕", "reject"),
    ("上报", "escalate"),
    ("上報", "escalate"),
    ("收到", "ack"),
    ("关闭", "close"),
    ("關閉", "close"),
)
_ENGLISH_WORD = re.compile(r"(approved|approve|rejected|reject|escalate|ack|close)", re.I)
_ENGLISH_DECISIONS = {
    "approved": "approve", "approve": "approve", "rejected": "reject", "reject": "reject",
    "escalate": "escalate", "ack": "ack", "close": "close",
}
_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")
# After a Chinese decision word: "了" belongs to it ("同意了"); a question particle, a
# negation or "的" makes the line something else ("同意吗", "同意不了", "批准的预算").
_CJK_PERFECTIVE = "了"
_CJK_NOT_A_DECISION = set("吗么嗎麼嘛呢不否没沒的")
_ACK_NOT_A_DECISION = ("您", "你", "妳")
_QUESTION_MARKS = set("?？")
_QUESTION_PARTICLES = set("吗么嗎麼")
# Stripped from the start of the comment (and skipped when looking for a question mark).
_LEADING_PUNCT = " \t\u3000\xa0,，.。．:：;；!！-－—–~～、…·"
# Invisible characters a client may put before the first word.
_INVISIBLE = re.compile(r"^[\s\u200b\u200c\u200d\u2060\ufeff\u200e\u200f]+")

# Digest item numbers after 上报 / escalate / 关闭 / close: "2", "2, 5", "1 3", "2、3", "#2", "第2项", "2-4".
_ITEM = r"(?:\#|no\.?\s*|第\s*)?(\d{1,4})(?:\s*(?:号|號|项|項|条|條|个|個))?"
_ITEM_RE = re.compile(
    _ITEM + r"(?:\s*(?:-|~|至|到)\s*" + _ITEM + r")?(?=$|[\s,、;/&和及与與.。!！?？:：)）\]】])", re.I)
_ITEM_SEPARATOR = re.compile(r"\s*(?:[,、;/&]|和|及|与|與|\band\b)\s*|\s+", re.I)
_ITEMS_START = re.compile(r"\s*[:：]?\s*")
_MAX_RANGE = 50
_MAX_NUMBERS = 100


def read_decision(msg: DecodedMessage) -> Decision:
    """Read the decision a reply's own words start with (spec §4); None if there is none."""
    words = own_words(msg)
    decision, numbers, comment, remainder = _decide(words)
    return Decision(decision=decision, numbers=numbers, comment=comment, own_text=words, remainder=remainder)


def _decide(words: str) -> tuple[str | None, list[int], str, str]:
    if not words.strip():
        return None, [], "", ""
    first, _, below = words.partition("\n")
    norm, ends = _normalised(first)
    lead = _INVISIBLE.match(norm)
    pos = lead.end() if lead else 0
    found = _decision_word(norm, pos)
    if found is None:
        return None, [], "", ""
    decision, end = found
    after_word = first[_original_index(ends, end):].lstrip(_LEADING_PUNCT)
    remainder = (after_word + "\n" + below).strip() if below else after_word.strip()
    numbers: list[int] = []
    if decision in ("escalate", "close"):
        # Item numbers of a digest (上报 2、3 / 关闭 1 已处理); without them the reply is about
        # the mail it answers (上报 on an urgent report, 关闭 已处理).
        numbers, end = _item_numbers(norm, end)
    if _is_question(norm, end):
        return None, [], "", ""
    rest = first[_original_index(ends, end):].lstrip(_LEADING_PUNCT)
    comment = (rest + "\n" + below).strip() if below else rest.strip()
    return decision, numbers, comment, remainder


def _normalised(line: str) -> tuple[str, list[int]]:
    """NFKC-normalise ``line`` char by char; ends[k] is the normalised length of line[:k+1]."""
    parts: list[str] = []
    ends: list[int] = []
    total = 0
    for ch in line:
        norm = unicodedata.normalize("NFKC", ch) if ord(ch) > 0x7F else ch
        parts.append(norm)
        total += len(norm)
        ends.append(total)
    return "".join(parts), ends


def _original_index(ends: list[int], norm_pos: int) -> int:
    """Map a position in the normalised line back to the original line."""
    if norm_pos <= 0:
        return 0
    for k, end in enumerate(ends):
        if end >= norm_pos:
            return k + 1
    return len(ends)


def _decision_word(norm: str, pos: int) -> tuple[str, int] | None:
    """Return (decision, end of the word) for the decision word at ``pos``, else None."""
    for word, decision in _CJK_WORDS:
        if norm.startswith(word, pos):
            end = pos + len(word)
            if norm.startswith(_CJK_PERFECTIVE, end):
                end += len(_CJK_PERFECTIVE)
            if end < len(norm) and norm[end] in _CJK_NOT_A_DECISION:
                return None
            if decision == "ack" and norm.startswith(_ACK_NOT_A_DECISION, end):
                return None  # "收到您的邮件，我正在休假": a vacation reply's first words
            return decision, end
    match = _ENGLISH_WORD.match(norm, pos)
    if match is None:
        return None
    word = match.group(1).lower()
    end = match.end()
    nxt = norm[end : end + 1]
    if nxt and _WORD_CHAR.match(nxt) and not (word == "escalate" and nxt.isdigit()):
        return None  # "approvedly", "closet", "acknowledge"
    if nxt in ("'", "-", "’") and _WORD_CHAR.match(norm[end + 1 : end + 2] or " "):
        return None  # "close-up", "ack's"
    return _ENGLISH_DECISIONS[word], end


def _item_numbers(norm: str, pos: int) -> tuple[list[int], int]:
    """Read digest item numbers from ``pos``; return them and where they end."""
    numbers: list[int] = []
    cur = _ITEMS_START.match(norm, pos).end()
    end = pos
    while len(numbers) < _MAX_NUMBERS:
        item = _ITEM_RE.match(norm, cur)
        if item is None:
            break
        first = int(item.group(1))
        last = int(item.group(2)) if item.group(2) else first
        if first < 1 or last < first or last - first > _MAX_RANGE:
            break
        for n in range(first, last + 1):
            if n not in numbers:
                numbers.append(n)
        end = item.end()
        sep = _ITEM_SEPARATOR.match(norm, end)
        if sep is None:
            break
        cur = sep.end()
    return numbers[:_MAX_NUMBERS], end


def _is_question(norm: str, end: int) -> bool:
    """Say whether the words right after the decision make it a question ("同意？", "approve?")."""
    rest = norm[end:].lstrip(_LEADING_PUNCT)
    return bool(rest) and (rest[0] in _QUESTION_MARKS or rest[0] in _QUESTION_PARTICLES)
