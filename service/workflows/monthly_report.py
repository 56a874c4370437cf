"""The monthly visit report (每月巡访情况报告书, Article 10): made, reviewed by the head, sent up once.

On ``schedule.monthly_report`` (or ``visitflow report monthly --send``) each unit's report for
the previous month is computed (``service.monthly.figures``), written as .docx + .xlsx
(``service.monthly.document``) and archived under ``storage.reports_dir/<month>/``. Then:

- with ``policy.monthly.review`` (the default) the unit head gets the draft and answers by
  reply: ``同意`` / ``approve`` sends it to leadership as it is; a reply with an edited .docx
  attached sends that file instead (it must be a Word .docx within the attachment limits,
  otherwise the head is told why and the draft waits); ``不同意`` / ``驳回`` / ``reject`` holds
  the draft back – it never goes up on its own – until the head sends a corrected .docx or
  ``同意`` (the head is told so); no answer within ``policy.monthly.review_hours`` (counted
  from the run's time) sends the draft as it is, and the mail says so. The unit's head as
  config says now reviews, not the head the draft was first mailed to;
- without review it goes to leadership at once.
Leadership gets the unit's report with the head in CC; the company summary goes to
leadership directly. A report exists once per unit and month (a UNIQUE row), so reruns,
restarts and a manual ``--send`` never send one twice; every version sent is archived.
"""

from __future__ import annotations

import io
import logging
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..classify import TAG_RE
from ..context import Context
from ..errors import VisitflowError
from ..inbound.mime import DecodedMessage
from ..monthly import runs
from ..monthly.figures import (
    Month,
    company_summary,
    leadership_urgent,
    summary_language,
)
from ..monthly.model import MonthlyReport
from ..outbound.outbox import FileAttachment
from ..reading.doctype import DOCX, sniff
from ..reading.replies import Decision
from ..store import monthly
from ..store.answers import NOTE
from ..store.cards import archive_problem
from ..store.db import transaction
from ..store.messages import audit
from . import Inbound, Outcome
from .answer import name_of, reply_to_sender
from .authority import authentication_problem, identity_problem

log = logging.getLogger("visitflow.monthly")

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Made:
    """What happened to one report: its unit ('*': the company summary) and files, or why not made."""

    unit: str
    docx: Path | None
    xlsx: Path | None
    state: str  # written | review | sent | exists


@dataclass(frozen=True)
class Target:
    report: dict
    found_by: str  # "references <id>" | "subject tag [VF-M-n]"
    by_reference: bool


# --------------------------------------------------------------------------- making reports


def make_reports(ctx: Context, month: Month, *, at: datetime, send: bool, units: Sequence[str] | None = None,
                 out_dir: Path | None = None, progress: Callable[[str], None] | None = None,
                 workers: int = 1) -> list[Made]:
    """Compute and write the month's reports; with ``send`` also record and mail them (once each).

    ``units`` limits the run to those unit ids (the company summary only comes with every
    unit); ``at`` is an aware datetime (the generation time); ``out_dir`` is where files go
    without ``send`` (default ``preview_dir``); with ``send`` they always go to the archive,
    ``storage.reports_dir/<month>``, and the run holds the month's archive lock: a second run
    at the same time (the schedule and a manual ``--send``, two manual ones) waits, then finds
    the reports made and overwrites none of their files. Each sent report is its own
    transaction. ``progress`` is called with each unit id as it is done. ``workers`` > 1
    computes and writes the units' reports in that many forked processes (only from a process
    without other threads: the command line, not the daemon, which runs it in its own process
    with no pool kept); recording and mailing stay in this process. Raises KeyError for an
    unknown unit id.
    """
    cfg = ctx.cfg
    if send:
        not_over(month, at.astimezone(cfg.policy.zone))
    chosen = list(units) if units else list(cfg.organisation.units)
    for unit_id in chosen:
        cfg.organisation.units[unit_id]  # noqa: B018 - an unknown unit fails before any work
    archive = cfg.storage.reports_dir / month.key
    # The archive holds what was reviewed and sent: a preview must never overwrite a draft
    # awaiting its head's answer, so it goes to its own folder.
    target_dir = archive if send else Path(out_dir) if out_dir is not None else preview_dir(ctx, month)
    every_unit = units is None or set(chosen) == set(cfg.organisation.units)
    if not send:
        return _make(ctx, month, chosen, at=at, send=False, every_unit=every_unit, target_dir=target_dir,
                     staging=None, progress=progress, workers=workers)
    with runs.archive_lock(archive):
        # Rendered into a staging folder of the archive, and moved into place only for a report
        # this run recorded (monthly.create returned its row): a run racing another one – the
        # lock only orders runs that take it, and another may have recorded a report after this
        # one looked – never overwrites the draft the head was sent.
        staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=archive))
        try:
            return _make(ctx, month, chosen, at=at, send=True, every_unit=every_unit, target_dir=staging,
                         staging=(staging, archive), progress=progress, workers=workers)
        finally:
            shutil.rmtree(staging, ignore_errors=True)


