"""Open the SQLite database and group writes into transactions.

One connection per thread (sqlite3 objects must not cross threads). Writers take the lock at
BEGIN IMMEDIATE, so two writers queue on the busy timeout instead of failing with "database is
locked" half-way through a read-then-write.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from sqlite_utils import Database

from .migrations import migrations

BUSY_TIMEOUT_MS = 15_000
WAL_AUTOCHECKPOINT_PAGES = 10_000


def open_db(path: str | Path) -> Database:
    """Open (creating if needed) the database at path, with pragmas set and migrations applied."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # isolation_level=None: no implicit transactions; every write group is an explicit
    # transaction() below (sqlite-utils' own methods use BEGIN/SAVEPOINT themselves).
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    db = Database(conn)
    db.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    db.execute("PRAGMA foreign_keys=ON")
    # NORMAL is safe against process crashes in WAL mode; power-loss durability is bought
    # where it matters, with make_durable() before any IMAP move (see intake).
    db.execute("PRAGMA synchronous=NORMAL")
    # Since make_durable() syncs before every IMAP move, the automatic checkpoint every
    # 1,000 pages (about 40 recorded and processed mails) only added two more syncs each
    # time: about 15 % of a backlog's processing time. 10,000 pages (40 MB) stays a
    # backstop that keeps the log from growing without bound.
    db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    with transaction(db):
        pass  # waits for a concurrent migrator to finish before looking at the schema
    migrations.apply(db)
    return db


@contextlib.contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """Run the block as one write transaction (BEGIN IMMEDIATE); nested blocks use savepoints."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    else:
        db.conn.execute("COMMIT")


def make_durable(db: Database) -> None:
    """Sync every committed transaction to disk.

    Commits in WAL mode with synchronous=NORMAL sit in the -wal file, not yet synced. A
    PASSIVE checkpoint may sync nothing while a reader holds an old snapshot, and syncing the
    file from our own descriptor is out of the question (closing any descriptor of a SQLite
    file drops the process's locks on it). So one small commit is made with synchronous=FULL:
    its sync of the log covers every commit before it.
    """
    db.execute("PRAGMA synchronous=FULL")
    try:
        with transaction(db):
            db.execute("INSERT INTO service_state (key, value) VALUES ('durable_at', ?) "
                       "ON CONFLICT(key) DO UPDATE SET value = excluded.value", [now()])
    finally:
        db.execute("PRAGMA synchronous=NORMAL")


def now() -> str:
    """Return the current UTC time as ISO 8601 text, the form every timestamp is stored in."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
