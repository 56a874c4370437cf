"""How the monthly reports are made (issue 11): workers, the company workbook from the units' rows,
the summary's digested text sections, and runs that must not overwrite each other's archive.

The figures themselves are tests/test_monthly_figures.py's; here the same month is made in
different ways and the results compared.
"""

from __future__ import annotations

import io
import threading
import time
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import docx
import openpyxl
import pytest

from service.config import load_config
from service.context import Context
from service.monthly import runs
from service.monthly.document import Limits, _Format, _text_section
from service.monthly.figures import Month
from service.monthly.labels import words
from service.monthly.model import MonthlyReport, TextDigest, TextEntry
from service.monthly.xlsx import XlsxWriter, read_templates, templates, write_templates
from service.workflows import monthly_report
from service.workflows.monthly_report import make_reports

from .monthly_month import CST, MONTH, build_month, edit_config
from .monthly_sample import sample_report, summary_report

GENERATED = datetime(2026, 11, 1, 8, 0, tzinfo=CST)


@pytest.fixture
def cfg(config_file: Path):
    edit_config(config_file)
    return load_config(config_file)


def document_text(path: Path) -> list[str]:
    """Return every paragraph and table cell of a .docx, in order."""
    document = docx.Document(str(path))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return [p.text for p in document.paragraphs] + cells


def workbook_rows(path: Path) -> dict[str, list[tuple]]:
    book = openpyxl.load_workbook(path, read_only=True)
    return {name: [tuple(row) for row in book[name].iter_rows(values_only=True)] for name in book.sheetnames}


# --------------------------------------------------------------------------- workers and the company workbook


def test_reports_written_by_two_workers_say_what_one_process_writes(ctx, tmp_path):
    build_month(ctx)
    one = make_reports(ctx, Month(MONTH), at=GENERATED, send=False, out_dir=tmp_path / "one")
    two = make_reports(ctx, Month(MONTH), at=GENERATED, send=False, out_dir=tmp_path / "two", workers=2)
    assert [(m.unit, m.state) for m in one] == [(m.unit, m.state) for m in two] == [
        ("east", "written"), ("north", "written"), ("*", "written")]
    for a, b in zip(one, two):
        assert a.docx.name == b.docx.name and a.xlsx.name == b.xlsx.name
        assert document_text(a.docx) == document_text(b.docx)
        assert workbook_rows(a.xlsx) == workbook_rows(b.xlsx)
    # No spool file or temporary folder is left beside the reports.
    assert not [p for p in (tmp_path / "two").rglob(".*")]


def test_the_company_workbook_lists_each_units_rows_in_unit_order_even_in_another_language(ctx, tmp_path):
    build_month(ctx)
    made = {m.unit: m for m in make_reports(ctx, Month(MONTH), at=GENERATED, send=False, out_dir=tmp_path)}
    east, north, company = (workbook_rows(made[u].xlsx) for u in ("east", "north", "*"))
    east_visits, north_visits = east["巡访明细"][1:], north["Visits"][1:]
    assert north_visits and east_visits
    rows = company["巡访明细"][1:]
    assert rows[:len(east_visits)] == east_visits
    # The north unit writes English; the company summary is Chinese, flags and categories too.
    translated = [row[:19] + tuple({"yes": "是", "no": "否"}.get(v, v) for v in row[19:]) for row in north_visits]
    assert [row[:19] + row[19:20] + row[21:] for row in rows[len(east_visits):]] == \
        [row[:19] + row[19:20] + row[21:] for row in translated]
    assert len(rows) == len(east_visits) + len(north_visits)


def test_the_scheduled_run_makes_its_reports_in_its_own_process_without_a_pool(ctx, monkeypatch):
    import concurrent.futures

    def no_pool(*args, **kwargs):
        raise AssertionError("the daemon's run started a process pool")

    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", no_pool)
    summary = monthly_report.scheduled_run(ctx, datetime(2026, 11, 1, 8, 0, tzinfo=CST))
    assert summary.startswith("2026-10: ") and "review" in summary


# --------------------------------------------------------------------------- runs at the same time


def archived_created(ctx, unit: str) -> datetime:
    from service.store import monthly

    row = monthly.get(ctx.db, unit, MONTH)
    return docx.Document(str(ctx.cfg.storage.reports_dir / row["draft_docx"])).core_properties.created


def test_a_second_send_run_waits_for_the_months_archive_lock_then_finds_everything_made(cfg, ctx, tmp_path):
    first = make_reports(ctx, Month(MONTH), at=GENERATED, send=True)
    assert {m.state for m in first} == {"review", "sent"}
    archive = cfg.storage.reports_dir / MONTH
    before = {p: p.read_bytes() for p in archive.rglob("*.docx")}
    second: list = []
    later = datetime(2026, 11, 1, 9, 30, tzinfo=CST)

    def run():
        other = Context.open(cfg)
        try:
            second.extend(make_reports(other, Month(MONTH), at=later, send=True))
        finally:
            other.close()

    with runs.archive_lock(archive):
        thread = threading.Thread(target=run)
        thread.start()
        time.sleep(0.5)
        assert thread.is_alive() and not second      # waiting for the lock
    thread.join(30)
    assert {m.state for m in second} == {"exists"}
    assert {p: p.read_bytes() for p in archive.rglob("*.docx")} == before


