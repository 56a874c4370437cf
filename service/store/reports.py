"""Daily reports and their visits, as stored in SQLite."""

from __future__ import annotations

from sqlite_utils import Database

from .db import now

VISIT_COLUMNS = ("feedback", "market", "effect", "handled", "other", "stock", "products", "tech_issue")


def save_report(db: Database, *, message: int, rep: str, unit: str, region: str, report_date: str,
                source: str, visits: list[dict]) -> tuple[int, int | None]:
    """Store a report and its visits (caller's transaction); return (id, id of the report it replaces)."""
    previous = db.execute("SELECT id FROM reports WHERE rep = ? AND report_date = ? AND current = 1",
                          [rep, report_date]).fetchone()
    if previous:
        db.execute("UPDATE reports SET current = 0 WHERE id = ?", [previous[0]])
    report_id = db["reports"].insert({
        "message": message, "rep": rep, "unit": unit, "region": region, "report_date": report_date,
        "source": source, "current": 1, "created_at": now(),
    }).last_pk
    if previous:
        db.execute("UPDATE reports SET superseded_by = ? WHERE id = ?", [report_id, previous[0]])
    db["visits"].insert_all([{"report": report_id, **visit} for visit in visits])
    return report_id, previous[0] if previous else None


def current_visits(db: Database, rep: str, report_date: str) -> list[dict]:
    """Return the visits of rep's current report for report_date, in order."""
    return list(db.query(
        "SELECT v.* FROM visits v JOIN reports r ON r.id = v.report "
        "WHERE r.rep = ? AND r.report_date = ? AND r.current = 1 ORDER BY v.seq", [rep, report_date]))
