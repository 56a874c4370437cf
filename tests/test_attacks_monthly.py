"""Attacks on the monthly visit report (issue 11): its figures, its files, the head's review, the schedule, the CLI.

Each test is one attack. A fault found is a strict xfail whose reason names what is wrong and
where it lives; an attack that held up is a plain regression test. Everything here runs in
process: mail goes through the intake as the IMAP server would hand it over
(``tests.monthly_month.Mailer``), replies to the review mail too, and what the service would
send is read from the outbox. The golden replies are ``tests/fixtures/attacks_monthly/*.eml``
(built by its ``make_fixtures.py``), each with a .json saying what must come of it.
"""

from __future__ import annotations

import io
import itertools
import json
import re
import shutil
import subprocess
import zipfile
from dataclasses import replace
from datetime import date, datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import docx
import openpyxl
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from service.cli import cli
from service.config import load_config
from service.context import Context
from service.monthly.document import write_report
from service.monthly.figures import Month, unit_report
from service.monthly.model import TextEntry
from service.scheduler import missed_today, run_job
from service.store import monthly as monthly_store
from service.store.db import transaction
from service.workflows.monthly_report import make_reports, send_overdue_reviews

from .conftest import FIXTURES
from .monthly_month import CST, LI, Mailer, daily_body, mail, utc_text
from .monthly_sample import sample_report

HEAD = "wang.fang@visitflow.test"
HEAD_NORTH = "chen.jing@visitflow.test"
LEADER = "liu.zong@visitflow.test"
NEW_HEAD = "qian.jin@visitflow.test"      # 钱进, hangzhou's salesperson in config.yaml
NOVEMBER_RUN = datetime(2026, 11, 1, 8, 0, tzinfo=CST)   # the schedule's run for October
PLACEHOLDER_ID = b"vf.0123456789abcdef0123456789abcdef@visitflow.test"
GOLDEN = sorted((FIXTURES / "attacks_monthly").glob("*.eml"))
DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


# --------------------------------------------------------------------------- helpers


def installed(ctx, when: str = "2026-09-01 09:00") -> None:
    """Date the installation (Shanghai time): reports are owed from then on."""
    with transaction(ctx.db):
        ctx.db.execute("UPDATE service_state SET value = ? WHERE key = 'installed_at'", [utc_text(when)])


def mailer(ctx, first_uid: int = 1) -> Mailer:
    """Return a Mailer whose IMAP UIDs start at ``first_uid`` (a second one must not reuse UIDs)."""
    m = Mailer(ctx)
    m.uids = itertools.count(first_uid)
    return m


def report_day(m: Mailer, rep: str, day: str, visits: list, *, tag: str) -> None:
    """Deliver rep's daily report for ``day``, sent and received at 18:00 that day."""
    m.deliver(mail(rep, f"巡访日报 {day}", daily_body(rep, day, visits), f"{day} 18:00", f"{tag}-{day}"),
              f"{day} 18:00")


def review_mail(ctx, head: str = HEAD):
    """Return the newest review mail queued for ``head`` (parsed)."""
    (raw,) = ctx.db.execute("SELECT raw FROM outbox WHERE template = 'monthly_review' AND recipients LIKE ? "
                            "ORDER BY id DESC LIMIT 1", [f"%{head}%"]).fetchone()
    return message_from_bytes(raw, policy=email_policy.default)


def draft_attachment(review) -> bytes:
    (payload,) = [part.get_content() for part in review.iter_attachments() if part.get_filename().endswith(".docx")]
    return payload


def reply_to(review, sender: str, words: str, *, files=(), subject: str | None = None,
             threaded: bool = True) -> bytes:
    """Return a reply as a mail client writes it: the words on top, the original quoted, files attached."""
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "visits@visitflow.test"
    msg["Subject"] = subject or f"回复：{review['Subject']}"
    msg["Message-ID"] = make_msgid(domain="client.test")
    if threaded:
        msg["In-Reply-To"] = msg["References"] = review["Message-ID"]
    quoted = "\n".join("> " + line for line in review.get_body(("plain",)).get_content().splitlines())
    msg.set_content(f"{words}\n\n在 2026年11月1日 08:00，巡访服务 <visits@visitflow.test> 写道：\n{quoted}\n")
    for name, payload in files:
        msg.add_attachment(payload, maintype="application", subtype=DOCX_TYPE.split("/")[1], filename=name)
    return msg.as_bytes()


def east(ctx, month: str = "2026-10") -> dict:
    return monthly_store.get(ctx.db, "east", month)


