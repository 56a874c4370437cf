"""Cut a mail's text down to the sender's own words: no quoted original, no signature.

Mail clients introduce a quoted or forwarded original in many ways: an attribution line
("On … wrote:", "At … wrote:", "在 … 写道："), a separator ("-----Original Message-----",
"------------------ 原始邮件 ------------------"), or the original's header block
("发件人：… 发送时间：…"). Each kind is a table below, named after the clients that write it.
A client's default signature ("Sent from my iPhone", "发自我的华为手机") is a table too.

Where an introduction is followed by an original marked line by line - with '>' or any
other prefix the client was set to ("| ", ": ", "» ") - whoever answered below the quote
(Thunderbird's default, NeoMutt, a bottom-posting Foxmail) or between its lines writes on
after it, so reading goes on past the quote. Where the original follows unmarked, the
sender's words end at the introduction. A signature always ends them.
"""

from __future__ import annotations

import re
import unicodedata

# --------------------------------------------------------------------------- signatures

# Phones and tablets named in the default signatures of Chinese and international clients.
_DEVICES = (
    r"(?:iPhone|iPad|iPod|Android|Apple\s*Watch|华为|華為|HUAWEI|荣耀|榮耀|HONOR|小米|Xiaomi|Redmi"
    r"|OPPO|一加|OnePlus|vivo|iQOO|魅族|Meizu|三星|Samsung|Galaxy|realme|真我|中兴|ZTE|联想|Lenovo"
    r"|努比亚|nubia|智能手机|手机|手機|平板)"
)
# Mail apps that sign with their own name ("来自网易邮箱大师", "发自我的QQ邮箱").
_MAIL_APPS = (
    r"(?:网易邮箱大师|網易郵箱大師|邮箱大师|网易邮箱|网易手机邮|QQ\s*邮箱|QQ\s*郵箱|QQ\s*Mail|139\s*邮箱"
    r"|189\s*邮箱|沃邮箱|新浪邮箱|搜狐邮箱|阿里邮箱|阿里云邮箱|钉钉|企业微信|腾讯企业邮箱?|雅虎邮箱"
    r"|Outlook|Foxmail)"
)
# What may follow the device or app: a model ("Mate 60 Pro") or the kind of device
# ("手机", "iPhone 版"). Nothing else, so "来自华为的新品冲击很大" stays a sentence.
_MODEL_TAIL = (
    r"(?:\s*(?:[A-Za-z0-9][A-Za-z0-9+.\-]*|智能手机|手机|手機|平板电脑|平板|电脑|客户端|用戶端"
    r"|手机版|移动版|版))*"
)
_FROM_ZH = r"(?:发自|来自|發自|來自|寄自)"

