"""Inbound messages, their raw bytes and the audit log, as stored in SQLite.

A message row follows one message through the state machine
``received → processed | rejected | quarantined | ignored`` and always says where the
message currently lies in IMAP (folder, UIDVALIDITY, UID), so a move that did not happen
before a crash is done at the next start.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlite_utils import Database

from ..errors import NotFound, VisitflowError
from .db import now, transaction

FINAL_STATES = ("processed", "rejected", "quarantined", "ignored")


@dataclass(frozen=True)
class Recorded:
    id: int
    duplicate_of: int | None
    new: bool  # False when this IMAP message was recorded before (a restart after a crash)


def message_key(message_id: str, raw: bytes, digest: str | None = None) -> str:
    """Return the identity used to spot the same mail twice: its Message-ID, else a hash of its bytes."""
    return message_id or "sha256:" + (digest or hashlib.sha256(raw).hexdigest())


# Plain INSERT statements on the per-message path: sqlite-utils' insert() reads the schema
# of the table (and of every view) on each call, which cost more than the insert itself.
_INSERT_MESSAGE = (
    "INSERT INTO messages (message_id, folder, uidvalidity, uid, raw_sha256, size, sender, subject, sent_at, "
    "received_at, updated_at, state, kind, reason, duplicate_of, delivered_at) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")


def record(db: Database, *, folder: str, uidvalidity: int, uid: int, raw: bytes, message_id: str,
           sender: str, subject: str, sent_at: str | None, delivered_at: str | None = None) -> Recorded:
    """Store a fetched message and its raw bytes (in the caller's transaction); idempotent per UID.

    ``sent_at`` is the Date header (ISO 8601, its own offset), ``delivered_at`` the IMAP
    INTERNALDATE (ISO 8601 UTC), either None when unknown.
    """
    existing = db.execute(
        "SELECT id, duplicate_of FROM messages WHERE folder = ? AND uidvalidity = ? AND uid = ?",
        [folder, uidvalidity, uid]).fetchone()
    if existing:
        return Recorded(id=existing[0], duplicate_of=existing[1], new=False)
    digest = hashlib.sha256(raw).hexdigest()
    _store_raw(db, digest, raw)
    key = message_key(message_id, raw, digest)
    first = db.execute("SELECT id FROM messages WHERE message_id = ? ORDER BY id LIMIT 1", [key]).fetchone()
    state, kind, reason, duplicate_of = "received", None, "", None
    if first:
        duplicate_of = first[0]
        state, kind = "ignored", "duplicate"
        reason = f"same Message-ID as message #{duplicate_of}: processed once only"
    stamp = now()
    new_id = db.execute(_INSERT_MESSAGE, [
        key, folder, uidvalidity, uid, digest, len(raw), sender, subject[:500], sent_at,
        stamp, stamp, state, kind, reason, duplicate_of, delivered_at]).lastrowid
    return Recorded(id=new_id, duplicate_of=duplicate_of, new=True)


# Above this size the raw bytes are written through an incremental blob handle: binding
# them to the INSERT would make SQLite copy the whole mail once more first.
_BLOB_CHUNK = 1024 * 1024


def _store_raw(db: Database, digest: str, raw: bytes) -> None:
    """Keep raw under its sha256 (once per content), without an extra copy of a large mail."""
    if len(raw) <= _BLOB_CHUNK:
        db.execute("INSERT OR IGNORE INTO raw_messages (sha256, size, bytes) VALUES (?, ?, ?)",
                   [digest, len(raw), raw])
        return
    cursor = db.execute("INSERT OR IGNORE INTO raw_messages (sha256, size, bytes) VALUES (?, ?, zeroblob(?))",
                        [digest, len(raw), len(raw)])
    if cursor.rowcount != 1:
        return  # the same bytes are stored already
    view = memoryview(raw)
    with db.conn.blobopen("raw_messages", "bytes", cursor.lastrowid) as blob:
        for start in range(0, len(raw), _BLOB_CHUNK):
            blob.write(view[start:start + _BLOB_CHUNK])


def raw_bytes(db: Database, message: int) -> bytes:
    """Return the raw bytes of a recorded message."""
    row = db.execute("SELECT r.bytes FROM messages m JOIN raw_messages r ON r.sha256 = m.raw_sha256 "
                     "WHERE m.id = ?", [message]).fetchone()
    if row is None:
        raise KeyError(message)
    return row[0]


def get(db: Database, message: int) -> dict | None:
    """Return a message row as a dict, or None."""
    rows = list(db.query("SELECT * FROM messages WHERE id = ?", [message]))
    return rows[0] if rows else None


def pending(db: Database, max_attempts: int) -> list[dict]:
    """Return messages still to be processed (received, attempts left), oldest first."""
    return list(db.query(
        "SELECT id, folder, uidvalidity, uid, attempts FROM messages "
        "WHERE state = 'received' AND attempts < ? ORDER BY id", [max_attempts]))


def settle(db: Database, message: int, *, state: str, kind: str | None, reason: str,
           error: str | None = None, attempts_delta: int = 1) -> None:
    """Write a message's outcome (in the caller's transaction)."""
    db.execute(
        "UPDATE messages SET state = ?, kind = COALESCE(?, kind), reason = ?, error = ?, "
        "attempts = attempts + ?, updated_at = ? WHERE id = ?",
        [state, kind, reason, error, attempts_delta, now(), message])


# Each settled state against its own folder, as ranges of the (state, folder) index on either
# side of it: the intake asks after every batch, and nearly every message lies where it should.
_MISPLACED = (
    "SELECT {columns} FROM messages WHERE state IN ('processed', 'rejected', 'ignored') AND folder < :processed "
    "UNION ALL SELECT {columns} FROM messages WHERE state IN ('processed', 'rejected', 'ignored') AND folder > :processed "
    "UNION ALL SELECT {columns} FROM messages WHERE state = 'quarantined' AND folder < :quarantine "
    "UNION ALL SELECT {columns} FROM messages WHERE state = 'quarantined' AND folder > :quarantine")


def misplaced(db: Database, *, processed: str, quarantine: str) -> list[dict]:
    """Return settled messages not yet in their state's folder (the move after their commit is due)."""
    return list(db.query(_MISPLACED.format(columns="id, folder, uidvalidity, uid, state") + " ORDER BY folder, uid",
                         {"processed": processed, "quarantine": quarantine}))


