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


@migrations(name="0003_daily_reports")
def daily_reports(db: Database) -> None:
    db.executescript(
        """
        -- One row per report mail; a resend for the same rep and date supersedes the
        -- current one, which stays as history.
        CREATE TABLE reports (
            id INTEGER PRIMARY KEY,
            message INTEGER NOT NULL REFERENCES messages(id),
            rep TEXT NOT NULL,
            unit TEXT NOT NULL,
            region TEXT NOT NULL,
            report_date TEXT NOT NULL,
            source TEXT NOT NULL,
            current INTEGER NOT NULL DEFAULT 1,
            superseded_by INTEGER REFERENCES reports(id),
            created_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX reports_current ON reports(rep, report_date) WHERE current = 1;
        CREATE INDEX reports_date ON reports(report_date);

        CREATE TABLE visits (
            id INTEGER PRIMARY KEY,
            report INTEGER NOT NULL REFERENCES reports(id),
            seq INTEGER NOT NULL,
            customer TEXT NOT NULL,
            visited_at TEXT NOT NULL,
            visited_until TEXT,
            feedback TEXT,
            market TEXT,
            effect TEXT,
            handled TEXT,
            other TEXT,
            stock TEXT,
            products TEXT,
            tech_issue TEXT,
            tech_major INTEGER NOT NULL DEFAULT 0,
            urgent TEXT,
            UNIQUE (report, seq)
        );
        CREATE INDEX visits_visited_at ON visits(visited_at);

        -- Attachments of a report (客户卡), kept as content-addressed files; a refused one
        -- is still listed, with the reason.
        CREATE TABLE customer_cards (
            id INTEGER PRIMARY KEY,
            message INTEGER NOT NULL REFERENCES messages(id),
            report INTEGER REFERENCES reports(id),
            filename TEXT NOT NULL,
            content_type TEXT NOT NULL,
            size INTEGER NOT NULL,
            sha256 TEXT,
            kept INTEGER NOT NULL,
            reason TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX customer_cards_report ON customer_cards(report);
        """
    )


@migrations(name="0004_gift_approvals")
def gift_approvals(db: Database) -> None:
    db.executescript(
        """
        CREATE TABLE gift_requests (
            id INTEGER PRIMARY KEY,
            message INTEGER NOT NULL REFERENCES messages(id),
            requester TEXT NOT NULL,
            unit TEXT NOT NULL,
            region TEXT NOT NULL,
            customer TEXT NOT NULL,
            items TEXT NOT NULL,
            quantity TEXT,
            amount TEXT NOT NULL,            -- decimal string, e.g. "1200.00"
            reason TEXT NOT NULL,
            planned_date TEXT,
            state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'approved', 'rejected')),
            budget_period TEXT NOT NULL,     -- e.g. "2026-11", "2026-Q4", "2026"
            created_at TEXT NOT NULL,
            decided_at TEXT
        );
        CREATE INDEX gift_requests_budget ON gift_requests(unit, budget_period, state);

        -- The approver chain: one row per step, decided in order. Only the 'pending' step
        -- can be decided, only by its approver, only with its token.
        CREATE TABLE gift_steps (
            id INTEGER PRIMARY KEY,
            request INTEGER NOT NULL REFERENCES gift_requests(id),
            seq INTEGER NOT NULL,
            level TEXT NOT NULL,             -- unit_head | leadership
            approver TEXT NOT NULL,
            token TEXT NOT NULL UNIQUE,
            state TEXT NOT NULL CHECK (state IN ('waiting', 'pending', 'approved', 'rejected',
                                                 'escalated', 'cancelled')),
            sent_at TEXT,
            reminded_at TEXT,
            escalated_at TEXT,
            decided_at TEXT,
            comment TEXT,
            decided_by_message INTEGER REFERENCES messages(id),
            UNIQUE (request, seq)
        );
        CREATE INDEX gift_steps_pending ON gift_steps(state, sent_at);

        -- Every mail sent for a step: a reply naming one of these in its references
        -- answers that step.
        CREATE TABLE gift_mails (
            message_id TEXT PRIMARY KEY,
            step INTEGER NOT NULL REFERENCES gift_steps(id),
            purpose TEXT NOT NULL            -- request | reminder | escalation
        );
        """
    )