# A line that is a client's default signature, matched whole once links and closing
# punctuation are taken off. Everything from it on is not the sender's.
SIGNATURES: tuple[tuple[str, re.Pattern], ...] = tuple(
    (name, re.compile(pattern, re.I))
    for name, pattern in (
        # RFC 3676 delimiter "-- " (trailing space often lost), and its Chinese form.
        ("delimiter", r"--|——"),
        # Foxmail 5/6 classic closes its quote with "= = = … =", then "致 礼！" and the card.
        ("foxmail_classic", r"(?:= ){9,}=?"),
        # iOS/iPadOS Mail and most phones: "Sent from my iPhone", "Sent from my Huawei phone".
        ("sent_from_my_device", r"Sent from my\s+\S.{0,40}"),
        # Windows Mail (its link sits inside: "Sent from Mail<https://…> for Windows 10").
        ("windows_mail", r"Sent from Mail for Windows(?:\s*1[01])?"
                         r"|(?:从|從)\s*Windows\s*(?:1[01]\s*)?版(?:邮件|郵件)(?:发送|傳送)"),
        # Yahoo Mail apps: "Sent from Yahoo Mail on Android", "Sent from Yahoo Mail for iPhone".
        ("yahoo", r"Sent from Yahoo Mail(?:\s+(?:on|for)\s+(?:Android|iPhone|iPad|iOS))?"),
        # Outlook mobile: "Get Outlook for iOS", "获取 Outlook for Android"; Outlook.com.
        ("outlook", r"(?:Get|获取|獲取|下载|下載|取得)\s*Outlook\s*(?:for|适用于|適用於)\s*(?:iOS|Android)"
                    r"|Sent from Outlook(?:\s+for\s+(?:iOS|Android|Mac))?"),
        # Other apps: "Sent with Spark", "Sent from BlueMail", "Sent with Proton Mail secure email".
        ("other_apps", r"Sent (?:from|with|via) (?:the )?(?:Samsung|Galaxy|Spark|Blue\s?Mail|Proton\s?Mail"
                       r"|Edison|AOL|Aqua Mail|myMail|Newton|Airmail|Gmail|Zoho|Tuta|Huawei|HONOR"
                       r"|Xiaomi|Android|FairEmail|K-9)\b.{0,60}"),
        # Chinese phones: "发自我的iPhone", "发自我的华为手机", "来自我的小米手机", "发自vivo智能手机".
        ("device_zh", rf"{_FROM_ZH}\s*(?:我的)?\s*{_DEVICES}{_MODEL_TAIL}"),
        # Chinese mail apps: "来自网易邮箱大师", "发自我的QQ邮箱", "来自钉钉专属商务邮箱".
        ("mail_app_zh", rf"{_FROM_ZH}\s*(?:我的)?\s*{_MAIL_APPS}{_MODEL_TAIL}(?:专属商务邮箱?)?"),
        # Taiwan and Hong Kong iOS: "從我的 iPhone 傳送".
        ("device_tw", rf"(?:從|从)我的\s*{_DEVICES}{_MODEL_TAIL}\s*(?:傳送|发送|發送)"),
    )
)
# Links a client puts into or after its signature: "<https://aka.ms/ghei36>", "[https://…]".
_SIGNATURE_LINK = re.compile(
    r"\s*(?:<(?:https?://|mailto:)[^<>\s]*>|\[(?:https?://|mailto:)[^\[\]\s]*\]|\(https?://[^()\s]*\))"
    r"|\s+https?://\S+\s*$", re.I)
_MAX_SIGNATURE_CHARS = 200
# Cheap first tests (issue 12: most lines of a mail are none of these, and trying the tables
# one pattern after another cost about 6 µs a line). Each is a necessary condition of what it
# guards, so a line that fails it is skipped with the same result; tests/test_quote_scan.py
# runs own_text with every first test passing everything over the corpus and the fixtures.
# Every alternative of _SIGNATURE_LINK holds "http(s)://" or "mailto:" (same flags).
_LINK_START = re.compile(r"https?://|mailto:", re.I)
# A line is a signature if any SIGNATURES pattern matches it whole: one regex tries them all.
_ANY_SIGNATURE = re.compile("|".join(f"(?:{pattern.pattern})" for _, pattern in SIGNATURES), re.I)


def _may_hold_link(line: str) -> bool:
    """Say whether _SIGNATURE_LINK could find a link in ``line`` (False: it finds none)."""
    return ":" in line and _LINK_START.search(line) is not None


def _may_be_signature(bare: str) -> bool:
    """Say whether some SIGNATURES pattern could match ``bare`` whole (False: none does)."""
    return _ANY_SIGNATURE.fullmatch(bare) is not None


def signature_kind(line: str) -> str | None:
    """Return the SIGNATURES name of the client signature ``line`` is, or None."""
    if len(line) > _MAX_SIGNATURE_CHARS:
        return None
    if _may_hold_link(line):
        line = _SIGNATURE_LINK.sub("", line)
    bare = " ".join(line.split()).rstrip(".。!！")
    if not bare or not _may_be_signature(bare):
        return None
    return next((name for name, pattern in SIGNATURES if pattern.fullmatch(bare)), None)


def is_signature(line: str) -> bool:
    """Say whether ``line`` is a client's default signature (see SIGNATURES)."""
    return signature_kind(line) is not None


# --------------------------------------------------------------------------- introductions

