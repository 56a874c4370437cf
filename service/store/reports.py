"""Daily reports and their visits, as stored in SQLite."""

from __future__ import annotations

from sqlite_utils import Database

from .db import now

VISIT_COLUMNS = ("feedback", "market", "effect", "handled", "other", "stock", "products", "tech_issue")


def save_report(db: Database, *, message: int, rep: str, unit: str, region: str, report_date: str,
                source: str, visits: list[dict]) -> tuple[int, int | None]:
    """Store a report and its visits (caller's transaction); return (id, id of the report it replaces)."""
    previous = current_report(db, rep, report_date)
    if previous:
        db.execute("UPDATE reports SET current = 0 WHERE id = ?", [previous])
    # Plain statements: sqlite-utils' insert() reads the table's schema on every call.
    report_id = db.execute(
        "INSERT INTO reports (message, rep, unit, region, report_date, source, current, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, 1, ?)", [message, rep, unit, region, report_date, source, now()]).lastrowid
    if previous:
        db.execute("UPDATE reports SET superseded_by = ? WHERE id = ?", [report_id, previous])
    # Visits of one report normally share their columns: one executemany per set of columns.
    by_columns: dict[tuple[str, ...], list[list]] = {}
    for visit in visits:
        by_columns.setdefault(tuple(visit), []).append([report_id, *visit.values()])
    for columns, rows in by_columns.items():
        names = ", ".join(f'"{c}"' for c in ("report", *columns))
        db.conn.executemany(f"INSERT INTO visits ({names}) VALUES ({', '.join('?' * (len(columns) + 1))})", rows)
    return report_id, previous


def current_report(db: Database, rep: str, report_date: str) -> int | None:
    """Return the id of rep's current report for report_date (ISO date), or None."""
    row = db.execute("SELECT id FROM reports WHERE rep = ? AND report_date = ? AND current = 1",
                     [rep, report_date]).fetchone()
    return row[0] if row else None


def current_visits(db: Database, rep: str, report_date: str) -> list[dict]:
    """Return the visits of rep's current report for report_date, in order."""
    return list(db.query(
        "SELECT v.* FROM visits v JOIN reports r ON r.id = v.report "
        "WHERE r.rep = ? AND r.report_date = ? AND r.current = 1 ORDER BY v.seq", [rep, report_date]))
