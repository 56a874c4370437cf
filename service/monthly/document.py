"""Write the monthly visit report (每月巡访情况报告书, Article 10) as .docx, with the .xlsx beside it.

``write_report`` fills the Word template of the report's language (templates/reports/, built
by scripts/make_report_templates.py, editable in Word) with docxtpl, and writes the workbook
(service.monthly.workbook). Both files are written under a temporary name and renamed, so a
reader never sees half a file and a failed run leaves the previous files in place.

The template decides the layout; this module only prepares values, every one a display
string, under these names (``r`` is one row of a ``rows`` list):

- ``title_unit`` (unit name, or 公司汇总 / Company summary), ``unit_name``, ``is_summary``,
  ``month`` (2026-11), ``month_label`` (2026年11月 / November 2026), ``head``, ``generated_at``,
  ``timezone``, ``xlsx_name``, ``empty`` (nothing at all this month);
- ``kpi``: visits, reps, reps_reporting, reporting_pct, reports_due, reports_on_time,
  reports_late, reports_missing, on_time_pct, customers, customers_covered, coverage_pct,
  planned_visits, planned_done, plan_pct, urgent_total, urgent_open, gift_spent, gift_budget,
  gift_used_pct;
- list sections, each ``{rows, total, more}`` (``more``: rows left out of the document,
  all of them in the workbook): ``units`` (name, visits, reps, reps_reporting, on_time_pct,
  coverage_pct, plan_pct, urgent_open, gift_spent), ``discipline`` (name, email, due, on_time,
  late, missing, on_time_pct), ``per_rep`` (name, email, visits, customers, days), ``tiers``
  (tier, customers, required, visited_enough, coverage_pct, planned, planned_done, plan_pct),
  ``overdue`` (customer, tier, region, visitor, last_visit, days_since, limit_days), ``plan``
  (name, planned, done, pct), ``tech`` (customer, rep, day, text, routed_to, major), ``urgent``
  (ref, category, customer, reporter, created, acknowledged_after, state, level, escalated), ``gifts`` (ref,
  customer, requester, gift, quantity, amount, state, applied), ``violations`` (customer,
  region, visitor), ``unmatched`` (name, visits, reps);
- free-text sections ``feedback``, ``market``, ``handled``: ``{groups, total, more, trimmed}``,
  each group ``{customer, count, more, entries}``, each entry ``{day, rep, text}`` – grouped by
  customer (most entries first), at most ``Limits.per_customer`` per customer and
  ``Limits.entries`` per section, each text cut at ``Limits.text_chars``;
- ``budget``: period, budget, spent, remaining, used_pct, over – or None;
- ``charts``: per_day, tiers, plan – an image, or None when there is nothing to draw.

Rendering is autoescaped (``<`` and ``&`` in a rep's text stay text) with StrictUndefined (a
tag naming a value that does not exist is an error naming it, never a silent blank); control
characters are removed from every text.
"""

from __future__ import annotations

import functools
import io
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from docx.shared import Mm
from docxtpl import DocxTemplate, InlineImage
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment
from markupsafe import Markup, escape

from ..errors import VisitflowError
from .charts import Charts
from .labels import Words, words
from .model import MonthlyReport, TextDigest, TextEntry
from .workbook import write_workbook
from .xlsx import BIDI_CONTROLS

__all__ = ["REPORTS_DIR", "Limits", "ReportFiles", "ReportRenderError", "report_names", "write_document_file",
           "write_report", "write_workbook_file"]

REPORTS_DIR = Path(__file__).resolve().parents[2] / "templates" / "reports"
TEMPLATES = {"zh-CN": "monthly_report.docx", "en": "monthly_report.en.docx"}
CHART_WIDTH = Mm(160)

