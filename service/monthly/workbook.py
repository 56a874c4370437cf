"""The .xlsx beside the monthly report: every visit with every field, and every list in full.

The Word report trims long lists and long texts so it stays readable; this workbook is where
the rest is. Sheets, in order: the visits (one row per visit, the columns of
``model.VisitRow``, full free text), then one sheet per list section of the report (report
discipline, visits per rep, tier coverage, overdue customers, technical issues, urgent reports,
gift requests, visitor violations, unmatched names, plan vs actual, and for the company summary
the units). Customer feedback, market and matters handled have no sheets of their own: they are
columns of the visits sheet, in full, where a filter on the column finds them. Every sheet
exists even when empty, so a workbook built on it keeps working. Headers are Chinese, or
English for language "en".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from .labels import Words
from .model import VISIT_FIELDS, MonthlyReport
from .xlsx import XlsxWriter, templates, write_templates

__all__ = ["spool_visits", "write_workbook"]

# Column widths in characters by field name (others: _DEFAULT_WIDTH).
_WIDTHS = {
    "feedback": 48, "market": 48, "effect": 30, "handled": 40, "other": 30, "stock": 20, "products": 20,
    "tech_issue": 40, "text": 80, "customer": 24, "customer_matched": 24, "rep_email": 26, "email": 26,
    "visited_at": 17, "visited_until": 17, "submitted_at": 17, "created": 17, "applied": 17, "decided": 17,
    "routed_to": 24, "reps": 24, "category": 20, "items": 24,
}
_DEFAULT_WIDTH = 12


def write_workbook(report: MonthlyReport, path: Path, words: Words, *, title: str = "", spool: Path | None = None,
                   spooled: Sequence[tuple[Path, int]] = ()) -> None:
    """Write the report's workbook to ``path`` (the caller makes it atomic); return nothing.

    ``spool`` keeps the visits sheet's rows, formatted, in that file too (``xlsx.write_templates``);
    ``spooled`` lists such files, with their row counts, whose rows follow the report's own
    visits: a company summary's visits are its units' rows, formatted once.
    """
    zone = ZoneInfo(report.timezone)

    def local(value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(zone).replace(tzinfo=None)

    book = XlsxWriter(path, title=title)
    try:
        def sheet(key: str, columns: list[str], rows, count: int, **spools) -> None:
            book.sheet(words[key], [words.column(c) for c in columns], rows, row_count=count,
                       widths=[_WIDTHS.get(c, _DEFAULT_WIDTH) for c in columns], **spools)

        sheet("sheet_visits", list(VISIT_FIELDS), _visit_rows(report, words),
              len(report.visits) + sum(count for _, count in spooled), spool=spool,
              spooled=[path for path, _ in spooled])
        if report.is_summary:
            sheet("sheet_units", ["unit_id", "unit", "visits", "reps", "reps_reporting", "reports_due",
                                  "reports_on_time", "reports_late", "reports_missing", "customers",
                                  "customers_covered", "planned_visits", "planned_done", "urgent_total",
                                  "urgent_open", "gift_spent", "gift_budget"], (
                (u.unit.id, u.unit.name, k.visits, k.reps, k.reps_reporting, k.reports_due, k.reports_on_time,
                 k.reports_late, k.reports_missing, k.customers, k.customers_covered, k.planned_visits,
                 k.planned_done, k.urgent_total, k.urgent_open, k.gift_spent, k.gift_budget)
                for u in report.units for k in (u.kpis,)), len(report.units))
        sheet("sheet_discipline", ["name", "email", "due", "on_time", "late", "missing", "on_time_pct"], (
            (d.name, d.email, d.due, d.on_time, d.late, d.missing, _round(d.on_time_pct))
            for d in report.discipline), len(report.discipline))
        sheet("sheet_per_rep", ["name", "email", "visits", "customers", "days"], (
            (r.name, r.email, r.visits, r.customers, r.days) for r in report.visits_per_rep),
            len(report.visits_per_rep))
        sheet("sheet_tiers", ["tier", "customers", "required", "visited_enough", "coverage_pct", "planned",
                              "planned_done", "plan_pct"], (
            (t.tier, t.customers, words.required(t.required_visits, t.required_period), t.visited_enough,
             _round(t.coverage_pct), t.planned, t.planned_done, _round(t.plan_pct))
            for t in report.tier_coverage), len(report.tier_coverage))
        sheet("sheet_overdue", ["customer", "tier", "region", "visitor", "last_visit", "days_since", "limit_days"], (
            (o.customer, o.tier, o.region, o.visitor, o.last_visit, o.days_since, o.limit_days)
            for o in report.overdue), len(report.overdue))
        sheet("sheet_tech", ["customer", "rep", "day", "text", "routed_to", "major"], (
            (t.customer, t.rep, t.day, t.text, "、".join(t.routed_to), words.flag(t.major))
            for t in report.tech_issues), len(report.tech_issues))
        sheet("sheet_urgent", ["ref", "category", "customer", "reporter", "created", "acknowledged_after",
                               "state", "level"], (
            (u.ref, words.category(u.category), u.customer, u.reporter, local(u.created),
             None if u.acknowledged_after is None else round(u.acknowledged_after, 1),
             words.state("urgent", u.state), words.state("level", u.level))
            for u in report.urgent), len(report.urgent))
        sheet("sheet_gifts", ["ref", "customer", "requester", "items", "quantity", "amount", "state",
                              "applied", "decided"], (
            (g.ref, g.customer, g.requester, g.items, g.quantity, g.amount, words.state("gift", g.state),
             local(g.applied), local(g.decided))
            for g in report.gifts), len(report.gifts))
        sheet("sheet_violations", ["customer", "region", "visitor"], (
            (v.customer, v.region, v.visitor) for v in report.violations), len(report.violations))
        sheet("sheet_unmatched", ["customer", "visits", "reps"], (
            (u.name, u.visits, "、".join(u.reps)) for u in report.unmatched), len(report.unmatched))
        sheet("sheet_plan", ["name", "planned", "done", "plan_pct"], (
            (p.name, p.planned, p.done, _round(p.pct)) for p in report.plan_vs_actual),
            len(report.plan_vs_actual))
    except BaseException:
        book.abort()
        raise
    book.close()


def spool_visits(report: MonthlyReport, path: Path, words: Words) -> int:
    """Write the report's visits as the visits sheet's formatted rows in ``words``' language to a
    spool file (for a summary in another language than the unit's); return how many."""
    return write_templates(path, templates(_visit_rows(report, words), len(VISIT_FIELDS)))


def _visit_rows(report: MonthlyReport, words: Words):
    """Yield each visit as the visits sheet's row values (times local and naive, flags as words)."""
    zone = ZoneInfo(report.timezone)

    def local(value: datetime | None) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(zone).replace(tzinfo=None)

    for v in report.visits:
        yield (v.unit, v.region, v.rep, v.rep_email, v.report_date, local(v.visited_at), local(v.visited_until),
               v.customer, v.customer_matched, v.customer_id, v.tier, v.feedback, v.market, v.effect, v.handled,
               v.other, v.stock, v.products, v.tech_issue, words.flag(v.tech_major),
               words.category(v.urgent) if v.urgent else None, local(v.submitted_at), words.flag(v.late), v.cards)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
