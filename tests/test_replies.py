"""Replies that decide (spec §4): golden replies from real clients, word rules, quote cutting."""

from __future__ import annotations

import dataclasses
import json
import os
from email.message import EmailMessage
from pathlib import Path

import pytest

from service.inbound.html_text import html_to_text
from service.inbound.mime import decode_message
from service.reading.quotes import own_text
from service.reading.replies import MAX_LINES, Decision, decode_entities, own_words, read_decision

FIXTURES = Path(__file__).parent / "fixtures" / "replies"
GOLDEN = sorted(FIXTURES.glob("*.eml"))
CORPUS = Path(os.environ.get("VISITFLOW_CORPUS", "/work/shared/corpus"))
QUOTE_ONLY_WORDS = ("请回复", "审批码", "visits@visitflow.test", "本邮件由")


def decoded(eml: Path):
    return decode_message(eml.read_bytes())


def expected_for(eml: Path) -> dict:
    return json.loads(eml.with_suffix(".json").read_text(encoding="utf-8"))


def fields(decision: Decision) -> dict:
    return {"decision": decision.decision, "numbers": decision.numbers, "comment": decision.comment}


def mail(body: str, *, html: bool = False, flowed: bool = False, delsp: bool = False) -> bytes:
    """Build a minimal reply to the service's gift request, text or HTML only."""
    msg = EmailMessage()
    msg["From"] = "王芳 <wang.fang@visitflow.test>"
    msg["To"] = "巡访服务 <visits@visitflow.test>"
    msg["Subject"] = "Re: [VF-G-12] 礼品申请：华联超市 ¥1,200.00"
    msg["In-Reply-To"] = "<vf.0123456789abcdef0123456789abcdef@visitflow.test>"
    msg.set_content(body, subtype="html" if html else "plain", cte="8bit")
    if flowed:
        msg.set_param("format", "flowed")
    if delsp:
        msg.set_param("delsp", "yes")
    return msg.as_bytes()


def decide(body: str, **kwargs) -> tuple:
    found = read_decision(decode_message(mail(body, **kwargs)))
    return found.decision, found.numbers, found.comment


# --------------------------------------------------------------------------- golden replies


def test_there_is_a_golden_reply_for_every_client_the_spec_names():
    stems = " ".join(p.stem for p in GOLDEN)
    for client in ("outlook_en", "outlook_zh", "gmail_en", "gmail_zh", "apple_mail", "thunderbird",
                   "foxmail", "qq_mail", "netease_163", "ios_mail", "coremail_163", "coremail_126",
                   "yahoo_android", "yahoo_web", "windows_mail", "outlook_android", "xiaomi_mail",
                   "netease_mail_master", "qq_mail_app", "neomutt"):
        assert client in stems
    assert all(p.with_suffix(".json").is_file() for p in GOLDEN)


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_each_golden_reply_decides_as_its_json_says(eml):
    assert fields(read_decision(decoded(eml))) == expected_for(eml)


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_no_golden_reply_lets_its_quoted_original_into_the_own_text(eml):
    words = read_decision(decoded(eml)).own_text
    for word in QUOTE_ONLY_WORDS:
        assert word not in words
    assert len(words.splitlines()) <= 3


@pytest.mark.parametrize("eml", GOLDEN, ids=lambda p: p.stem)
def test_every_golden_reply_quotes_an_original_that_names_both_decisions(eml):
    # The fixtures are traps only if reading the quote would find a decision word.
    msg = decoded(eml)
    text = msg.text or html_to_text(msg.html)
    assert "请回复" in text and "同意" in text and "驳回" in text


@pytest.mark.parametrize("eml", [p for p in GOLDEN if decoded(p).html], ids=lambda p: p.stem)
def test_the_html_part_alone_decides_the_same_as_the_whole_reply(eml):
    msg = decoded(eml)
    html_only = dataclasses.replace(msg, text=html_to_text(msg.html))
    assert fields(read_decision(html_only)) == expected_for(eml)


def test_the_decision_keeps_the_own_text_it_read():
    found = read_decision(decoded(FIXTURES / "gmail_zh_approved_with_comment.eml"))
    assert found == Decision("approve", [], "请控制在预算内", "同意\n请控制在预算内", remainder="请控制在预算内")


# --------------------------------------------------------------------------- word rules