def refusals(ctx) -> list[str]:
    return [reason.split(":")[0] for (reason,) in ctx.db.execute(
        "SELECT reason FROM audit WHERE subject LIKE 'monthly:%' AND action = 'refused' ORDER BY id")]


def after_the_review_hours(ctx) -> datetime:
    """Return a moment past every review's due time (counted from the schedule's run, NOVEMBER_RUN)."""
    return NOVEMBER_RUN + timedelta(hours=ctx.cfg.policy.monthly.review_hours + 1)


def document_text(path: Path) -> str:
    document = docx.Document(str(path))
    cells = [cell.text for table in document.tables for row in table.rows for cell in row.cells]
    return "\n".join([p.text for p in document.paragraphs] + cells)


def monthly(config_file: Path, *args: str):
    return CliRunner().invoke(cli, ["--config", str(config_file), "report", "monthly", *args])


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("given", ["26-11", "1-11", "202-11"])
def test_a_month_whose_year_is_not_four_digits_is_one_clear_line_and_writes_nothing(config_file, tmp_path, given):
    out = tmp_path / "out"
    result = monthly(config_file, "--month", given, "--out", str(out))
    assert result.exit_code == 2, result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists() or not any(out.rglob("*.docx"))


def test_the_last_month_the_calendar_has_is_one_clear_line_not_a_traceback(config_file, tmp_path):
    result = monthly(config_file, "--month", "9999-12", "--out", str(tmp_path / "out"))
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("below", ["a-file/sub", "a-file/sub/deeper"])
def test_an_out_folder_that_cannot_be_made_is_one_clear_line(config_file, tmp_path, below):
    (tmp_path / "a-file").write_text("not a folder")
    result = monthly(config_file, "--month", "2026-10", "--out", str(tmp_path / below))
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.parametrize("months_ahead", [0, 1])
def test_sending_a_month_that_is_not_over_is_refused_and_leaves_the_schedule_its_run(config_file, cfg,
                                                                                     months_ahead):
    today = datetime.now(cfg.policy.zone).date()
    month = Month(today.strftime("%Y-%m"))
    for _ in range(months_ahead):
        month = Month((month.last + timedelta(days=1)).strftime("%Y-%m"))
    result = monthly(config_file, "--month", month.key, "--send")
    context = Context.open(cfg)
    try:
        rows = context.db.execute("SELECT COUNT(*) FROM monthly_reports").fetchone()[0]
    finally:
        context.close()
    assert result.exit_code == 2, result.output
    assert rows == 0


# --------------------------------------------------------------------------- the schedule


def test_a_daemon_down_over_two_report_days_makes_up_each_missing_month_once(ctx):
    installed(ctx, "2026-09-01 09:00")
    # Up until October: September's report was made on 1 October (the run written down).
    with transaction(ctx.db):
        ctx.db.execute("INSERT INTO job_runs (job, run_key, done_at) VALUES ('monthly_report', '2026-09', "
                       "'2026-10-01T00:00:00.000+00:00')")
    back = datetime(2026, 12, 3, 9, 0, tzinfo=CST)
    for _ in range(2):     # started twice: still once per unit and month
        for name in missed_today(ctx, back):
            run_job(ctx, name, back)
    made = ctx.db.execute("SELECT month, unit FROM monthly_reports ORDER BY month, unit").fetchall()
    assert made == [("2026-10", "*"), ("2026-10", "east"), ("2026-10", "north"),
                    ("2026-11", "*"), ("2026-11", "east"), ("2026-11", "north")]


def test_december_is_reported_on_the_first_of_january(ctx):
    # Installed in December: no earlier month is owed, the run is December's alone.
    installed(ctx, "2026-12-01 09:00")
    summary = run_job(ctx, "monthly_report", datetime(2027, 1, 1, 8, 0, tzinfo=CST))
    assert summary == "monthly_report 2026-12: 2026-12: 2 review, 1 sent"
    assert run_job(ctx, "monthly_report", datetime(2027, 1, 1, 9, 0, tzinfo=CST)).startswith(
        "monthly_report 2026-12: already done")


# --------------------------------------------------------------------------- the figures


