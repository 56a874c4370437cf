"""Cut a mail's text down to the sender's own words: no quoted original, no signature.

Mail clients mark the start of a quoted or forwarded original in many ways. Each marker
below is named after the clients that write it; the text is cut at the first line that
starts one. Lines quoted with '>' (also the '> ' prefix the HTML converter gives
blockquotes) are dropped wherever they stand.

An attribution line ("On … wrote:", "在 … 写道：") followed by '>'-quoted lines does not
end the sender's words: whoever answers below the quote (Thunderbird's default) or
between its lines writes on after it, so reading goes on past the quote.
"""

from __future__ import annotations

import re

# A line that starts the quoted original: everything from it on is not the sender's.
QUOTE_STARTS: tuple[tuple[str, re.Pattern], ...] = (
    # Foxmail, QQ Mail: "------------------ 原始邮件 ------------------"
    ("foxmail_qq", re.compile(r"^\s*-{3,}\s*(原始邮件|原始郵件|Original)\s*-{3,}\s*$", re.I)),
    # Outlook (en): "-----Original Message-----"; Outlook (zh): "-----邮件原件-----";
    # Proton writes the dashes as U+2010.
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
    # Gmail / Apple Mail / Thunderbird: "On Thu, Nov 26, 2026 at 9:30 AM Li Lei <x@y> wrote:"
    ("on_wrote", re.compile(r"^\s*On\b.{0,200}\bwrote:\s*$", re.I)),
    # Gmail (zh): "李雷 <x@y> 于2026年11月26日周四 09:30写道：";
    # Apple Mail (zh), 163: "在 2026年11月26日 09:30，李雷 <x@y> 写道：" (may wrap one line)
    ("zh_wrote", re.compile(r"^\s*(在|於|于)?.{0,200}(写道|寫道)\s*[:：]\s*$")),
    # A header block of the original (Outlook zh/en, Foxmail, 163): "发件人: …" / "From: …"
    ("header_block", re.compile(r"^\s*\*?(发件人|發件人|寄件者|寄件人|From)\s*\*?\s*[:：]", re.I)),
    # Signature delimiter "-- " (RFC 3676), and the common Chinese phone signature lines.
    ("signature", re.compile(r"^(-- ?|—— ?)$")),
    ("mobile_signature", re.compile(
        r"^\s*((发自我的|來自我的|Sent from my)\s*\S+"
        r"|(发自|來自|来自|發自)\s*(iPhone|iPad|Android|华为|HUAWEI|小米|荣耀|手机|网易邮箱大师|邮箱大师|QQ邮箱)"
        r"|(Get|获取|獲取|下载|取得)\s*Outlook\s*(for|适用于|適用於)\s*(iOS|Android))", re.I)),
)
_HEADER_START = dict(QUOTE_STARTS)["header_block"]
ATTRIBUTIONS = frozenset({"on_wrote", "zh_wrote"})
WROTE_PREFIX = re.compile(r"^\s*(On\b|在\s*\d|於\s*\d|于\s*\d)", re.I)
# The second header of an original's header block (the first is From / 发件人).
_HEADER_FOLLOWS = re.compile(
    r"^\s*\*?(发送时间|發送時間|发件时间|发送日期|寄件日期|日期|时间|時間|Sent(\s+Time)?|Date|收件人|To)\s*\*?\s*[:：]", re.I)
# QQ Mail's newer quote: a line "Original" / "原始邮件" alone, then its header table.
_BARE_ORIGINAL = re.compile(r"^\s*(Original|原始邮件|原始郵件)\s*$", re.I)
# Any language's attribution ("02.04.2012 14:20 пользователь … написал:"): a line ending in
# a colon that names an address or a date, directly above '>'-quoted lines.
_ENDS_COLON = re.compile(r"[:：]\s*$")
_ADDRESS_OR_DATE = re.compile(r"\S@\S|\d{1,4}[-./年]\d{1,2}[-./月]\d{1,4}|\d{1,2}:\d{2}")
# Wrapped over two lines, the head carries the date ("02.04.2012 14:20 … <"), the tail the address.
_DATE_OR_TIME = re.compile(r"\d{1,4}[-./年]\d{1,2}[-./月]\d{1,4}|\d{1,2}:\d{2}")
# The tail of a wrapped attribution: only the time before "写道：" ("10:00写道：", "上午10:00 写道：").
_WROTE_TAIL = re.compile(r"^\s*[\d:.\sAPMapm上下午晚早中凌晨]{0,20}(写道|寫道|wrote)\s*[:：]\s*$")


