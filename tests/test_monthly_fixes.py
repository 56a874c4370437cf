"""The monthly report after issue 11's attacks were closed: more cases of each fault kind.

Each group is one kind the attacks (tests/test_attacks_monthly.py) found: the head's rejection
holds the draft back, a head change moves the review to the new head, each missed month is
made up, discipline follows the rep, the chart's days off follow the statutory calendar, bidi
controls never reach the files, a racing run leaves the archive alone, the review hours count
from the run, and the demo reports the month its week fell in.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import docx
import openpyxl
import pytest
import yaml
from click.testing import CliRunner

from service.cli import cli
from service.config import load_config
from service.context import Context
from service.demo import month_of_week
from service.monthly.figures import Month, unit_report
from service.scheduler import run_job
from service.store import monthly as monthly_store
from service.workflows.monthly_report import make_reports, send_overdue_reviews

from .monthly_month import CST, HAN, LI
from .test_attacks_monthly import (
    HEAD,
    NEW_HEAD,
    NOVEMBER_RUN,
    document_text,
    east,
    installed,
    mailer,
    refusals,
    reply_to,
    report_day,
    review_mail,
)

AFTER_THE_REVIEW_HOURS = NOVEMBER_RUN + timedelta(hours=49)


def edited_docx(tmp_path: Path, words: str) -> bytes:
    document = docx.Document()
    document.add_paragraph(words)
    path = tmp_path / "edited.docx"
    document.save(path)
    return path.read_bytes()


def leadership_subjects(ctx) -> list[str]:
    return [message_from_bytes(raw, policy=email_policy.default)["Subject"] for (raw,) in ctx.db.execute(
        "SELECT raw FROM outbox WHERE template = 'monthly_report' ORDER BY id")]


# --------------------------------------------------------------------------- a rejection holds the draft back


@pytest.mark.parametrize("rejection, then, sent_as", [
    ("不同意，数据有误", "同意", "approved"),
    ("驳回", "edited", "edited"),
    ("Rejected: Tom's counts are wrong", "approve", "approved"),
])
def test_a_rejected_draft_waits_past_the_review_hours_and_goes_up_on_the_heads_later_answer(
        ctx, tmp_path, rejection, then, sent_as):
    run_job(ctx, "monthly_report", NOVEMBER_RUN)
    review = review_mail(ctx)
    m = mailer(ctx, 500)
    m.deliver(reply_to(review, HEAD, rejection), "2026-11-01 10:00")
    assert send_overdue_reviews(ctx, AFTER_THE_REVIEW_HOURS) == "1 draft(s) sent after no answer"  # north's only
    assert (east(ctx)["state"], east(ctx)["held_at"] is not None) == ("review", True)

    files = [("报告书-修改.docx", edited_docx(tmp_path, "改好的报告书"))] if then == "edited" else []
    m.deliver(reply_to(review, HEAD, "改好了" if files else then, files=files), "2026-11-04 09:00")

    row = east(ctx)
    assert (row["state"], row["sent_as"]) == ("sent", sent_as)
    assert refusals(ctx) == []
    assert [s for s in leadership_subjects(ctx) if "华东事业部" in s] == ["每月巡访情况报告书 华东事业部 2026-10"]


def test_a_held_draft_is_listed_as_held_back_with_the_heads_words(config_file):
    cfg = load_config(config_file)
    ctx = Context.open(cfg)
    try:
        run_job(ctx, "monthly_report", NOVEMBER_RUN)
        mailer(ctx, 500).deliver(reply_to(review_mail(ctx), HEAD, "驳回，缺两天日报"), "2026-11-01 10:00")
        rid = east(ctx)["id"]
    finally:
        ctx.close()
    result = CliRunner().invoke(cli, ["--config", str(config_file), "report", "list", "--month", "2026-10"])
    assert result.exit_code == 0, result.output
    (line,) = [line for line in result.output.splitlines() if " east:" in line]
    assert line.startswith(f"M-{rid} 2026-10 east: held back: rejected by the head at ")
    assert line.endswith(f"(缺两天日报); waits for {HEAD}'s corrected .docx or 同意")
    assert "company summary: sent" in result.output


# --------------------------------------------------------------------------- the unit's current head reviews


def change_east_head(config_file: Path, email: str, name: str) -> None:
    """Make ``email`` east's head; 王芳, the former head, stays in the company as one of its reps."""
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    (unit,) = [u for u in data["organisation"]["units"] if u["id"] == "east"]
    unit["head"] = {"name": name, "email": email}
    data["organisation"]["reps"] = [r for r in data["organisation"]["reps"] if r["email"] != email]
    data["organisation"]["reps"].append({"name": "王芳", "email": HEAD, "unit": "east", "region": "shanghai"})
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.mark.parametrize("words", ["同意", "驳回"])
def test_after_a_change_of_head_the_former_heads_reply_is_refused_naming_the_current_head(config_file, words):
    ctx = Context.open(load_config(config_file))
    try:
        run_job(ctx, "monthly_report", NOVEMBER_RUN)
        review = review_mail(ctx)
    finally:
        ctx.close()
    change_east_head(config_file, NEW_HEAD, "钱进")
    ctx = Context.open(load_config(config_file))
    try:
        mailer(ctx, 500).deliver(reply_to(review, HEAD, words), "2026-11-01 10:00")
        row = east(ctx)
        assert (row["state"], row["held_at"]) == ("review", None)
        (reason,) = [r for (r,) in ctx.db.execute("SELECT reason FROM audit WHERE action = 'refused'")]
        assert reason == (f"not_head: only the unit head ({NEW_HEAD}) reviews monthly report M-{row['id']}; "
                          f"{HEAD} was its head when the draft was made")
    finally:
        ctx.close()


