"""Hand-typed values: visit times, dates and CNY amounts in Chinese and English, every form the spec names."""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from service.reading.amounts import format_amount, parse_amount
from service.reading.times import VisitTime, parse_date, parse_visit_time
from service.reading.values import parse_chinese_number

REPORT_DATE = date(2026, 11, 26)


def at(hour: int, minute: int = 0, day: int = 26, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute)


# --------------------------------------------------------------------------- visit times

VISIT_TIMES = [
    # full dates with a time
    ("2026-11-26 09:30", at(9, 30), None),
    ("2026-11-26 9:30", at(9, 30), None),
    ("2026/11/26 9:30", at(9, 30), None),
    ("2026.11.26 09:30", at(9, 30), None),
    ("2026-11-26T09:30", at(9, 30), None),
    ("2026-11-26 09:30:00", at(9, 30), None),
    ("2026-11-26 周四 9:30", at(9, 30), None),
    # ranges
    ("2026/11/26 9:30-11:00", at(9, 30), at(11)),
    ("9:30-11:00", at(9, 30), at(11)),
    ("9:30 - 11:00", at(9, 30), at(11)),
    ("9:30~11:00", at(9, 30), at(11)),
    ("9:30～11:00", at(9, 30), at(11)),
    ("9:30至11:00", at(9, 30), at(11)),
    ("9:30到11:00", at(9, 30), at(11)),
    ("9:30—11:00", at(9, 30), at(11)),
    ("9:30–11:00", at(9, 30), at(11)),
    ("９：３０－１１：００", at(9, 30), at(11)),
    ("09:30 to 11:00", at(9, 30), at(11)),
    ("9:30-11", at(9, 30), at(11)),
    # Chinese
    ("2026年11月26日 上午9:30", at(9, 30), None),
    ("2026年11月26日上午9点30分", at(9, 30), None),
    ("2026年11月26日 9时30分", at(9, 30), None),
    ("11月26日 下午2:30", at(14, 30), None),
    ("11月26号 下午2:30", at(14, 30), None),
    ("十一月二十六日 下午2:30", at(14, 30), None),
    ("26年11月26日 9:30", at(9, 30), None),
    ("下午2:30", at(14, 30), None),
    ("下午2点", at(14), None),
    ("下午2点半", at(14, 30), None),
    ("晚上7点", at(19), None),
    ("中午12点", at(12), None),
    ("中午1点", at(13), None),
    ("上午12点", at(12), None),
    ("凌晨1点", at(1), None),
    ("早上8点", at(8), None),
    ("傍晚6点", at(18), None),
    ("下午14:30", at(14, 30), None),
    ("下午两点", at(14), None),
    ("十点半", at(10, 30), None),
    ("九点三十分", at(9, 30), None),
    ("9点一刻", at(9, 15), None),
    ("9点三刻", at(9, 45), None),
    ("9点05分", at(9, 5), None),
    ("上午9:30至11:00", at(9, 30), at(11)),
    ("下午2点-4点", at(14), at(16)),
    ("下午2-4点", at(14), at(16)),
    ("9点-10点半", at(9), at(10, 30)),
    ("上午11点-1点", at(11), at(13)),
    ("晚上7点-10点", at(19), at(22)),
    ("晚上10点-次日凌晨1点", at(22), at(1, day=27)),
    ("晚上10点-12点", at(22), at(0, day=27)),
    ("晚上12点", at(0, day=27), None),
    # English
    ("2:30 PM", at(14, 30), None),
    ("2:30pm", at(14, 30), None),
    ("2:30 p.m.", at(14, 30), None),
    ("2pm", at(14), None),
    ("12 am", at(0), None),
    ("12:30 pm", at(12, 30), None),
    ("9:30 am - 11 am", at(9, 30), at(11)),
    ("2-4pm", at(14), at(16)),
    ("11-1pm", at(11), at(13)),
    ("Nov 26, 2026 9:30", at(9, 30), None),
    ("26 Nov 2026 09:30", at(9, 30), None),
    ("November 26 2026 2:30 PM", at(14, 30), None),
    ("Thu, 26 Nov 2026 09:30:00 +0800", at(9, 30), None),
    ("Nov 26th 2:30 PM", at(14, 30), None),
    # a time alone is on the report date
    ("9:30", at(9, 30), None),
    ("14:00", at(14), None),
    ("9点", at(9), None),
    # words around it
    ("约 9:30", at(9, 30), None),
    ("9:30左右", at(9, 30), None),
    ("9:30 (about 1 hour)", at(9, 30), None),
    ("9:30-11:00, 14:00-15:00", at(9, 30), at(11)),
    ("9:30-12人", at(9, 30), None),
    # relative days count next to a time of day
    ("今天 9:30", at(9, 30), None),
    ("昨天 15:00", at(15, day=25), None),
    ("yesterday 3pm", at(15, day=25), None),
    # slash dates: Y/M/D, M/D, D/M/Y when the first number cannot be a month, else M/D/Y
    ("11/26 9:30", at(9, 30), None),
    ("26/11/2026 9:30", at(9, 30), None),
    ("11/12/2026 9:30", at(9, 30, day=12), None),
    ("11-26 9:30", at(9, 30), None),
    # a range across midnight with its own end date
    ("2026-11-26 22:00 - 2026-11-27 01:00", at(22), at(1, day=27)),
    ("22:00-next day 01:00", at(22), at(1, day=27)),
]