# A line that introduces the original by naming who wrote it. Lines of the original below
# may be marked (read on past them) or not (the sender's words end here).
ATTRIBUTIONS: tuple[tuple[str, re.Pattern], ...] = (
    # Gmail, Apple Mail, Thunderbird, Outlook mobile, K-9, Mutt, Yahoo:
    # "On Thu, Nov 26, 2026 at 9:30 AM Li Lei <x@y> wrote:";
    # Coremail (163, 126, yeah.net) in English: 'At 2026-11-26 10:00:12, "Li Lei" <x@y> wrote:'
    ("on_at_wrote", re.compile(r"^\s*(On|At)\b.{0,200}\bwrote\s*:\s*$", re.I)),
    # Any other English wording that names a date or an address: "Li Lei <x@y> wrote:",
    # "2026-11-26 10:00 GMT+08:00, Li Lei writes:".
    ("dated_wrote", re.compile(
        r"^(?=.{0,250}(\S@\S|\d{1,4}[-./]\d{1,2}[-./]\d{1,4}|\d{1,2}:\d{2})).{0,250}\b(wrote|writes)\s*:\s*$",
        re.I)),
    # Gmail (zh): "李雷 <x@y> 于2026年11月26日周四 09:30写道："; Apple Mail (zh), Coremail (zh):
    # "在 2026-11-26 10:00:12，李雷 <x@y> 写道："; Traditional: "… 於 … 寫道："
    ("zh_wrote", re.compile(r"^\s*(在|於|于)?.{0,200}(写道|寫道)\s*[:：]\s*$")),
    # Foxmail 5/6 classic: "======= 2026-11-26 10:00:00 您在来信中写道：======="
    ("foxmail_classic", re.compile(r"^\s*={3,}\s*.{0,80}(写道|寫道)\s*[:：]?\s*={3,}\s*$")),
)
# A line that separates the sender's words from the original (its header block may follow).
SEPARATORS: tuple[tuple[str, re.Pattern], ...] = (
    # Foxmail, QQ Mail, Tencent Exmail, Sina: "------------------ 原始邮件 ------------------";
    # QQ Mail app: "---Original---"; Thunderbird (zh): "-------- 原始信息 --------"
    ("foxmail_qq", re.compile(
        r"^\s*-{3,}\s*(原始邮件|原始郵件|原始信息|原始消息|Original)\s*-{3,}\s*$", re.I)),
    # Outlook (en): "-----Original Message-----"; Outlook (zh): "-----邮件原件-----";
    # Outlook Express, Yahoo: "----- Original Message -----"; Proton writes U+2010 dashes.
    ("outlook_original", re.compile(
        r"^\s*[-\u2010]{3,}\s*(Original Message|邮件原件|郵件原件|原始邮件|转发的邮件|Forwarded message)"
        r"\s*[-\u2010]{3,}\s*$", re.I)),
    # NetEase Mail Master (163/126): "---- 回复的原邮件 ----" / "---- Replied Message ----"
    ("netease_master", re.compile(
        r"^\s*-{2,}\s*(回复的原邮件|回覆的原郵件|Replied Message|Forwarded Message)\s*-{2,}\s*$", re.I)),
    # Gmail forward: "---------- Forwarded message ---------"
    ("gmail_forward", re.compile(r"^\s*-{5,}\s*Forwarded message\s*-{3,}", re.I)),
    # Outlook separator line (a long underscore rule) before its header block.
    ("outlook_rule", re.compile(r"^\s*_{10,}\s*$")),
)
# First tests of the two tables above (see _LINK_START): every ATTRIBUTIONS pattern ends with
# ':' or '：' (Foxmail's classic with '=') and then only spaces (\s*$: own_text's lines hold no
# line break, and \s is what str.rstrip strips); every SEPARATORS pattern starts, after
# spaces, with '-', '\u2010' or '_'.
_ATTRIBUTION_ENDS = (":", "：", "=")
_SEPARATOR_START = re.compile(r"\s*[-\u2010_]")


def _may_attribute(line: str) -> bool:
    """Say whether an ATTRIBUTIONS pattern could match ``line`` (False: none does)."""
    return line.rstrip().endswith(_ATTRIBUTION_ENDS)


def _may_separate(line: str) -> bool:
    """Say whether a SEPARATORS pattern could match ``line`` (False: none does)."""
    return _SEPARATOR_START.match(line) is not None

# The first line of an original's header block (Outlook zh/en, Foxmail, 163): "发件人: …"
_HEADER_START = re.compile(r"^\s*\*?(发件人|發件人|寄件者|寄件人|From)\s*\*?\s*[:：]", re.I)
# The second header of an original's header block (the first is From / 发件人).
_HEADER_FOLLOWS = re.compile(
    r"^\s*\*?(发送时间|發送時間|发件时间|发送日期|寄件日期|日期|时间|時間|Sent(\s+Time)?|Date|收件人|To)\s*\*?\s*[:：]", re.I)
