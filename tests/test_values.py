"""Hand-typed values: visit times, dates and CNY amounts in Chinese and English, every form the spec names.

Issue 7 adds the kinds found on real mail: date-like words (25日, 11.25, 周三) that must be read or
reported, never replaced by the report date; parts of the day that bound the hour; amounts in
the banking form and restated in words, where a disagreement names both values.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest

from service.reading.amounts import AmountMismatch, format_amount, parse_amount
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


# --------------------------------------------------------------------------- date-like words in visit times

FRIDAY = date(2026, 11, 27)   # the mail of issue 7 was sent on Friday 27 November 2026


def on(day: int, hour: int, minute: int = 0, month: int = 11, year: int = 2026) -> datetime:
    return datetime(year, month, day, hour, minute)


DATED_VISIT_TIMES = [
    # a day of the month alone: the report date's month, or the month before if later than it
    ("25日上午10点", on(25, 10)),
    ("25日 上午10点", on(25, 10)),
    ("25号 9:30", on(25, 9, 30)),
    ("25号下午2点半", on(25, 14, 30)),
    ("二十五日下午三点", on(25, 15)),
    ("二十五号 14:00", on(25, 14)),
    ("27日 9:00", on(27, 9)),
    ("1日 9:00", on(1, 9)),
    ("28日 10:00", on(28, 10, month=10)),
    ("31日 9:00", on(31, 9, month=10)),
    ("the 25th 10am", on(25, 10)),
    ("25th, 3:30 PM", on(25, 15, 30)),
    # dotted month.day beside a time (day.month when the first number cannot be a month)
    ("11.25 9:30", on(25, 9, 30)),
    ("11.25 下午2点", on(25, 14)),
    ("11.25日 9:30", on(25, 9, 30)),
    ("25.11 9:30", on(25, 9, 30)),
    ("9:30 11.25", on(25, 9, 30)),
    ("11.25 9:30-11:00", on(25, 9, 30)),
    ("10.8 14:00", on(8, 14, month=10)),
    # weekdays: the most recent such day on or before the report date
    ("周三 下午3点", on(25, 15)),
    ("周三下午3点", on(25, 15)),
    ("星期三 15:00", on(25, 15)),
    ("礼拜三上午10点", on(25, 10)),
    ("周3 10:00", on(25, 10)),
    ("周五 9:00", on(27, 9)),
    ("周六 9:00", on(21, 9)),
    ("周日 9:00", on(22, 9)),
    ("星期天 9:00", on(22, 9)),
    ("Wednesday 3pm", on(25, 15)),
    ("Wed 10:00", on(25, 10)),
    ("Wed. 10:00", on(25, 10)),
    ("Friday 9:00", on(27, 9)),
    # weeks run Monday to Sunday: 上周 / 本周 / 下周; last / this / next in English
    ("上周五 10:00", on(20, 10)),
    ("上个星期五 10:00", on(20, 10)),
    ("上礼拜一 10:00", on(16, 10)),
    ("上上周五 9:00", on(13, 9)),
    ("本周一 9:00", on(23, 9)),
    ("这周三 9:00", on(25, 9)),
    ("这个星期六 9:00", on(28, 9)),
    ("下周一 9:00", on(30, 9)),
    ("last Friday 10am", on(20, 10)),
    ("last Thursday 10am", on(26, 10)),
    ("this Wednesday 2 pm", on(25, 14)),
    ("next Monday 9am", on(30, 9)),
    # a weekday beside a date that agrees with it
    ("11月25日（周三）上午10点", on(25, 10)),
    ("25日(星期三) 10:00", on(25, 10)),
    ("2026-11-25 Wed 10:00", on(25, 10)),
    ("今天周五 10点", on(27, 10)),
]


@pytest.mark.parametrize(("text", "start"), DATED_VISIT_TIMES, ids=[case[0] for case in DATED_VISIT_TIMES])
def test_a_date_like_word_in_a_visit_time_moves_the_visit_to_that_day(text, start):
    visit = parse_visit_time(text, FRIDAY)
    assert isinstance(visit, VisitTime), visit
    assert visit.start == start


DATED_VISIT_TIME_PROBLEMS = [
    # a dotted pair alone could be a time written with a dot
    ("11.25", "unparseable"),
    ("11.25 上午", "unparseable"),
    ("11.25 9.30", "unparseable"),
    ("9.30-11.00", "unparseable"),
    ("9:30-11.00", "unparseable"),
    ("9:30 - 11.00", "unparseable"),
    ("14.30 10:00", "unparseable"),
    # date-like words that are not read are never replaced by the report date
    ("上周 10点", "unparseable"),
    ("下周 10点", "unparseable"),
    ("周末 10点", "unparseable"),
    ("last week 10am", "unparseable"),
    ("26.11.26 9:30", "unparseable"),
    # a day the month does not have, a weekday that contradicts the date, a date with no time
    ("32日 9:00", "bad_date"),
    ("0日 9:00", "bad_date"),
    ("2026-11-26 周三 9:30", "weekday_mismatch"),
    ("11月25日（周四）上午10点", "weekday_mismatch"),
    ("Thu, 25 Nov 2026 09:30", "weekday_mismatch"),
    ("昨天周三 10:00", "weekday_mismatch"),
    ("25日", "no_time"),
    ("周三", "no_time"),
    ("上周五 上午", "no_time"),
]


@pytest.mark.parametrize(("text", "problem"), DATED_VISIT_TIME_PROBLEMS,
                         ids=[case[0] for case in DATED_VISIT_TIME_PROBLEMS])
def test_a_date_like_word_that_cannot_be_read_is_a_problem_not_the_report_date(text, problem):
    assert parse_visit_time(text, FRIDAY) == problem


DAY_ALONE_ACROSS_MONTHS = [
    # (text, report date, expected start)
    ("31日 9:00", date(2026, 12, 2), "bad_date"),        # 31 November does not exist
    ("30日 9:00", date(2026, 3, 1), "bad_date"),         # nor 30 February
    ("28日 9:00", date(2027, 1, 3), datetime(2026, 12, 28, 9)),
    ("3日 9:00", date(2027, 1, 3), datetime(2027, 1, 3, 9)),
    ("29日 9:00", date(2028, 3, 1), datetime(2028, 2, 29, 9)),
    ("周四 9:00", date(2027, 1, 1), datetime(2026, 12, 31, 9)),
    ("上周五 9:00", date(2027, 1, 4), datetime(2027, 1, 1, 9)),
]


@pytest.mark.parametrize(("text", "report_date", "expected"), DAY_ALONE_ACROSS_MONTHS)
def test_a_day_or_weekday_alone_counts_back_across_month_and_year_ends(text, report_date, expected):
    result = parse_visit_time(text, report_date)
    assert (result.start if isinstance(result, VisitTime) else result) == expected


def test_no_generated_day_dotted_date_or_weekday_is_silently_put_on_the_report_date():
    """Every date-like word, for every day, is read as that day or reported: the issue's fault kind."""
    cn_day = {n: to_chinese(n) for n in range(1, 32)}
    weekdays = "一二三四五六日"
    for report_date in (FRIDAY, date(2026, 12, 1), date(2027, 1, 1), date(2026, 3, 31)):
        for day in range(1, 32):
            for text in (f"{day}日 10:00", f"{day}号 10:00", f"{cn_day[day]}日 上午10点", f"the {day}th 10am"):
                result = parse_visit_time(text, report_date)
                if isinstance(result, VisitTime):
                    assert result.start.day == day, text
                    assert result.start.date() <= report_date, text
                else:
                    assert result == "bad_date", text
            for month in range(1, 13):
                result = parse_visit_time(f"{month}.{day} 9:30", report_date)
                if isinstance(result, VisitTime):
                    assert (result.start.month, result.start.day) == (month, day)
                else:
                    # 2.30 is no date; it may be a time written with a dot, so it cannot be read.
                    assert result == "unparseable", (month, day)
        for number, word in enumerate(weekdays):
            for text in (f"周{word} 10:00", f"星期{word} 10:00", f"上周{word} 10:00"):
                start = parse_visit_time(text, report_date).start
                assert start.weekday() == number, text
                assert start.date() <= report_date, text
                assert (report_date - start.date()).days < (14 if text.startswith("上") else 7), text