def own_text(text: str, *, strict: bool = False) -> str:
    """Return the sender's own words: text above the first quote marker, without '>' lines.

    After an attribution line whose quote is '>'-prefixed, the words written below or
    between the quoted lines count too. With ``strict`` (plain text that was not sent
    format=flowed, so a client may have wrapped a long quoted line without repeating the
    '>'), a line glued to a quoted line - no blank line between - is taken for the rest
    of that quoted line, not for the sender's words.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    glued = False  # the previous line was quoted, or glued to a quoted one
    dropped = False  # a quoted line was dropped since the last line kept
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith(">"):
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
        marker = _quote_start(lines, i)
        if marker is not None:
            kind, span = marker
            if kind == "attribution" and _wrapped_head(line, kept):
                kept.pop()
            if kind == "attribution" and _quoted_below(lines, i + span):
                i += span
                continue
            break
        kept.append(line.rstrip())
        dropped = False
        i += 1
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join(kept)


def _quote_start(lines: list[str], i: int) -> tuple[str, int] | None:
    """Say whether lines[i] starts a quote: ("attribution" | "cut", lines it spans) or None."""
    line = lines[i]
    following = lines[i + 1] if i + 1 < len(lines) else ""
    for name, pattern in QUOTE_STARTS:
        if name == "header_block":
            # "From:" alone could be a field of the sender's own text; a header block has a
            # From line followed by another header of the original.
            if pattern.match(line) and _HEADER_FOLLOWS.match(following):
                return "cut", 1
            continue
        if pattern.match(line):
            return ("attribution" if name in ATTRIBUTIONS else "cut"), 1
    # "On … wrote:" split over two lines by the client's wrapping.
    if WROTE_PREFIX.match(line) and re.match(r"^.{0,120}(wrote|写道|寫道)\s*[:：]\s*$", following, re.I):
        return "attribution", 2
    if _BARE_ORIGINAL.match(line):
        # Only when the original's header block follows within a few lines.
        for j in range(i + 1, min(i + 5, len(lines))):
            if lines[j].strip():
                header = _HEADER_START.match(lines[j])
                if header and j + 1 < len(lines) and _HEADER_FOLLOWS.match(lines[j + 1]):
                    return "cut", 1
                break
    # Any other language: an address or date in a line ending with a colon, quote below.
    if _ENDS_COLON.search(line) and _quoted_below(lines, i + 1):
        if _ADDRESS_OR_DATE.search(line):
            return "attribution", 1
    if following and _ENDS_COLON.search(following) and not _ENDS_COLON.search(line) \
            and not following.lstrip().startswith(">") \
            and line.strip() and _quoted_below(lines, i + 2) \
            and _DATE_OR_TIME.search(line) and "@" in line + following:
        return "attribution", 2
    return None


def _quoted_below(lines: list[str], start: int) -> bool:
    """Say whether the first non-blank line from ``start`` on is '>'-quoted."""
    for j in range(start, min(start + 3, len(lines))):
        if lines[j].strip():
            return lines[j].lstrip().startswith(">")
    return False


def _wrapped_head(line: str, kept: list[str]) -> bool:
    """Say whether an attribution line is only the tail of one wrapped over two lines.

    Gmail wraps "李雷 <x@y> 于2026年11月26日周四\\n09:30写道：": the tail matches alone, and
    the head, already taken for the sender's words, must go too.
    """
    if not kept or not kept[-1].strip():
        return False
    return bool(_WROTE_TAIL.match(line)) and "@" in kept[-1]