WORD_RULES = [
    # (own text, decision, numbers, comment)
    ("同意", "approve", [], ""),
    ("批准", "approve", [], ""),
    ("approve", "approve", [], ""),
    ("Approved.", "approve", [], ""),
    ("APPROVED", "approve", [], ""),
    ("Approve, but only one box", "approve", [], "but only one box"),
    ("Approved. Please keep receipts.", "approve", [], "Please keep receipts."),
    ("同意\n请控制在预算内", "approve", [], "请控制在预算内"),
    ("同意。\n\n请控制在预算内\n下月再议", "approve", [], "请控制在预算内\n下月再议"),
    ("  同意", "approve", [], ""),
    ("\u3000同意，谢谢", "approve", [], "谢谢"),
    ("同意了", "approve", [], ""),
    ("批准 下不为例", "approve", [], "下不为例"),
    ("驳回，预算太高", "reject", [], "预算太高"),
    ("驳回: 预算太高", "reject", [], "预算太高"),
    ("驳回！！预算太高", "reject", [], "预算太高"),
    ("不同意", "reject", [], ""),
    ("不同意 客户级别不够", "reject", [], "客户级别不够"),
    ("拒绝；已超预算", "reject", [], "已超预算"),
    ("reject", "reject", [], ""),
    ("Rejected - over budget", "reject", [], "over budget"),
    ("上报 2", "escalate", [2], ""),
    ("上报 2, 5", "escalate", [2, 5], ""),
    ("上报 2，5", "escalate", [2, 5], ""),
    ("上报2、3", "escalate", [2, 3], ""),
    ("escalate 1 3", "escalate", [1, 3], ""),
    ("Escalate #4 and #6", "escalate", [4, 6], ""),
    ("上报 第2项、第5项 客户投诉严重", "escalate", [2, 5], "客户投诉严重"),
    ("上报 2-4", "escalate", [2, 3, 4], ""),
    ("上报 3 3", "escalate", [3], ""),
    ("上报：2\n请领导关注", "escalate", [2], "请领导关注"),
    ("收到", "ack", [], ""),
    ("ack", "ack", [], ""),
    ("Ack, on it", "ack", [], "on it"),
    ("关闭，已处理", "close", [], "已处理"),
    ("close", "close", [], ""),
    ("Close. Fixed on site.", "close", [], "Fixed on site."),
    # full-width letters and digits are read as ASCII (NFKC); the comment keeps what was typed
    ("ＡＰＰＲＯＶＥ", "approve", [], ""),
    ("上报 ２、５", "escalate", [2, 5], ""),
    ("ｒｅｊｅｃｔ，ｔｏｏ　ｍｕｃｈ", "reject", [], "ｔｏｏ　ｍｕｃｈ"),
    # a question decides nothing
    ("同意吗？", None, [], ""),
    ("同意吗", None, [], ""),
    ("同意？", None, [], ""),
    ("同意 ?", None, [], ""),
    ("批准了吗？", None, [], ""),
    ("approved?", None, [], ""),
    ("Approve? Not sure.", None, [], ""),
    ("收到吗", None, [], ""),
    ("上报 2？", None, [], ""),
    # the first word decides, and only a whole word
    ("我不同意", None, [], ""),
    ("王总好，同意", None, [], ""),
    ("好的\n同意", None, [], ""),
    ("“同意”", None, [], ""),
    ("同意不了", None, [], ""),
    ("批准的预算不够", None, [], ""),
    ("approvedly", None, [], ""),
    ("approves", None, [], ""),
    ("closet", None, [], ""),
    ("close-up photos attached", None, [], ""),
    ("acknowledged", None, [], ""),
    ("disapprove", None, [], ""),
    ("OK", None, [], ""),
    # escalation and closing take item numbers on a digest, and none on an urgent report
    # (spec §4); what is not an item number is the comment, for the workflow to judge
    ("上报", "escalate", [], ""),
    ("escalate", "escalate", [], ""),
    ("上报 全部", "escalate", [], "全部"),
    ("上报 0", "escalate", [], "0"),
    ("关闭 1 原因", "close", [1], "原因"),
    ("close 2 handled", "close", [2], "handled"),
    ("关闭第1条和第3条 已经处理", "close", [1, 3], "已经处理"),
    # nothing of the replier's own
    ("", None, [], ""),
    ("\n\n", None, [], ""),
]