_MAX_HEADER_LINES = 12
# QQ Mail's newer quote: a line "Original" / "原始邮件" alone, then its header table.
_BARE_ORIGINAL = re.compile(r"^\s*(Original|原始邮件|原始郵件)\s*$", re.I)
WROTE_PREFIX = re.compile(r"^\s*(On\b|At\s+\d|在\s*\d|於\s*\d|于\s*\d)", re.I)
# Any language's attribution ("02.04.2012 14:20 пользователь … написал:"): a line ending in
# a colon that names an address or a date, directly above a marked quote.
_ENDS_COLON = re.compile(r"[:：]\s*$")
_ADDRESS_OR_DATE = re.compile(r"\S@\S|\d{1,4}[-./年]\d{1,2}[-./月]\d{1,4}|\d{1,2}:\d{2}")
# Wrapped over two lines, the head carries the date ("02.04.2012 14:20 … <"), the tail the address.
_DATE_OR_TIME = re.compile(r"\d{1,4}[-./年]\d{1,2}[-./月]\d{1,4}|\d{1,2}:\d{2}")
# The tail of a wrapped attribution: only the time before "写道：" ("10:00写道：", "上午10:00 写道：").
_WROTE_TAIL = re.compile(r"^\s*[\d:.\sAPMapm上下午晚早中凌晨]{0,20}(写道|寫道|wrote)\s*[:：]\s*$")

# --------------------------------------------------------------------------- quote marks

# '>' marks a quoted line wherever it stands (RFC 3676, and html_to_text's blockquotes).
_QUOTE_MARK = ">"
# Any other mark a client can be set to prefix quoted lines with (NeoMutt's indent_string
# "| ", ": ", "» ") is a punctuation or symbol character - but not one that starts a list
# item, an aside or a quotation in running text, which an unmarked original may begin with.
_NOT_A_QUOTE_MARK = set("-–—*•·・‣◦○●▪■□◆◇★☆※+#=~～_.。…,，、;；!！?？&@$¥￥%/\\'\"“”‘’«「」『』"
                        "([{<（【《〈〔")
# A run of at least this many lines sharing a mark other than '>' makes a quote.
_MIN_MARKED_RUN = 2


