"""Open the SQLite database and group writes into transactions.

One connection per thread (sqlite3 objects must not cross threads). Writers take the lock at
BEGIN IMMEDIATE, so two writers queue on the busy timeout instead of failing with "database is
locked" half-way through a read-then-write.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import os
import sqlite3
from collections.abc import Iterable, Iterator
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
    # where it matters, with sync_to_disk() before any IMAP move (see intake).
    db.execute("PRAGMA synchronous=NORMAL")
    # Since sync_to_disk() runs before every IMAP move, the automatic checkpoint every
    # 1,000 pages (about 40 recorded and processed mails) only added two more syncs each
    # time: about 15 % of a backlog's processing time. 10,000 pages (40 MB) stays a
    # backstop that keeps the log from growing without bound.
    db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    # One migrator at a time: two processes opening a new database at once (the daemon and a
    # command) would both create the migrations table. The first migration switches to WAL,
    # which no transaction may do, so the lock is a file's, not the database's.
    with open(path.with_name(path.name + ".migrating"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        migrations.apply(db)
    return db


@contextlib.contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """Run the block as one write transaction (BEGIN IMMEDIATE); nested blocks use savepoints."""
    if db.conn.in_transaction:
        with _savepoint(db.conn):
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


@contextlib.contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    """Run the block in a savepoint of the open transaction: an exception undoes the block only.

    As sqlite-utils' atomic() does, with a name no other savepoint of this process has had
    (a counter, not random text: cheaper to make, 2.5 µs a mail more than one fixed name).
    A fixed name is not enough: a block left open (a suspended generator inside a
    ``transaction``) and closed after an outer block failed would roll back to whatever
    savepoint then bore that name – another mail's (tests/test_attacks_session5.py).
    """
    name = f"visitflow_{next(_savepoints)}"
    conn.execute(f"SAVEPOINT {name}")
    try:
        yield
    except BaseException:
        # A failure that ended the whole transaction (disk full, a RAISE(ROLLBACK) trigger),
        # or an outer block's rollback, took the savepoint with it: nothing is left to undo.
        if conn.in_transaction:
            try:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
            except sqlite3.OperationalError:  # "no such savepoint": already gone
                pass
        raise
    else:
        conn.execute(f"RELEASE {name}")


_savepoints = itertools.count(1)


def sync_to_disk(database: str | Path, files: Iterable[str | Path] = ()) -> None:
    """Make every committed transaction of the database at ``database``, and ``files``, durable.

    Commits in WAL mode with synchronous=NORMAL sit in the -wal file's page cache until a
    checkpoint syncs them. Syncing that file makes them durable: a commit's frames are written
    to it before COMMIT returns, by whichever connection made it. No database lock is taken,
    so this never waits for a writer. Our own descriptor of the -wal file may be opened and
    closed freely: SQLite's POSIX locks (dropped by closing any descriptor of their file) are
    on the database file and the -shm file, never the -wal file. Frames a checkpoint already
    copied were synced by it (synchronous=NORMAL syncs the log before and the database after).
    ``files`` (paths written since the last call, e.g. customer cards) are synced first, with
    their folders, so no commit naming one of them becomes durable without it.
    Raises OSError when the disk fails a sync.
    """
    folders: set[str] = set()
    for path in dict.fromkeys(map(str, files)):  # each once, in order
        _fsync(path)
        folder = os.path.dirname(path)
        folders.update((folder, os.path.dirname(folder)))  # its folder may be new as well
    for folder in sorted(folders, key=len, reverse=True):
        _fsync(folder)
    wal = f"{database}-wal"
    if os.path.exists(wal):
        _fsync(wal)


def _fsync(path: str | Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def now() -> str:
    """Return the current UTC time as ISO 8601 text, the form every timestamp is stored in."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")