class MonthNotOver(VisitflowError):
    """A month not over yet cannot be sent: its report would stand for the month in the archive."""


def not_over(month: Month, at: datetime) -> None:
    """Raise MonthNotOver when ``month`` has not ended by ``at`` (its zone's day), else return.

    A report sent for a month still running is recorded as the month's (once per unit and
    month), so the schedule's run after the month would find it made and the full month would
    never go up. A preview (no send) of the current month stays allowed.
    """
    today = at.date()  # the caller gives ``at`` in the policy zone
    if month.last >= today:
        raise MonthNotOver(f"--send: {month.key} is not over yet (its last day is {month.last.isoformat()}); "
                           f"it can be sent from {(month.last + timedelta(days=1)).isoformat()}, "
                           "without --send only a preview is written")


def _make(ctx: Context, month: Month, chosen: list[str], *, at: datetime, send: bool, every_unit: bool,
          target_dir: Path, staging: tuple[Path, Path] | None, progress: Callable[[str], None] | None,
          workers: int) -> list[Made]:
    cfg = ctx.cfg
    as_of = at.astimezone(cfg.policy.zone).date()
    todo = [u for u in chosen if not (send and monthly.get(ctx.db, u, month.key))]
    summary_exists = bool(send and monthly.get(ctx.db, monthly.COMPANY, month.key))
    with_summary = every_unit and not summary_exists
    made: list[Made] = []
    reports: list[MonthlyReport] = []
    # The company's workbook lists every unit's visits: each unit's rows, formatted once for
    # its own workbook, are kept in a spool file here and copied into the company's.
    spool_dir = Path(tempfile.mkdtemp(prefix=".visits-", dir=runs.made_dir(target_dir))) if with_summary else None
    job = runs.Job(ctx.cfg, month, at, as_of, target_dir, spool_dir, summary_language(cfg))
    try:
        with runs.pool(workers, len(todo), job) as pool:
            rendered = runs.render_units(ctx.db, todo, job, pool=pool, progress=progress)
        spooled = []
        for unit_id in chosen:
            if unit_id in rendered:
                report, files, rows = rendered[unit_id]
                made.append(_record_unit(ctx, report, runs.archived(files, staging), cause=None) if send
                            else Made(unit_id, files.docx, files.xlsx, "written"))
            else:  # sent before: its figures and visits still count in the company summary
                made.append(Made(unit_id, None, None, "exists"))
                report = rows = None
                if with_summary:
                    report = runs.unit_report(ctx.db, cfg, unit_id, month, generated_at=at, as_of=as_of)
                    rows = runs.spool_only(report, job)
                    report = report.without_details(runs.keep())
                if progress:
                    progress(unit_id)
            if report is not None:
                reports.append(report)
            if rows is not None:
                spooled.append(rows)
        if every_unit:
            if summary_exists:
                made.append(Made(monthly.COMPANY, None, None, "exists"))
            else:
                summary = company_summary(cfg, month, reports, generated_at=at,
                                          own_urgent=leadership_urgent(ctx.db, cfg, month), keep=runs.keep())
                files = runs.write_summary(summary, target_dir / "company", spooled, fork=workers > 1)
                made.append(_record_summary(ctx, summary, runs.archived(files, staging)) if send
                            else Made(monthly.COMPANY, files.docx, files.xlsx, "written"))
            if progress:
                progress(monthly.COMPANY)
    finally:
        if spool_dir is not None:
            shutil.rmtree(spool_dir, ignore_errors=True)
    return made