@pytest.mark.parametrize("slow", ["first", "second"])
def test_two_send_runs_at_once_make_each_report_once_and_the_archive_keeps_what_was_recorded(
        cfg, ctx, monkeypatch, slow):
    # The run made slow computes its figures half a second late: without the archive lock it
    # would write its files over the drafts the other run had just recorded and sent for review.
    times = {"first": datetime(2026, 11, 1, 8, 0, tzinfo=CST), "second": datetime(2026, 11, 1, 9, 0, tzinfo=CST)}
    original = runs.unit_report

    def unit_report(db, cfg, unit_id, month, *, generated_at, as_of=None):
        if generated_at == times[slow]:
            time.sleep(0.5)
        return original(db, cfg, unit_id, month, generated_at=generated_at, as_of=as_of)

    monkeypatch.setattr(runs, "unit_report", unit_report)
    made: dict[str, list] = {}
    start = threading.Barrier(2)

    def run(name: str):
        own = Context.open(cfg)
        try:
            start.wait()
            made[name] = make_reports(own, Month(MONTH), at=times[name], send=True)
        finally:
            own.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in times]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    states = {name: {m.unit: m.state for m in result} for name, result in made.items()}
    for unit in ("east", "north", "*"):
        winners = [name for name in times if states[name][unit] != "exists"]
        assert len(winners) == 1, (unit, states)
        expected = times[winners[0]].replace(tzinfo=None)
        assert archived_created(ctx, unit).replace(tzinfo=None) == expected


# --------------------------------------------------------------------------- the summary's text sections


def entry(customer: str, day: int, text: str = "意见") -> TextEntry:
    return TextEntry(customer, "李雷", date(2026, 11, day), text)


UNIT_SECTIONS = [
    pytest.param([[entry("甲", 3), entry("乙", 1), entry("甲", 1)], [entry("乙", 2), entry("丙", 5)]], id="two-units"),
    pytest.param([[entry("甲", d % 28 + 1, f"第{d}条") for d in range(40)],
                  [entry("甲", 1, "早"), entry("乙", 2)] * 7, []], id="one-busy-customer-and-an-empty-unit"),
    pytest.param([[entry(f"客户{i % 17}", i % 30 + 1, "很长的意见" * (i % 90)) for i in range(300)],
                  [entry(f"客户{i % 5}", 30 - i % 30, "x") for i in range(120)]], id="many-customers-trimmed-texts"),
]


@pytest.mark.parametrize("sections", UNIT_SECTIONS)
@pytest.mark.parametrize("limits", [Limits(), Limits(entries=8, per_customer=2, text_chars=20)])
def test_the_summarys_text_section_from_unit_digests_says_what_the_joined_entries_say(sections, limits):
    f = _Format(MonthlyReport.empty("2026-11", None, GENERATED), words("zh-CN"))
    joined = [e for section in sections for e in section]
    digest = TextDigest.joined([TextDigest.of(s, limits.per_customer) for s in sections], limits.per_customer)
    assert len(digest) == len(joined)
    assert _text_section(digest, limits, f) == _text_section(tuple(joined), limits, f)


def test_a_digest_cannot_be_shown_with_more_entries_per_customer_than_it_kept():
    f = _Format(MonthlyReport.empty("2026-11", None, GENERATED), words("zh-CN"))
    with pytest.raises(ValueError, match="keeping 2 entries per customer cannot show 5"):
        _text_section(TextDigest.of([entry("甲", 1)], keep=2), Limits(), f)


def test_a_unit_report_without_details_keeps_its_figures_and_drops_its_visits():
    report = sample_report()
    slim = report.without_details(5)
    assert slim.visits == () and slim.kpis == report.kpis and slim.discipline == report.discipline
    assert len(slim.feedback) == len(report.feedback) and isinstance(slim.feedback, TextDigest)


# --------------------------------------------------------------------------- spooled rows


