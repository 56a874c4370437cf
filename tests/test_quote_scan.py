"""The quote scan's cheap first tests (issue 12) skip only lines that no pattern of their table matches."""

from __future__ import annotations

import re
import sys

import pytest

from service.inbound.html_text import html_to_text
from service.inbound.mime import decode_message
from service.reading import quotes
from service.reading.quotes import (
    ATTRIBUTIONS,
    SEPARATORS,
    SIGNATURES,
    own_text,
    signature_kind,
)

from .conftest import FIXTURES, REPO

CORPUS = REPO.parent / "shared" / "corpus"
FIRST_TESTS = ("_may_hold_link", "_may_be_signature", "_may_attribute", "_may_separate")

# Lines at the edges of each first test: blanks of every kind around the marks, links in any case,
# marks that only look alike. Each is checked against the tables themselves below.
EDGE_LINES = [
    "On Thu, Nov 26, 2026 at 9:30 AM Li Lei <li.lei@visitflow.test> wrote:",
    "On Thu, Nov 26, 2026 at 9:30 AM Li Lei <li.lei@visitflow.test> wrote:   ",
    "On Thu, Nov 26, 2026 at 9:30 AM Li Lei <li.lei@visitflow.test> wrote:\u3000\xa0\t",
    "On Thu, Nov 26, 2026 at 9:30 AM Li Lei <li.lei@visitflow.test> wrote: and more",
    "ON THU, NOV 26, 2026, LI LEI WROTE:",
    "Li Lei <li.lei@visitflow.test> writes:",
    "在 2026-11-26 10:00:12，李雷 <li.lei@visitflow.test> 写道：",
    "在 2026-11-26 10:00:12，李雷 <li.lei@visitflow.test> 写道：\u3000",
    "李雷 <li.lei@visitflow.test> 於 2026年11月26日 寫道:",
    "======= 2026-11-26 10:00:00 您在来信中写道：=======",
    "======= 2026-11-26 10:00:00 您在来信中写道：=======\u2003",
    "客户名称：上海宏达机械有限公司",
    "巡访时间：2026-11-26 09:30",
    "备注：",
    "------------------ 原始邮件 ------------------",
    "\u3000------------------ 原始邮件 ------------------",
    "\t-----Original Message-----",
    "\u2010\u2010\u2010\u2010\u2010 Original Message \u2010\u2010\u2010\u2010\u2010",
    "---- 回复的原邮件 ----",
    "---------- Forwarded message ---------",
    "________________________________",
    "  ________________________________  ",
    "—— 原始邮件 ——",
    "－－－－ 原始邮件 －－－－",
    "Sent from my iPhone",
    "Sent from my iPhone <https://apple.com>",
    "SENT FROM MY IPHONE",
    "Get Outlook for iOS<https://aka.ms/o0ukef>",
    "Get Outlook for Android [HTTPS://aka.ms/ghei36]",
    "Sent from Mail<https://go.microsoft.com/fwlink/?LinkId=550986> for Windows",
    "Sent from Mail<MAILTO:someone@example.com> for Windows",
    "Sent from my Huawei phone (https://consumer.huawei.com)",
    "发自我的iPhone https://example.com/x",
    "-- ",
    "--<https://example.com>",
    "——",
    "= = = = = = = = = = = = = = = = = = = =",
    "发自我的华为手机",
    "来自网易邮箱大师",
    "从我的 iPhone 傳送",
    "来自华为的新品冲击很大",
    "",
    "   ",
]


def corpus_texts() -> list[str]:
    texts = []
    for line in (CORPUS / "index.tsv").read_text(encoding="utf-8").splitlines()[1:]:
        msg = decode_message((CORPUS / line.split("\t")[0]).read_bytes())
        texts += [msg.text, html_to_text(msg.html) if msg.html else ""]
    return texts


def fixture_texts() -> list[str]:
    texts = []
    for path in sorted(FIXTURES.rglob("*.eml")):
        msg = decode_message(path.read_bytes())
        texts += [msg.text, html_to_text(msg.html) if msg.html else ""]
    return texts


def bench_texts(count: int = 64) -> list[str]:
    sys.path.insert(0, str(REPO / "bench"))
    try:
        from backlog import make_report
    finally:
        sys.path.remove(str(REPO / "bench"))
    return [decode_message(make_report(i)).text for i in range(count)]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    return corpus_texts() + fixture_texts() + bench_texts() + ["\n".join(EDGE_LINES)]


@pytest.fixture
def without_first_tests(monkeypatch):
    """Make every first test pass every line: the scan then tries every pattern, as before issue 12."""
    for name in FIRST_TESTS:
        monkeypatch.setattr(quotes, name, lambda _line: True)


def test_own_text_is_the_same_with_and_without_the_first_tests_on_every_corpus_mail_and_fixture(
        texts, monkeypatch):
    fast = [(own_text(t), own_text(t, strict=True)) for t in texts]
    for name in FIRST_TESTS:
        monkeypatch.setattr(quotes, name, lambda _line: True)
    slow = [(own_text(t), own_text(t, strict=True)) for t in texts]
    assert len(texts) > 400
    assert fast == slow
    assert sum(a != t.strip() for (a, _), t in zip(fast, texts)) > 50  # many texts do lose a quote