def preview_dir(ctx: Context, month: Month) -> Path:
    """Return where a run without ``send`` writes by default: ``storage.reports_dir/preview/<month>``."""
    return ctx.cfg.storage.reports_dir / "preview" / month.key


def scheduled_run(ctx: Context, at: datetime) -> str:
    """The ``monthly_report`` job: make and send the previous month's reports, and first those of
    each earlier month whose run was missed (``scheduler.months_owed``); return a summary."""
    from ..scheduler import months_owed, record_run

    local = at.astimezone(ctx.cfg.policy.zone)
    month = Month(f"{local.year:04d}-{local.month:02d}").previous()
    parts = []
    for key in months_owed(ctx, month.key):
        parts.append(_run_month(ctx, Month(key), at))
        record_run(ctx, "monthly_report", key)  # the month's own run, as if the schedule had made it
    parts.append(_run_month(ctx, month, at))
    return "; ".join(parts)


def _run_month(ctx: Context, month: Month, at: datetime) -> str:
    made = make_reports(ctx, month, at=at, send=True)
    counts: dict[str, int] = {}
    for m in made:
        counts[m.state] = counts.get(m.state, 0) + 1
    return f"{month.key}: " + ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))


def send_overdue_reviews(ctx: Context, at: datetime) -> str:
    """The ``monthly_reviews`` job: send each draft whose head did not answer in time, as it is."""
    overdue = monthly.review_overdue(ctx.db, at.astimezone(timezone.utc).isoformat(timespec="milliseconds"))
    for report in overdue:
        _send_up(ctx, report, report["draft_docx"], sent_as="timeout", cause=None)
    return f"{len(overdue)} draft(s) sent after no answer"


def _record_unit(ctx: Context, report: MonthlyReport, files, *, cause: int | None) -> Made:
    cfg = ctx.cfg
    unit = cfg.organisation.units[report.unit.id]
    review = cfg.policy.monthly.review
    # Counted from the run's time (``report.generated_at``, the ``at`` of ``jobs run --at``), as
    # everything else in the run is, not from the wall clock.
    due = (report.generated_at.astimezone(timezone.utc) + timedelta(hours=cfg.policy.monthly.review_hours)
           if review else None)
    with transaction(ctx.db):
        row = monthly.create(ctx.db, unit=unit.id, month=report.month, state="review" if review else "sent",
                             head=unit.head.email, draft_docx=_relative(ctx, files.final_docx),
                             draft_xlsx=_relative(ctx, files.final_xlsx),
                             review_due_at=due.isoformat(timespec="milliseconds") if due else None)
        if row is None:  # another run recorded it first: its files stay as they are
            return Made(unit.id, None, None, "exists")
        files.move_into_place()
        if review:
            message_id = ctx.send(
                "monthly_review", to=[unit.head.email], cause_message=cause,
                attachments=_attachments(ctx, row["draft_docx"], row["draft_xlsx"]),
                **_variables(ctx, report, row), review_hours=_hours(cfg.policy.monthly.review_hours),
                due=_local_text(ctx, due))
            monthly.record_mail(ctx.db, message_id=message_id, report=row["id"], purpose="review")
            audit(ctx.db, subject=f"monthly:{row['id']}", action="review_requested",
                  reason=f"{unit.id} {report.month} to {unit.head.email}", actor="scheduler")
        else:
            _send_up(ctx, row, row["draft_docx"], sent_as="draft", cause=cause, report=report)
    ctx.notify_sender()
    return Made(unit.id, files.final_docx, files.final_xlsx, "review" if review else "sent")