def test_the_new_heads_approval_goes_up_with_the_new_head_in_cc(config_file):
    ctx = Context.open(load_config(config_file))
    try:
        run_job(ctx, "monthly_report", NOVEMBER_RUN)
        review = review_mail(ctx)
        token = east(ctx)["token"]
    finally:
        ctx.close()
    change_east_head(config_file, NEW_HEAD, "钱进")
    ctx = Context.open(load_config(config_file))
    try:
        raw = reply_to(review, NEW_HEAD, f"同意\n审阅代码：{token}", threaded=False, subject=f"FW: {review['Subject']}")
        mailer(ctx, 500).deliver(raw, "2026-11-01 10:00")
        assert east(ctx)["sent_as"] == "approved"
        (cc,) = [message_from_bytes(raw, policy=email_policy.default)["Cc"] for (raw,) in ctx.db.execute(
            "SELECT raw FROM outbox WHERE template = 'monthly_report'")]
        assert NEW_HEAD in str(cc) and HEAD not in str(cc)
    finally:
        ctx.close()


# --------------------------------------------------------------------------- each missed month is made up


def months_made(ctx) -> list[str]:
    return [m for (m,) in ctx.db.execute("SELECT DISTINCT month FROM monthly_reports ORDER BY month")]


@pytest.mark.parametrize("installed_at, manual, made_now", [
    ("2026-09-01 09:00", None, ["2026-09", "2026-10", "2026-11"]),    # never run since: every month owed
    ("2026-10-31 23:00", None, ["2026-10", "2026-11"]),               # October ended after the installation
    ("2026-11-01 02:00", None, ["2026-11"]),                          # October ended before it: not owed
    ("2026-09-01 09:00", "2026-10", ["2026-09", "2026-11"]),          # October sent in full by hand already
])
def test_a_run_after_downtime_makes_each_owed_month_once(ctx, installed_at, manual, made_now):
    installed(ctx, installed_at)
    if manual:
        make_reports(ctx, Month(manual), at=datetime(2026, 11, 2, 9, 0, tzinfo=CST), send=True)
    back = datetime(2026, 12, 3, 9, 0, tzinfo=CST)

    summary = run_job(ctx, "monthly_report", back)

    assert summary.startswith("monthly_report 2026-11: ")
    assert re.findall(r"(\d{4}-\d{2}): \d", summary.removeprefix("monthly_report 2026-11: ")) == made_now
    assert run_job(ctx, "monthly_report", back + timedelta(hours=1)).startswith("monthly_report 2026-11: already done")
    counts = ctx.db.execute("SELECT month, COUNT(*) FROM monthly_reports GROUP BY month ORDER BY month").fetchall()
    assert counts == [(month, 3) for month in sorted(set(made_now) | ({manual} if manual else set()))]
    runs = [key for (key,) in ctx.db.execute("SELECT run_key FROM job_runs WHERE job = 'monthly_report' ORDER BY 1")]
    assert runs == made_now


