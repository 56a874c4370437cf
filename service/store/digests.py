"""The unit heads' daily digests, their numbered items, and missing-report reminders (migration 0006)."""

from __future__ import annotations

import secrets

from sqlite_utils import Database

from .db import now


def day_visits(db: Database, unit: str, day: str) -> list[dict]:
    """Return the visits of the unit's current reports for ``day``, by rep and order, with rep and region."""
    return list(db.query(
        "SELECT v.*, r.rep, r.unit, r.region, r.report_date FROM visits v JOIN reports r ON r.id = v.report "
        "WHERE r.unit = ? AND r.report_date = ? AND r.current = 1 ORDER BY r.rep, v.seq", [unit, day]))


def open_flagged_visits(db: Database, unit: str, day: str, since: str) -> list[dict]:
    """Return the unit's visits marked 紧急 in current reports dated ``since``..``day`` that the head
    has not escalated or closed yet, oldest first (a report that missed its day's digest, or was
    for a day without one, still reaches the head)."""
    return list(db.query(
        "SELECT v.*, r.rep, r.unit, r.region, r.report_date FROM visits v JOIN reports r ON r.id = v.report "
        "WHERE r.unit = ? AND r.current = 1 AND v.urgent IS NOT NULL AND r.report_date BETWEEN ? AND ? "
        "AND NOT EXISTS (SELECT 1 FROM digest_items i WHERE i.visit = v.id AND i.state != 'open') "
        "AND NOT EXISTS (SELECT 1 FROM urgent_reports u WHERE u.visit = v.id) "
        "ORDER BY r.report_date, r.rep, v.seq", [unit, since, day]))


def reporters(db: Database, day: str) -> set[str]:
    """Return the reps with a current report for ``day``."""
    return {r[0] for r in db.execute("SELECT rep FROM reports WHERE report_date = ? AND current = 1", [day])}


def open_rep_reports(db: Database, unit: str) -> list[dict]:
    """Return the unit's urgent reports from reps still with the head (level unit, not closed)."""
    return list(db.query("SELECT * FROM urgent_reports WHERE unit = ? AND level = 'unit' AND state != 'closed' "
                         "ORDER BY id", [unit]))


def exists(db: Database, unit: str, day: str) -> bool:
    """Return whether the unit's digest for ``day`` was already sent."""
    return db.execute("SELECT 1 FROM digests WHERE unit = ? AND day = ?", [unit, day]).fetchone() is not None


def create(db: Database, *, unit: str, day: str, head: str, message_id: str, token: str,
           items: list[dict]) -> int:
    """Store a sent digest and its items (number, kind, visit, report); return its id."""
    digest = db.execute("INSERT INTO digests (unit, day, head, message_id, token, sent_at) VALUES (?, ?, ?, ?, ?, ?)",
                        [unit, day, head, message_id, token, now()]).lastrowid
    db.conn.executemany("INSERT INTO digest_items (digest, number, kind, visit, report) VALUES (?, ?, ?, ?, ?)",
                        [[digest, i["number"], i["kind"], i.get("visit"), i.get("report")] for i in items])
    return digest


def new_token() -> str:
    """Return a fresh digest code (quoted by a reply found by its tag alone)."""
    return f"D-{secrets.token_hex(16)}"


def by_message_id(db: Database, message_id: str) -> dict | None:
    """Return the digest sent as ``message_id``, or None."""
    rows = list(db.query("SELECT * FROM digests WHERE message_id = ?", [message_id]))
    return rows[0] if rows else None


def get(db: Database, digest: int) -> dict | None:
    """Return the digest row, or None."""
    rows = list(db.query("SELECT * FROM digests WHERE id = ?", [digest]))
    return rows[0] if rows else None


def items(db: Database, digest: int) -> dict[int, dict]:
    """Return the digest's items by number."""
    return {r["number"]: r for r in db.query("SELECT * FROM digest_items WHERE digest = ? ORDER BY number", [digest])}


def settle_item(db: Database, digest: int, number: int, *, state: str, comment: str,
                escalated_to: int | None = None) -> None:
    """Mark an item escalated or closed."""
    db.execute("UPDATE digest_items SET state = ?, comment = ?, escalated_to = ?, decided_at = ? "
               "WHERE digest = ? AND number = ?", [state, comment, escalated_to, now(), digest, number])


def visit(db: Database, visit_id: int) -> dict | None:
    """Return a visit joined with its report's rep, unit and region."""
    rows = list(db.query("SELECT v.*, r.rep, r.unit, r.region, r.current FROM visits v "
                         "JOIN reports r ON r.id = v.report WHERE v.id = ?", [visit_id]))
    return rows[0] if rows else None


def visit_escalated(db: Database, visit_id: int) -> int | None:
    """Return the urgent report already made from this visit (from any digest), or None."""
    row = db.execute("SELECT id FROM urgent_reports WHERE visit = ? ORDER BY id LIMIT 1", [visit_id]).fetchone()
    return row[0] if row else None


def remind_once(db: Database, rep: str, day: str) -> bool:
    """Record a missing-report reminder for ``rep`` on ``day``; return False if one was already sent."""
    return db.execute("INSERT OR IGNORE INTO report_reminders (rep, day, sent_at) VALUES (?, ?, ?)",
                      [rep, day, now()]).rowcount == 1
