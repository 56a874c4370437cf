"""The readers' shortcuts of issue 12 (CPU per backlog mail) change no result.

The time and date patterns start with a lookahead for the characters a match can begin with;
without it they must find exactly the same matches, at every position. A label's value of
one line is taken as it is, without the join of a multi-line one.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from service.inbound.mime import decode_message
from service.reading import dates, times
from service.reading.daily import DAILY_LABELS
from service.reading.quotes import own_text
from service.reading.times import parse_visit_time

FIXTURES = Path(__file__).parent / "fixtures"

WRITTEN = [
    "2026-11-26 09:30", "2026-11-26 09:30-11:00", "09:30-11:00", "下午2:30", "2:30 pm", "2:30 P.M.",
    "上午九点半", "晚上10点-2点", "晚上10点至次日2点", "明天上午九点一刻", "今天 14:00", "昨天下午三点",
    "11月26日 下午三点", "十一月二十六日上午10点", "2026年11月26日 14:00-15:30", "26/11/2026 10:00",
    "11/26 9:00", "11-26 9点", "11.26 9:30", "3.15", "9.30-11.00", "Nov 26, 2026 at 9:30 am",
    "26th of November 2026, 10 in the morning", "november 26th 3pm", "the morning", "noon", "midnight",
    "  9点", "最早8点", "第3点", "9点到11点", "9 - 11", "9 to 11 am", "周四 10:00", "下周一上午",
    "星期三 9:30", "thu 10:00", "next monday 9am", "30分钟", "2小时", "约2个小时", "10:00:30",
    "24:00", "25:00", "凌晨1点", "傍晚6点", "中午12点", "深夜11点半", "早8点", "晚8点", "8:00 in the evening",
    "tomorrow 9:00", "yesterday afternoon 3", "9h", "Ｔ9:30", "２０２６－１１－２６　９：３０", "",
    "拜访了客户", "10日上午", "3号下午2点", "二〇二六年十一月二十六日", "12/31/2026", "1/2",
]


def _fixture_times() -> list[str]:
    """Return the visit times (and dates) as written in the golden daily fixtures' mails."""
    found = []
    for path in sorted((FIXTURES / "daily").glob("*.eml")):
        msg = decode_message(path.read_bytes())
        found += [f.value for f in DAILY_LABELS.split(own_text(msg.text)) if f.name in ("visited_at", "date")]
    return found


def _without_lookahead(pattern: re.Pattern, lookahead: str) -> re.Pattern:
    assert pattern.pattern.count(lookahead) == 1
    return re.compile(pattern.pattern.replace(lookahead, "", 1), pattern.flags)


def _matches(pattern: re.Pattern, text: str) -> list:
    """Return every match of pattern in text: by finditer, and by match at each position."""
    found = [(m.span(), m.groupdict()) for m in pattern.finditer(text)]
    for pos in range(len(text) + 1):
        m = pattern.match(text, pos)
        found.append((pos, m and (m.span(), m.groupdict())))
    return found


@pytest.mark.parametrize(("name", "module", "lookahead"), [
    ("time of day", times, "_TIME_START"),
    ("date", dates, "_DATE_START"),
])
def test_the_time_and_date_patterns_find_the_same_matches_as_without_their_lookahead(name, module, lookahead):
    pattern = module._TIME_RE if module is times else module.DATE_RE
    plain = _without_lookahead(pattern, getattr(module, lookahead))
    written = _fixture_times()
    assert len(written) >= 20  # the fixtures' own wordings, beside the table's
    texts = WRITTEN + written
    for text in texts + [t.lower() for t in texts] + [times.normalise(t) for t in texts]:
        assert _matches(pattern, text) == _matches(plain, text), (name, text)


@pytest.mark.parametrize(("written", "start", "end"), [
    ("2026-11-26 09:30", "2026-11-26T09:30:00", None),
    ("下午2:30", "2026-11-26T14:30:00", None),
    ("晚上10点-2点", "2026-11-26T22:00:00", "2026-11-27T02:00:00"),
    ("9:30-11:00", "2026-11-26T09:30:00", "2026-11-26T11:00:00"),
    ("Nov 25 at 3 pm", "2026-11-25T15:00:00", None),
])
def test_visit_times_are_read_as_before(written, start, end):
    parsed = parse_visit_time(written, times.date(2026, 11, 26))
    assert parsed.start.isoformat() == start
    assert (parsed.end.isoformat() if parsed.end else None) == end


@pytest.mark.parametrize(("text", "values"), [
    ("客户名称：  华联超市  \n巡访时间：9:30", ["华联超市", "9:30"]),
    ("客户名称：华联超市\n客户意见：第一行\n  第二行  \n\n\n\n第三行\n巡访时间：9:30", ["华联超市", "第一行\n第二行\n\n第三行", "9:30"]),
    ("客户名称：华联超市\n巡访时间：9:30\n\n此致\n李雷", ["华联超市", "9:30"]),
    ("客户名称：\n  华联超市\n巡访时间：9:30", ["华联超市", "9:30"]),
    ("客户名称：\n巡访时间：", ["", ""]),
])
def test_label_values_of_one_line_and_of_several_are_joined_as_before(text, values):
    assert [f.value for f in DAILY_LABELS.split(text)] == values