@pytest.mark.parametrize("rows", [
    pytest.param([("多行\n文本", 1, date(2026, 11, 3)), ("<&>", None, datetime(2026, 11, 3, 9, 30))], id="text-and-dates"),
    pytest.param([("控制字符\x00\x01\x07留下", 2.5, True)], id="control-characters-removed"),
    pytest.param([(f"第{i}行", i, None) for i in range(1500)], id="more-than-one-chunk"),
])
def test_rows_spooled_by_one_sheet_are_the_same_rows_in_another(tmp_path, rows):
    spool = tmp_path / "rows.spool"
    assert write_templates(spool, templates(rows, 3)) == len(rows)
    assert len(list(read_templates(spool))) == len(rows)
    direct, copied = tmp_path / "direct.xlsx", tmp_path / "copied.xlsx"
    book = XlsxWriter(direct)
    book.sheet("s", ["a", "b", "c"], [("头", 0, None), *rows])
    book.close()
    book = XlsxWriter(copied)
    book.sheet("s", ["a", "b", "c"], [("头", 0, None)], row_count=1 + len(rows), spooled=[spool])
    book.close()
    assert workbook_rows(direct) == workbook_rows(copied)
    sheet = openpyxl.load_workbook(copied)["s"]
    assert sheet.auto_filter.ref == f"A1:C{len(rows) + 2}"


def test_a_spool_cut_short_is_an_error(tmp_path):
    spool = tmp_path / "rows.spool"
    write_templates(spool, templates([("a", 1, None)], 3))
    spool.write_bytes(spool.read_bytes()[:-5])
    with pytest.raises(ValueError, match="ends inside a row"):
        list(read_templates(spool))


def test_the_summary_sample_still_writes_its_digested_sections(tmp_path):
    from service.monthly import write_report

    summary = summary_report()
    digested = replace(summary, feedback=TextDigest.of(summary.feedback, 5),
                       market=TextDigest.joined([summary.market[:2], summary.market[2:]], 5))
    a = write_report(summary, tmp_path / "a")
    b = write_report(digested, tmp_path / "b")
    assert document_text(a.docx) == document_text(b.docx)


# --------------------------------------------------------------------------- docxtpl's passes, done only where needed


@pytest.mark.parametrize("text", [
    pytest.param("第一行\n第二行\n\n第三行", id="line-breaks"),
    pytest.param("型号\tLED-9W\t200 箱", id="tabs"),
    pytest.param("没有换行的一段意见", id="plain"),
])
def test_the_document_is_what_docxtpl_alone_renders(tmp_path, monkeypatch, text):
    import zipfile

    from docxtpl import DocxTemplate

    from service.monthly import document

    report = sample_report()
    report = replace(report, feedback=tuple(replace(e, text=text) for e in report.feedback),
                     handled=tuple(replace(e, text=f"{e.text}\n{text}") for e in report.handled))

    def parts(payload: bytes) -> dict[str, bytes]:
        with zipfile.ZipFile(io.BytesIO(payload)) as z:
            return {name: z.read(name) for name in z.namelist()}

    ours = parts(document.render_docx(report, xlsx_name="x.xlsx"))
    monkeypatch.setattr(document, "_Template", DocxTemplate)
    theirs = parts(document.render_docx(report, xlsx_name="x.xlsx"))
    assert ours == theirs
    assert text.split("\n")[0].split("\t")[0].encode() in ours["word/document.xml"]   # the text is there


# --------------------------------------------------------------------------- charts on kept figures


def test_a_chart_drawn_on_a_kept_figure_is_the_chart_a_fresh_figure_draws():
    from PIL import Image, ImageChops

    from service.monthly.charts import Charts
    from service.monthly.model import DayCount, PlanRow, TierCoverage

    def tiers(n: int, shift: int) -> list:
        return [TierCoverage(t, 10 + shift, 2, "month", (3 * i + shift) % 11, 8, (i + shift) % 9)
                for i, t in enumerate("ABCD"[:n])]

    def plan(n: int, shift: int) -> list:
        return [PlanRow(f"营销员{'甲乙丙丁'[i % 4] * (1 + (i + shift) % 3)}{i}", 3 + i % 5, (i + shift) % 6)
                for i in range(n)]

    def days(month: int, shift: int) -> list:
        return [DayCount(date(2026, month, d), (d * 7 + shift) % 23) for d in range(1, 29)]

    # The same shapes again and again with other data (figures are kept per shape), in both
    # languages, then other shapes: each PNG must be what a new Charts object draws.
    draws = [(lang, kind, shift) for shift in range(2) for lang in ("zh-CN", "en")
             for kind in ("day-11", "day-2", "tiers-4", "tiers-3", "plan-40", "plan-7", "plan-60")]
    def draw(charts: Charts, lang: str, kind: str, shift: int) -> bytes:
        w = words(lang)
        name, size = kind.split("-")
        if name == "day":
            return charts.visits_per_day(w, 2026, int(size), days(int(size), shift))
        if name == "tiers":
            return charts.tier_coverage(w, tiers(int(size), shift))
        return charts.plan_vs_actual(w, plan(int(size), shift))

    kept = Charts()
    for lang, kind, shift in draws:
        again, fresh = (Image.open(io.BytesIO(draw(c, lang, kind, shift))).convert("RGB") for c in (kept, Charts()))
        assert again.size == fresh.size and ImageChops.difference(again, fresh).getbbox() is None, (lang, kind, shift)
