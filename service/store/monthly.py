"""Monthly visit reports (Article 10) in SQLite: one row per unit and month, and the mails about it."""

from __future__ import annotations

import secrets

from sqlite_utils import Database

from .db import now

COMPANY = "*"  # the unit column of the company summary


def get(db: Database, unit: str, month: str) -> dict | None:
    """Return the report of ``unit`` (or COMPANY) for ``month``, or None."""
    return next(db.query("SELECT * FROM monthly_reports WHERE unit = ? AND month = ?", [unit, month]), None)


def by_id(db: Database, report: int) -> dict | None:
    """Return the report row with this id, or None."""
    return next(db.query("SELECT * FROM monthly_reports WHERE id = ?", [report]), None)


def create(db: Database, *, unit: str, month: str, state: str, head: str | None, draft_docx: str,
           draft_xlsx: str, review_due_at: str | None) -> dict | None:
    """Insert the report of unit and month (caller's transaction); None when it exists already."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO monthly_reports (unit, month, state, head, token, draft_docx, draft_xlsx, "
        "review_due_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [unit, month, state, head, "M" + secrets.token_hex(5).upper(), draft_docx, draft_xlsx, review_due_at, now()])
    return by_id(db, cursor.lastrowid) if cursor.rowcount == 1 else None


def mark_sent(db: Database, report: int, *, sent_docx: str, sent_as: str, cause: int | None = None) -> None:
    """Record that ``report`` went to leadership as ``sent_as`` (draft | approved | edited | timeout)."""
    db.execute("UPDATE monthly_reports SET state = 'sent', sent_docx = ?, sent_as = ?, sent_at = ?, "
               "decided_by_message = ? WHERE id = ?", [sent_docx, sent_as, now(), cause, report])


def record_mail(db: Database, *, message_id: str, report: int, purpose: str) -> None:
    db.execute("INSERT OR IGNORE INTO monthly_mails (message_id, report, purpose) VALUES (?, ?, ?)",
               [message_id, report, purpose])


def by_mail(db: Database, message_id: str, *, purpose: str | None = None) -> dict | None:
    """Return the report a mail we sent was about (by its Message-ID without <>), or None.

    With ``purpose`` (review | leadership) only a mail sent for that purpose counts.
    """
    row = db.execute("SELECT report FROM monthly_mails WHERE message_id = ? AND purpose = COALESCE(?, purpose)",
                     [message_id, purpose]).fetchone()
    return by_id(db, row[0]) if row else None


def hold(db: Database, report: int, *, comment: str, cause: int | None) -> None:
    """Record that the head rejected the draft of ``report``: it waits for the head, never sent on a timeout."""
    db.execute("UPDATE monthly_reports SET held_at = ?, held_by_message = ?, held_comment = ? WHERE id = ?",
               [now(), cause, comment, report])


def review_overdue(db: Database, at_utc: str) -> list[dict]:
    """Return the reports still in review whose answer was due before ``at_utc`` (ISO UTC), except
    those the head rejected (held: they wait for the head's corrected .docx or 同意)."""
    return list(db.query("SELECT * FROM monthly_reports WHERE state = 'review' AND review_due_at <= ? "
                         "AND held_at IS NULL ORDER BY id", [at_utc]))


def listing(db: Database, month: str | None = None) -> list[dict]:
    """Return the reports (of ``month``, or every month), newest month first, units in order."""
    return list(db.query("SELECT * FROM monthly_reports WHERE ? IS NULL OR month = ? ORDER BY month DESC, unit",
                         [month, month]))