@pytest.mark.parametrize(("text", "decision", "numbers", "comment"), WORD_RULES,
                         ids=[repr(row[0])[:40] for row in WORD_RULES])
def test_the_first_word_of_a_plain_reply_decides(text, decision, numbers, comment):
    assert decide(text) == (decision, numbers, comment)


@pytest.mark.parametrize(
    ("html", "expected"),
    [
        ("<div>驳回，预算太高</div>", ("reject", [], "预算太高")),
        ("<p>同意</p><p>请控制在预算内</p>", ("approve", [], "请控制在预算内")),
        ("<div>&nbsp;同意</div>", ("approve", [], "")),
        ("<div>同意&#xFF1F;</div>", (None, [], "")),
        ("<div><b>上报</b> 2、5</div>", ("escalate", [2, 5], "")),
        ("<div>我看了</div><blockquote>同意</blockquote>", (None, [], "")),
    ],
)
def test_the_first_word_of_an_html_only_reply_decides(html, expected):
    assert decide(html, html=True) == expected


def test_a_reply_reads_only_its_first_fifty_lines():
    body = "同意\n" + "\n".join(f"第 {n} 行" for n in range(2, 500))
    found = read_decision(decode_message(mail(body)))
    assert found.decision == "approve"
    assert len(found.own_text.splitlines()) == MAX_LINES
    assert found.comment.splitlines()[-1] == f"第 {MAX_LINES} 行"


def test_a_flowed_reply_joins_its_soft_line_breaks_before_reading():
    body = "Approve\nplease keep \nreceipts.\n\nOn 11/26/26 10:00, 巡访服务 wrote:\n> 请回复“同意” \n> 或“驳回”\n"
    assert decide(body, flowed=True) == ("approve", [], "please keep receipts.")
    # DelSp=yes: the space before a soft break is the client's, not the writer's.
    assert decide(body.replace(" \n", "  \n"), flowed=True, delsp=True) == ("approve", [], "please keep receipts.")
    assert decide(body, flowed=False) == ("approve", [], "please keep\nreceipts.")


# --------------------------------------------------------------------------- where the own words end