def test_signature_kinds_are_the_same_with_and_without_the_first_tests(texts, monkeypatch):
    lines = [line for text in texts for line in text.split("\n")] + EDGE_LINES
    fast = [signature_kind(line) for line in lines]
    for name in FIRST_TESTS:
        monkeypatch.setattr(quotes, name, lambda _line: True)
    assert [signature_kind(line) for line in lines] == fast
    assert sum(kind is not None for kind in fast) > 20


@pytest.mark.parametrize("line", EDGE_LINES, ids=[repr(line)[:50] for line in EDGE_LINES])
def test_a_line_a_first_test_skips_is_matched_by_no_pattern_of_its_table(line):
    if not quotes._may_attribute(line):
        assert not any(p.match(line) for _, p in ATTRIBUTIONS)
    if not quotes._may_separate(line):
        assert not any(p.match(line) for _, p in SEPARATORS)
    if not quotes._may_hold_link(line):
        assert quotes._SIGNATURE_LINK.sub("", line) == line
    bare = " ".join(line.split())
    if bare and not quotes._may_be_signature(bare):
        assert not any(p.fullmatch(bare) for _, p in SIGNATURES)


# line, what the tables make of it: the first tests let each of these through to the right pattern.
FOUND = [
    ("On Thu, Nov 26, 2026 at 9:30 AM Li Lei <li.lei@visitflow.test> wrote:\u3000", "attribution"),
    ("======= 2026-11-26 10:00:00 您在来信中写道：=======  ", "attribution"),
    ("李雷 <li.lei@visitflow.test> 於 2026年11月26日 寫道:", "attribution"),
    ("\u3000------------------ 原始邮件 ------------------", "separator"),
    ("\u2010\u2010\u2010\u2010\u2010 Original Message \u2010\u2010\u2010\u2010\u2010", "separator"),
    ("  ________________________________  ", "separator"),
    ("客户名称：上海宏达机械有限公司", None),
    ("—— 原始邮件 ——", None),
]


@pytest.mark.parametrize(("line", "kind"), FOUND, ids=[repr(line)[:50] for line, _ in FOUND])
def test_an_introduction_behind_blanks_or_unusual_dashes_is_still_found(line, kind):
    found = quotes._introduction([line, "> quoted", "> more"], 0)
    assert (found[0] if found else None) == kind


@pytest.mark.parametrize(("line", "kind"), [
    ("Get Outlook for iOS<https://aka.ms/o0ukef>", "outlook"),
    ("Get Outlook for Android [HTTPS://aka.ms/ghei36]", "outlook"),
    ("Sent from Mail<MAILTO:someone@example.com> for Windows", "windows_mail"),
    ("Sent from my iPhone <https://apple.com>", "sent_from_my_device"),
    ("--<https://example.com>", "delimiter"),
    ("发自我的iPhone https://example.com/x", "device_zh"),
    ("来自华为的新品冲击很大", None),
    ("备注：https://example.com", None),
])
def test_a_signature_with_a_link_in_any_case_is_recognised_by_its_client(line, kind):
    assert signature_kind(line) == kind


def test_the_combined_signature_pattern_holds_every_signature_pattern():
    assert all(f"(?:{p.pattern})" in quotes._ANY_SIGNATURE.pattern for _, p in SIGNATURES)
    assert all(p.flags & re.I for _, p in SIGNATURES)


def test_the_golden_daily_reports_with_quoted_originals_keep_only_the_new_visits():
    # The three fixtures of tests/fixtures/daily made for this: each first test is on their path.
    names = {"foxmail_report_above_unmarked_original": ["天津镕鑫钢铁贸易有限公司", "绍兴永盛印染有限公司"],
             "gmail_zh_report_above_quoted_original": ["杭州锦程纺织有限公司"],
             "outlook_ios_report_link_signature_then_original": ["Bright Retail"]}
    for stem, customers in names.items():
        text = own_text(decode_message((FIXTURES / "daily" / f"{stem}.eml").read_bytes()).text)
        assert [line.split("：" if "：" in line else ": ")[1] for line in text.split("\n")
                if line.startswith(("客户名称", "Customer"))] == customers, stem


def test_a_report_line_costs_no_table_pattern(monkeypatch):
    tried = []
    lines = ["客户名称：上海宏达机械有限公司", "巡访时间：2026-11-26 09:30", "客户意见：设备运行稳定。", ""]
    original = quotes._introduction

    def counting(lines_, i):
        tried.append(i)
        return original(lines_, i)

    monkeypatch.setattr(quotes, "ATTRIBUTIONS", tuple((n, _Exploding()) for n, _ in ATTRIBUTIONS))
    monkeypatch.setattr(quotes, "SEPARATORS", tuple((n, _Exploding()) for n, _ in SEPARATORS))
    monkeypatch.setattr(quotes, "SIGNATURES", tuple((n, _Exploding()) for n, _ in SIGNATURES))
    monkeypatch.setattr(quotes, "_introduction", counting)
    assert own_text("\n".join(lines)) == "\n".join(lines[:3])
    assert tried == [0, 1, 2, 3]  # every line was looked at, and none reached a table


class _Exploding:
    """A table pattern that fails the test if a first test let a report line reach it."""

    def match(self, line):
        raise AssertionError(f"pattern tried on {line!r}")

    fullmatch = match