# --------------------------------------------------------------------------- parts of the day bound the hour

PARTS_OF_THE_DAY = [
    # (text, expected start, or "bad_time"): each part's first and last hour, and just outside
    ("凌晨0点", at(0)),
    ("凌晨12点", at(0)),
    ("凌晨6:30", at(6, 30)),
    ("凌晨7点", "bad_time"),
    ("早上4点", at(4)),
    ("早上8点", at(8)),
    ("早上12点", at(12)),
    ("早上3点", "bad_time"),
    ("上午0点30分", at(0, 30)),
    ("上午12点", at(12)),
    ("上午13:00", "bad_time"),
    ("中午11点", at(11)),
    ("中午11点半", at(11, 30)),
    ("中午12点", at(12)),
    ("中午1点", at(13)),
    ("中午1点半", at(13, 30)),
    ("中午13:00", at(13)),
    ("中午10点", "bad_time"),
    ("中午2点", "bad_time"),
    ("中午5点", "bad_time"),
    ("下午12点", at(12)),
    ("下午1点", at(13)),
    ("下午11点", at(23)),
    ("下午0点", "bad_time"),
    ("傍晚4点", at(16)),
    ("傍晚7点", at(19)),
    ("傍晚3点", "bad_time"),
    ("傍晚8点", "bad_time"),
    ("晚上5点", at(17)),
    ("晚上11点", at(23)),
    ("晚上12点", at(0, day=27)),
    ("晚上0点", at(0, day=27)),
    ("晚上4点", "bad_time"),
    ("晚上3点", "bad_time"),
    ("晚上1点", "bad_time"),
    ("晚上20:00", at(20)),
    ("晚上15:00", "bad_time"),
    ("夜里7点", at(19)),
    ("夜里11点", at(23)),
    ("半夜12点", at(0, day=27)),
    ("夜里2点", at(2, day=27)),
    ("深夜4点", at(4, day=27)),
    ("夜里5点", "bad_time"),
    ("最晚11点", at(11)),        # 最晚 is "at the latest", not 晚上
    # English
    ("12 am", at(0)),
    ("11:59 am", at(11, 59)),
    ("12 pm", at(12)),
    ("11 pm", at(23)),
    ("9 in the morning", at(9)),
    ("9:30 in the morning", at(9, 30)),
    ("12 in the morning", "bad_time"),
    ("3 in the afternoon", at(15)),
    ("afternoon 3:00", at(15)),
    ("7 in the afternoon", "bad_time"),
    ("7 in the evening", at(19)),
    ("4 in the evening", "bad_time"),
    ("11 at night", at(23)),
    ("2 at night", at(2, day=27)),
    ("12 noon", at(12)),
    ("1 noon", "bad_time"),
    ("12 midnight", at(0, day=27)),
    # two marks on one time must both hold
    ("晚上8pm", at(20)),
    ("上午3pm", "bad_time"),
    ("10pm at night", at(22)),
]


