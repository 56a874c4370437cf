"""Gather what `visitflow status` shows, from the database alone."""

from __future__ import annotations

from sqlite_utils import Database

from .answers import throttled
from .gifts import pending_overview
from .urgent import open_overview
from .messages import get_state


def gather(db: Database, *, throttle_minutes: float = 60) -> dict:
    """Return message counts per state, the quarantine, the outbox backlog, the last IMAP contact,
    pending gift approvals, and who had answers held back in the last ``throttle_minutes``."""
    states = dict(db.execute("SELECT state, COUNT(*) FROM messages GROUP BY state ORDER BY state").fetchall())
    outbox = dict(db.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
    oldest = db.execute("SELECT MIN(created_at) FROM outbox WHERE state = 'queued'").fetchone()[0]
    quarantine = list(db.query(
        "SELECT id, received_at, sender, subject, reason FROM messages WHERE state = 'quarantined' "
        "ORDER BY id DESC LIMIT 50"))
    return {
        "states": states,
        "outbox_queued": outbox.get("queued", 0),
        "outbox_failed": outbox.get("failed", 0),
        "outbox_sent": outbox.get("sent", 0),
        "outbox_oldest": oldest,
        "quarantine": quarantine,
        "last_imap_contact": get_state(db, "last_imap_contact"),
        "pending_gifts": pending_overview(db),
        "throttled": throttled(db, throttle_minutes),
        "open_urgent": open_overview(db),
    }