def _record_summary(ctx: Context, summary: MonthlyReport, files) -> Made:
    leaders = [p.email for p in ctx.cfg.organisation.leadership]
    with transaction(ctx.db):
        row = monthly.create(ctx.db, unit=monthly.COMPANY, month=summary.month, state="sent", head=None,
                             draft_docx=_relative(ctx, files.final_docx), draft_xlsx=_relative(ctx, files.final_xlsx),
                             review_due_at=None)
        if row is None:
            return Made(monthly.COMPANY, None, None, "exists")
        files.move_into_place()
        if leaders:
            message_id = ctx.send("monthly_summary", to=leaders,
                                  attachments=_attachments(ctx, row["draft_docx"], row["draft_xlsx"]),
                                  **_variables(ctx, summary, row))
            monthly.record_mail(ctx.db, message_id=message_id, report=row["id"], purpose="leadership")
        monthly.mark_sent(ctx.db, row["id"], sent_docx=row["draft_docx"], sent_as="draft")
        audit(ctx.db, subject=f"monthly:{row['id']}", action="sent", reason=f"company summary {summary.month}",
              actor="scheduler")
    ctx.notify_sender()
    return Made(monthly.COMPANY, files.final_docx, files.final_xlsx, "sent")


def _send_up(ctx: Context, row: dict, docx: str, *, sent_as: str, cause: int | None,
             report: MonthlyReport | None = None) -> None:
    """Mail the unit's report (the file ``docx``, archived) to leadership, the head in CC (caller's transaction)."""
    cfg = ctx.cfg
    unit = cfg.organisation.units.get(row["unit"])
    leaders = [p.email for p in cfg.organisation.leadership]
    head = current_head(ctx, row)
    to = leaders or [head]
    message_id = ctx.send(
        "monthly_report", to=to, cc=[head] if head and head not in to else [], cause_message=cause,
        # An edited report is archived under its own name but goes up under the report's.
        attachments=_attachments(ctx, docx, row["draft_xlsx"], docx_name=Path(row["draft_docx"]).name),
        unit_name=unit.name if unit else row["unit"], month=row["month"], report_id=row["id"],
        head_name=name_of(ctx, head) if head else "", sent_as=sent_as,
        review_hours=_hours(cfg.policy.monthly.review_hours))
    monthly.record_mail(ctx.db, message_id=message_id, report=row["id"], purpose="leadership")
    monthly.mark_sent(ctx.db, row["id"], sent_docx=docx, sent_as=sent_as, cause=cause)
    audit(ctx.db, subject=f"monthly:{row['id']}", action="sent", reason=f"{row['unit']} {row['month']} as {sent_as}",
          actor=head or "scheduler", message=cause)


# --------------------------------------------------------------------------- the head's reply


def find_target(ctx: Context, msg: DecodedMessage) -> Target | None:
    """Return the monthly report a reply reviews: by the review mail it references, else by the [VF-M-n] tag.

    Only the review mail asks for an answer. A reply to the report leadership got (a leader's
    收到, the head answering all from CC) or to the company summary reviews nothing: it is left
    to the replies' "nothing to decide" note instead of being refused as a review.
    """
    for ref in msg.in_reply_to + list(reversed(msg.references)):
        report = monthly.by_mail(ctx.db, ref, purpose="review")
        if report:
            return Target(report, f"references <{ref}>", True)
    match = TAG_RE.search(msg.subject)
    if match and match[1].upper() == "M":
        report = monthly.by_id(ctx.db, int(match[2]))
        if report:
            return Target(report, f"subject tag {match[0]}", False)
    return None