# --------------------------------------------------------------------------- discipline follows the rep


def move_rep(config_file: Path, rep_email: str, unit: str, region: str) -> None:
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    for rep in data["organisation"]["reps"]:
        if rep["email"] == rep_email:
            rep.update(unit=unit, region=region)
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")


@pytest.mark.parametrize("before, after, due, on_time, late", [
    # Days he reported in east, then in north: three on time of October's 18 working days.
    ([("2026-10-08", "18:00"), ("2026-10-09", "18:00")], [("2026-10-12", "18:00")], 18, 3, 0),
    # One of the east days came the next morning: late, not missing.
    ([("2026-10-08", "2026-10-09 08:30"), ("2026-10-09", "18:00")], [("2026-10-13", "18:00")], 18, 2, 1),
    # The same day in both units counts once.
    ([("2026-10-12", "18:00")], [("2026-10-12", "19:00"), ("2026-10-13", "18:00")], 18, 2, 0),
])
def test_a_moved_reps_discipline_counts_the_reports_he_made_in_his_former_unit(
        config_file, before, after, due, on_time, late):
    def deliver(m, day, when, tag):
        from .monthly_month import daily_body, mail

        sent = when if " " in when else f"{day} {when}"
        m.deliver(mail(HAN, f"巡访日报 {day}", daily_body(HAN, day, [("松江建材", "10:00", {"客户意见": "好"})]),
                       sent, f"{tag}-{day}-{sent}"), sent)

    ctx = Context.open(load_config(config_file))
    try:
        installed(ctx, "2026-09-01 09:00")
        m = mailer(ctx)
        for day, when in before:
            deliver(m, day, when, "east")
    finally:
        ctx.close()
    move_rep(config_file, HAN, "north", "beijing")
    cfg = load_config(config_file)
    ctx = Context.open(cfg)
    try:
        m = mailer(ctx, 100)
        for day, when in after:
            deliver(m, day, when, "north")
        report = unit_report(ctx.db, cfg, "north", Month("2026-10"), generated_at=NOVEMBER_RUN)
        east_report = unit_report(ctx.db, cfg, "east", Month("2026-10"), generated_at=NOVEMBER_RUN)
    finally:
        ctx.close()
    (han,) = [d for d in report.discipline if d.email == HAN]
    assert (han.due, han.on_time, han.late, han.missing) == (due, on_time, late, due - on_time - late)
    assert HAN not in [d.email for d in east_report.discipline]   # no longer east's rep


# --------------------------------------------------------------------------- the chart's days off


@pytest.mark.parametrize("month, off, worked", [
    ("2026-10", [date(2026, 10, 1), date(2026, 10, 7), date(2026, 10, 11)], [date(2026, 10, 10), date(2026, 10, 9)]),
    ("2026-02", [date(2026, 2, 16), date(2026, 2, 23)], [date(2026, 2, 14), date(2026, 2, 28)]),
    ("2026-05", [date(2026, 5, 1), date(2026, 5, 5)], [date(2026, 5, 9), date(2026, 5, 6)]),
])
def test_the_reports_days_off_follow_the_statutory_calendar(ctx, month, off, worked):
    report = unit_report(ctx.db, ctx.cfg, "east", Month(month), generated_at=NOVEMBER_RUN)
    assert set(off) <= set(report.days_off)
    assert not set(worked) & set(report.days_off)


@pytest.mark.policy(holidays=["2026-10-30"])
def test_a_company_holiday_in_config_is_a_day_off_in_the_chart(ctx):
    report = unit_report(ctx.db, ctx.cfg, "east", Month("2026-10"), generated_at=NOVEMBER_RUN)
    assert date(2026, 10, 30) in report.days_off and date(2026, 10, 29) not in report.days_off


# --------------------------------------------------------------------------- bidi controls


