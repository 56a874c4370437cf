"""Client default signatures end the replier's own text (spec §4 "Replies that decide")."""

from __future__ import annotations

from email.message import EmailMessage

import pytest

from service.inbound.mime import decode_message
from service.reading.quotes import SIGNATURES, is_signature, own_text, signature_kind
from service.reading.replies import read_decision

# Default signatures as the clients write them into text/plain, links and all.
CLIENT_SIGNATURES = [
    # (client, signature line)
    ("iOS Mail en", "Sent from my iPhone"),
    ("iPadOS Mail en", "Sent from my iPad"),
    ("Samsung Email", "Sent from my Galaxy"),
    ("iOS Mail zh-CN", "发自我的iPhone"),
    ("iOS Mail zh-CN, spaced", "发自我的 iPad"),
    ("iOS Mail zh-TW", "從我的 iPhone 傳送"),
    ("iOS Mail zh-HK", "寄自我的iPhone"),
    ("Huawei Email", "发自我的华为手机"),
    ("Huawei Email, model", "发自我的 HUAWEI Mate 60 Pro"),
    ("Honor Email", "发自我的荣耀手机"),
    ("Xiaomi Email", "来自我的小米手机"),
    ("Xiaomi Email, traditional", "來自我的小米手機"),
    ("OPPO Email", "发自我的OPPO手机"),
    ("vivo Email", "发自vivo智能手机"),
    ("NetEase Mail Master", "来自网易邮箱大师"),
    ("NetEase Mail Master iPhone", "发自网易邮箱大师 iPhone 版"),
    ("QQ Mail app", "发自我的QQ邮箱"),
    ("DingTalk mail", "来自钉钉专属商务邮箱"),
    ("Windows Mail en", "Sent from Mail for Windows"),
    ("Windows Mail en, link inside", "Sent from Mail<https://go.microsoft.com/fwlink/?LinkId=550986> for Windows 10"),
    ("Windows Mail zh", "从 Windows 版邮件发送"),
    ("Yahoo Mail Android", "Sent from Yahoo Mail on Android"),
    ("Yahoo Mail iPhone", "Sent from Yahoo Mail for iPhone"),
    ("Outlook for iOS", "Get Outlook for iOS"),
    ("Outlook for Android, link glued", "Get Outlook for Android<https://aka.ms/ghei36>"),
    ("Outlook for iOS, link in brackets", "Get Outlook for iOS [https://aka.ms/o0ukef]"),
    ("Outlook for Android zh", "获取 Outlook for Android"),
    ("Outlook.com", "Sent from Outlook<http://aka.ms/weboutlook>"),
    ("Proton Mail", "Sent with Proton Mail secure email."),
    ("Spark", "Sent with Spark"),
    ("RFC 3676 delimiter", "-- "),
    ("Foxmail classic closing rule", "= = = = = = = = = = = = = = = = = = = ="),
]

# Lines a person writes that only look like a signature.
NOT_SIGNATURES = [
    "来自华为的新品冲击很大",
    "来自我的观察，客户很满意",
    "发自内心感谢",
    "Sent to finance yesterday",
    "Get Outlook working again",
    "Sent from Mail for Windows users: please update",
    "--- 以下为补充 ---",
    "-",
]


@pytest.mark.parametrize(("client", "line"), CLIENT_SIGNATURES, ids=[row[0] for row in CLIENT_SIGNATURES])
def test_each_client_default_signature_is_recognised(client, line):
    assert is_signature(line)


@pytest.mark.parametrize("line", NOT_SIGNATURES)
def test_a_persons_own_line_is_not_taken_for_a_signature(line):
    assert not is_signature(line)


def test_every_signature_pattern_has_a_client_example():
    assert {signature_kind(line) for _, line in CLIENT_SIGNATURES} == {name for name, _ in SIGNATURES}


@pytest.mark.parametrize(("client", "line"), CLIENT_SIGNATURES, ids=[row[0] for row in CLIENT_SIGNATURES])
def test_a_signature_line_ends_the_own_text_above_it(client, line):
    assert own_text(f"同意\n请控制在预算内\n\n{line}\n王芳\n华东事业部\n") == "同意\n请控制在预算内"


def test_a_signature_below_an_answer_under_the_quote_ends_the_own_text_too():
    text = ("On Thu, Nov 26, 2026 at 10:00 AM 巡访服务 <visits@visitflow.test> wrote:\n> 请回复“同意”或“驳回”\n\n"
            "同意\n\n发自我的华为手机\n")
    assert own_text(text) == "同意"


def reply(body: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Wang Fang <wang.fang@visitflow.test>"
    msg["To"] = "巡访服务 <visits@visitflow.test>"
    msg["Subject"] = "Re: [VF-G-12] 礼品申请：华联超市 ¥1,200.00"
    msg.set_content(body, cte="8bit")
    return msg.as_bytes()


@pytest.mark.parametrize(
    ("body", "decision", "comment"),
    [
        ("Approve\n\nSent from Yahoo Mail on Android\n", "approve", ""),
        ("approve\n\nGet Outlook for Android<https://aka.ms/ghei36>\n", "approve", ""),
        ("驳回，客户级别不够\n\n发自我的华为手机\n", "reject", "客户级别不够"),
        ("同意\n尽快安排\n\n来自网易邮箱大师\n", "approve", "尽快安排"),
        ("Approved.\n\nSent from Mail for Windows\n", "approve", ""),
    ],
)
def test_a_default_signature_never_becomes_the_comment(body, decision, comment):
    found = read_decision(decode_message(reply(body)))
    assert (found.decision, found.comment) == (decision, comment)