def own_text(text: str, *, strict: bool = False) -> str:
    """Return the sender's own words: text above the first quote or signature, unmarked.

    After an introduction (attribution, separator, header block) whose original is marked
    line by line, the words written below or between the marked lines count too. With
    ``strict`` (plain text that was not sent format=flowed, so a client may have wrapped
    a long quoted line without repeating its mark), a line glued to a quoted line - no
    blank line between - is taken for the rest of that quoted line, not for the sender's.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    marks = {_QUOTE_MARK}  # the quote marks in use: '>' and any an introduction revealed
    kept: list[str] = []
    glued = False  # the previous line was quoted, or glued to a quoted one
    dropped = False  # a quoted line was dropped since the last line kept
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip()[:1] in marks:
            glued = dropped = True
            i += 1
            continue
        if not line.strip():
            glued = False
            if dropped and kept and not kept[-1].strip():
                i += 1
                continue  # one blank line stands for the quote that was dropped
        elif glued and strict:
            i += 1
            continue
        if is_signature(line):
            break
        found = _introduction(lines, i)
        if found is not None:
            kind, span = found
            if kind == "attribution" and _wrapped_head(line, kept):
                kept.pop()
            # A mark other than '>' is a client setting (NeoMutt's indent_string) that comes
            # with an attribution; under a separator, "| 发件人 | … |" is a header table.
            mark = quote_mark_below(lines, i + span, any_mark=kind == "attribution")
            if mark is None:
                break
            marks.add(mark)
            i += span
            continue
        kept.append(line.rstrip())
        dropped = False
        i += 1
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join(kept)


def _introduction(lines: list[str], i: int) -> tuple[str, int] | None:
    """Say whether lines[i] introduces an original: (kind, lines the introduction spans)."""
    line = lines[i]
    following = lines[i + 1] if i + 1 < len(lines) else ""
    if _may_attribute(line):
        for _, pattern in ATTRIBUTIONS:
            if pattern.match(line):
                return "attribution", 1
    if _may_separate(line):
        for _, pattern in SEPARATORS:
            if pattern.match(line):
                return "separator", 1 + _header_block_after(lines, i + 1)
    # "From:" alone could be a field of the sender's own text; a header block has a From
    # line followed by another header of the original.
    span = _header_block(lines, i)
    if span:
        return "header", span
    # "On … wrote:" split over two lines by the client's wrapping.
    if WROTE_PREFIX.match(line) and re.match(r"^.{0,120}(wrote|写道|寫道)\s*[:：]\s*$", following, re.I):
        return "attribution", 2
    if _BARE_ORIGINAL.match(line):
        # Only when the original's header block follows within a few lines.
        after = _header_block_after(lines, i + 1)
        if after:
            return "separator", 1 + after
    # Any other language: an address or date in a line ending with a colon, quote below.
    # A mark other than '>' needs the address too: a dated heading above a table is no quote.
    if _ENDS_COLON.search(line) and _ADDRESS_OR_DATE.search(line):
        mark = quote_mark_below(lines, i + 1)
        if mark == _QUOTE_MARK or (mark and "@" in line):
            return "attribution", 1
    if following and _ENDS_COLON.search(following) and not _ENDS_COLON.search(line) \
            and not following.lstrip().startswith(_QUOTE_MARK) \
            and line.strip() and quote_mark_below(lines, i + 2) \
            and _DATE_OR_TIME.search(line) and "@" in line + following:
        return "attribution", 2
    return None


def _header_block(lines: list[str], i: int) -> int:
    """Return how many lines the original's header block starting at lines[i] spans, or 0.

    The block runs to the first blank or quoted line: its headers, and the lines a
    long To or Subject header wrapped onto.
    """
    following = lines[i + 1] if i + 1 < len(lines) else ""
    if not (_HEADER_START.match(lines[i]) and _HEADER_FOLLOWS.match(following)):
        return 0
    end = i + 2
    while end < min(len(lines), i + _MAX_HEADER_LINES) and lines[end].strip() \
            and not lines[end].lstrip().startswith(_QUOTE_MARK):
        end += 1
    return end - i


def _header_block_after(lines: list[str], start: int) -> int:
    """Return the lines from ``start`` to the end of a header block a few lines below, or 0."""
    for j in range(start, min(start + 4, len(lines))):
        if lines[j].strip():
            span = _header_block(lines, j)
            return j - start + span if span else 0
    return 0


def quote_mark_below(lines: list[str], start: int, *, any_mark: bool = True) -> str | None:
    """Return the mark of a quote whose first line is the first non-blank from ``start``.

    '>' marks a quote from its first line on. With ``any_mark``, any other punctuation or
    symbol does when a run of lines carries it, each time followed by a space, the line's
    end or the mark again (nested): "| 王芳，您好：", "|", "| | older quote" - but not
    table rows ("| 日期 | 2026-11-26 |"). None when no quote is there.
    """
    for j in range(start, min(start + 3, len(lines))):
        first = lines[j].lstrip()
        if not first:
            continue
        mark = first[0]
        if mark == _QUOTE_MARK:
            return mark
        if not any_mark or mark in _NOT_A_QUOTE_MARK or unicodedata.category(mark)[0] not in "PS":
            return None
        run = lines[j : j + _MIN_MARKED_RUN]
        if len(run) == _MIN_MARKED_RUN and all(_marked(candidate, mark) for candidate in run):
            return mark
        return None
    return None


def _marked(line: str, mark: str) -> bool:
    """Say whether ``line`` is a quoted line marked with ``mark``, not a table row.

    The mark is followed by a space, the line's end or itself (nested); a line that also
    ends with it around other words ("| 日期 | 2026-11-26 |") is a table row.
    """
    content = line.strip()
    if not content.startswith(mark) or content[1:2] not in ("", " ", "\t", mark):
        return False
    return not (len(content) > 1 and content.endswith(mark) and content.strip(mark + " \t"))


def _wrapped_head(line: str, kept: list[str]) -> bool:
    """Say whether an attribution line is only the tail of one wrapped over two lines.

    Gmail wraps "李雷 <x@y> 于2026年11月26日周四\\n09:30写道：": the tail matches alone, and
    the head, already taken for the sender's words, must go too.
    """
    if not kept or not kept[-1].strip():
        return False
    return bool(_WROTE_TAIL.match(line)) and "@" in kept[-1]