OWN_WORDS = [
    # (client, text of the reply, own words)
    ("Gmail zh, attribution wrapped after the date",
     "同意\n\n巡访服务 <visits@visitflow.test> 于2026年11月26日周四\n10:00写道：\n\n> 请回复“同意”或“驳回”\n",
     "同意"),
    ("Gmail en, attribution wrapped before 'wrote:'",
     "同意\n\nOn Thu, Nov 26, 2026 at 10:00 AM 巡访服务 <visits@visitflow.test>\nwrote:\n\n> 请回复\n",
     "同意"),
    ("any language: a dated line ending in a colon above a '>' quote",
     "Hello\n02.04.2012 14:20 пользователь \"bob@example.com\" <\nbob@example.com> написал:\n\n> 同意\n",
     "Hello"),
    ("Thunderbird below the quote, blank line between",
     "On 11/26/26 10:00, 巡访服务 wrote:\n> 请回复“同意”或“驳回”\n>\n\n驳回，预算太高\n",
     "驳回，预算太高"),
    ("answers between quoted lines",
     "On 11/26/26 10:00, 巡访服务 wrote:\n> 预算金额：¥1,200.00\n\n太高了\n\n> 请回复“同意”或“驳回”\n\n驳回\n",
     "太高了\n\n驳回"),
    ("an unprefixed original under an attribution is not read",
     "On 11/26/26 10:00, 巡访服务 wrote:\n请回复“同意”或“驳回”\n驳回，预算太高\n",
     ""),
    ("Outlook mobile signature",
     "关闭\n\n获取 Outlook for Android<https://aka.ms/AAb9ysg>\n________________________________\n发件人: 巡访服务\n",
     "关闭"),
    ("phone signature", "收到\n\n发自我的华为手机\n", "收到"),
    ("NetEase Mail Master", "同意\n\n---- 回复的原邮件 ----\n| 发件人 | 巡访服务<visits@visitflow.test> |\n", "同意"),
    ("NetEase Mail Master en", "同意\n\n---- Replied Message ----\n| From | 巡访服务 |\n", "同意"),
    ("QQ Mail, newer plain text",
     "驳回\n\n         Original\n         \nFrom:巡访服务 <visits@visitflow.test>\nSent Time:2026-11-26 10:00\n\n请回复\n",
     "驳回"),
    ("Proton", "同意\n\n‐‐‐‐‐‐‐ Original Message ‐‐‐‐‐‐‐\nOn Thursday, 巡访服务 wrote:\n", "同意"),
    ("an address in the sender's last line is not taken for a wrapped attribution",
     "同意，发票寄 finance@visitflow.test\n02.04.2012 14:20 пользователь написал:\n> 请回复\n",
     "同意，发票寄 finance@visitflow.test"),
    ("a From: field of the sender's own is kept", "同意\nFrom: 上海仓库发货\n", "同意\nFrom: 上海仓库发货"),
    # A header block or separator above a '>' quote introduces it like an attribution.
    ("bottom-posted under a quoted zh header block",
     "发件人：巡访服务 <visits@visitflow.test>\n发送日期：2026-11-26 10:00\n收件人：王芳\n主题：礼品申请\n\n"
     "> 请回复“同意”或“驳回”\n>\n> 审批码：K7P\n\n同意，请按流程办理\n", "同意，请按流程办理"),
    ("bottom-posted under a header block glued to its quote",
     "发件人: 巡访服务\n发送时间: 2026年11月26日 10:00\n> 请回复“同意”或“驳回”\n\n驳回\n", "驳回"),
    ("bottom-posted under Outlook's separator, wrapped To header and prefixed quote",
     "-----Original Message-----\nFrom: 巡访服务 <visits@visitflow.test>\nSent: Thursday, November 26, 2026 10:00 AM\n"
     "To: Wang Fang <wang.fang@visitflow.test>; Li Lei\n <li.lei@visitflow.test>\nSubject: gift\n\n> 请回复\n\n"
     "Rejected - too much\n", "Rejected - too much"),
    ("a header block above an unmarked original still ends the own text",
     "同意\n\n发件人：巡访服务\n发送日期：2026-11-26 10:00\n\n请回复“同意”或“驳回”\n驳回，预算太高\n", "同意"),
    ("Mail Master's header table is not a quote marked with '|'",
     "同意\n\n---- 回复的原邮件 ----\n| 发件人 | 巡访服务<visits@visitflow.test> |\n| 日期 | 2026年11月26日 10:00 |\n"
     "| 收件人 | 王芳 |\n| 主题 | 礼品申请 |\n请回复“同意”或“驳回”\n驳回，预算太高\n", "同意"),
    # Attributions of every common client end the own text above an unmarked original.
    ("Coremail en", 'Approve\n\nAt 2026-11-26 10:00:12, "巡访服务" <visits@visitflow.test> wrote:\n请回复\n驳回，预算太高\n',
     "Approve"),
    ("Coremail zh", '同意\n\n在 2026-11-26 10:00:12，"巡访服务" <visits@visitflow.test> 写道：\n请回复\n驳回\n', "同意"),
    ("Yahoo web, indented", " Approved\n\n    On Thursday, November 26, 2026 at 10:00:00 AM GMT+8, 巡访服务 "
     "<visits@visitflow.test> wrote:  \n \n 请回复\n 驳回，预算太高\n", " Approved"),
    ("an address before 'wrote:'", "同意\n\n巡访服务 <visits@visitflow.test> wrote:\n请回复\n驳回\n", "同意"),
    ("a date before 'writes:'", "同意\n\n2026-11-26 10:00 GMT+08:00, 巡访服务 writes:\n请回复\n驳回\n", "同意"),
    ("Traditional Gmail", "同意\n\n巡訪服務 <visits@visitflow.test> 於 2026年11月26日 週四 上午10:00寫道：\n請回覆\n駁回\n",
     "同意"),
    ("QQ Mail app", "同意\n\n---Original---\nFrom: \"巡访服务\"<visits@visitflow.test>\nDate: Thu, Nov 26, 2026 10:00 AM\n"
     "请回复\n驳回\n", "同意"),
    ("Thunderbird zh separator", "同意\n\n-------- 原始信息 --------\n主题：礼品申请\n请回复\n驳回\n", "同意"),
    ("Foxmail classic, its closing rule and card",
     "同意\n\n======= 2026-11-26 10:00:00 您在来信中写道：=======\n\n>请回复\n\n= = = = = = = = = = = = = = = = = = = =\n"
     "\n        致\n礼！\n        王芳\n", "同意"),
    ("'wrote:' without a date or address is the sender's own", "同意，正如李雷 wrote:\n请尽快\n",
     "同意，正如李雷 wrote:\n请尽快"),
]