@pytest.mark.parametrize(("text", "start", "end"), VISIT_TIMES, ids=[case[0] for case in VISIT_TIMES])
def test_every_listed_visit_time_form_reads_as_the_expected_start_and_end(text, start, end):
    assert parse_visit_time(text, REPORT_DATE) == VisitTime(start, end)


VISIT_TIME_PROBLEMS = [
    ("", "empty"),
    ("   ", "empty"),
    ("明天", "unparseable"),
    ("上午", "unparseable"),
    ("asap", "unparseable"),
    ("9.30", "unparseable"),
    ("26.11.26 9:30", "unparseable"),
    ("2026-11-26", "no_time"),
    ("2026年11月26日", "no_time"),
    ("2026-11-26 上午", "no_time"),
    ("Nov 26, 2026", "no_time"),
    ("9-11", "no_time"),
    ("2026-02-30 9:00", "bad_date"),
    ("2026-13-01 9:00", "bad_date"),
    ("1926-11-26 9:00", "bad_date"),
    ("31/31/2026 9:00", "bad_date"),
    ("25:00", "bad_time"),
    ("9:75", "bad_time"),
    ("24:30", "bad_time"),
    ("上午14:30", "bad_time"),
    ("13 am", "bad_time"),
    ("二十五点", "bad_time"),
    ("11:00-9:30", "end_before_start"),
    ("9:30-9:30", "end_before_start"),
    ("下午2点-1点", "end_before_start"),
]


@pytest.mark.parametrize(("text", "problem"), VISIT_TIME_PROBLEMS, ids=[case[0] or "blank" for case in VISIT_TIME_PROBLEMS])
def test_a_visit_time_that_cannot_be_read_gives_its_problem_code(text, problem):
    assert parse_visit_time(text, REPORT_DATE) == problem


YEARLESS = [
    # (text, report date, expected start)
    ("11月26日 9:30", date(2026, 11, 26), datetime(2026, 11, 26, 9, 30)),
    ("12月31日 9:30", date(2027, 1, 3), datetime(2026, 12, 31, 9, 30)),
    ("Dec 30 9:30", date(2027, 1, 3), datetime(2026, 12, 30, 9, 30)),
    ("5月20日 9:30", date(2026, 11, 26), datetime(2026, 5, 20, 9, 30)),
    ("6月1日 9:30", date(2026, 1, 5), datetime(2026, 6, 1, 9, 30)),
    ("8月1日 9:30", date(2026, 1, 5), datetime(2025, 8, 1, 9, 30)),
    ("3月1日 9:30", date(2026, 1, 5), datetime(2026, 3, 1, 9, 30)),
]


@pytest.mark.parametrize(("text", "report_date", "start"), YEARLESS)
def test_a_date_without_a_year_takes_the_report_year_unless_that_is_over_half_a_year_ahead(text, report_date, start):
    assert parse_visit_time(text, report_date) == VisitTime(start)


def test_every_hour_and_minute_round_trips_through_24_hour_12_hour_and_chinese_forms():
    rng = random.Random(20261126)
    for hour in range(24):
        for minute in rng.sample(range(60), 6) + [0, 30]:
            twelve = hour % 12 or 12
            forms = [
                f"{hour}:{minute:02d}",
                f"{hour:02d}:{minute:02d}",
                f"{twelve}:{minute:02d} {'am' if hour < 12 else 'pm'}",
                f"{twelve}:{minute:02d}{'AM' if hour < 12 else 'PM'}",
                f"{'上午' if hour < 12 else '下午'}{hour if hour <= 12 else hour - 12}点{minute}分",
                f"{hour}时{minute:02d}分",
            ]
            for text in forms:
                assert parse_visit_time(text, REPORT_DATE) == VisitTime(at(hour, minute)), text


