"""Versioned schema of the visitflow database, applied in order at every start.

A migration is never edited once released: change the schema by adding a new one below.
"""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

migrations = Migrations("visitflow")


@migrations(name="0001_wal", transactional=False)
def wal(db: Database) -> None:
    # WAL lets the status command and the scheduler read while the intake writes; it cannot
    # be switched on inside a transaction, hence a non-transactional step.
    db.execute("PRAGMA journal_mode=WAL")


@migrations(name="0002_messages_outbox_audit")
def messages_outbox_audit(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE raw_messages (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            bytes BLOB NOT NULL
        );
        CREATE TABLE messages (
            id INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL,
            folder TEXT NOT NULL,
            uidvalidity INTEGER NOT NULL,
            uid INTEGER NOT NULL,
            raw_sha256 TEXT NOT NULL REFERENCES raw_messages(sha256),
            size INTEGER NOT NULL,
            sender TEXT NOT NULL DEFAULT '',
            subject TEXT NOT NULL DEFAULT '',
            sent_at TEXT,
            received_at TEXT NOT NULL,
            kind TEXT,
            state TEXT NOT NULL DEFAULT 'received'
                CHECK (state IN ('received', 'processed', 'rejected', 'quarantined', 'ignored')),
            reason TEXT NOT NULL DEFAULT '',
            attempts INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            duplicate_of INTEGER REFERENCES messages(id),
            moved_to TEXT,
            updated_at TEXT NOT NULL,
            UNIQUE (folder, uidvalidity, uid)
        );
        CREATE INDEX messages_message_id ON messages(message_id);
        CREATE INDEX messages_state ON messages(state);
        CREATE INDEX messages_unmoved ON messages(folder, uidvalidity) WHERE moved_to IS NULL;

        -- What was last fetched from each folder; a new UIDVALIDITY restarts the watermark.
        CREATE TABLE folders (
            name TEXT PRIMARY KEY,
            uidvalidity INTEGER NOT NULL,
            last_uid INTEGER NOT NULL
        );

        CREATE TABLE outbox (
            id INTEGER PRIMARY KEY,
            message_id TEXT NOT NULL UNIQUE,
            template TEXT NOT NULL,
            cause_message INTEGER REFERENCES messages(id),
            sender TEXT NOT NULL,
            recipients TEXT NOT NULL,
            subject TEXT NOT NULL,
            raw BLOB NOT NULL,
            state TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'sent', 'failed')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX outbox_due ON outbox(next_attempt_at) WHERE state = 'queued';

        -- Every classification and decision, with the reason a person can read.
        CREATE TABLE audit (
            id INTEGER PRIMARY KEY,
            at TEXT NOT NULL,
            message INTEGER REFERENCES messages(id),
            subject TEXT NOT NULL,
            action TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            actor TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX audit_message ON audit(message);

        -- Small facts about the running service, e.g. the last successful IMAP contact.
        CREATE TABLE service_state (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );

        -- Scheduled runs already done, so each happens once even across restarts.
        CREATE TABLE job_runs (
            job TEXT NOT NULL,
            run_key TEXT NOT NULL,
            done_at TEXT NOT NULL,
            PRIMARY KEY (job, run_key)
        );
        """
    )