@pytest.mark.parametrize(("client", "text", "words"), OWN_WORDS, ids=[row[0] for row in OWN_WORDS])
def test_the_own_text_ends_where_the_client_starts_its_quote(client, text, words):
    assert own_text(text) == words


def test_a_line_glued_to_a_quoted_line_is_the_quote_wrapped_in_plain_text():
    # A client that wraps a long quoted line without repeating '>' leaves the tail bare;
    # here the tail of the service's own example would read as a rejection.
    text = ("On 11/26/26 10:00, 巡访服务 wrote:\n> 请回复“同意”或“驳回”，第一个词表示决定，例如：“\n"
            "驳回，预算太高”。\n")
    assert own_text(text, strict=True) == ""
    assert decide(text) == (None, [], "")


def test_thunderbirds_flowed_reply_below_the_quote_needs_no_blank_line():
    body = "On 11/26/26 10:00, 巡访服务 wrote:\n> 请回复“同意”或“驳回” \n> 审批码：K7P\n同意\n"
    assert decide(body, flowed=True) == ("approve", [], "")


@pytest.mark.parametrize(
    ("html", "words"),
    [
        ('<div>同意</div><div id="divRplyFwdMsg"><b>From:</b> 巡访服务</div><div>请回复“同意”</div>', "同意"),
        ('<div>同意</div><div class="gmail_quote"><div class="gmail_attr">On … wrote:</div>'
         '<blockquote class="gmail_quote">请回复</blockquote></div>', "同意"),
        ("<div>同意</div><div>------------------&nbsp;原始邮件&nbsp;------------------</div>"
         "<div>驳回，预算太高</div>", "同意"),
        ('<div class="moz-cite-prefix">On 11/26/26 10:00, 巡访服务 wrote:<br></div>'
         '<blockquote type="cite">请回复“同意”或“驳回”</blockquote><p>驳回，预算太高</p>', "驳回，预算太高"),
        ("<p>同意</p><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>"
         "<p><b>发件人:</b> 巡访服务</p></div><p>驳回</p>", "同意"),
        ('<div>同意</div><hr id="replySplit"><div>驳回</div>', "同意"),
    ],
    ids=["outlook_web", "gmail", "qq_foxmail", "thunderbird_below", "outlook_desktop", "mail139"],
)
def test_an_html_only_reply_is_cut_where_the_client_starts_its_quote(html, words):
    assert own_words(decode_message(mail(html, html=True))) == words


# --------------------------------------------------------------------------- quote marks other than '>'

WROTE = "On Thu, Nov 26, 2026 at 10:00:00AM +0800, 巡访服务 wrote:\n"
QUOTE_MARKS = [
    # (case, text of the reply, own words)
    ("NeoMutt '| ', quoted blank lines keep the space",
     WROTE + "| 请回复“同意”或“驳回”\n| \n| 审批码：K7P\n\n同意，下不为例\n", "同意，下不为例"),
    ("': ', quoted blank lines as ':'",
     "在 2026-11-26 10:00 +0800，巡访服务 写道：\n: 请回复“同意”或“驳回”\n:\n: 审批码：K7P\n\n驳回\n预算太高\n",
     "驳回\n预算太高"),
    ("'» ' under an attribution of the user's own",
     "* 巡访服务 <visits@visitflow.test> [2026-11-26 10:00 +0800]:\n» 请回复\n»\n» 驳回，预算太高\n\nreject\n", "reject"),
    ("nested marks", WROTE + "| 请回复\n| | On Wed, Li Lei wrote:\n| | 驳回\n||\n\n同意\n", "同意"),
    ("an indented mark", WROTE + "  | 请回复\n  | 驳回，预算太高\n\n同意\n", "同意"),
    ("answers between marked lines",
     WROTE + "| 预算金额：¥1,200.00\n| 数量：4\n\n太高了\n\n| 请回复“同意”或“驳回”\n| 审批码：K7P\n\n驳回\n", "太高了\n\n驳回"),
    # What is not a quote mark leaves the original unmarked: the own text ends above it.
    ("a list under an attribution", WROTE + "- 请回复“同意”或“驳回”\n- 驳回，预算太高\n", ""),
    ("bullets under an attribution", WROTE + "• 请回复\n• 驳回，预算太高\n", ""),
    ("a single marked line", WROTE + "| 请回复\n驳回，预算太高\n", ""),
    ("a smiley", WROTE + ":) 请回复\n:) 驳回\n", ""),
    ("a table under an attribution", WROTE + "| 发件人 | 巡访服务 |\n| 日期 | 2026-11-26 |\n驳回，预算太高\n", ""),
    # Without an attribution a marked run is the sender's own.
    ("a table under a dated heading of the sender's",
     "同意，明细 2026-11-26:\n| 茶叶 | 1200 |\n| 贺卡 | 20 |\n", "同意，明细 2026-11-26:\n| 茶叶 | 1200 |\n| 贺卡 | 20 |"),
    ("a line starting with '|' after a '>' quote", WROTE + "> 请回复\n\n同意\n| 发票随货\n", "同意\n| 发票随货"),
]