@migrations(name="0005_answer_guard")
def answer_guard(db: Database) -> None:
    db.executescript(
        """
        -- Every mail we send belongs to a conversation (thread): a reply to it continues that
        -- conversation. Automatic answers to a correspondent are counted per conversation and
        -- per recipient, so neither a loop nor a flood is answered one for one.
        ALTER TABLE outbox ADD COLUMN thread TEXT;
        ALTER TABLE outbox ADD COLUMN answer TEXT;          -- receipt | auto | note; NULL: not an answer
        ALTER TABLE outbox ADD COLUMN correspondent TEXT;   -- whom the answer answers
        -- A sender claims the rows it is about to send, so two senders (the daemon and a
        -- `visitflow poll`) never send the same mail; a dead sender's claims are released.
        ALTER TABLE outbox ADD COLUMN claimed_by TEXT;      -- "<pid>" of the claiming process
        ALTER TABLE outbox ADD COLUMN claimed_at TEXT;
        CREATE INDEX outbox_thread ON outbox(thread, correspondent);
        CREATE INDEX outbox_answers ON outbox(correspondent, created_at);

        -- Answers the guard held back, with why: `status` shows who is being throttled.
        CREATE TABLE withheld_answers (
            id INTEGER PRIMARY KEY,
            message INTEGER REFERENCES messages(id),
            correspondent TEXT NOT NULL,
            template TEXT NOT NULL,
            reason TEXT NOT NULL,
            at TEXT NOT NULL
        );
        CREATE INDEX withheld_answers_at ON withheld_answers(at);
        """
    )


@migrations(name="0006_urgent_reports_digests")
def urgent_reports_digests(db: Database) -> None:
    db.executescript(
        """
        -- Urgent visit reports (Article 11). level: 'unit' while only the unit head has it,
        -- 'leadership' once it went up (at once, by 上报, or from the digest).
        CREATE TABLE urgent_reports (
            id INTEGER PRIMARY KEY,
            origin TEXT NOT NULL CHECK (origin IN ('mail', 'digest')),
            message INTEGER REFERENCES messages(id),     -- the mail that made it
            visit INTEGER REFERENCES visits(id),         -- the flagged visit it came from (digest)
            reporter TEXT NOT NULL,
            unit TEXT,                                   -- NULL for a report by leadership
            region TEXT,
            category TEXT NOT NULL,
            customer TEXT,
            details TEXT NOT NULL,
            suggestion TEXT,
            level TEXT NOT NULL CHECK (level IN ('unit', 'leadership')),
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'acknowledged', 'closed')),
            head_comment TEXT,
            created_at TEXT NOT NULL,
            escalated_at TEXT,
            acknowledged_at TEXT,
            closed_at TEXT,
            closed_by TEXT,
            close_comment TEXT
        );
        CREATE INDEX urgent_reports_open ON urgent_reports(state, unit);

        -- Who received a report: only they may acknowledge or close it (escalate: the head).
        CREATE TABLE urgent_recipients (
            id INTEGER PRIMARY KEY,
            report INTEGER NOT NULL REFERENCES urgent_reports(id),
            person TEXT NOT NULL,
            role TEXT NOT NULL,                          -- head | leadership | production | technical
            token TEXT NOT NULL UNIQUE,                  -- proof for a reply found by the tag alone
            sent_at TEXT NOT NULL,
            acknowledged_at TEXT,
            UNIQUE (report, person)
        );

        -- Every mail sent for a report to a recipient: a reply naming one in its references
        -- is that recipient's answer.
        CREATE TABLE urgent_mails (
            message_id TEXT PRIMARY KEY,
            report INTEGER NOT NULL REFERENCES urgent_reports(id),
            recipient INTEGER REFERENCES urgent_recipients(id),
            purpose TEXT NOT NULL                        -- report | reminder
        );

        -- Reminders of unacknowledged reports: one per report and period, whatever restarts.
        CREATE TABLE urgent_reminders (
            report INTEGER NOT NULL REFERENCES urgent_reports(id),
            period INTEGER NOT NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (report, period)
        );

        -- The unit head's daily digest (Articles 10-11): one per unit and working day.
        CREATE TABLE digests (
            id INTEGER PRIMARY KEY,
            unit TEXT NOT NULL,
            day TEXT NOT NULL,
            head TEXT NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
            token TEXT NOT NULL UNIQUE,
            sent_at TEXT NOT NULL,
            UNIQUE (unit, day)
        );
        -- Its flagged items, numbered 1..n as the mail shows them.
        CREATE TABLE digest_items (
            digest INTEGER NOT NULL REFERENCES digests(id),
            number INTEGER NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('visit', 'urgent')),
            visit INTEGER REFERENCES visits(id),
            report INTEGER REFERENCES urgent_reports(id),
            state TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'escalated', 'closed')),
            escalated_to INTEGER REFERENCES urgent_reports(id),
            comment TEXT,
            decided_at TEXT,
            PRIMARY KEY (digest, number)
        );

        -- Reminders to reps without a report that day: one per rep and day.
        CREATE TABLE report_reminders (
            rep TEXT NOT NULL,
            day TEXT NOT NULL,
            sent_at TEXT NOT NULL,
            PRIMARY KEY (rep, day)
        );
        """
    )


