"""The monthly visit report (每月巡访情况报告书, Article 10, spec §5): figures in, files out.

``model`` is the plain data one report shows (filled from the database by ``figures``);
``document.write_report`` writes it as a Word document from the editable template in
templates/reports/, with its charts (``charts``) and an .xlsx of every visit (``workbook``).

The writing side (docxtpl, matplotlib) loads only when first used: importing the model or the
figures does not cost the daemon matplotlib's memory.
"""

from .model import (
    DayCount,
    GiftBudget,
    GiftItem,
    Kpis,
    MonthlyReport,
    OverdueCustomer,
    PlanRow,
    RepDiscipline,
    RepVisits,
    TechIssue,
    TextDigest,
    TextEntry,
    TextGroup,
    TierCoverage,
    UnitInfo,
    UnitSummary,
    UnmatchedName,
    UrgentItem,
    Violation,
    VisitRow,
)

_FROM_DOCUMENT = ("Limits", "ReportFiles", "ReportRenderError", "report_names", "write_report")

__all__ = [
    "DayCount", "GiftBudget", "GiftItem", "Kpis", "Limits", "MonthlyReport", "OverdueCustomer", "PlanRow",
    "RepDiscipline", "RepVisits", "ReportFiles", "ReportRenderError", "TechIssue", "TextDigest", "TextEntry",
    "TextGroup", "TierCoverage",
    "UnitInfo", "UnitSummary", "UnmatchedName", "UrgentItem", "Violation", "VisitRow", "report_names",
    "write_report",
]


def __getattr__(name: str):
    """Return the writing side's names on first use (PEP 562)."""
    if name in _FROM_DOCUMENT:
        from . import document

        return getattr(document, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