def on_reply(ctx: Context, inbound: Inbound, target: Target, decision: Decision) -> Outcome:
    """Send the draft up on 同意, send the head's edited .docx instead, hold it back on 不同意 / 驳回,
    or say why none of these can be."""
    msg = inbound.msg
    report = target.report
    rid = report["id"]
    unit = ctx.cfg.organisation.units.get(report["unit"])
    unit_name = unit.name if unit else report["unit"]
    refusal = _refusal(ctx, msg, target)
    # Only a file that could be the report is one: clients attach signature logos, S/MIME
    # signatures, vCards or the workbook sent back, and a 同意 must not be refused for those.
    files = [a for a in msg.attachments if not a.body_image and _could_be_report(a)]
    edited = None
    if refusal is None and files:
        edited, refusal = _edited_docx(ctx, files)
        if edited is not None and edited == _draft(ctx, report):
            edited = None  # the draft sent back unchanged ("reply with attachments") is no edit
    if refusal is None and edited is None and decision.decision == "reject":
        return _hold(ctx, inbound, report, decision, unit_name)
    if refusal is None and edited is None and decision.decision != "approve":
        reply_to_sender(ctx, inbound, "monthly_no_decision", report_id=rid, unit_name=unit_name,
                        month=report["month"], token=report["token"])
        return Outcome("rejected", f"M-{rid}: reply neither approves nor carries an edited .docx")
    if refusal:
        audit(ctx.db, subject=f"monthly:{rid}", action="refused", reason=refusal, actor=msg.from_addr,
              message=inbound.id)
        reply_to_sender(ctx, inbound, "monthly_refused", report_id=rid, unit_name=unit_name, month=report["month"],
                        reason_code=refusal.split(":")[0], reason=refusal)
        return Outcome("rejected", f"M-{rid}: reply refused: {refusal}")
    if edited is not None:
        name = f"{Path(report['draft_docx']).stem}-{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-edited.docx"
        path = ctx.cfg.storage.reports_dir / Path(report["draft_docx"]).parent / name
        path.write_bytes(edited)
        _send_up(ctx, report, _relative(ctx, path), sent_as="edited", cause=inbound.id)
        return Outcome("processed", f"M-{rid}: the head's edited .docx sent to leadership")
    _send_up(ctx, report, report["draft_docx"], sent_as="approved", cause=inbound.id)
    return Outcome("processed", f"M-{rid}: approved by {msg.from_addr}, sent to leadership")


def _hold(ctx: Context, inbound: Inbound, report: dict, decision: Decision, unit_name: str) -> Outcome:
    """Hold the draft back on the head's rejection and tell the head how to send it later.

    Article 10 has the head compile the report: a draft the head refused must not reach
    leadership, not even after the review hours (``monthly.review_overdue`` skips it). It waits
    for the head's corrected .docx or 同意, in reply to the review mail, as before.
    """
    rid = report["id"]
    comment = decision.comment.strip()
    monthly.hold(ctx.db, rid, comment=comment, cause=inbound.id)
    audit(ctx.db, subject=f"monthly:{rid}", action="held", reason=f"the head rejected the draft: {comment or '—'}",
          actor=inbound.msg.from_addr, message=inbound.id)
    reply_to_sender(ctx, inbound, "monthly_held", answer=NOTE, report_id=rid, unit_name=unit_name,
                    month=report["month"], token=report["token"], comment=comment)
    return Outcome("processed", f"M-{rid}: the head rejected the draft; held back until a corrected .docx or 同意")


def current_head(ctx: Context, report: dict) -> str | None:
    """Return who reviews ``report`` now: its unit's head in config (the head it was made for
    when the unit is gone from config), None for the company summary."""
    if report["unit"] == monthly.COMPANY:
        return None
    unit = ctx.cfg.organisation.units.get(report["unit"])
    return unit.head.email if unit and unit.head else report["head"]


def _refusal(ctx: Context, msg: DecodedMessage, target: Target) -> str | None:
    report = target.report
    ambiguous = identity_problem(msg)
    if ambiguous:
        return ambiguous
    # The unit's head as config says now decides, not the one the draft was first mailed to:
    # after a change of head the former one no longer speaks for the unit.
    head = current_head(ctx, report)
    if head is None or msg.from_addr != head:
        former = (f"; {report['head']} was its head when the draft was made"
                  if head and report["head"] and msg.from_addr == report["head"] else "")
        return f"not_head: only the unit head ({head or 'none'}) reviews monthly report M-{report['id']}{former}"
    if not target.by_reference and report["token"] not in (msg.text + msg.html + msg.subject):
        return "no_token: the reply neither references the review mail nor carries its code"
    unauthenticated = authentication_problem(msg, ctx.cfg)
    if unauthenticated:
        return unauthenticated
    if report["state"] == "sent":
        how = {"approved": "as approved", "edited": "as edited", "timeout": "as it was, after no answer",
               "draft": "without review"}.get(report["sent_as"], "")
        return f"already_sent: monthly report M-{report['id']} went to leadership {how} at {report['sent_at'][:16]}Z"
    return None