# Line and page breaks become plain line breaks (\v is Word's manual line break in copied
# text; a form feed would be a page break in docxtpl). The bell, which docxtpl would turn into
# a new paragraph, is a control character like the others and is removed with them.
_LINE_BREAKS = re.compile("\r\n?|[\v\f\x85\u2028\u2029]")
# Control characters (tab and newline kept), what XML 1.0 cannot hold, and the bidirectional
# overrides, isolates and marks (xlsx.BIDI_CONTROLS: they would reorder what Word shows).
_CONTROL = re.compile(f"[\x00-\x08\x0b-\x1f\x7f-\x84\x86-\x9f\ufffe\uffff\ud800-\udfff{BIDI_CONTROLS}]")
_BLANK_LINES = re.compile(r"\n\s*\n+")
# docxtpl turns these into "{{", "}}", "{%", "%}" in the rendered XML (its escape for tags).
_DOCXTPL_MARKERS = re.compile(r"\{_[{%]|[}%]_\}")
_FILE_NAME_BAD = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


class _CompilingOnceEnvironment(SandboxedEnvironment):
    """Compile each distinct template source once and keep it (a few, least recently used out).

    docxtpl hands the environment the template's whole document.xml (and each header, footer
    and property) as a string on every render; for a run over 50 units those strings are the
    same each time, and compiling them was 40% of rendering one report.
    """

    def from_string(self, source, globals=None, template_class=None):
        if globals is None and template_class is None and isinstance(source, str):
            return self._compiled(source)
        return super().from_string(source, globals, template_class)

    @functools.lru_cache(maxsize=32)  # noqa: B019 - one environment for the process, never freed anyway
    def _compiled(self, source: str):
        return super().from_string(source)


# Autoescaped (text stays text), sandboxed (a template is the customer's to edit) and strict (a
# tag naming a value that does not exist is an error). Its settings never change after this.
_ENV = _CompilingOnceEnvironment(autoescape=True, undefined=StrictUndefined)


class _Template(DocxTemplate):
    """A DocxTemplate that does docxtpl's two passes of regular expressions only where they change something.

    ``patch_xml`` (two dozen expressions over the whole document.xml that join tags Word split
    into runs) depends on the template alone, the same for every unit: it is done once per
    process. ``resolve_listing`` (line breaks, tabs, \\a and \\f in the rendered text become Word
    markup, run by run) changes only paragraphs holding one of those characters: the others,
    most of a report's 1,500, are left as they are instead of being taken apart and joined.
    Together they were half of rendering one report.
    """

    def patch_xml(self, src_xml):
        return _patched(src_xml)

    def resolve_listing(self, xml):
        if not _LISTING_CHARACTERS.search(xml):
            return xml
        resolve = super().resolve_listing
        return _PARAGRAPH.sub(lambda m: resolve(m[0]) if _LISTING_CHARACTERS.search(m[0]) else m[0], xml)


# What docxtpl's resolve_listing looks for, and the paragraphs it goes through (its own pattern).
_LISTING_CHARACTERS = re.compile("[\t\a\n\f]")
_PARAGRAPH = re.compile(r"<w:p(?: [^>]*)?>.*?</w:p>", re.DOTALL)


@functools.lru_cache(maxsize=16)
def _patched(src_xml: str) -> str:
    return DocxTemplate.patch_xml(None, src_xml)


class ReportRenderError(VisitflowError):
    """The monthly report template could not be filled (a broken tag, or a value it names is missing)."""


@dataclass(frozen=True)
class Limits:
    """Bound what the Word document lists; the workbook always has every row and the full text."""

    rows: int = 100          # rows of one table section
    entries: int = 60        # entries of one free-text section
    per_customer: int = 5    # entries of one customer within a free-text section
    text_chars: int = 300    # characters of one free text before it is cut with "…"


@dataclass(frozen=True)
class ReportFiles:
    """Name the files one report was written to."""

    docx: Path
    xlsx: Path


def report_names(report: MonthlyReport) -> tuple[str, str]:
    """Return the .docx and .xlsx file names: 每月巡访情况报告书-华东事业部-2026-11.docx, monthly-visit-report-east-2026-11.docx."""
    w = words(report.language)
    if report.language == "zh-CN":
        who = report.unit.name if report.unit else w["company"]
    else:
        who = report.unit.id if report.unit else "company"
    who = _FILE_NAME_BAD.sub("_", who).strip(" .") or "unit"
    stem = f"{w['file_stem']}-{who}-{report.month}"
    return f"{stem}.docx", f"{stem}.xlsx"