@pytest.mark.parametrize("written, shown", [
    ("退货 \u202e12\u202c 件", "退货 12 件"),
    ("\u200f价格 \u200e5%", "价格 5%"),
    ("\u2066订货\u2069 \u061c300 箱", "订货 300 箱"),
])
def test_bidi_controls_a_rep_writes_are_in_neither_the_word_report_nor_the_workbook(ctx, tmp_path, written, shown):
    installed(ctx)
    report_day(mailer(ctx), LI, "2026-10-08", [("松江建材", "10:00", {"客户意见": written, "市场行情": written})],
               tag="bidi")
    (made,) = make_reports(ctx, Month("2026-10"), at=NOVEMBER_RUN, send=False, units=["east"],
                           out_dir=tmp_path / "out")
    assert shown in document_text(made.docx)
    sheet = openpyxl.load_workbook(made.xlsx).worksheets[0]
    (row,) = list(sheet.iter_rows(min_row=2, values_only=True))
    assert row[11] == shown


# --------------------------------------------------------------------------- a racing run, the run's time


def test_a_run_that_finds_the_reports_made_leaves_no_staging_folder_and_the_archive_untouched(ctx, monkeypatch):
    make_reports(ctx, Month("2026-10"), at=NOVEMBER_RUN, send=True)
    archive = Path(ctx.cfg.storage.reports_dir) / "2026-10"
    before = {p: p.stat().st_mtime_ns for p in archive.rglob("*") if p.is_file() and p.name != ".lock"}
    monkeypatch.setattr(monthly_store, "get", lambda *args, **kwargs: None)
    made = make_reports(ctx, Month("2026-10"), at=NOVEMBER_RUN + timedelta(minutes=1), send=True)
    assert [(m.unit, m.docx, m.state) for m in made] == [("east", None, "exists"), ("north", None, "exists"),
                                                         ("*", None, "exists")]
    after = {p: p.stat().st_mtime_ns for p in archive.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before
    assert not [p for p in archive.iterdir() if p.name.startswith(".staging")]


@pytest.mark.parametrize("at, due", [
    (NOVEMBER_RUN, "2026-11-03T00:00:00.000+00:00"),
    (datetime(2026, 11, 2, 14, 30, tzinfo=CST), "2026-11-04T06:30:00.000+00:00"),
])
def test_the_review_is_due_review_hours_after_the_runs_time_not_the_wall_clock(ctx, at, due):
    run_job(ctx, "monthly_report", at)
    assert east(ctx)["review_due_at"] == due
    body = review_mail(ctx).get_body(("plain",)).get_content()
    assert f"（{datetime.fromisoformat(due).astimezone(CST):%Y-%m-%d %H:%M} 前）" in body


# --------------------------------------------------------------------------- the demo's month


@pytest.mark.parametrize("days, month", [
    ([date(2026, 11, 26), date(2026, 11, 27), date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2)], "2026-11"),
    ([date(2026, 11, 30), date(2026, 12, 1), date(2026, 12, 2), date(2026, 12, 3), date(2026, 12, 4)], "2026-12"),
    ([date(2026, 9, 29), date(2026, 9, 30), date(2026, 10, 9), date(2026, 10, 10)], "2026-10"),   # a tie: the later
])
def test_the_demo_reports_the_month_its_week_mostly_fell_in(days, month):
    assert month_of_week(days) == month


def test_an_installation_upgraded_to_the_monthly_report_owes_no_month_from_before_it(tmp_path):
    import sqlite3

    from service.scheduler import months_owed
    from service.store.db import open_db

    path = tmp_path / "visitflow.db"
    open_db(path).close()
    # As an installation of June looks that got the monthly report (0009) on 20 November and
    # is now upgraded to 0011.
    conn = sqlite3.connect(path)
    conn.execute("UPDATE service_state SET value = '2026-06-01T00:00:00.000000+00:00' WHERE key = 'installed_at'")
    conn.execute("UPDATE _sqlite_migrations SET applied_at = '2026-11-20 08:00:00.000000+00:00' "
                 "WHERE name = '0009_monthly_reports'")
    conn.execute("DELETE FROM _sqlite_migrations WHERE name = '0011_monthly_review_held'")
    for column in ("held_at", "held_by_message", "held_comment"):
        conn.execute(f"ALTER TABLE monthly_reports DROP COLUMN {column}")
    conn.commit()
    conn.close()

    db = open_db(path)
    try:
        assert db.execute("SELECT value FROM service_state WHERE key = 'installed_at'").fetchone()[0] \
            == "2026-11-20T08:00:00.000000+00:00"
        assert months_owed(Context(cfg=load_config(Path(__file__).parents[1] / "config.yaml"), db=db),
                           "2027-01") == ["2026-11", "2026-12"]
    finally:
        db.close()