@pytest.mark.parametrize(("case", "text", "words"), QUOTE_MARKS, ids=[row[0] for row in QUOTE_MARKS])
def test_a_run_of_lines_sharing_one_mark_below_an_attribution_is_a_quote(case, text, words):
    assert own_text(text, strict=True) == words


def test_a_neomutt_decision_typed_below_a_pipe_quote_decides():
    body = WROTE + "| 王芳，您好：\n| \n| 请回复“同意”或“驳回”\n| 驳回，预算太高\n\n同意，下不为例\n"
    assert decide(body) == ("approve", [], "下不为例")


# --------------------------------------------------------------------------- HTML entities in plain text

ENTITIES = [
    # (text/plain as the client sent it, as read)
    ("同意&nbsp;&nbsp;请尽快", "同意  请尽快"),
    ("A&amp;B", "A&B"),
    ("&lt;尊享&gt;款", "<尊享>款"),
    ("Tom&#39;s", "Tom's"),
    ("&#x4E2D;&#20013;", "中中"),
    ("A&amp;lt;B", "A&lt;B"),  # decoded once, never twice
    ("R&D, AT&T", "R&D, AT&T"),  # no reference at all
    ("&copy2026 &nbsp &bogus;", "&copy2026 &nbsp &bogus;"),  # without ';', or no such name
]


@pytest.mark.parametrize(("text", "read"), ENTITIES, ids=[row[0] for row in ENTITIES])
def test_character_references_left_in_plain_text_are_decoded_once(text, read):
    assert decode_entities(text) == read


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("驳回&nbsp;&nbsp;预算超出&lt;本季度&gt;上限", ("reject", [], "预算超出<本季度>上限")),
        ("Approved&nbsp;- buy from Tom&#39;s &amp; keep the receipt", ("approve", [], "buy from Tom's & keep the receipt")),
        ("同意 A&amp;lt;B", ("approve", [], "A&lt;B")),
        # escaped quote marks mark a quote too
        (WROTE + "&gt; 请回复“同意”或“驳回”\n&gt; 驳回，预算太高\n\n同意\n", ("approve", [], "")),
    ],
)
def test_a_plain_reply_carrying_entities_decides_on_the_decoded_text(body, expected):
    assert decide(body) == expected


def test_a_no_break_space_at_the_end_of_a_flowed_line_is_no_soft_line_break():
    assert decide("Approve, keep&nbsp;\nreceipts\n", flowed=True) == ("approve", [], "keep\nreceipts")
    assert decide("Approve, keep \nreceipts\n", flowed=True) == ("approve", [], "keep receipts")


def test_an_html_reply_is_not_decoded_a_second_time():
    assert decide("<div>同意 A&amp;lt;B</div>", html=True) == ("approve", [], "A&lt;B")


# --------------------------------------------------------------------------- public test mails

TALON = CORPUS / "mailgun__talon"
TALON_REPLIES = ["android", "aol", "apple_mail", "apple_mail_2", "comcast", "gmail", "hotmail",
                 "iphone", "outlook", "sparrow", "thunderbird", "yahoo"]


@pytest.mark.parametrize("name", TALON_REPLIES)
def test_the_own_words_of_talons_standard_replies_are_just_hello(name):
    path = TALON / f"{name}.eml"
    if not path.is_file():
        pytest.skip("corpus not available")
    assert own_words(decode_message(path.read_bytes())) == "Hello"