def write_report(report: MonthlyReport, out_dir: Path, *, template: Path | None = None,
                 limits: Limits = Limits(), charts: Charts | None = None, spool: Path | None = None,
                 spooled: Sequence[tuple[Path, int]] = ()) -> ReportFiles:
    """Write the report's .docx and .xlsx into ``out_dir`` (created if missing); return their paths.

    ``template`` overrides the language's template in templates/reports; ``charts`` lets a run
    over many units reuse its chart figures; ``spool`` and ``spooled`` pass visit rows from unit
    workbooks to the company's (``workbook.write_workbook``). Raises ReportRenderError for a
    broken template.
    """
    xlsx = write_workbook_file(report, out_dir, spool=spool, spooled=spooled)
    docx = write_document_file(report, out_dir, template=template, limits=limits, charts=charts)
    return ReportFiles(docx=docx, xlsx=xlsx)


def write_workbook_file(report: MonthlyReport, out_dir: Path, *, spool: Path | None = None,
                        spooled: Sequence[tuple[Path, int]] = ()) -> Path:
    """Write the report's .xlsx into ``out_dir`` (created if missing), the half of ``write_report``; return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    xlsx_name = report_names(report)[1]
    xlsx_path = out_dir / xlsx_name
    _atomic(xlsx_path, lambda path: write_workbook(report, path, words(report.language), title=Path(xlsx_name).stem,
                                                   spool=spool, spooled=spooled))
    return xlsx_path


def write_document_file(report: MonthlyReport, out_dir: Path, *, template: Path | None = None,
                        limits: Limits = Limits(), charts: Charts | None = None) -> Path:
    """Write the report's .docx into ``out_dir`` (created if missing), the other half; return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    docx_name, xlsx_name = report_names(report)
    payload = render_docx(report, template=template, limits=limits, charts=charts or Charts(),
                          xlsx_name=xlsx_name)
    docx_path = out_dir / docx_name
    _atomic(docx_path, lambda path: path.write_bytes(payload))
    return docx_path


def render_docx(report: MonthlyReport, *, template: Path | None = None, limits: Limits = Limits(),
                charts: Charts | None = None, xlsx_name: str = "") -> bytes:
    """Return the report's .docx bytes, filled from its language's template (or ``template``)."""
    path = template or REPORTS_DIR / TEMPLATES[report.language]
    try:
        document = _Template(io.BytesIO(path.read_bytes()))
    except OSError as exc:
        raise ReportRenderError(f"report template {path} could not be read: {exc.strerror or exc}") from exc
    context = build_context(report, document, charts or Charts(), limits, xlsx_name)
    try:
        document.render(context, jinja_env=_ENV, autoescape=True)
    except TemplateError as exc:
        lines = [line.strip() for line in getattr(exc, "docx_context", None) or [] if line.strip()]
        where = (" near: " + " | ".join(lines)[:300]) if lines else ""
        raise ReportRenderError(f"report template {path.name}: {exc.message or exc}{where}",
                                problems=[f"template: {path}"]) from exc
    core = document.docx.core_properties
    core.title = Path(report_names(report)[0]).stem
    core.created = core.modified = report.generated_at.replace(tzinfo=None)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


# --------------------------------------------------------------------------- the context