def test_a_rep_moved_to_another_unit_is_not_missing_on_days_he_reported_in_the_old_one(config_file, tmp_path):
    cfg = load_config(config_file)
    ctx = Context.open(cfg)
    try:
        installed(ctx, "2026-09-01 09:00")
        m = mailer(ctx)
        for day in ("2026-10-08", "2026-10-09"):
            report_day(m, LI, day, [("松江建材", "10:00", {"客户意见": "好"})], tag="east")
    finally:
        ctx.close()
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    for rep in data["organisation"]["reps"]:
        if rep["email"] == LI:
            rep.update(unit="north", region="beijing")
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    cfg = load_config(config_file)
    ctx = Context.open(cfg)
    try:
        report_day(mailer(ctx, 100), LI, "2026-10-12", [("Yansha Mall", "10:00", {"客户意见": "好"})], tag="north")
        report = unit_report(ctx.db, cfg, "north", Month("2026-10"), generated_at=NOVEMBER_RUN)
    finally:
        ctx.close()
    (li,) = [d for d in report.discipline if d.email == LI]
    # October 2026 has 18 working days (1–7 off, Saturday the 10th worked); he reported three of them.
    assert (li.due, li.on_time, li.late, li.missing) == (18, 3, 0, 15)


def test_the_visits_per_day_chart_shades_days_off_by_the_statutory_calendar(ctx, tmp_path):
    installed(ctx)
    m = mailer(ctx)
    # One visit on each of: a National Day Monday, the make-up Saturday, a Sunday, an ordinary Monday.
    for day in ("2026-10-05", "2026-10-10", "2026-10-11", "2026-10-12"):
        report_day(m, LI, day, [("松江建材", "10:00", {"客户意见": "好"})], tag="chart")
    (made,) = make_reports(ctx, Month("2026-10"), at=NOVEMBER_RUN, send=False, units=["east"],
                           out_dir=tmp_path / "out")
    holiday_monday, make_up_saturday, sunday, monday = bar_colours(first_image(made.docx))
    assert holiday_monday == sunday
    assert make_up_saturday == monday
    assert sunday != monday


def first_image(path: Path) -> Image.Image:
    """Return the document's first picture (the visits-per-day chart comes first)."""
    document = docx.Document(str(path))
    blip = document.inline_shapes[0]._inline.graphic.graphicData.pic.blipFill.blip
    return Image.open(io.BytesIO(document.part.related_parts[blip.embed].blob)).convert("RGB")