@pytest.mark.parametrize(("text", "expected"), PARTS_OF_THE_DAY, ids=[case[0] for case in PARTS_OF_THE_DAY])
def test_a_part_of_the_day_reads_the_hour_within_its_span_and_rejects_one_outside_it(text, expected):
    result = parse_visit_time(text, REPORT_DATE)
    assert (result.start if isinstance(result, VisitTime) else result) == expected


@pytest.mark.parametrize(("text", "start", "end"), [
    ("晚上10点-2点", at(22), at(2, day=27)),
    ("22:00-01:00", at(22), at(1, day=27)),
    ("晚上10点-凌晨1点", at(22), at(1, day=27)),
    ("中午12点-1点半", at(12), at(13, 30)),
    ("中午11点半-1点", at(11, 30), at(13)),
])
def test_a_range_from_the_evening_into_the_small_hours_ends_the_next_day(text, start, end):
    assert parse_visit_time(text, REPORT_DATE) == VisitTime(start, end)


@pytest.mark.parametrize("text", ["下午2点-1点", "11:00-9:30", "16:00-03:00"])
def test_a_range_that_does_not_start_in_the_evening_still_may_not_end_before_it_starts(text):
    assert parse_visit_time(text, REPORT_DATE) == "end_before_start"


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


DATES_LOOKING_BACK_AND_AHEAD = [
    # (text, looking back from Friday 27 November, looking ahead from it, as a planned gift date does)
    ("25日", date(2026, 11, 25), date(2026, 12, 25)),
    ("28日", date(2026, 10, 28), date(2026, 11, 28)),
    ("27号", FRIDAY, FRIDAY),
    ("周三", date(2026, 11, 25), date(2026, 12, 2)),
    ("周五", FRIDAY, FRIDAY),
    ("星期一", date(2026, 11, 23), date(2026, 11, 30)),
    ("下周一", date(2026, 11, 30), date(2026, 11, 30)),
    ("上周五", date(2026, 11, 20), date(2026, 11, 20)),
    ("11.25", date(2026, 11, 25), date(2026, 11, 25)),
    ("12.1", date(2026, 12, 1), date(2026, 12, 1)),
    ("Wednesday", date(2026, 11, 25), date(2026, 12, 2)),
    ("1月5日", date(2026, 1, 5), date(2027, 1, 5)),
    ("12月1日", date(2026, 12, 1), date(2026, 12, 1)),
]