def build_context(report: MonthlyReport, document: DocxTemplate, charts: Charts, limits: Limits,
                  xlsx_name: str) -> dict:
    """Return the template's values (see the module docstring), every text cleaned for Word."""
    w = words(report.language)
    f = _Format(report, w)
    k = report.kpis
    year, month = report.year_month

    def image(png: bytes | None):
        return InlineImage(document, io.BytesIO(png), width=CHART_WIDTH) if png else None

    def section(items: Sequence, row: Callable) -> dict:
        shown = items[:limits.rows]
        return {"rows": [row(item) for item in shown], "total": len(items), "more": len(items) - len(shown)}

    context = {
        "title_unit": report.unit.name if report.unit else w["company"],
        "unit_name": report.unit.name if report.unit else "",
        "is_summary": report.is_summary,
        "month": report.month,
        "month_label": w.month(year, month),
        "head": report.unit.head if report.unit else "",
        "generated_at": f.datetime(report.generated_at),
        "timezone": report.timezone,
        "xlsx_name": xlsx_name,
        "empty": report.is_empty,
        "kpi": {
            "visits": f.int(k.visits), "reps": f.int(k.reps), "reps_reporting": f.int(k.reps_reporting),
            "reporting_pct": f.pct(k.reporting_pct), "reports_due": f.int(k.reports_due),
            "reports_on_time": f.int(k.reports_on_time), "reports_late": f.int(k.reports_late),
            "reports_missing": f.int(k.reports_missing), "on_time_pct": f.pct(k.on_time_pct),
            "customers": f.int(k.customers), "customers_covered": f.int(k.customers_covered),
            "coverage_pct": f.pct(k.coverage_pct), "planned_visits": f.int(k.planned_visits),
            "planned_done": f.int(k.planned_done), "plan_pct": f.pct(k.plan_pct),
            "urgent_total": f.int(k.urgent_total), "urgent_open": f.int(k.urgent_open),
            "gift_spent": f.money(k.gift_spent), "gift_budget": f.money(k.gift_budget),
            "gift_used_pct": f.pct(k.gift_used_pct),
        },
        "units": section(report.units, lambda u: {
            "name": u.unit.name, "visits": f.int(u.kpis.visits), "reps": f.int(u.kpis.reps),
            "reps_reporting": f.int(u.kpis.reps_reporting), "on_time_pct": f.pct(u.kpis.on_time_pct),
            "coverage_pct": f.pct(u.kpis.coverage_pct), "plan_pct": f.pct(u.kpis.plan_pct),
            "urgent_open": f.int(u.kpis.urgent_open), "gift_spent": f.money(u.kpis.gift_spent)}),
        "discipline": section(report.discipline, lambda d: {
            "name": d.name, "email": d.email, "due": f.int(d.due), "on_time": f.int(d.on_time),
            "late": f.int(d.late), "missing": f.int(d.missing), "on_time_pct": f.pct(d.on_time_pct)}),
        "per_rep": section(report.visits_per_rep, lambda r: {
            "name": r.name, "email": r.email, "visits": f.int(r.visits), "customers": f.int(r.customers),
            "days": f.int(r.days)}),
        "tiers": section(report.tier_coverage, lambda t: {
            "tier": t.tier, "customers": f.int(t.customers), "required": w.required(t.required_visits, t.required_period),
            "visited_enough": f.int(t.visited_enough), "coverage_pct": f.pct(t.coverage_pct),
            "planned": f.int(t.planned), "planned_done": f.int(t.planned_done), "plan_pct": f.pct(t.plan_pct)}),
        "overdue": section(report.overdue, lambda o: {
            "customer": o.customer, "tier": o.tier, "region": o.region, "visitor": o.visitor or w["none"],
            "last_visit": f.date(o.last_visit) if o.last_visit else w["never"],
            "days_since": w["none"] if o.days_since is None else f.int(o.days_since),
            "limit_days": f.int(o.limit_days)}),
        "plan": section(report.plan_vs_actual, lambda p: {
            "name": p.name, "planned": f.int(p.planned), "done": f.int(p.done), "pct": f.pct(p.pct)}),
        "feedback": _text_section(report.feedback, limits, f),
        "market": _text_section(report.market, limits, f),
        "handled": _text_section(report.handled, limits, f),
        "tech": section(report.tech_issues, lambda t: {
            "customer": t.customer, "rep": t.rep, "day": f.date(t.day), "text": _trim(t.text, limits.text_chars),
            "routed_to": "、".join(t.routed_to) or w["none"], "major": t.major}),
        "urgent": section(report.urgent, lambda u: {
            "ref": u.ref, "category": w.category(u.category), "customer": u.customer or w["none"],
            "reporter": u.reporter, "created": f.datetime(u.created),
            "acknowledged_after": w["none"] if u.acknowledged_after is None else f"{u.acknowledged_after:.1f}",
            "state": w.state("urgent", u.state), "level": w.state("level", u.level),
            "escalated": u.level == "leadership"}),
        "gifts": section(report.gifts, lambda g: {
            "ref": g.ref, "customer": g.customer, "requester": g.requester, "gift": g.items,
            "quantity": g.quantity, "amount": f.money(g.amount), "state": w.state("gift", g.state),
            "applied": f.date(f.local(g.applied).date())}),
        "budget": None if report.gift_budget is None else {
            "period": report.gift_budget.period, "budget": f.money(report.gift_budget.budget),
            "spent": f.money(report.gift_budget.spent), "remaining": f.money(report.gift_budget.remaining),
            "used_pct": f.pct(report.gift_budget.used_pct), "over": report.gift_budget.over},
        "violations": section(report.violations, lambda v: {
            "customer": v.customer, "region": v.region, "visitor": v.visitor}),
        "unmatched": section(report.unmatched, lambda u: {
            "name": u.name, "visits": f.int(u.visits), "reps": "、".join(u.reps)}),
    }
    context = _clean(context)
    # Images go in after cleaning: they are markup, not text.
    context["charts"] = {
        "per_day": image(charts.visits_per_day(w, year, month, report.visits_per_day, report.days_off)),
        "tiers": image(charts.tier_coverage(w, report.tier_coverage)),
        "plan": image(charts.plan_vs_actual(w, report.plan_vs_actual)),
    }
    return context