@migrations(name="0007_customers")
def customers(db: Database) -> None:
    db.executescript(
        """
        -- The customer registry (客户名录, Articles 2 and 4), imported from a spreadsheet and
        -- updated by id. unit is the region's unit: visits are matched per unit.
        CREATE TABLE customers (
            id TEXT PRIMARY KEY,                         -- 客户编号 as written in the file
            name TEXT NOT NULL,
            aliases TEXT NOT NULL DEFAULT '[]',          -- JSON list, as written
            type TEXT NOT NULL CHECK (type IN ('dealer', 'retailer', 'processor', 'consumer')),
            region TEXT NOT NULL,
            unit TEXT NOT NULL,
            tier TEXT NOT NULL CHECK (tier IN ('A', 'B', 'C', 'D')),
            designated_visitor TEXT,                     -- email of a person in config
            contact TEXT NOT NULL DEFAULT '',
            phone TEXT NOT NULL DEFAULT '',
            address TEXT NOT NULL DEFAULT '',
            salesperson_flag INTEGER NOT NULL DEFAULT 0, -- the visitor is the region's salesperson
            imported_at TEXT NOT NULL,                   -- first imported (UTC)
            updated_at TEXT NOT NULL
        );
        CREATE INDEX customers_unit ON customers(unit);

        -- The customer a visit matched by normalised name or alias (NULL: not in the registry).
        -- What the rep wrote stays in visits.customer.
        ALTER TABLE visits ADD COLUMN customer_id TEXT REFERENCES customers(id);
        CREATE INDEX visits_customer ON visits(customer_id, visited_at);
        """
    )


@migrations(name="0008_visit_plans")
def visit_plans(db: Database) -> None:
    db.executescript(
        """
        -- A unit's visit plan for a year, quarter or month (巡访计划, Article 5). A new plan for
        -- the same unit and period replaces the current one, which stays as history; version
        -- counts the plans of that unit and period (the calendars' SEQUENCE).
        CREATE TABLE plans (
            id INTEGER PRIMARY KEY,
            unit TEXT NOT NULL,
            period TEXT NOT NULL,                        -- '2027', '2026-Q4', '2026-12'
            period_start TEXT NOT NULL,                  -- first day, ISO date
            period_end TEXT NOT NULL,                    -- last day, ISO date (included)
            key_products TEXT NOT NULL DEFAULT '[]',     -- JSON list, as written
            key_surveys TEXT NOT NULL DEFAULT '[]',
            special_surveys TEXT NOT NULL DEFAULT '[]',
            source TEXT NOT NULL DEFAULT '',             -- the file's name
            submitted_by TEXT NOT NULL,                  -- email, or 'cli' for `plans import`
            message INTEGER REFERENCES messages(id),     -- the mail it came in (NULL: imported)
            version INTEGER NOT NULL,
            current INTEGER NOT NULL DEFAULT 1,
            replaced_by INTEGER REFERENCES plans(id),
            superseded_at TEXT,
            created_at TEXT NOT NULL
        );
        CREATE UNIQUE INDEX plans_current ON plans(unit, period) WHERE current = 1;

        -- Its scheduled visits: a day, or a week or month as the span of days it covers
        -- (inside the period). uid is the calendar event's: the same visit keeps it in
        -- every version of the plan.
        CREATE TABLE plan_visits (
            id INTEGER PRIMARY KEY,
            plan INTEGER NOT NULL REFERENCES plans(id),
            row INTEGER NOT NULL,                        -- spreadsheet row / YAML line
            date TEXT NOT NULL,                          -- '2026-12-03', '2026-W49', '2026-12'
            day_start TEXT NOT NULL,
            day_end TEXT NOT NULL,
            customer TEXT NOT NULL,                      -- as written
            customer_id TEXT REFERENCES customers(id),   -- matched when saved (NULL: not in the registry)
            visitor TEXT NOT NULL,                       -- email
            purpose TEXT NOT NULL DEFAULT '',
            uid TEXT NOT NULL,
            UNIQUE (plan, uid)
        );
        CREATE INDEX plan_visits_plan ON plan_visits(plan);
        CREATE INDEX plan_visits_visitor ON plan_visits(visitor, day_start);
        """
    )