def test_generated_dates_and_times_read_back_in_every_date_form():
    rng = random.Random(7)
    months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
    for _ in range(300):
        when = datetime(2000, 1, 1) + timedelta(minutes=rng.randrange(100 * 365 * 24 * 60))
        d, clock = when.date(), f"{when.hour}:{when.minute:02d}"
        for text in (f"{d.isoformat()} {clock}", f"{d.year}/{d.month}/{d.day} {clock}",
                     f"{d.year}年{d.month}月{d.day}日 {clock}", f"{months[d.month - 1]} {d.day}, {d.year} {clock}",
                     f"{d.day} {months[d.month - 1]} {d.year} {clock}"):
            assert parse_visit_time(text, REPORT_DATE) == VisitTime(when), text


# --------------------------------------------------------------------------- dates

TODAY = date(2026, 11, 26)
DATES = [
    ("2026-11-26", TODAY),
    ("2026/11/26", TODAY),
    ("2026.11.26", TODAY),
    ("2026年11月26日", TODAY),
    ("11月26日", TODAY),
    ("Nov 26, 2026", TODAY),
    ("26 November 2026", TODAY),
    ("2026-11-26 周四", TODAY),
    ("Thursday, 26 November 2026", TODAY),
    ("２０２６－１１－２６", TODAY),
    ("今天", TODAY),
    ("today", TODAY),
    ("Today", TODAY),
    ("昨天", date(2026, 11, 25)),
    ("yesterday", date(2026, 11, 25)),
    ("明天", date(2026, 11, 27)),
    ("tomorrow", date(2026, 11, 27)),
    ("12月1日", date(2026, 12, 1)),
    ("11/12/2026", date(2026, 11, 12)),
    ("26/11/2026", TODAY),
    ("2026-11-26 09:30", TODAY),
]


@pytest.mark.parametrize(("text", "expected"), DATES, ids=[case[0] for case in DATES])
def test_every_listed_date_form_reads_as_the_expected_date(text, expected):
    assert parse_date(text, TODAY) == expected


DATE_PROBLEMS = [
    ("", "empty"),
    ("abc", "unparseable"),
    ("9:30", "unparseable"),
    ("2026年11月", "unparseable"),
    ("2026-02-30", "bad_date"),
    ("2月30日", "bad_date"),
    ("Feb 30, 2026", "bad_date"),
    ("3026-11-26", "bad_date"),
]


@pytest.mark.parametrize(("text", "problem"), DATE_PROBLEMS, ids=[case[0] or "blank" for case in DATE_PROBLEMS])
def test_a_date_that_cannot_be_read_gives_its_problem_code(text, problem):
    assert parse_date(text, TODAY) == problem


def test_a_year_less_date_in_early_january_about_late_december_means_last_year():
    assert parse_date("12月30日", date(2027, 1, 2)) == date(2026, 12, 30)
    assert parse_date("Dec 30", date(2027, 1, 2)) == date(2026, 12, 30)


# --------------------------------------------------------------------------- amounts

AMOUNTS = [
    ("¥1,200", "1200.00"),
    ("￥1,200", "1200.00"),
    ("1200元", "1200.00"),
    ("1,200.00", "1200.00"),
    ("RMB 1200", "1200.00"),
    ("RMB1200", "1200.00"),
    ("rmb 1200", "1200.00"),
    ("CNY 1,200", "1200.00"),
    ("1200 元", "1200.00"),
    ("1200.0", "1200.00"),
    ("1200.000", "1200.00"),
    ("1,200元整", "1200.00"),
    ("人民币1200元", "1200.00"),
    ("１２００元", "1200.00"),
    ("1200块", "1200.00"),
    ("1200块钱", "1200.00"),
    ("1200元。", "1200.00"),
    ("¥ 1 200", "1200.00"),
    ("1.2万", "12000.00"),
    ("1.2万元", "12000.00"),
    ("5千元", "5000.00"),
    ("1万2千元", "12000.00"),
    ("一千二百元", "1200.00"),
    ("壹仟贰佰元整", "1200.00"),
    ("一千二百五十元五角", "1250.50"),
    ("一千二百五十元五角三分", "1250.53"),
    ("壹仟贰佰伍拾圆伍角", "1250.50"),
    ("两千元", "2000.00"),
    ("一千零五元", "1005.00"),
    ("一千二", "1200.00"),
    ("一万五", "15000.00"),
    ("五块五", "5.50"),
    ("十五元", "15.00"),
    ("1200元（壹仟贰佰元整）", "1200.00"),
    ("¥1,200 (含税)", "1200.00"),
    ("0", "0.00"),
    ("12.5", "12.50"),
]