def _text_section(entries: Sequence[TextEntry] | TextDigest, limits: Limits, f: _Format) -> dict:
    """Group a free-text section by customer (most entries first) and trim it for the document."""
    digest = TextDigest.of(entries)
    if digest.keep is not None and limits.per_customer > digest.keep:
        raise ValueError(f"a digest keeping {digest.keep} entries per customer cannot show {limits.per_customer}")
    ordered = sorted(digest.groups, key=lambda group: -group.count)   # stable: first mention breaks ties
    shown_groups, shown, trimmed = [], 0, False
    for group in ordered:
        room = min(limits.per_customer, limits.entries - shown)
        if room <= 0:
            break
        listed = []
        for entry in group.entries[:room]:
            text = _trim(entry.text, limits.text_chars)
            trimmed = trimmed or text != _tidy(entry.text)
            listed.append({"day": f.date(entry.day), "rep": entry.rep, "text": text})
        shown += len(listed)
        shown_groups.append({"customer": group.customer, "count": f.int(group.count),
                             "more": group.count - len(listed), "entries": listed})
    return {"groups": shown_groups, "total": digest.total, "more": digest.total - shown, "trimmed": trimmed}


def _tidy(text: str) -> str:
    """Return text with line breaks unified, blank lines folded and ends stripped."""
    return _BLANK_LINES.sub("\n", _LINE_BREAKS.sub("\n", text)).strip()


def _trim(text: str, limit: int) -> str:
    """Return text tidied and cut at ``limit`` characters with "…"."""
    text = _tidy(text)
    return text if len(text) <= limit else text[:limit - 1].rstrip() + "…"


class _Format:
    """Format numbers, money, dates and times of one report for display."""

    def __init__(self, report: MonthlyReport, w: Words):
        self.zone = ZoneInfo(report.timezone)
        self.none = w["none"]

    def local(self, value: datetime) -> datetime:
        return value if value.tzinfo is None else value.astimezone(self.zone).replace(tzinfo=None)

    def int(self, value: int) -> str:
        return f"{value:,}"

    def pct(self, value: float | None) -> str:
        return self.none if value is None else f"{value:.1f}%"

    def money(self, value: Decimal | None) -> str:
        return self.none if value is None else f"{value:,.2f}"

    def date(self, value: date) -> str:
        return value.isoformat()

    def datetime(self, value: datetime) -> str:
        return self.local(value).strftime("%Y-%m-%d %H:%M")


def _clean(value):
    """Return strings made safe for Word text, through dicts and lists (other values as they are)."""
    if isinstance(value, str):
        text = _CONTROL.sub("", _LINE_BREAKS.sub("\n", value))
        if _DOCXTPL_MARKERS.search(text):
            # Escaped here, with "_" as a character reference docxtpl's replacement cannot see.
            return Markup(str(escape(text)).replace("_", "&#95;"))
        return text
    if isinstance(value, dict):
        return {key: _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    return value


def _atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write a file through ``write(temporary path)`` in the same folder, then rename it into place."""
    fd, name = tempfile.mkstemp(prefix=f".{path.stem[:40]}-", suffix=".tmp", dir=path.parent)
    os.close(fd)
    temporary = Path(name)
    try:
        write(temporary)
        with open(temporary, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
