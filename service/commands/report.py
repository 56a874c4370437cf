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
    from ..workflows.monthly_report import make_reports

    try:
        month = Month(month_key)
    except ValueError as exc:
        raise VisitflowError(f"--month: {exc}") from None
    context = _context(ctx)
    try:
        known = context.cfg.organisation.units
        unknown = [u for u in units if u not in known]
        if unknown:
            raise VisitflowError(f"--unit: no unit {', '.join(map(repr, unknown))} in config "
                                 f"(known: {', '.join(known)})")
        total = (len(units) or len(known)) + (0 if units else 1)
        at = datetime.now(context.cfg.policy.zone)
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