def bar_colours(image: Image.Image) -> list[tuple[int, int, int]]:
    """Return the colour of each bar, left to right, read along the chart's middle row."""
    y = image.height // 2
    runs: list[list[int]] = []      # [first x, last x] of each coloured run
    for x in range(image.width):
        r, g, b = image.getpixel((x, y))
        if max(r, g, b) - min(r, g, b) > 30:             # not white, black or grey
            if runs and runs[-1][1] == x - 1:
                runs[-1][1] = x
            else:
                runs.append([x, x])
    # The middle of a bar, away from its anti-aliased edges.
    return [image.getpixel(((first + last) // 2, y)) for first, last in runs]


# --------------------------------------------------------------------------- what a rep writes


HOSTILE = [
    ("{{ 7*7 }}{% for x in range(3) %}LOOP{% endfor %}商店", "客户说 {{ config }} 与 {%p if 1 %} 无关"),
    ("=cmd|' /C calc'!A0", "+SUM(1+1) @x -2 =HYPERLINK(\"http://evil.example\",\"点\")"),
    ("<w:p>&amp;\"'</w:p>超市", "a\x01b c\x1fd 👍🏽👨‍👩‍👧 &lt;tag&gt; ]]>"),
    ("长文本客户", "很长" * 16000),
]


def test_templates_markup_and_formulas_a_rep_writes_are_shown_as_written_never_evaluated(ctx, tmp_path):
    installed(ctx)
    visits = [(customer, f"1{n}:00", {"客户意见": text, "市场行情": text}) for n, (customer, text) in enumerate(HOSTILE)]
    report_day(mailer(ctx), LI, "2026-10-08", visits, tag="hostile")
    (made,) = make_reports(ctx, Month("2026-10"), at=NOVEMBER_RUN, send=False, units=["east"],
                                    out_dir=tmp_path / "out")
    text = document_text(made.docx)
    for customer, _ in HOSTILE:
        assert customer in text
    assert "客户说 {{ config }} 与 {%p if 1 %} 无关" in text
    assert "49" not in text and "LOOPLOOP" not in text
    assert "\x01" not in text and "\x1f" not in text
    book = openpyxl.load_workbook(made.xlsx)
    visits_sheet = book.worksheets[0]
    customers = [row[7] for row in visits_sheet.iter_rows(min_row=2, values_only=True)]
    assert customers == [customer for customer, _ in HOSTILE]
    feedback = [row[11] for row in visits_sheet.iter_rows(min_row=2, values_only=True)]
    assert feedback[1] == HOSTILE[1][1] and len(feedback[3]) == 32000
    # Text cells are inline strings: no cell of any sheet is a formula Excel would run.
    with zipfile.ZipFile(made.xlsx) as archive:
        sheets = [archive.read(name) for name in archive.namelist() if name.startswith("xl/worksheets/")]
    assert sheets and not any(b"<f>" in sheet or b"<f " in sheet for sheet in sheets)


@pytest.mark.parametrize("written", ["退货 \u202e12\u202c 件", "\u2067订货 300 箱\u2069", "\u202d价格 5%\u202c"])
def test_direction_overrides_in_a_reps_text_do_not_reorder_what_the_report_shows(tmp_path, written):
    report = sample_report()
    report = replace(report, feedback=(TextEntry("上海华联超市", "李雷", date(2026, 11, 3), written),))
    files = write_report(report, tmp_path)
    text = document_text(files.docx)
    assert not re.search("[\u202a-\u202e\u2066-\u2069]", text)


@pytest.mark.skipif(shutil.which("soffice") is None or shutil.which("pdftotext") is None,
                    reason="LibreOffice (soffice) or poppler-utils (pdftotext) is not installed")
def test_the_urgent_tables_times_are_not_broken_across_lines(tmp_path):
    files = write_report(sample_report(), tmp_path)
    source = tmp_path / "report.docx"
    shutil.copyfile(files.docx, source)
    subprocess.run(["soffice", "--headless", "--norestore", "--nologo",
                    f"-env:UserInstallation={(tmp_path / 'profile').as_uri()}",
                    "--convert-to", "pdf", "--outdir", str(tmp_path), str(source)],
                   check=True, capture_output=True, timeout=120, env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "report.pdf"), "-"], check=True,
                          capture_output=True, text=True).stdout
    for created in ("2026-11-03 10:15", "2026-11-10 14:00", "2026-11-20 09:00"):
        assert created in text
    assert "确认用时" in text
    # Widening the times must not break the other columns' short values either.
    for kept in ("VF-U-7", "VF-U-12", "同行新产品上市", "报告人"):
        assert kept in text


# --------------------------------------------------------------------------- the head's review


@pytest.mark.parametrize("fixture", GOLDEN, ids=lambda p: p.stem)
def test_a_golden_reply_to_the_review_mail_comes_to_what_its_json_says(ctx, fixture, request):
    expected = json.loads(fixture.with_suffix(".json").read_text(encoding="utf-8"))
    run_job(ctx, "monthly_report", NOVEMBER_RUN)
    review = review_mail(ctx)
    raw = fixture.read_bytes().replace(PLACEHOLDER_ID, review["Message-ID"].strip("<>").encode())

    mailer(ctx, 500).deliver(raw, "2026-11-01 10:00")

    row = east(ctx)
    assert row["state"] == expected["state"]
    assert refusals(ctx) == ([expected["refusal"]] if expected["refusal"] else [])
    if "not_sent_as" in expected:
        send_overdue_reviews(ctx, after_the_review_hours(ctx))
        row = east(ctx)
        assert row["sent_as"] != expected["not_sent_as"]
        # North's head did not answer: its draft goes up after the review hours, east's must not.
        to_leadership = [message_from_bytes(raw_mail, policy=email_policy.default) for (raw_mail,) in ctx.db.execute(
            "SELECT raw FROM outbox WHERE template = 'monthly_report'")]
        assert not [m for m in to_leadership if "华东事业部" in m["Subject"]]
        assert [m["Subject"] for m in to_leadership] == ["每月巡访情况报告书 华北事业部 2026-10"]
    if expected.get("held"):
        (note,) = ctx.db.execute("SELECT recipients, raw FROM outbox WHERE template = 'monthly_held'").fetchall()
        assert HEAD in note[0]
        body = message_from_bytes(note[1], policy=email_policy.default).get_body(("plain",)).get_content()
        assert expected["comment"] in body and east(ctx)["token"] in body
        assert east(ctx)["held_comment"] == expected["comment"]


@pytest.mark.parametrize("sender, words", [
    (LEADER, "同意"),                  # leadership approving its own inbox
    (LI, "同意"),                      # a rep replying to a draft the head forwarded
    (HEAD_NORTH, "approve"),           # another unit's head
    (f"王芳 <{LI}>", "同意"),           # the head's name over a rep's address
])
def test_only_the_units_head_can_approve_the_draft(ctx, sender, words):
    run_job(ctx, "monthly_report", NOVEMBER_RUN)
    review = review_mail(ctx)
    mailer(ctx, 500).deliver(reply_to(review, sender, words), "2026-11-01 10:00")
    assert east(ctx)["state"] == "review"
    assert refusals(ctx) == ["not_head"]
    assert ctx.db.execute("SELECT COUNT(*) FROM outbox WHERE template = 'monthly_report'").fetchone() == (0,)


def test_a_reply_to_last_months_draft_does_not_decide_this_months(ctx):
    run_job(ctx, "monthly_report", NOVEMBER_RUN)
    october_review = review_mail(ctx)
    m = mailer(ctx, 500)
    m.deliver(reply_to(october_review, HEAD, "同意"), "2026-11-01 10:00")
    assert east(ctx)["sent_as"] == "approved"
    run_job(ctx, "monthly_report", datetime(2026, 12, 1, 8, 0, tzinfo=CST))

    m.deliver(reply_to(october_review, HEAD, "同意"), "2026-12-01 10:00")

    assert east(ctx, "2026-11")["state"] == "review"
    assert refusals(ctx) == ["already_sent"]


def test_an_edited_docx_after_the_approval_is_refused_and_leadership_keeps_the_approved_draft(ctx):
    run_job(ctx, "monthly_report", NOVEMBER_RUN)
    review = review_mail(ctx)
    m = mailer(ctx, 500)
    m.deliver(reply_to(review, HEAD, "同意"), "2026-11-01 10:00")
    edited = docx.Document()
    edited.add_paragraph("修改版")
    path = Path(ctx.cfg.storage.reports_dir) / "edited.docx"
    edited.save(path)

    m.deliver(reply_to(review, HEAD, "改了一处", files=[("edited.docx", path.read_bytes())]), "2026-11-01 11:00")

    row = east(ctx)
    assert (row["state"], row["sent_as"], row["sent_docx"]) == ("sent", "approved", row["draft_docx"])
    assert refusals(ctx) == ["already_sent"]
    assert ctx.db.execute("SELECT COUNT(*) FROM outbox WHERE template = 'monthly_report'").fetchone() == (1,)


def test_after_the_units_head_changes_the_new_head_reviews_the_draft(config_file):
    cfg = load_config(config_file)
    ctx = Context.open(cfg)
    try:
        run_job(ctx, "monthly_report", NOVEMBER_RUN)
        review = review_mail(ctx)
        token = east(ctx)["token"]
    finally:
        ctx.close()
    data = yaml.safe_load(config_file.read_text(encoding="utf-8"))
    (unit,) = [u for u in data["organisation"]["units"] if u["id"] == "east"]
    unit["head"] = {"name": "钱进", "email": NEW_HEAD}
    config_file.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    ctx = Context.open(load_config(config_file))
    try:
        # The draft forwarded to the new head: a new mail with the tag and the review code.
        raw = reply_to(review, NEW_HEAD, f"同意\n审阅代码：{token}", threaded=False,
                       subject=f"转发：{review['Subject']}")
        mailer(ctx, 500).deliver(raw, "2026-11-01 10:00")
        row = east(ctx)
        assert (row["state"], row["sent_as"]) == ("sent", "approved")
    finally:
        ctx.close()


# --------------------------------------------------------------------------- two runs at once, a run cut short


def test_a_second_send_racing_the_first_leaves_the_draft_the_head_was_sent_in_the_archive(ctx, monkeypatch):
    make_reports(ctx, Month("2026-10"), at=NOVEMBER_RUN, send=True)
    sent_to_head = draft_attachment(review_mail(ctx))
    # The second run checked for an existing report before the first one recorded it.
    monkeypatch.setattr(monthly_store, "get", lambda *args, **kwargs: None)

    made = make_reports(ctx, Month("2026-10"), at=NOVEMBER_RUN + timedelta(minutes=1), send=True)

    assert {m.state for m in made} == {"exists"}
    (draft,) = ctx.db.execute("SELECT draft_docx FROM monthly_reports WHERE unit = 'east'").fetchone()
    archived = Path(ctx.cfg.storage.reports_dir) / draft
    assert archived.read_bytes() == sent_to_head


def test_an_interrupted_preview_leaves_no_temporary_file_and_every_finished_file_whole(ctx, tmp_path, monkeypatch):
    from service.monthly import document

    real = document.render_docx
    calls = itertools.count()

    def interrupted(*args, **kwargs):
        if next(calls) == 1:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(document, "render_docx", interrupted)
    out = tmp_path / "out"
    with pytest.raises(KeyboardInterrupt):
        make_reports(ctx, Month("2026-10"), at=NOVEMBER_RUN, send=False, out_dir=out)
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]
    (finished,) = list(out.rglob("*.docx"))
    assert docx.Document(str(finished)).paragraphs
    assert not (out / "north").exists() or not list((out / "north").glob("*.docx"))