@pytest.mark.parametrize(("text", "expected"), AMOUNTS, ids=[case[0] for case in AMOUNTS])
def test_every_listed_amount_form_reads_as_the_expected_cny_value(text, expected):
    value = parse_amount(text)
    assert isinstance(value, Decimal)
    assert str(value) == expected


AMOUNT_PROBLEMS = [
    ("", "empty"),
    ("  ", "empty"),
    ("abc", "unparseable"),
    ("1200 or 1500", "unparseable"),
    ("1200/1500", "unparseable"),
    ("1200元 1500元", "unparseable"),
    ("1200元（1500元）", "unparseable"),
    ("$1200", "unparseable"),
    ("1,20", "unparseable"),
    ("12,00.00", "unparseable"),
    ("元", "unparseable"),
    ("-5", "negative"),
    ("¥-1,200", "negative"),
    ("负五百元", "negative"),
    ("12.345", "too_many_decimals"),
    ("1.2345678万", "too_many_decimals"),
]


@pytest.mark.parametrize(("text", "problem"), AMOUNT_PROBLEMS, ids=[case[0] or "blank" for case in AMOUNT_PROBLEMS])
def test_an_amount_that_cannot_be_read_gives_its_problem_code(text, problem):
    assert parse_amount(text) == problem


def test_format_amount_writes_two_places_without_grouping():
    assert format_amount(Decimal("1200")) == "1200.00"
    assert format_amount(Decimal("0.5")) == "0.50"
    assert format_amount(Decimal("1E+6")) == "1000000.00"
    assert format_amount(Decimal("2.345")) == "2.35"


def test_generated_amounts_round_trip_through_parse_and_format_in_every_written_form():
    rng = random.Random(1200)
    for _ in range(500):
        cents = rng.randrange(0, 10**11)
        value = Decimal(cents).scaleb(-2)
        canonical = f"{value:.2f}"
        grouped = f"{value:,.2f}"
        for text in (canonical, grouped, f"¥{grouped}", f"￥{grouped}", f"{canonical}元", f"RMB {grouped}",
                     f"人民币{canonical}元", grouped.replace(",", " "), canonical.rstrip("0").rstrip(".")):
            assert format_amount(parse_amount(text)) == canonical, text


DIGITS = "零一二三四五六七八九"
CAPITALS = str.maketrans("一二三四五六七八九十百千", "壹贰叁肆伍陆柒捌玖拾佰仟")


def to_chinese(n: int) -> str:
    """Write n (1 ≤ n < 10**8) in standard Chinese numerals, independently of the code under test."""

    def section(value: int) -> str:
        out, gap = "", False
        for power, unit in ((1000, "千"), (100, "百"), (10, "十"), (1, "")):
            digit = value // power % 10
            if digit == 0:
                gap = gap or bool(out)
                continue
            out += ("零" if gap else "") + DIGITS[digit] + unit
            gap = False
        return out

    high, low = divmod(n, 10_000)
    text = section(high) + "万" if high else ""
    if low:
        text += ("零" if high and low < 1000 else "") + section(low)
    return text


def test_generated_chinese_numerals_read_as_their_value_in_plain_and_capital_forms():
    rng = random.Random(42)
    numbers = list(range(1, 200)) + [rng.randrange(1, 10**8) for _ in range(2000)]
    numbers += [10, 100, 1000, 10_000, 10_010, 100_000, 1_000_005, 10**8 - 1]
    for n in numbers:
        text = to_chinese(n)
        assert parse_chinese_number(text) == n, text
        assert parse_amount(text + "元") == Decimal(n).quantize(Decimal("0.01")), text
        assert parse_amount(text.translate(CAPITALS) + "元整") == Decimal(n), text


CHINESE_NUMBERS = [
    ("十", 10),
    ("十五", 15),
    ("二十", 20),
    ("一百一十", 110),
    ("一百五", 150),
    ("一百零五", 105),
    ("两万", 20_000),
    ("二〇二六", 2026),
    ("五五", 55),
    ("1.2万", 12_000),
    ("3千5", 3500),
    ("1亿2000万", 120_000_000),
]


@pytest.mark.parametrize(("text", "expected"), CHINESE_NUMBERS)
def test_chinese_numerals_follow_the_standard_and_colloquial_readings(text, expected):
    assert parse_chinese_number(text) == expected


@pytest.mark.parametrize("text", ["", "百", "千", "一百一千", "一万一亿", "五五十", "一二三四五十", "abc"])
def test_malformed_chinese_numerals_are_not_numbers(text):
    assert parse_chinese_number(text) is None
