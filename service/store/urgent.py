"""Urgent reports, their recipients and the mails sent for them (tables of migration 0006)."""

from __future__ import annotations

import secrets

from sqlite_utils import Database

from .db import now


def create_report(db: Database, *, origin: str, message: int | None, visit: int | None, reporter: str,
                  unit: str, region: str | None, category: str, customer: str | None, details: str,
                  suggestion: str | None, level: str, head_comment: str | None = None) -> int:
    """Insert a report (state open) and return its id; ``escalated_at`` is set for level leadership."""
    stamp = now()
    cursor = db.execute(
        "INSERT INTO urgent_reports (origin, message, visit, reporter, unit, region, category, customer, details, "
        "suggestion, level, head_comment, created_at, escalated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [origin, message, visit, reporter, unit, region, category, customer, details, suggestion, level,
         head_comment, stamp, stamp if level == "leadership" else None])
    return cursor.lastrowid


def get_report(db: Database, report: int) -> dict | None:
    """Return the report row as a dict, or None."""
    rows = list(db.query("SELECT * FROM urgent_reports WHERE id = ?", [report]))
    return rows[0] if rows else None


def add_recipient(db: Database, report: int, person: str, role: str) -> dict:
    """Add ``person`` as a recipient (once; a second call returns the existing row)."""
    existing = list(db.query("SELECT * FROM urgent_recipients WHERE report = ? AND person = ?", [report, person]))
    if existing:
        return existing[0]
    db.execute("INSERT INTO urgent_recipients (report, person, role, token, sent_at) VALUES (?, ?, ?, ?, ?)",
               [report, person, role, f"U-{report}-{secrets.token_hex(16)}", now()])
    return list(db.query("SELECT * FROM urgent_recipients WHERE report = ? AND person = ?", [report, person]))[0]


def recipients(db: Database, report: int) -> list[dict]:
    """Return the report's recipients in the order they were added."""
    return list(db.query("SELECT * FROM urgent_recipients WHERE report = ? ORDER BY id", [report]))


def record_mail(db: Database, message_id: str, report: int, recipient: int | None, purpose: str) -> None:
    """Remember a mail sent for ``report`` to ``recipient`` (its references prove a reply)."""
    db.execute("INSERT INTO urgent_mails (message_id, report, recipient, purpose) VALUES (?, ?, ?, ?)",
               [message_id, report, recipient, purpose])


def mail_target(db: Database, message_id: str) -> dict | None:
    """Return {report, recipient} for a mail we sent for a report, or None."""
    rows = list(db.query("SELECT report, recipient FROM urgent_mails WHERE message_id = ?", [message_id]))
    return rows[0] if rows else None


def update_report(db: Database, report: int, **values) -> None:
    """Set columns of the report."""
    db["urgent_reports"].update(report, values)


def acknowledge(db: Database, recipient: int) -> None:
    """Record that a recipient acknowledged (the first time only)."""
    db.execute("UPDATE urgent_recipients SET acknowledged_at = coalesce(acknowledged_at, ?) WHERE id = ?",
               [now(), recipient])


def unacknowledged(db: Database) -> list[dict]:
    """Return open reports nobody at their level has acknowledged, oldest first."""
    return list(db.query(
        "SELECT * FROM urgent_reports WHERE state = 'open' ORDER BY id"))


def reminder_sent(db: Database, report: int, period: int) -> bool:
    """Record reminder ``period`` of ``report``; return False when it was already recorded."""
    cursor = db.execute("INSERT OR IGNORE INTO urgent_reminders (report, period, sent_at) VALUES (?, ?, ?)",
                        [report, period, now()])
    return cursor.rowcount == 1


def open_overview(db: Database) -> list[dict]:
    """Return the open and acknowledged reports with who acknowledged them (for `status`)."""
    return list(db.query(
        "SELECT r.id, r.category, r.customer, r.reporter, r.unit, r.level, r.state, r.created_at, "
        "(SELECT group_concat(person, ', ') FROM urgent_recipients c WHERE c.report = r.id "
        " AND c.acknowledged_at IS NOT NULL) AS acknowledged_by "
        "FROM urgent_reports r WHERE r.state != 'closed' ORDER BY r.id"))