@pytest.mark.parametrize(("text", "back", "ahead"), DATES_LOOKING_BACK_AND_AHEAD,
                         ids=[case[0] for case in DATES_LOOKING_BACK_AND_AHEAD])
def test_a_day_or_weekday_alone_is_the_last_one_for_a_report_and_the_next_one_for_a_plan(text, back, ahead):
    assert parse_date(text, FRIDAY) == back
    assert parse_date(text, FRIDAY, ahead=True) == ahead


@pytest.mark.parametrize(("text", "problem"), [
    ("2026-11-26 周三", "weekday_mismatch"),
    ("Wednesday, 26 November 2026", "weekday_mismatch"),
    ("14.30", "unparseable"),
    ("2.30", "unparseable"),                          # no 30 February: a time with a dot?
    ("31日", "bad_date"),
])
def test_a_date_with_a_contradicting_weekday_or_an_impossible_day_is_a_problem(text, problem):
    assert parse_date(text, date(2026, 12, 2)) == problem


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


# --------------------------------------------------------------------------- amounts in the financial way

FINANCIAL_AMOUNTS = [
    # 零 between 元 and 角 / 分 (the banking form), and where any unit is skipped
    ("壹仟陆佰捌拾元零叁角贰分", "1680.32"),
    ("壹仟陆佰捌拾元叁角贰分", "1680.32"),
    ("壹万零伍拾元整", "10050.00"),
    ("贰仟零捌元伍角", "2008.50"),
    ("贰仟零捌元伍角整", "2008.50"),
    ("壹佰元零贰分", "100.02"),
    ("壹拾元零伍角", "10.50"),
    ("人民币壹仟零捌拾圆整", "1080.00"),
    ("伍角", "0.50"),
    ("叁角贰分", "0.32"),
    ("三块五毛五", "3.55"),
    # figures with a restatement in words, every label and bracket
    ("1,200元（人民币大写：壹仟贰佰元整）", "1200.00"),
    ("1,200元(人民币大写:壹仟贰佰元整)", "1200.00"),
    ("1200元（大写：壹仟贰佰元整）", "1200.00"),
    ("1200元（大写金额：壹仟贰佰元整）", "1200.00"),
    ("1200元【大写：壹仟贰佰元整】", "1200.00"),
    ("1200元[壹仟贰佰元整]", "1200.00"),
    ("¥1,200.00，大写：壹仟贰佰元整", "1200.00"),
    ("¥1,200.00，大写：壹仟贰佰元整。", "1200.00"),
    ("¥1,200.00 大写：壹仟贰佰元整", "1200.00"),
    ("1200元；大写：壹仟贰佰元整", "1200.00"),
    ("1200元/壹仟贰佰元整", "1200.00"),
    ("1200元 / 壹仟贰佰元整", "1200.00"),
    ("1200元、壹仟贰佰元整", "1200.00"),
    ("1200元大写壹仟贰佰元整", "1200.00"),
    ("1200元金额大写：壹仟贰佰元整", "1200.00"),
    ("1200元\n大写：壹仟贰佰元整", "1200.00"),
    ("1,680.32元（大写：壹仟陆佰捌拾元零叁角贰分）", "1680.32"),
    # the words first, the figures restating them
    ("人民币壹仟贰佰元整（¥1,200.00）", "1200.00"),
    ("大写：壹仟贰佰元整（小写：¥1,200.00）", "1200.00"),
    ("人民币大写：壹仟贰佰元整 小写：1200元", "1200.00"),
    # English
    ("one thousand two hundred yuan", "1200.00"),
    ("RMB one thousand two hundred only", "1200.00"),
    ("one thousand two hundred yuan and thirty-two cents", "1200.32"),
    ("CNY 1,200 (in words: one thousand two hundred)", "1200.00"),
    ("CNY 1,200.50 (in words: one thousand two hundred yuan and fifty cents only)", "1200.50"),
    ("1200 / in words: twelve hundred", "1200.00"),
    # a remark in brackets is still no restatement
    ("¥1,200 (tax included)", "1200.00"),
]