def count_misplaced(db: Database, *, processed: str, quarantine: str) -> int:
    """Return how many messages ``misplaced`` would return, from the index alone."""
    sql = f"SELECT sum(n) FROM ({_MISPLACED.format(columns='count(*) AS n')})"
    return db.execute(sql, {"processed": processed, "quarantine": quarantine}).fetchone()[0] or 0


def relocate(db: Database, message: int, *, folder: str, uidvalidity: int | None, uid: int | None) -> None:
    """Record where a message lies after a move (uid None: the server did not say)."""
    db.execute("UPDATE messages SET folder = ?, uidvalidity = ?, uid = ?, updated_at = ? WHERE id = ?",
               [folder, uidvalidity or 0, uid if uid is not None else -message, now(), message])


def audit(db: Database, *, subject: str, action: str, reason: str = "", actor: str = "",
          message: int | None = None) -> None:
    """Append one line to the audit log (in the caller's transaction)."""
    db.execute("INSERT INTO audit (at, message, subject, action, reason, actor) VALUES (?, ?, ?, ?, ?, ?)",
               [now(), message, subject, action, reason, actor])


def watermark(db: Database, folder: str) -> tuple[int, int] | None:
    """Return (UIDVALIDITY, last fetched UID) of folder, or None before the first fetch."""
    row = db.execute("SELECT uidvalidity, last_uid FROM folders WHERE name = ?", [folder]).fetchone()
    return (row[0], row[1]) if row else None


def set_watermark(db: Database, folder: str, uidvalidity: int, last_uid: int) -> None:
    """Advance the watermark of folder (in the caller's transaction)."""
    db.execute("INSERT INTO folders (name, uidvalidity, last_uid) VALUES (?, ?, ?) "
               "ON CONFLICT(name) DO UPDATE SET uidvalidity = excluded.uidvalidity, "
               "last_uid = excluded.last_uid", [folder, uidvalidity, last_uid])


def set_state(db: Database, key: str, value: str) -> None:
    """Remember a small fact about the running service (e.g. the last IMAP contact)."""
    db.execute("INSERT INTO service_state (key, value) VALUES (?, ?) "
               "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [key, value])


def get_state(db: Database, key: str) -> str | None:
    row = db.execute("SELECT value FROM service_state WHERE key = ?", [key]).fetchone()
    return row[0] if row else None


def reset_for_replay(db: Database, message: int) -> dict:
    """Put a quarantined or rejected message back to 'received' with fresh attempts; return its row."""
    row = get(db, message)
    if row is None:
        raise NotFound(f"no message #{message}: `visitflow status` lists the quarantine")
    if row["state"] not in ("quarantined", "rejected"):
        raise VisitflowError(f"message #{message} is {row['state']}: only quarantined or rejected "
                             "messages can be replayed")
    with transaction(db):
        settle(db, message, state="received", kind=None, reason="replay requested", error=None,
               attempts_delta=-row["attempts"])
        audit(db, subject=f"message:{message}", action="replay", reason=f"was {row['state']}: {row['reason']}",
              message=message)
    return row