def _could_be_report(attachment) -> bool:
    """Say whether an attached file is a document the head may mean as the report (Word-like or PDF)."""
    if sniff(attachment.payload, attachment.filename, attachment.content_type) is not None:
        return True
    return (attachment.payload[:5] == b"%PDF-" or attachment.filename.lower().endswith(".pdf")
            or attachment.content_type.lower() == "application/pdf")


def _draft(ctx: Context, report: dict) -> bytes | None:
    """Return the bytes of the draft the head was sent, or None when its file is gone."""
    try:
        return (ctx.cfg.storage.reports_dir / report["draft_docx"]).read_bytes()
    except OSError:
        return None


def _edited_docx(ctx: Context, files) -> tuple[bytes | None, str | None]:
    """Return (the edited .docx, None) or (None, why the attached files cannot be the report)."""
    policy = ctx.cfg.policy
    named = ", ".join(a.filename or "(no name)" for a in files)
    docx = [a for a in files if sniff(a.payload, a.filename) == DOCX]
    if not docx:
        return None, f"not_docx: no Word .docx among the attached files ({named}); save the report as .docx"
    if len(docx) > 1:
        return None, f"several_docx: {len(docx)} Word files attached ({named}); attach only the edited report"
    file = docx[0]
    if file.damage:
        return None, f"damaged: {file.filename} {file.damage}"
    if len(file.payload) > policy.max_attachment_bytes:
        return None, (f"too_large: {file.filename} is {len(file.payload):,} bytes, above the "
                      f"{policy.max_attachment_bytes:,}-byte attachment limit")
    problem = archive_problem(file.payload, policy.max_unzipped_bytes)
    if problem:
        return None, f"unsafe: {file.filename} {problem}"
    try:
        from docx import Document

        Document(io.BytesIO(file.payload))
    except Exception as exc:  # noqa: BLE001 - any failure to open is the same answer
        return None, f"unreadable: Word cannot open {file.filename} ({type(exc).__name__})"
    return file.payload, None


# --------------------------------------------------------------------------- helpers


def _attachments(ctx: Context, docx: str, xlsx: str, *, docx_name: str | None = None) -> list[FileAttachment]:
    """Return the archived report files (paths relative to the archive) as attachments, the .docx as ``docx_name``."""
    root = ctx.cfg.storage.reports_dir
    return [FileAttachment(docx_name or Path(docx).name, (root / docx).read_bytes(), DOCX_TYPE),
            FileAttachment(Path(xlsx).name, (root / xlsx).read_bytes(), XLSX_TYPE)]


def _relative(ctx: Context, path: Path) -> str:
    return str(Path(path).resolve().relative_to(ctx.cfg.storage.reports_dir.resolve()))


def _variables(ctx: Context, report: MonthlyReport, row: dict) -> dict:
    k = report.kpis

    def pct(value: float | None) -> str:
        return "—" if value is None else f"{value:.0f}%"

    return {
        "report_id": row["id"], "token": row["token"], "month": report.month,
        "unit_name": report.unit.name if report.unit else "", "head_name": report.unit.head if report.unit else "",
        "kpis": {"visits": k.visits, "reps": k.reps, "reps_reporting": k.reps_reporting,
                 "on_time": pct(k.on_time_pct), "missing": k.reports_missing, "coverage": pct(k.coverage_pct),
                 "plan": pct(k.plan_pct), "urgent_total": k.urgent_total, "urgent_open": k.urgent_open,
                 "gift_spent": f"{k.gift_spent:,.2f}",
                 "gift_budget": f"{k.gift_budget:,.2f}" if k.gift_budget is not None else ""},
    }


def _hours(hours: float) -> str:
    return f"{hours:g}"


def _local_text(ctx: Context, at: datetime | None) -> str:
    return at.astimezone(ctx.cfg.policy.zone).strftime("%Y-%m-%d %H:%M") if at else ""