@pytest.mark.parametrize(("text", "expected"), FINANCIAL_AMOUNTS, ids=[case[0] for case in FINANCIAL_AMOUNTS])
def test_amounts_in_the_financial_way_and_with_a_restatement_in_words_read_as_one_value(text, expected):
    value = parse_amount(text)
    assert isinstance(value, Decimal), value
    assert str(value) == expected


AMOUNT_MISMATCHES = [
    # (text, what the figures say, what the words say)
    ("1,200元（人民币大写：壹仟叁佰元整）", "1200.00", "1300.00"),
    ("1200元（壹仟叁佰元整）", "1200.00", "1300.00"),
    ("¥1,200.00，大写：壹仟贰佰元伍角", "1200.00", "1200.50"),
    ("1680.23元（大写：壹仟陆佰捌拾元零叁角贰分）", "1680.23", "1680.32"),
    ("人民币壹仟贰佰元整（¥2,100.00）", "2100.00", "1200.00"),
    ("大写：壹万零伍拾元整（小写：¥10,500.00）", "10500.00", "10050.00"),
    ("CNY 1,200 (in words: one thousand three hundred yuan only)", "1200.00", "1300.00"),
    ("1200元（大写：1300元）", "1200.00", "1300.00"),
]


@pytest.mark.parametrize(("text", "figures", "words"), AMOUNT_MISMATCHES, ids=[case[0] for case in AMOUNT_MISMATCHES])
def test_figures_and_words_that_disagree_give_both_values_and_pick_neither(text, figures, words):
    assert parse_amount(text) == AmountMismatch(figures=Decimal(figures), words=Decimal(words))


@pytest.mark.parametrize("text", [
    "100元零",                           # 零 after 元 with nothing after it
    "一百元零五",                         # 元零五: 五角 or 五分?
    "1200元（大写：壹仟贰佰圆整整）",       # a labelled restatement that cannot be read
    "1200元（in words: lots）",
    "1200元（含税）（壹仟贰佰元整）",        # two brackets
    "1200元 1500元",
    "1,200/1,300",
    "1200 dollars",
    "five cents",
])
def test_an_amount_or_restatement_that_cannot_be_read_is_unparseable(text):
    assert parse_amount(text) == "unparseable"


def banking_words(cents: int) -> str:
    """Write an amount the way a bank form does, independently of the code under test."""
    yuan, rest = divmod(cents, 100)
    jiao, fen = divmod(rest, 10)
    text = (to_chinese(yuan) if yuan else "零").translate(CAPITALS) + "元"
    if not jiao and not fen:
        return text + "整"
    if jiao:
        # 零 stands for a 0 in the ones place before the 角 (捌拾元零叁角).
        text += ("零" if yuan and yuan % 10 == 0 else "") + DIGITS[jiao].translate(CAPITALS) + "角"
    elif fen:
        text += "零"
    return text + (DIGITS[fen].translate(CAPITALS) + "分" if fen else "整")


def test_generated_amounts_with_their_banking_words_read_back_and_a_changed_word_is_a_mismatch():
    rng = random.Random(1680)
    for _ in range(400):
        cents = rng.randrange(1, 10**10)
        figures = f"{Decimal(cents).scaleb(-2):,.2f}"
        words = banking_words(cents)
        assert parse_amount(words) == Decimal(cents).scaleb(-2), words
        for text in (f"{figures}元（人民币大写：{words}）", f"¥{figures}，大写：{words}", f"{words}（小写：¥{figures}）"):
            assert parse_amount(text) == Decimal(cents).scaleb(-2), text
        other = cents + rng.choice((1, 10, 100, 1000))
        assert parse_amount(f"¥{figures}（大写：{banking_words(other)}）") == AmountMismatch(
            Decimal(cents).scaleb(-2), Decimal(other).scaleb(-2))
