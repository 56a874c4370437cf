"""Cut a mail's text down to the sender's own words: no quoted original, no signature.

Mail clients mark the start of a quoted or forwarded original in many ways. Each marker
below is named after the clients that write it; the text is cut at the first line that
starts one. Lines quoted with '>' (also the '> ' prefix the HTML converter gives
blockquotes) are dropped wherever they stand.
"""

from __future__ import annotations

import re

# A line that starts the quoted original: everything from it on is not the sender's.
QUOTE_STARTS: tuple[tuple[str, re.Pattern], ...] = (
    # Foxmail, QQ Mail: "------------------ 原始邮件 ------------------"
    ("foxmail_qq", re.compile(r"^\s*-{3,}\s*(原始邮件|Original)\s*-{3,}\s*$", re.I)),
    # Outlook (en): "-----Original Message-----"; Outlook (zh): "-----邮件原件-----"
    ("outlook_original", re.compile(r"^\s*-{3,}\s*(Original Message|邮件原件|原始邮件|转发的邮件|Forwarded message)\s*-{3,}\s*$", re.I)),
    # Gmail forward: "---------- Forwarded message ---------"
    ("gmail_forward", re.compile(r"^\s*-{5,}\s*Forwarded message\s*-{3,}", re.I)),
    # Outlook separator line (a long underscore rule) before its header block.
    ("outlook_rule", re.compile(r"^\s*_{10,}\s*$")),
    # Gmail / Apple Mail / Thunderbird: "On Thu, Nov 26, 2026 at 9:30 AM Li Lei <x@y> wrote:"
    ("on_wrote", re.compile(r"^\s*On\b.{0,200}\bwrote:\s*$", re.I)),
    # Gmail (zh), Apple Mail (zh), 163: "在 2026年11月26日 09:30，李雷 <x@y> 写道：" (may wrap one line)
    ("zh_wrote", re.compile(r"^\s*(在|於|于)?.{0,200}(写道|寫道)\s*[:：]\s*$")),
    # A header block of the original (Outlook zh/en, Foxmail, 163): "发件人: …" / "From: …"
    ("header_block", re.compile(r"^\s*\*?(发件人|發件人|寄件者|From)\s*\*?\s*[:：]", re.I)),
    # Signature delimiter "-- " (RFC 3676), and the common Chinese phone signature lines.
    ("signature", re.compile(r"^(-- ?|—— ?)$")),
    ("mobile_signature", re.compile(r"^\s*(发自我的|來自我的|Sent from my)\s*\S+", re.I)),
)
WROTE_PREFIX = re.compile(r"^\s*(On\b|在\s*\d|於\s*\d|于\s*\d)", re.I)


def own_text(text: str) -> str:
    """Return the sender's own words: text above the first quote marker, without '>' lines."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept: list[str] = []
    for i, line in enumerate(lines):
        if _starts_quote(line, lines[i + 1] if i + 1 < len(lines) else ""):
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    while kept and not kept[-1].strip():
        kept.pop()
    while kept and not kept[0].strip():
        kept.pop(0)
    return "\n".join(kept)


def _starts_quote(line: str, following: str) -> bool:
    for name, pattern in QUOTE_STARTS:
        if name == "header_block":
            # "From:" alone could be a field of the sender's own text; a header block has a
            # From line followed by another header of the original.
            if pattern.match(line) and re.match(r"^\s*\*?(发送时间|日期|Sent|Date|时间|收件人|To)\s*\*?\s*[:：]",
                                                following, re.I):
                return True
            continue
        if pattern.match(line):
            return True
    # "On … wrote:" split over two lines by the client's wrapping.
    if WROTE_PREFIX.match(line) and re.match(r"^.{0,120}(wrote|写道|寫道)\s*[:：]\s*$", following, re.I):
        return True
    return False