@migrations(name="0009_monthly_reports")
def monthly_reports(db: Database) -> None:
    db.executescript(
        """
        -- The monthly visit report (Article 10): one per unit and month ('*' is the company
        -- summary), whatever restarts; the unit head reviews it before it goes up.
        CREATE TABLE monthly_reports (
            id INTEGER PRIMARY KEY,
            unit TEXT NOT NULL,                          -- unit id, or '*' for the company summary
            month TEXT NOT NULL,                         -- 2026-11
            state TEXT NOT NULL CHECK (state IN ('review', 'sent')),
            head TEXT,                                   -- who reviews (the unit head), NULL for '*'
            token TEXT NOT NULL UNIQUE,                  -- proof for a reply found by the tag alone
            draft_docx TEXT NOT NULL,                    -- archived files, relative to storage.reports_dir
            draft_xlsx TEXT NOT NULL,
            sent_docx TEXT,                              -- the version that went to leadership
            sent_as TEXT CHECK (sent_as IN ('draft', 'approved', 'edited', 'timeout')),
            review_due_at TEXT,                          -- UTC; no answer by then: sent as is
            created_at TEXT NOT NULL,
            sent_at TEXT,
            decided_by_message INTEGER REFERENCES messages(id),
            UNIQUE (unit, month)
        );
        CREATE INDEX monthly_reports_review ON monthly_reports(state, review_due_at);

        -- Every mail sent about a report: a reply naming one in its references answers it.
        CREATE TABLE monthly_mails (
            message_id TEXT PRIMARY KEY,
            report INTEGER NOT NULL REFERENCES monthly_reports(id),
            purpose TEXT NOT NULL                        -- review | leadership | note
        );

        -- The monthly figures read visits of one unit and month.
        CREATE INDEX reports_unit_date ON reports(unit, report_date);
        -- When our IMAP server received a mail (INTERNALDATE, UTC): whether a daily report came
        -- on time does not depend on when the daemon got round to it.
        ALTER TABLE messages ADD COLUMN delivered_at TEXT;

        -- When this installation began (its first migration): a monthly run due before then
        -- was never missed, so a new installation does not make up last month's report.
        INSERT OR IGNORE INTO service_state (key, value)
            SELECT 'installed_at', REPLACE(MIN(applied_at), ' ', 'T') FROM _sqlite_migrations;
        """
    )


@migrations(name="0010_outbox_topic")
def outbox_topic(db: Database) -> None:
    # A reply without threading headers continues the answer whose subject it repeats: the
    # folded subject is stored once (answers.conversation_subject) instead of folded again for
    # each of a correspondent's last 50 answers on every inbound mail (issue 12).
    from .answers import conversation_subject

    db.execute("ALTER TABLE outbox ADD COLUMN topic TEXT")
    db.conn.create_function("conversation_subject", 1, conversation_subject, deterministic=True)
    db.execute("UPDATE outbox SET topic = conversation_subject(subject) WHERE answer IS NOT NULL")
    # Covering indexes for the lookups every answer makes: they read no outbox row, whose
    # columns after the raw mail lie on overflow pages (88 µs a mail for thread_of without).
    db.execute("CREATE INDEX outbox_topics ON outbox(correspondent, created_at, answer, topic, thread)")
    db.execute("DROP INDEX outbox_thread")
    db.execute("CREATE INDEX outbox_thread ON outbox(thread, correspondent, answer)")


@migrations(name="0011_monthly_review_held")
def monthly_review_held(db: Database) -> None:
    # The head's 不同意 / 驳回 on a monthly report's draft (issue 11): the draft is held back –
    # it never goes up after the review hours – until the head sends a corrected .docx or 同意.
    db.execute("ALTER TABLE monthly_reports ADD COLUMN held_at TEXT")          # UTC; NULL: not held
    db.execute("ALTER TABLE monthly_reports ADD COLUMN held_by_message INTEGER REFERENCES messages(id)")
    db.execute("ALTER TABLE monthly_reports ADD COLUMN held_comment TEXT")     # the head's words after 不同意
    # A month's report is owed from installed_at on (scheduler.months_owed): an installation
    # upgraded to the monthly report (0009) owes no month from before that, so installed_at
    # may not lie before it (on a new installation the two are milliseconds apart).
    db.execute("""
        UPDATE service_state SET value = (
            SELECT REPLACE(applied_at, ' ', 'T') FROM _sqlite_migrations WHERE name = '0009_monthly_reports')
        WHERE key = 'installed_at' AND value < (
            SELECT REPLACE(applied_at, ' ', 'T') FROM _sqlite_migrations WHERE name = '0009_monthly_reports')
    """)


@migrations(name="0012_message_places")
def message_places(db: Database) -> None:
    # Issue 12: the intake asks after every batch which settled messages still lie in the
    # wrong folder (store.messages.misplaced). By state and folder that is a few index ranges
    # instead of a scan of every message ever received (4.7 ms at 4,000 messages, growing
    # with each one). The state index keeps its use (pending(): state = 'received').
    db.execute("DROP INDEX messages_state")
    db.execute("CREATE INDEX messages_state ON messages(state, folder)")
    # Written on every insert and move, read by no query: moved_to is never set, and
    # (folder, uidvalidity) is the prefix of UNIQUE (folder, uidvalidity, uid) anyway.
    db.execute("DROP INDEX messages_unmoved")
    # Written on every queued mail for nothing: (correspondent, created_at) is the prefix of
    # outbox_topics (0010), which covers recent_automatic_answers as well.
    db.execute("DROP INDEX outbox_answers")
