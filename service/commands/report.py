"""``visitflow report``: the monthly visit report (每月巡访情况报告书, spec §5, Article 10)."""

from __future__ import annotations

import os
import sys
from datetime import datetime
from pathlib import Path

import click


@click.group()
def report() -> None:
    """Write (and send) the monthly visit report."""


@report.command("monthly")
@click.option("--month", "month_key", required=True, help="The month reported on, e.g. 2026-11.")
@click.option("--unit", "units", multiple=True, help="Only this unit id (repeatable); default every unit and "
                                                      "the company summary.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Where to write the files without --send (default storage.reports_dir/preview/MONTH; "
                   "the archive, storage.reports_dir/MONTH, holds only what --send and the schedule made).")
@click.option("--send", is_flag=True, help="Also record and mail them as the schedule does (the head's review "
                                           "first); a report already sent for the unit and month is not sent again.")
@click.pass_context
def monthly(ctx: click.Context, month_key: str, units: tuple[str, ...], out_dir: Path | None, send: bool) -> None:
    """Write each unit's monthly report (.docx + .xlsx) and the company summary; with --send mail them.

    Example: visitflow report monthly --month 2026-11 --unit east --out /tmp/reports
    """
    from ..cli import _context
    from ..errors import VisitflowError
    from ..monthly.figures import Month
    from ..workflows.monthly_report import make_reports, not_over

    try:
        month = Month(month_key)
    except ValueError as exc:
        raise VisitflowError(f"--month: {exc}") from None
    if out_dir is not None:
        # Made before any work, so a folder that cannot be made (below a plain file, no
        # permission) is one line, not a traceback after the figures were computed.
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise VisitflowError(f"--out: cannot make the folder {str(out_dir)!r} "
                                 f"({exc.strerror or type(exc).__name__})") from None
    context = _context(ctx)
    try:
        known = context.cfg.organisation.units
        unknown = [u for u in units if u not in known]
        if unknown:
            raise VisitflowError(f"--unit: no unit {', '.join(map(repr, unknown))} in config "
                                 f"(known: {', '.join(known)})")
        total = (len(units) or len(known)) + (0 if units else 1)
        at = datetime.now(context.cfg.policy.zone)
        if send:
            not_over(month, at)  # before the progress bar: one line, nothing written
        with click.progressbar(length=total, label=f"monthly report {month.key}", file=sys.stderr,
                               show_pos=True) as bar:
            # One worker per CPU for the units' reports: this command runs no other threads.
            made = make_reports(context, month, at=at, send=send, units=list(units) or None, out_dir=out_dir,
                                workers=os.cpu_count() or 1,
                                progress=lambda unit: bar.update(1))
        for m in made:
            who = "company summary" if m.unit == "*" else m.unit
            if m.state == "exists":
                click.echo(f"{who}: already made for {month.key}, not sent again")
            else:
                click.echo(f"{who}: {m.docx}  {m.xlsx.name}" + {"review": "  (sent to the unit head for review)",
                                                                "sent": "  (sent to leadership)"}.get(m.state, ""))
    finally:
        context.close()


@report.command("list")
@click.option("--month", "month_key", default=None, help="Only this month, e.g. 2026-11.")
@click.pass_context
def listing(ctx: click.Context, month_key: str | None) -> None:
    """List the monthly reports made: per unit and month, where each stands (in review, held
    back by its head's rejection, sent and how).

    Example: visitflow report list --month 2026-11
    """
    from ..cli import _context
    from ..errors import VisitflowError
    from ..monthly.figures import Month
    from ..store import monthly as store
    from ..workflows.monthly_report import current_head

    try:
        month = Month(month_key).key if month_key else None
    except ValueError as exc:
        raise VisitflowError(f"--month: {exc}") from None
    context = _context(ctx)
    try:
        rows = store.listing(context.db, month)
        if not rows:
            click.echo("no monthly reports" + (f" for {month}" if month else ""))
        for row in rows:
            who = "company summary" if row["unit"] == store.COMPANY else row["unit"]
            if row["state"] == "sent":
                how = {"approved": "approved by the head", "edited": "edited by the head",
                       "timeout": "as drafted, the head did not answer in time",
                       "draft": "without review"}.get(row["sent_as"], row["sent_as"] or "")
                state = f"sent {row['sent_at'][:16]}Z ({how})"
            elif row["held_at"]:
                state = (f"held back: rejected by the head at {row['held_at'][:16]}Z"
                         + (f" ({row['held_comment']})" if row["held_comment"] else "")
                         + f"; waits for {current_head(context, row)}'s corrected .docx or 同意")
            else:
                state = f"in review by {current_head(context, row)}, sent as drafted after {row['review_due_at'][:16]}Z"
            click.echo(f"M-{row['id']} {row['month']} {who}: {state}")
    finally:
        context.close()
